//! `pod-route-conflict` from the node's own routes, without the cluster's objects: routes that
//! contradict each other or the CNI's declared backend.
//!
//! - This node's own pod subnet (connected on the pod bridge) is also routed via a gateway: the
//!   host-gw route of the node's own lease, added when the bridge was not up yet (flannel#255).
//! - A route whose gateway is one of this node's own addresses: packets to it loop back here.
//! - With an overlay backend (VXLAN, IPIP), the CNI's routes to other nodes' pods go through the
//!   tunnel device; one via an underlay gateway sends pod packets unencapsulated to a router
//!   that does not know pod addresses (Calico pools switched to IPIP while calico-node ran).

use crate::context::{is_cni_device, tunnel_overhead, Context};
use crate::outcome::{finding, manual, Outcome, WithActions};
use ipnet::IpNet;
use netdoctor_model::{Cause, Route, Severity, TABLE_MAIN};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

fn text(r: &Route) -> String {
    format!("`{}` [{}]", r.ip_route_words(), r.source)
}

pub fn check(ctx: &Context, out: &mut Outcome) {
    let routes: Vec<&Route> = ctx
        .routes()
        .iter()
        .filter(|r| r.table == TABLE_MAIN && r.dst.prefix_len() > 0)
        .collect();
    if routes.is_empty() {
        return;
    }
    let own: HashSet<IpAddr> = ctx
        .addresses()
        .iter()
        .map(|a| a.addr)
        .chain(routes.iter().filter_map(|r| r.prefsrc))
        .collect();
    // Connected routes on a pod bridge, by destination: found in one look per route.
    let mut connected: HashMap<IpNet, &Route> = HashMap::new();
    for c in &routes {
        let on_bridge = c.gateway.is_none()
            && c.dev
                .as_deref()
                .is_some_and(|d| is_cni_device(d) && tunnel_name(d).is_none());
        if on_bridge {
            connected.entry(c.dst).or_insert(c);
        }
    }
    let mut evidence = Vec::new();
    for r in &routes {
        let Some(gw) = r.gateway else {
            continue;
        };
        // The node's own pod subnet, connected on its bridge, routed away as well.
        if let Some(local) = connected.get(&r.dst) {
            evidence.push(format!(
                "{} is this node's own pod subnet ({}), yet it is also routed via {gw}: {}",
                r.dst,
                text(local),
                text(r)
            ));
            continue;
        }
        if own.contains(&gw) && !r.onlink {
            evidence.push(format!(
                "{gw} is an address of this node, so {} via it loops back here: {}",
                r.dst,
                text(r)
            ));
            continue;
        }
        if overlay_backend(ctx) && cni_route(ctx, r) {
            let dev = r.dev.as_deref().unwrap_or("");
            if !dev.is_empty() && !is_tunnel(ctx, dev) && !is_cni_device(dev) {
                evidence.push(format!(
                    "the CNI's backend is {} but its route to pods at {} leaves unencapsulated via {gw} on {dev}: {}",
                    ctx.hints
                        .backend
                        .as_ref()
                        .map_or("an overlay", |b| b.value.as_str()),
                    r.dst,
                    text(r)
                ));
            }
        }
    }
    if evidence.is_empty() {
        return;
    }
    if let Some(b) = &ctx.hints.backend {
        evidence.push(format!("backend {} [{}]", b.value, b.source));
    }
    out.add(
        finding(
            Cause::PodRouteConflict,
            Severity::Critical,
            "Routes to pod subnets contradict each other or the CNI's backend",
            evidence,
            "A route for pod traffic points the wrong way: this node's own pod subnet routed away \
             from its bridge, a gateway that is this node itself, or, with an overlay backend, a \
             pod subnet routed to an underlay gateway instead of through the tunnel. Traffic to \
             those pods follows the wrong route (the longest prefix wins; with equal prefixes the \
             first one added) while other nodes may still work. Verify with \
             `ip route get <a pod IP of that subnet>`.",
            vec![
                "ip route del <the wrong route, as shown>".into(),
                "restart the CNI agent so it programs its routes again".into(),
            ],
            vec!["find what adds the wrong route (a second CNI backend, a static route, a CNI started before its bridge) and stop it".into()],
        )
        .with(vec![manual("delete the wrong routes shown in the evidence, then restart the CNI agent")]),
    );
}

fn tunnel_name(d: &str) -> Option<()> {
    (d.starts_with("flannel.") || d.starts_with("tunl") || d.starts_with("vxlan")).then_some(())
}

fn is_tunnel(ctx: &Context, dev: &str) -> bool {
    tunnel_name(dev).is_some()
        || ctx
            .snap
            .link(dev)
            .is_some_and(|l| tunnel_overhead(l).is_some())
}

/// The CNI's backend encapsulates.
fn overlay_backend(ctx: &Context) -> bool {
    ctx.hints
        .backend
        .as_ref()
        .is_some_and(|b| matches!(b.value.as_str(), "vxlan" | "ipip" | "ipip-always"))
}

/// A route the CNI programs to another node's pods: BIRD's (Calico), or inside the cluster CIDR.
fn cni_route(ctx: &Context, r: &Route) -> bool {
    r.protocol.as_deref() == Some("bird")
        || ctx
            .hints
            .cluster_cidr
            .as_ref()
            .is_some_and(|c| c.value.contains(&r.dst))
}
