//! `netdoctor demo` tells the truth: the faults that need the cluster's objects are found (the
//! demo passes its own), a fix is shown only after netdoctor named the fault, and no advice
//! removes the node's uplink.

use netdoctor_testkit::require_lab;
use std::process::Command;

fn demo(fault: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(["demo", "--fault", fault])
        .output()
        .expect("demo");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

#[test]
fn cross_node_faults_are_named_before_they_are_fixed() {
    require_lab!("demo_truth", "ip", "iptables", "ping");
    for (fault, id) in [
        ("route-missing", "pod-route-missing"),
        ("fdb-missing", "vxlan-fdb-missing"),
        ("pod-cidr-overlaps-host", "pod-cidr-overlap"),
    ] {
        let (code, text) = demo(fault);
        assert_eq!(code, Some(0), "{fault}:\n{text}");
        let named = text
            .find(&format!("netdoctor named {id}"))
            .unwrap_or_else(|| panic!("{fault}: {id} not named:\n{text}"));
        let fixed = text.find("applying the runtime fix").expect("fix");
        assert!(named < fixed, "{fault}: the fix came before the diagnosis");
        assert!(
            !text.contains("link delete eth0"),
            "{fault}: advice removes the uplink:\n{text}"
        );
    }
}
