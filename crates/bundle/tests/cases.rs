//! The development case bundles under `tests/cases/` read without error, and carry the values
//! their README says the diagnosis rests on.

use netdoctor_bundle::read_bundle;
use netdoctor_model::{NodeSnapshot, Source};
use std::path::Path;

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/cases/");

fn case(name: &str) -> NodeSnapshot {
    let snap = read_bundle(&Path::new(CASES).join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(snap.problems.is_empty(), "{name}: {:?}", snap.problems);
    assert!(
        snap.inputs
            .iter()
            .all(|i| !i.read_as.starts_with("not recognised")),
        "{name}: {:?}",
        snap.inputs
    );
    snap
}

/// Every bundle under `tests/cases/` (including those other crates' authors add) reads, and has
/// a README saying where its evidence comes from.
#[test]
fn every_case_bundle_reads() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(CASES).expect("cases dir") {
        let entry = entry.expect("entry");
        if entry.path().is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            match read_bundle(&entry.path()) {
                Ok(_) => {}
                // The cloud security group case has no node evidence at all, only context.
                Err(e @ netdoctor_bundle::BundleError::NothingToCheck { .. })
                    if name == "case12_vxlan_8472_blocked_cloud_sg" =>
                {
                    assert!(e.to_string().contains("nothing to check"), "{e}");
                }
                Err(e) => panic!("{name}: {e}"),
            }
            assert!(
                entry.path().join("README.md").is_file(),
                "{name} has no README"
            );
            names.push(name);
        }
    }
    for mine in [
        "case03_bridge_nf_call_iptables_0",
        "case08_conntrack_table_full",
        "case10_stale_cni0_address",
        "case22_pod_cidr_overlaps_host",
        "case23_rp_filter_loose_calico",
        "case28_wg0_mtu_1320",
    ] {
        assert!(names.iter().any(|n| n == mine), "{mine} missing");
    }
}

#[test]
fn case03_bridge_nf_call_iptables_0() {
    let snap = case("case03_bridge_nf_call_iptables_0");
    let v = snap
        .sysctl("net.bridge.bridge-nf-call-iptables")
        .expect("sysctl");
    assert_eq!(v.value, "0");
    assert_eq!(v.source, Source::at("sysctl.txt", 1));
    assert!(snap.bridge_nf_present.expect("net.bridge keys").value);
}

#[test]
fn case08_conntrack_table_full() {
    let snap = case("case08_conntrack_table_full");
    let dmesg = snap
        .logs
        .iter()
        .find(|l| l.name == "dmesg.txt")
        .expect("dmesg");
    assert_eq!(dmesg.lines.len(), 4);
    assert!(dmesg
        .lines
        .iter()
        .all(|(_, l)| l.contains("table full, dropping packet")));
    let kp = snap
        .logs
        .iter()
        .find(|l| l.name == "kube-proxy.log")
        .expect("kube-proxy");
    assert!(kp.lines[0].1.contains("nf_conntrack_max to 786432"));
}

#[test]
fn case10_stale_cni0_address() {
    let snap = case("case10_stale_cni0_address");
    let addrs = snap.addresses.as_ref().expect("addresses");
    let cni0 = addrs.iter().find(|a| a.ifname == "cni0").expect("cni0");
    let flannel = addrs
        .iter()
        .find(|a| a.ifname == "flannel.1")
        .expect("flannel.1");
    let cni0_net = cni0.network().expect("net");
    assert!(!cni0_net.contains(&flannel.addr), "the mismatch is visible");
    assert_eq!(cni0.source, Source::at("ifconfig.txt", 3));
    assert_eq!(snap.hints.pod_cidr, None, "no subnet.env in the case");
}

#[test]
fn case22_pod_cidr_overlaps_host() {
    let snap = case("case22_pod_cidr_overlaps_host");
    let cidr = snap.hints.cluster_cidr.as_ref().expect("context").value;
    let routes = snap.routes.as_ref().expect("routes");
    assert_eq!(routes.len(), 2);
    assert!(routes.iter().all(|r| cidr.contains(&r.dst)));
    assert_eq!(routes[1].metric, Some(101));
}

#[test]
fn case23_rp_filter_loose_calico() {
    let snap = case("case23_rp_filter_loose_calico");
    assert_eq!(
        snap.sysctl("net.ipv4.conf.all.rp_filter")
            .expect("rp")
            .value,
        "2"
    );
    let log = snap
        .logs
        .iter()
        .find(|l| l.name == "calico-node.log")
        .expect("log");
    assert!(log.lines[0].1.contains("[FATAL]") && log.lines[0].1.contains("RPF check"));
    assert_eq!(snap.hints.cni.as_ref().expect("cni").value, "calico");
}

#[test]
fn case28_wg0_mtu_1320() {
    let snap = case("case28_wg0_mtu_1320");
    let wg0 = snap.link("wg0").expect("wg0");
    assert_eq!(wg0.mtu, Some(1320));
    assert_eq!(wg0.kind.as_deref(), Some("wireguard"));
    assert!(
        wg0.flags.is_empty(),
        "flags are not stated, so not invented"
    );
    assert_eq!(snap.hints.mtu.as_ref().expect("context").value, 1420);
}
