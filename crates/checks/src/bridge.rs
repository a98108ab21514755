//! `br-netfilter-missing`, `bridge-nf-call-iptables-disabled`: bridged pod traffic must pass
//! through iptables, or same-node service traffic is never de-NATed.

use netdoctor_model::Cause;

use crate::context::Context;
use crate::outcome::{finding, sysctl, Outcome, WithActions};
use netdoctor_model::{Action, Severity};

/// Whether pods sit on a Linux bridge here (cni0, docker0, cbr0...). `None`: links unknown.
fn has_pod_bridge(ctx: &Context) -> Option<bool> {
    let links = ctx.snap.links.as_ref()?;
    Some(links.iter().any(|l| {
        l.kind.as_deref() == Some("bridge")
            || matches!(
                l.name.as_str(),
                "cni0" | "cbr0" | "docker0" | "kube-bridge" | "weave"
            )
    }))
}

fn severity(ctx: &Context) -> Severity {
    // Calico and Cilium route pods without a bridge: the switch matters little there.
    match (has_pod_bridge(ctx), ctx.cni().as_deref()) {
        (Some(false), _) | (None, Some("calico" | "cilium")) => Severity::Warning,
        _ => Severity::Critical,
    }
}

pub fn check(ctx: &Context, out: &mut Outcome) {
    let loaded = ctx
        .snap
        .modules
        .as_ref()
        .and_then(|m| m.loaded.as_ref())
        .map(|l| l.contains_key("br_netfilter"));
    let builtin = ctx
        .snap
        .modules
        .as_ref()
        .and_then(|m| m.builtin.as_ref())
        .map(|b| b.iter().any(|n| n == "br_netfilter"));
    // Field notes: judge "active" by /proc/sys/net/bridge, since the module may be built in.
    let active = ctx.snap.bridge_nf_present.as_ref();
    let missing = match (active.map(|a| a.value), loaded, builtin) {
        (Some(present), _, _) => !present,
        (None, Some(false), Some(false)) => true,
        (None, Some(false), None) if !any_bridge_sysctl(ctx) && full_sysctl(ctx) => true,
        _ => false,
    };
    if missing {
        let mut evidence = Vec::new();
        if let Some(a) = active {
            evidence.push(format!(
                "/proc/sys/net/bridge does not exist [{}]",
                a.source
            ));
        }
        if loaded == Some(false) {
            evidence
                .push("br_netfilter is not in the loaded modules (lsmod / /proc/modules)".into());
        }
        let mut persistent = vec![];
        let at_boot = ctx
            .boot_modules
            .as_ref()
            .is_some_and(|m| m.contains_key("br_netfilter"));
        if !at_boot {
            persistent.push(
                "echo br_netfilter >> /etc/modules-load.d/k8s.conf   # load it at every boot"
                    .to_string(),
            );
        }
        out.add(
            finding(
                Cause::BrNetfilterMissing,
                severity(ctx),
                "br_netfilter is not loaded: bridged pod traffic bypasses iptables",
                evidence,
                "Pods on the same node talk across a Linux bridge (cni0, docker0). Without the \
             br_netfilter module, bridged frames never reach iptables, so kube-proxy's DNAT for a \
             Service works on the way in but the reply from a same-node backend crosses the \
             bridge un-NATed: the client sees an answer from the pod IP, not the Service IP, and \
             drops it. Symptom: a Service (often DNS) times out only when the backend is on the \
             same node. Verify: `ls /proc/sys/net/bridge` fails and `lsmod | grep br_netfilter` \
             is empty.",
                vec![
                    "modprobe br_netfilter".into(),
                    "sysctl -w net.bridge.bridge-nf-call-iptables=1".into(),
                ],
                persistent,
            )
            .with(vec![
                Action::LoadModule {
                    name: "br_netfilter".into(),
                    runtime: true,
                    persistent: !at_boot,
                },
                sysctl("net.bridge.bridge-nf-call-iptables", "1", true, false),
            ]),
        );
        return;
    }
    let key = "net.bridge.bridge-nf-call-iptables";
    let Some(v) = ctx.sysctl(key) else {
        if ctx.snap.sysctls.is_some() && active.is_none() {
            out.not_checked(
                Cause::BridgeNfCallIptablesDisabled.id(),
                format!("{key} is not in the sysctl input"),
            );
        }
        return;
    };
    let mut keys = vec![key];
    if ctx.ipv6_cluster() {
        keys.push("net.bridge.bridge-nf-call-ip6tables");
    }
    for key in keys {
        let Some(v) = ctx.sysctl(key).filter(|v| v.value.trim() == "0") else {
            continue;
        };
        out.add(
            finding(
                Cause::BridgeNfCallIptablesDisabled,
                severity(ctx),
                "Bridged pod traffic skips iptables: same-node Service replies are never de-NATed",
                vec![format!("{key} = {} (runtime, {})", v.value, v.source)],
                format!(
                    "With {key} = 0, frames that cross the pod bridge are not shown to iptables. \
                 kube-proxy's Service DNAT still happens for the request, but when the chosen \
                 backend sits on the same node its reply goes straight across the bridge without \
                 reverse NAT, and the client drops it. Symptom: Service IPs and cluster DNS time \
                 out from some pods, depending on where the backend landed. CentOS 7's \
                 /usr/lib/sysctl.d/00-system.conf sets this to 0 at every boot unless a later \
                 file wins. Verify with `sysctl {key}`."
                ),
                vec![format!("sysctl -w {key}=1")],
                ctx.persistent_sysctl(key, "1"),
            )
            .with(vec![sysctl(key, "1", true, true)]),
        );
    }
    let _ = v;
}

fn any_bridge_sysctl(ctx: &Context) -> bool {
    ctx.sysctls_all()
        .is_some_and(|s| s.keys().any(|k| k.starts_with("net.bridge.")))
}

/// A full `sysctl -a` (rather than a few pasted keys): absence of a key then means something.
fn full_sysctl(ctx: &Context) -> bool {
    ctx.sysctls_all().is_some_and(|s| s.len() > 200)
}
