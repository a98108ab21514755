//! `pod-route-missing` and `pod-route-conflict`: a route per remote pod subnet, as the CNI
//! programs it.

use netdoctor_model::Cause;

use super::{route_text, underlay, View};
use crate::outcome::{command, finding, restart, Outcome, WithActions};
use ipnet::IpNet;
use netdoctor_kube::{Node, PodCidrOrigin};
use netdoctor_model::{Route, RouteKind, Severity};
use std::net::IpAddr;

/// What the CNI installs for one remote subnet.
struct Expected {
    dst: IpNet,
    /// Acceptable gateways (the first is the CNI's usual one).
    gateways: Vec<IpAddr>,
    /// Acceptable devices: `None` means any device (host-gw and BGP use the uplink).
    dev: Option<String>,
    onlink: bool,
    /// Where the expectation comes from, for evidence (built only when something is wrong).
    why: fn(&Node, &Expected) -> String,
}

impl Expected {
    fn text(&self) -> String {
        let mut s = format!("{}", self.dst);
        if let Some(g) = self.gateways.first() {
            s.push_str(&format!(" via {g}"));
        }
        if let Some(d) = &self.dev {
            s.push_str(&format!(" dev {d}"));
        }
        if self.onlink {
            s.push_str(" onlink");
        }
        s
    }

    fn dev_ok(&self, r: &Route) -> bool {
        match self.dev.as_deref() {
            // The uplink: anything but a CNI device or a bridge of pods.
            None => r
                .dev
                .as_deref()
                .is_none_or(|d| !crate::context::is_cni_device(d) || d.starts_with("br-")),
            Some(want) => r.dev.as_deref() == Some(want),
        }
    }

    fn matches(&self, r: &Route) -> bool {
        r.kind == RouteKind::Unicast
            && r.gateway.is_some_and(|g| self.gateways.contains(&g))
            && self.dev_ok(r)
    }
}

fn expectations(v: &View, n: &Node) -> Result<Vec<Expected>, String> {
    let backend = v.backend.as_deref().unwrap_or("");
    let cidrs = |origin: PodCidrOrigin| {
        n.pod_cidrs
            .iter()
            .filter(move |c| c.origin == origin && matches!(c.cidr, IpNet::V4(_)))
    };
    if v.is_flannel() {
        let Some(c) = cidrs(PodCidrOrigin::Spec).next() else {
            return Ok(Vec::new()); // podcidr-not-allocated on that node, not a route here
        };
        fn why(n: &Node, e: &Expected) -> String {
            let mut s = format!("Node {} podCIDR {} [{}]", n.name, e.dst, n.source);
            if let (None, Some(g)) = (&e.dev, e.gateways.first()) {
                s.push_str(&format!(", public-ip {g}"));
            }
            s
        }
        return match backend {
            "vxlan" | "" => Ok(vec![Expected {
                dst: c.cidr,
                gateways: vec![c.cidr.network()],
                dev: Some(format!(
                    "flannel.{}",
                    v.me.flannel.as_ref().and_then(|f| f.vni).unwrap_or(1)
                )),
                onlink: true,
                why,
            }]),
            "host-gw" => {
                let gw = underlay(n)
                    .ok_or_else(|| format!("Node {} has no public-ip or InternalIP", n.name))?;
                Ok(vec![Expected {
                    dst: c.cidr,
                    gateways: vec![gw],
                    dev: None,
                    onlink: false,
                    why,
                }])
            }
            other => Err(format!(
                "flannel backend {other:?}: its routes are not modelled"
            )),
        };
    }
    if v.is_calico() {
        let blocks: Vec<_> = cidrs(PodCidrOrigin::CalicoBlock).collect();
        if blocks.is_empty() {
            return Err(
                "no Calico IPAM blocks: add `kubectl get blockaffinities.crd.projectcalico.org -o json` to --kube-objects"
                    .into(),
            );
        }
        let ip = underlay(n).ok_or_else(|| format!("Node {} has no address", n.name))?;
        let cal = n.calico.clone().unwrap_or_default();
        return Ok(blocks
            .into_iter()
            .map(|b| {
                fn why(n: &Node, e: &Expected) -> String {
                    format!(
                        "Calico block {} affine to Node {} ({}) [{}]",
                        e.dst,
                        n.name,
                        n.underlay_ip().map_or_else(String::new, |i| i.to_string()),
                        n.source
                    )
                }
                match backend {
                    "vxlan" => Expected {
                        dst: b.cidr,
                        gateways: cal.vxlan_tunnel_addr.into_iter().chain([ip]).collect(),
                        dev: Some("vxlan.calico".into()),
                        onlink: true,
                        why,
                    },
                    "ipip" => Expected {
                        dst: b.cidr,
                        gateways: vec![ip],
                        dev: Some("tunl0".into()),
                        onlink: true,
                        why,
                    },
                    _ => Expected {
                        dst: b.cidr,
                        gateways: vec![ip],
                        dev: None,
                        onlink: false,
                        why,
                    },
                }
            })
            .collect());
    }
    Err(format!(
        "the CNI ({}) is not one whose routes are modelled (flannel, calico): pass --cni",
        v.cni.as_deref().unwrap_or("unknown")
    ))
}

