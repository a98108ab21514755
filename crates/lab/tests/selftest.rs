//! The lab's self-test: a healthy cluster passes every flow, and each fault breaks exactly the
//! flows its table row declares, measured with real packets. Needs root; skipped otherwise
//! unless NETDOCTOR_REQUIRE_LAB=1.

use netdoctor_lab::{ClusterSpec, Fault, FlowKind, Lab, ProxyMode, FAULTS};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Instant;

fn lab_available() -> bool {
    netdoctor_testkit::lab_available("the lab self-test", &["ip"])
}

fn broken(lab: &Lab) -> (BTreeSet<FlowKind>, Vec<String>) {
    let results = lab.run_all_flows();
    let details = results
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                if r.ok { "ok " } else { "BAD" },
                r.kind,
                r.detail
            )
        })
        .collect();
    (
        results.iter().filter(|r| !r.ok).map(|r| r.kind).collect(),
        details,
    )
}

fn command_output(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run ip");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn declared_fault_table_matches_real_packets() {
    self_test(ProxyMode::Iptables);
}

/// The same with kube-proxy in nftables mode. `iptables-both-backends` is left out: there, two
/// DNATs at one priority depend on the order the tables were registered in.
#[test]
fn declared_fault_table_matches_real_packets_with_kube_proxy_in_nftables_mode() {
    self_test(ProxyMode::Nftables);
}

fn self_test(mode: ProxyMode) {
    if !lab_available() {
        return;
    }
    let start = Instant::now();
    let lab = Lab::build(&ClusterSpec {
        proxy_mode: mode,
        ..ClusterSpec::default()
    })
    .expect("build lab");
    let prefix = lab.prefix().to_string();
    eprintln!(
        "built {} in {:.1}s ({:?})",
        prefix,
        start.elapsed().as_secs_f32(),
        lab.cni_mode()
    );

    let (healthy, details) = broken(&lab);
    assert!(
        healthy.is_empty(),
        "healthy cluster has broken flows:\n{}",
        details.join("\n")
    );

    // Faults whose revert leaves a trace go last.
    let mut order: Vec<Fault> = Fault::all().filter(|f| f.fully_reversible()).collect();
    if mode == ProxyMode::Iptables {
        order.extend(Fault::all().filter(|f| !f.fully_reversible()));
    }

    let mut table = Vec::new();
    let mut mismatches = Vec::new();
    for fault in order {
        let t = Instant::now();
        let steps = lab
            .inject(fault)
            .unwrap_or_else(|e| panic!("inject {fault}: {e}"));
        let (observed, details) = broken(&lab);
        // The demo's promise: the runtime fix alone brings every flow back.
        let fix = lab
            .apply_runtime_fix(fault)
            .unwrap_or_else(|e| panic!("runtime fix {fault}: {e}"));
        let (after_fix, fix_details) = broken(&lab);
        if !after_fix.is_empty() {
            mismatches.push(format!(
                "{fault}: runtime fix {fix:?} left broken flows:\n    {}",
                fix_details.join("\n    ")
            ));
        }
        lab.revert(fault)
            .unwrap_or_else(|e| panic!("revert {fault}: {e}"));
        let (after, after_details) = broken(&lab);
        let declared: BTreeSet<FlowKind> = fault.breaks_in(mode).iter().copied().collect();
        let names =
            |s: &BTreeSet<FlowKind>| s.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ");
        table.push(format!(
            "{:<24} observed [{}] ({:.1}s)\n    $ {}\n    {}",
            fault.name(),
            names(&observed),
            t.elapsed().as_secs_f32(),
            steps.join("\n    $ "),
            details.join("\n    ")
        ));
        if observed != declared {
            mismatches.push(format!(
                "{fault}: declared [{}] observed [{}]\n    {}",
                names(&declared),
                names(&observed),
                details.join("\n    ")
            ));
        }
        if !after.is_empty() {
            mismatches.push(format!(
                "{fault}: revert left broken flows:\n    {}",
                after_details.join("\n    ")
            ));
        }
    }
    eprintln!("fault x flow table ({mode:?}):\n{}", table.join("\n"));
    lab.close().expect("CNI DEL and namespace removal succeed");

    // Nothing of the lab may survive it.
    let netns = command_output(&["ip", "netns", "list"]);
    let links = command_output(&["ip", "-o", "link", "show"]);
    assert!(!netns.contains(&prefix), "namespaces left: {netns}");
    assert!(!links.contains(&prefix), "host links left: {links}");
    let dir = std::env::temp_dir().join(format!("netdoctor-lab-{prefix}"));
    assert!(!dir.exists(), "lab directory left: {}", dir.display());
    eprintln!("self-test took {:.1}s", start.elapsed().as_secs_f32());

    assert!(
        mismatches.is_empty(),
        "fault table wrong:\n{}",
        mismatches.join("\n")
    );
    assert_eq!(FAULTS.len(), 14);
}
