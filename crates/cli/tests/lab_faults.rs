//! The lab's seed faults, diagnosed by the live `check` inside the broken node: the expected
//! finding appears on that node, and a healthy cluster has no critical finding on any node.

mod support;

use netdoctor_lab::{ClusterSpec, Fault, Lab, NodeHandle, CLUSTER_CIDR, SERVICE_CIDR};
use serde_json::Value;

use support::lab_available;

fn check(node: &NodeHandle) -> Value {
    let kube = node.kube_dir().to_string_lossy().into_owned();
    support::check_in_node(
        node,
        &[
            "--cni",
            "flannel",
            "--cluster-cidr",
            CLUSTER_CIDR,
            "--service-cidr",
            SERVICE_CIDR,
            "--pod-cidr",
            &node.pod_cidr,
            "--kube-objects",
            &kube,
        ],
    )
}

fn ids(v: &Value, critical_only: bool) -> Vec<String> {
    support::finding_ids(v, critical_only)
}

/// Faults whose finding is not implemented yet; listing them here keeps the gap visible.
const NOT_YET: &[Fault] = &[];

#[test]
fn every_lab_fault_is_found_on_the_right_node() {
    if !lab_available("every_lab_fault_is_found_on_the_right_node") {
        return;
    }
    let lab = Lab::build(&ClusterSpec::default()).expect("lab");
    for node in lab.nodes() {
        let v = check(node);
        assert_eq!(
            ids(&v, true),
            Vec::<String>::new(),
            "healthy {}: {v:#}",
            node.name
        );
    }
    // iptables-both-backends leaves empty legacy tables registered: run it last.
    let mut faults: Vec<Fault> = Fault::all().filter(|f| !NOT_YET.contains(f)).collect();
    faults.sort_by_key(|f| *f == Fault::IptablesBothBackends);
    let mut missed = Vec::new();
    for fault in faults {
        lab.inject(fault).expect("inject");
        let v = check(lab.node(fault.node()));
        if !ids(&v, false).iter().any(|i| i == fault.finding()) {
            missed.push(format!(
                "{}: expected {} in {:?}",
                fault.name(),
                fault.finding(),
                ids(&v, false)
            ));
        }
        lab.revert(fault).expect("revert");
    }
    assert!(missed.is_empty(), "{missed:#?}");
}