pub fn check(v: &View, out: &mut Outcome) {
    if v.ctx.snap.routes.is_none() {
        for id in [Cause::PodRouteMissing.id(), Cause::PodRouteConflict.id()] {
            out.not_checked(id, "no routes: add `ip route` (or route -n)");
        }
        return;
    }
    let own: Vec<IpNet> = v.me.pod_cidrs.iter().map(|c| c.cidr).collect();
    for n in v.remotes() {
        let exps = match expectations(v, n) {
            Ok(e) => e,
            Err(reason) => {
                for id in [Cause::PodRouteMissing.id(), Cause::PodRouteConflict.id()] {
                    out.not_checked(id, reason.clone());
                }
                return;
            }
        };
        for e in exps {
            // A remote subnet that overlaps our own is pod-cidr-overlap, not a route fault.
            if own.iter().any(|o| o.contains(&e.dst) || e.dst.contains(o)) {
                continue;
            }
            one(v, n, &e, out);
        }
    }
}

fn one(v: &View, n: &Node, e: &Expected, out: &mut Outcome) {
    let inside: Vec<&Route> = v.inside(&e.dst).iter().map(|(_, _, r)| *r).collect();
    let exact_ok = inside.iter().any(|r| r.dst == e.dst && e.matches(r));
    // Only an exact match is cheap to describe: build the expected text when something is off.
    if exact_ok && inside.len() == 1 {
        return;
    }
    let wrong: Vec<&&Route> = inside
        .iter()
        .filter(|r| !e.matches(r))
        // Calico's /32 routes to remote pods through the same tunnel are fine.
        .filter(|r| {
            !(r.dst != e.dst && r.kind == RouteKind::Unicast && e.dev_ok(r) && r.gateway.is_some())
        })
        .collect();
    let expected = e.text();
    if !wrong.is_empty() {
        let mut evidence: Vec<String> = wrong
            .iter()
            .map(|r| format!("{} — expected `{expected}`", route_text(r)))
            .collect();
        evidence.push((e.why)(n, e));
        let what = wrong
            .iter()
            .map(|r| describe(r, e))
            .collect::<Vec<_>>()
            .join("; ");
        let del: Vec<String> = wrong
            .iter()
            .map(|r| {
                let mut s = format!("ip route del {}", r.dst);
                if let Some(d) = &r.dev {
                    s.push_str(&format!(" dev {d}"));
                }
                s
            })
            .collect();
        let mut runtime = del.clone();
        runtime.push(format!("ip route replace {}", add_args(e).join(" ")));
        let mut actions: Vec<_> = wrong
            .iter()
            .map(|r| {
                let mut argv = vec![
                    "ip".to_string(),
                    "route".into(),
                    "del".into(),
                    r.dst.to_string(),
                ];
                if let Some(d) = &r.dev {
                    argv.extend(["dev".into(), d.clone()]);
                }
                let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
                command(
                    &refs,
                    "this route sends the remote pod subnet the wrong way",
                )
            })
            .collect();
        actions.push(restart(agent(v), "it re-adds the routes it owns"));
        out.add(
            finding(
                Cause::PodRouteConflict,
                Severity::Critical,
                format!("The route to Node {}'s pods ({}) is wrong: {what}", n.name, e.dst),
                evidence,
                format!(
                    "Traffic to pods on {} follows the longest matching route. A route with the \
                     wrong prefix, device, gateway or type (a `/26` on `*` is a blackhole as \
                     `route -n` prints it) wins over or replaces the one the CNI needs \
                     (`{expected}`), so pods here cannot reach pods there while other nodes \
                     can. Typical causes: a leftover route of another CNI or an old IPAM block, a \
                     static route added by hand, or a block the CNI believes is still local. \
                     Verify with `ip route get <a pod IP on {}>`.",
                    n.name, n.name
                ),
                runtime,
                vec![format!("remove whatever re-adds the wrong route at boot; the CNI agent ({}) re-adds the right one", agent(v))],
            )
            .with(actions),
        );
    }
    if exact_ok || !wrong.is_empty() {
        return;
    }
    // Partial evidence proves presence, never absence.
    if let Some(why) = v.ctx.snap.partial("routes") {
        out.not_checked(
            Cause::PodRouteMissing.id(),
            format!(
                "the routes are only part of the node's ({why}): a route not shown may be there"
            ),
        );
        return;
    }
    let mut evidence = vec![
        format!("no route `{expected}` in the main table"),
        (e.why)(n, e),
    ];
    if let Some(r) = v.ctx.route_to(e.dst.network()) {
        evidence.push(format!(
            "packets to {} take {} instead",
            e.dst,
            route_text(r)
        ));
    }
    let argv = add_args(e);
    let mut cmd = vec!["ip", "route", "replace"];
    cmd.extend(argv.iter().map(String::as_str));
    out.add(
        finding(
            Cause::PodRouteMissing,
            Severity::Critical,
            format!("No route to Node {}'s pods ({})", n.name, e.dst),
            evidence,
            format!(
                "The CNI agent programs one route per remote pod subnet (`{expected}`). Without \
                 it, packets from pods here to pods on {} leave by the default route (or a \
                 broader one) and are dropped by the underlay, so only cross-node pod traffic \
                 fails. Usual causes: the agent failed to add it (flanneld logs `failed to add \
                 vxlanRoute ... invalid argument` when a stale address makes the gateway local), \
                 the agent is not running, or someone flushed the table. Verify with \
                 `ip route get <a pod IP on {}>`; restarting the agent re-adds it.",
                n.name, n.name
            ),
            vec![
                format!("ip route replace {}", argv.join(" ")),
                format!("restart {} on this node so it re-syncs routes", agent(v)),
            ],
            vec![format!("the agent ({}) re-adds routes at start; if it cannot, its log says why (look for stale-interface-address)", agent(v))],
        )
        .with(vec![
            command(&cmd, "re-add the route the CNI programs for that node's pods"),
            restart(agent(v), "it re-syncs routes, neighbours and FDB entries"),
        ]),
    );
}

fn add_args(e: &Expected) -> Vec<String> {
    let mut v = vec![e.dst.to_string()];
    if let Some(g) = e.gateways.first() {
        v.extend(["via".into(), g.to_string()]);
    }
    if let Some(d) = &e.dev {
        v.extend(["dev".into(), d.clone()]);
    }
    if e.onlink {
        v.push("onlink".into());
    }
    v
}

fn describe(r: &Route, e: &Expected) -> String {
    if r.kind != RouteKind::Unicast {
        return format!("{} is a {:?} route", r.dst, r.kind).to_lowercase();
    }
    if r.dst != e.dst {
        return format!(
            "{} has the wrong prefix (/{} instead of /{})",
            r.dst,
            r.dst.prefix_len(),
            e.dst.prefix_len()
        );
    }
    if !e.dev_ok(r) {
        return format!("{} uses dev {}", r.dst, r.dev.as_deref().unwrap_or("?"));
    }
    format!(
        "{} goes via {}",
        r.dst,
        r.gateway
            .map_or_else(|| "no gateway".to_string(), |g| g.to_string())
    )
}

pub(crate) fn agent(v: &View) -> &'static str {
    if v.is_calico() {
        "calico-node"
    } else {
        "the kube-flannel pod"
    }
}
