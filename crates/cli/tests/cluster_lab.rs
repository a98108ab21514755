//! The cross-node checks on the lab: the live `check` inside a node, given the lab's kubectl
//! JSON with `--kube-objects`, finds a deleted pod route and a deleted FDB entry on the node
//! that lost them, and finds nothing critical on a healthy cluster.

mod support;

use netdoctor_lab::{ClusterSpec, Fault, Lab, NodeHandle};
use serde_json::Value;

use support::lab_available;

/// The check as a user would run it: only the node's root and the cluster's objects; the
/// node name, pod CIDR, CNI and backend come from the Node objects and `subnet.env`.
fn check(node: &NodeHandle) -> Value {
    let kube = node.kube_dir().to_string_lossy().into_owned();
    support::check_in_node(node, &["--kube-objects", &kube])
}

fn findings<'a>(v: &'a Value, id: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

fn criticals(v: &Value) -> Vec<String> {
    support::finding_ids(v, true)
}

#[test]
fn cross_node_faults_found_with_kube_objects() {
    if !lab_available("cross_node_faults_found_with_kube_objects") {
        return;
    }
    let lab = Lab::build(&ClusterSpec::default()).expect("lab");
    for node in lab.nodes() {
        let v = check(node);
        assert_eq!(
            criticals(&v),
            Vec::<String>::new(),
            "healthy {}: {v:#}",
            node.name
        );
        // The cross-node checks ran: nothing says they lacked the cluster.
        let skipped: Vec<&Value> = v["not_checked"]
            .as_array()
            .expect("not_checked")
            .iter()
            .filter(|n| n["check"] == "pod-route-missing" || n["check"] == "vxlan-fdb-missing")
            .collect();
        assert!(skipped.is_empty(), "{}: {skipped:?}", node.name);
    }
    let remote = lab.node(1);
    for (fault, id, needle) in [
        (
            Fault::RouteMissing,
            "pod-route-missing",
            remote.pod_cidr.clone(),
        ),
        (
            Fault::FdbMissing,
            "vxlan-fdb-missing",
            remote.vtep_mac.clone(),
        ),
    ] {
        lab.inject(fault).expect("inject");
        let broken = check(lab.node(fault.node()));
        let healthy_peer = check(remote);
        lab.revert(fault).expect("revert");
        let f = findings(&broken, id);
        assert_eq!(f.len(), 1, "{}: {broken:#}", fault.name());
        let text = f[0].to_string();
        assert!(
            text.contains(&needle),
            "{}: {needle} not in {text}",
            fault.name()
        );
        assert!(text.contains(&remote.name), "{}: {text}", fault.name());
        // The fault is on node 0 only: node 1 still has its route and entries to node 0.
        assert!(
            findings(&healthy_peer, id).is_empty(),
            "{}: {healthy_peer:#}",
            fault.name()
        );
    }
}
