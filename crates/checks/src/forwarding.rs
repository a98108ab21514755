//! `ip-forward-disabled`, `iface-forwarding-disabled`: a Kubernetes node is a router.

use netdoctor_model::Cause;

use crate::context::{is_cni_device, tunnel_overhead, Context};
use crate::outcome::{finding, restart, sysctl, Outcome, WithActions};
use netdoctor_model::Severity;

pub fn check(ctx: &Context, out: &mut Outcome) {
    if ctx.snap.sysctls.is_none() {
        out.not_checked(
            Cause::IpForwardDisabled.id(),
            "no sysctl values: run on the node, or add `sysctl -a` output as sysctl.txt",
        );
        return;
    }
    global(ctx, out, "net.ipv4.ip_forward", "IPv4");
    if ctx.ipv6_cluster() {
        global(ctx, out, "net.ipv6.conf.all.forwarding", "IPv6");
    }
    per_interface(ctx, out);
}

fn global(ctx: &Context, out: &mut Outcome, key: &str, fam: &str) {
    let Some(v) = ctx.sysctl(key) else {
        out.not_checked(
            Cause::IpForwardDisabled.id(),
            format!("{key} is not in the sysctl input"),
        );
        return;
    };
    if v.value.trim() != "0" {
        return;
    }
    out.add(
        finding(
            Cause::IpForwardDisabled,
            Severity::Critical,
            format!(
            "{fam} forwarding is off: this node drops every packet it should route to or from pods"
        ),
            ctx.sysctl_evidence(key).into_iter().collect(),
            format!(
            "A Kubernetes node is a router: pod traffic to other nodes, replies to service traffic \
             and NodePort traffic are all forwarded between interfaces. With {key} = 0 the kernel \
             drops them. Everything still looks Ready (the node's own traffic works), but \
             cross-node pod traffic and service replies vanish; on 6.x kernels even bridged \
             hairpin DNAT breaks. Network restarts, VM resumes and security scans reset this \
             value, so also check that it is set at boot (see sysctl-not-persistent). Verify with \
             `sysctl {key}`."
        ),
            vec![format!("sysctl -w {key}=1")],
            ctx.persistent_sysctl(key, "1"),
        )
        .with(vec![
        sysctl(key, "1", true, true),
        restart(
            "the container runtime (dockerd or containerd)",
            "it sets up its bridge and FORWARD rules at start according to the forwarding it finds",
        ),
    ]),
    );
}

fn per_interface(ctx: &Context, out: &mut Outcome) {
    let Some(all) = ctx.sysctls_all() else { return };
    let global = ctx.sysctl("net.ipv4.ip_forward").map(|v| v.value.trim());
    if global == Some("0") {
        // The global switch already explains everything; writing it rewrites every interface.
        return;
    }
    default_off(ctx, out, global.is_none());
    let uplinks = ctx.default_route_devs();
    for (key, v) in all {
        let Some(ifname) = key
            .strip_prefix("net.ipv4.conf.")
            .and_then(|r| r.strip_suffix(".forwarding"))
        else {
            continue;
        };
        if v.value.trim() != "0" || matches!(ifname, "all" | "default" | "lo") {
            continue;
        }
        let link = ctx.snap.link(&ifname.replace('/', "."));
        let pod_iface = is_cni_device(ifname)
            || uplinks.contains(&ifname)
            || link.is_some_and(|l| {
                tunnel_overhead(l).is_some() || matches!(l.kind.as_deref(), Some("bridge"))
            });
        if !pod_iface {
            continue;
        }
        out.add(finding(
            Cause::IfaceForwardingDisabled,
            Severity::Critical,
            "Forwarding is off on an interface pod traffic crosses",
            vec![format!("{key} = {} (runtime, {})", v.value, v.source)],
            "net.ipv4.ip_forward is 1, but forwarding is also switched per interface: a packet \
             that arrives on an interface whose `forwarding` is 0 is not routed. Pods behind that \
             interface can reach the node itself but nothing beyond it. Something wrote the \
             per-interface value after the global one (a CNI plugin, a network manager, a \
             hardening script). Verify with `sysctl -a | grep '\\.forwarding'`.",
            vec![format!("sysctl -w {key}=1")],
            ctx.persistent_sysctl(key, "1"),
        )
        .with(vec![sysctl(key, "1", true, true)]));
    }
}

/// `net.ipv4.conf.default.forwarding = 0` while the global switch is on. Writing
/// `net.ipv4.ip_forward` sets the default too (the kernel's `inet_forward_change`), so this
/// state means something wrote the default afterwards, typically a re-run of systemd-sysctl
/// over a configuration that names it (nixpkgs#118656). Every interface created from then on
/// (a new pod's veth, a recreated bridge or overlay device) starts with forwarding off, so pods
/// created later lose the network while older ones keep it: a warning, not the cause of a
/// running pod's outage.
fn default_off(ctx: &Context, out: &mut Outcome, global_unknown: bool) {
    let key = "net.ipv4.conf.default.forwarding";
    let Some(v) = ctx.sysctl(key) else { return };
    if v.value.trim() != "0" {
        return;
    }
    let unknown = if global_unknown {
        " net.ipv4.ip_forward was not in the input: if it is 0 as well, that is the cause \
         (see ip-forward-disabled)."
    } else {
        ""
    };
    out.add(
        finding(
            Cause::IfaceForwardingDisabled,
            Severity::Warning,
            "Forwarding is off for every interface created from now on",
            ctx.sysctl_evidence(key).into_iter().collect(),
            format!(
                "Each new interface copies its settings from net.ipv4.conf.default, and IPv4 \
                 routes a packet only when the interface it arrived on forwards. With {key} = 0, \
                 the veth of every pod started from now on (and a recreated cni0, docker0 or \
                 overlay device) does not forward: new pods reach the node but nothing beyond \
                 it, while older pods keep working. Setting net.ipv4.ip_forward sets the default \
                 too, so something wrote it afterwards: a re-run of systemd-sysctl (`systemctl \
                 restart systemd-sysctl`, `sysctl --system`) over a file that names it, or a \
                 hardening script.{unknown} Verify with `sysctl -a | grep '\\.forwarding'`."
            ),
            vec![format!("sysctl -w {key}=1")],
            ctx.persistent_sysctl(key, "1"),
        )
        .with(vec![sysctl(key, "1", true, true)]),
    );
}
