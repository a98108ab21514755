//! `hairpin-mode-disabled`: a pod that connects to its own Service and is load-balanced back to
//! itself needs its packet to leave and re-enter the same bridge port, which the kernel allows
//! only with hairpin mode on that port (or a promiscuous bridge, kubelet's promiscuous-bridge).

use crate::context::Context;
use crate::outcome::{finding, manual, Outcome, WithActions};
use netdoctor_datapath::devices::is_well_known_bridge;
use netdoctor_model::{Cause, Severity};

/// Bridges pods hang off.
fn pod_bridge(name: &str) -> bool {
    is_well_known_bridge(name) || name.starts_with("cni")
}

pub fn check(ctx: &Context, out: &mut Outcome) {
    let Some(ports) = &ctx.snap.bridge_ports else {
        return;
    };
    let pods: Vec<_> = ports.iter().filter(|p| pod_bridge(&p.bridge)).collect();
    if pods.is_empty() || pods.iter().any(|p| p.hairpin != Some(false)) {
        return;
    }
    let bridge = pods[0].bridge.clone();
    if ctx
        .snap
        .link(&bridge)
        .is_some_and(|l| l.flags.iter().any(|f| f == "PROMISC"))
    {
        return;
    }
    let mut evidence: Vec<String> = pods
        .iter()
        .take(8)
        .map(|p| format!("{}/{} hairpin_mode = 0 [{}]", p.bridge, p.port, p.source))
        .collect();
    if pods.len() > 8 {
        evidence.push(format!("... and {} more ports, all 0", pods.len() - 8));
    }
    evidence.push(format!("every pod port of {bridge} shown has hairpin off"));
    let info = Cause::HairpinModeDisabled.info();
    out.add(
        finding(
            Cause::HairpinModeDisabled,
            Severity::Warning,
            format!("Hairpin mode is off on {bridge}'s pod ports: a pod cannot reach itself through its own Service"),
            evidence,
            info.explanation,
            vec![format!("for p in /sys/class/net/{bridge}/brif/*/hairpin_mode; do echo 1 > $p; done   # until the pods are recreated")],
            vec!["set \"hairpinMode\": true in the CNI bridge plugin's configuration (flannel's default conflist has it), or run the kubelet with --hairpin-mode=hairpin-veth; new pods then get it".into()],
        )
        .with(vec![manual("turn hairpin mode on for pod ports: the CNI bridge plugin's hairpinMode: true (or kubelet --hairpin-mode=hairpin-veth), then recreate the pods")]),
    );
}
