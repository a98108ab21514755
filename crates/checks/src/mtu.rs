//! `mtu-mismatch`: an overlay whose packets, once encapsulated, no longer fit the underlay; or
//! pods whose MTU exceeds the overlay's. Large packets vanish while small ones work.

use netdoctor_datapath::devices::POD_BRIDGES;
use netdoctor_model::Cause;

use crate::context::{tunnel_overhead, Context};
use crate::outcome::{command, finding, manual, Outcome, WithActions};
use netdoctor_model::{Link, Severity};

const EXPLANATION: &str = "Every packet a pod sends to another node is wrapped in an outer header \
    (VXLAN 50 bytes, IPIP 20, WireGuard up to 80). If the overlay device's MTU plus that overhead \
    is larger than the underlay interface's MTU, full-size packets cannot be sent: small packets \
    (pings, TCP handshakes) work, but TLS handshakes, large HTTP responses and image pulls hang. \
    Forwarded pod traffic usually gets no \"fragmentation needed\" back, so it is a silent black \
    hole. Every node must agree: overlay MTU = underlay MTU - overhead. Verify with \
    `ping -M do -s <size>` between pods across nodes, and `ip -d link`.";

fn underlay<'a>(ctx: &'a Context, tunnel: &Link) -> Option<&'a Link> {
    if let Some(dev) = tunnel.vxlan.as_ref().and_then(|v| v.dev.as_deref()) {
        return ctx.snap.link(dev);
    }
    if let Some(local) = tunnel.vxlan.as_ref().and_then(|v| v.local) {
        if let Some(a) = ctx.addresses().iter().find(|a| a.addr == local) {
            return ctx.snap.link(&a.ifname);
        }
    }
    ctx.default_route_devs()
        .first()
        .and_then(|d| ctx.snap.link(d))
}

pub fn check(ctx: &Context, out: &mut Outcome) {
    if ctx.snap.links.is_none() {
        out.not_checked(
            Cause::MtuMismatch.id(),
            "no link list: add `ip -d link` (or ifconfig -a)",
        );
        return;
    }
    for t in ctx.links() {
        let (Some((overhead, what)), Some(mtu)) = (tunnel_overhead(t), t.mtu) else {
            continue;
        };
        if let Some(u) = underlay(ctx, t) {
            if let Some(umtu) = u.mtu.filter(|&m| mtu + overhead > m) {
                out.add(finding(
                    Cause::MtuMismatch,
                    Severity::Critical,
                    format!("{} MTU {mtu} + {overhead} bytes of {what} = {} does not fit {} MTU {umtu}", t.name, mtu + overhead, u.name),
                    vec![Context::link_evidence(t), Context::link_evidence(u)],
                    EXPLANATION,
                    vec![format!("ip link set {} mtu {}", t.name, umtu.saturating_sub(overhead))],
                    vec![format!("set the CNI's MTU to {} (flannel: restart flanneld, which derives it from the underlay; Calico: veth_mtu in calico-config) or restore {} MTU {} on every node", umtu.saturating_sub(overhead), u.name, mtu + overhead)],
                ).with(vec![command(&["ip", "link", "set", &t.name, "mtu", &umtu.saturating_sub(overhead).to_string()], "the encapsulated packets must fit the underlay"), manual("make the CNI derive the same MTU on every node (restart its agent, or set its MTU option)")]));
            }
        }
        if let Some(cfg) = ctx.hints.mtu.as_ref().filter(|c| c.value != mtu) {
            // Every node's overlay must use the same MTU: a node that differs sends or
            // receives packets the others cannot carry (flannel#1614: wg0 1320 vs 1420).
            out.add(finding(
                Cause::MtuMismatch,
                Severity::Critical,
                format!("{} MTU {mtu} differs from the overlay MTU the cluster uses ({})", t.name, cfg.value),
                vec![Context::link_evidence(t), format!("overlay MTU {} [{}]", cfg.value, cfg.source)],
                EXPLANATION,
                vec![format!("ip link set {} mtu {}", t.name, cfg.value)],
                vec![format!("configure the CNI's MTU as {} on this node (or restart its agent so it derives the same value as the other nodes)", cfg.value)],
            ).with(vec![command(&["ip", "link", "set", &t.name, "mtu", &cfg.value.to_string()], "every node's overlay must use the same MTU"), manual("make the CNI use the cluster's overlay MTU on this node")]));
        }
        // Pods on a bridge whose traffic leaves through this tunnel must not exceed its MTU.
        for v in ctx.links().iter().filter(|v| {
            v.kind.as_deref() == Some("veth")
                && v.master
                    .as_deref()
                    .is_some_and(|m| POD_BRIDGES.contains(&m))
        }) {
            if let Some(vm) = v.mtu.filter(|&vm| vm > mtu) {
                out.add(
                    finding(
                        Cause::MtuMismatch,
                        Severity::Warning,
                        format!(
                            "Pod interface {} has MTU {vm}, above the overlay's {mtu}",
                            v.name
                        ),
                        vec![Context::link_evidence(v), Context::link_evidence(t)],
                        EXPLANATION,
                        vec![],
                        vec![format!(
                            "set the CNI config's mtu to {mtu} and recreate the pods on this node"
                        )],
                    )
                    .with(vec![manual(format!(
                        "set the CNI config's mtu to {mtu} and recreate the pods on this node"
                    ))]),
                );
            }
        }
    }
}
