//! The development cases from tests/fixtures/cases-dev, as evidence bundles under tests/cases,
//! diagnosed end to end by the binary. Each test is named after the incident it comes from.

use serde_json::Value;
use std::process::Command;

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/cases/");

fn check(case: &str, extra: &[&str]) -> (Value, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args([
            "check",
            "--output",
            "json",
            "--from",
            &format!("{CASES}{case}"),
        ])
        .args(extra)
        .output()
        .expect("run netdoctor");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{case}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap_or(-1))
}

/// The root cause must be the one critical finding, first in the list.
fn assert_root_cause(case: &str, id: &str) -> Value {
    let (v, code) = check(case, &[]);
    assert_eq!(v["schema"], "netdoctor.check/v1");
    let critical: Vec<&str> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "critical")
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(critical, [id], "{case}: {v:#}");
    assert_eq!(v["findings"][0]["id"], id, "most severe first");
    assert_eq!(code, 1, "a critical finding exits 1");
    v
}

fn evidence(v: &Value, id: &str) -> Vec<String> {
    v["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["id"] == id))
        .and_then(|f| f["evidence"].as_array())
        .map(|e| {
            e.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// https://github.com/kubernetes/kubernetes/issues/33798
#[test]
fn k8s_33798_kubeadm_centos7_bridge_nf_call_iptables_0() {
    let v = assert_root_cause(
        "case03_bridge_nf_call_iptables_0",
        "bridge-nf-call-iptables-disabled",
    );
    let ev = evidence(&v, "bridge-nf-call-iptables-disabled");
    assert!(ev.iter().any(|e| e.contains("sysctl.txt:")), "{ev:?}");
}

/// https://github.com/kubernetes/kubernetes/issues/71261
#[test]
fn k8s_71261_nf_conntrack_table_full() {
    let v = assert_root_cause("case08_conntrack_table_full", "conntrack-table-full");
    let ev = evidence(&v, "conntrack-table-full");
    assert!(
        ev.iter()
            .any(|e| e.starts_with("dmesg.txt:") && e.contains("table full")),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|e| e.contains("Setting nf_conntrack_max to 786432")),
        "{ev:?}"
    );
}

/// https://github.com/cloudfoundry-incubator/kubo-release/issues/228
#[test]
fn kubo_228_stale_cni0_subnet_mismatch() {
    let v = assert_root_cause("case10_stale_cni0_address", "bridge-address-mismatch");
    let ev = evidence(&v, "bridge-address-mismatch");
    assert!(
        ev.iter().any(|e| e.contains("10.200.29.1"))
            && ev.iter().any(|e| e.contains("10.200.78.0")),
        "{ev:?}"
    );
}

/// https://github.com/kubernetes-sigs/cluster-api-provider-openstack/issues/419 (and calico#8344)
#[test]
fn capo_419_pod_cidr_192168_overlaps_host() {
    let v = assert_root_cause("case22_pod_cidr_overlaps_host", "pod-cidr-overlap");
    let ev = evidence(&v, "pod-cidr-overlap");
    assert!(ev.iter().any(|e| e.contains("192.168.152.0/24")), "{ev:?}");
}

/// https://github.com/labring/sealos/issues/559
#[test]
fn sealos_559_ubuntu2004_rp_filter_2_calico_fatal() {
    let v = assert_root_cause("case23_rp_filter_loose_calico", "rp-filter-loose");
    let ev = evidence(&v, "rp-filter-loose");
    assert!(
        ev.iter().any(|e| e.starts_with("calico-node.log:")),
        "{ev:?}"
    );
}

/// https://github.com/flannel-io/flannel/issues/1614 and #1999
#[test]
fn flannel_1614_1999_mtu_mismatch_tls_timeout() {
    let v = assert_root_cause("case28_wg0_mtu_1320", "mtu-mismatch");
    assert!(evidence(&v, "mtu-mismatch")
        .iter()
        .any(|e| e.contains("wg0") && e.contains("1320")));
}

#[test]
fn fail_on_controls_the_exit_status() {
    // A warning-only bundle: loose rp_filter on a Calico node, without felix's fatal log line.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("sysctl.txt"),
        "net.ipv4.conf.all.rp_filter = 2\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("cluster.json"), "{\"cni\": \"calico\"}").expect("write");
    let run = |fail_on: &str| {
        Command::new(env!("CARGO_BIN_EXE_netdoctor"))
            .args([
                "check",
                "--from",
                dir.path().to_str().expect("utf8"),
                "--fail-on",
                fail_on,
            ])
            .output()
            .expect("run")
            .status
            .code()
    };
    assert_eq!(run("critical"), Some(0));
    assert_eq!(run("warning"), Some(1));
}

/// https://github.com/flannel-io/flannel/issues/1039: the cause (an AWS security group) is
/// outside the node, so no host finding may be invented; the output must point there.
#[test]
fn flannel_1039_vxlan_8472_blocked_aws_sg() {
    // Only context (flannel, VXLAN), no node evidence: nothing to check, exit 2, never
    // "passed" and never an invented host finding.
    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args([
            "check",
            "--from",
            &format!("{CASES}case12_vxlan_8472_blocked_cloud_sg"),
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing to check"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "no report: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// https://github.com/flannel-io/flannel/issues/799
#[test]
fn flannel_799_forward_drop_cni0_rules_missing() {
    let v = assert_root_cause("case13_forward_drop_docker", "forward-policy-drop");
    let ev = evidence(&v, "forward-policy-drop");
    assert!(
        ev.iter()
            .any(|e| e.contains("policy of filter/FORWARD is DROP")),
        "{ev:?}"
    );
}

/// https://github.com/kubernetes/kubernetes/issues/109811
#[test]
fn k8s_109811_rules_in_both_legacy_and_nft() {
    let v = assert_root_cause("case25_rules_in_both_backends", "iptables-backend-mismatch");
    let ev = evidence(&v, "iptables-backend-mismatch");
    assert!(
        ev.iter()
            .any(|e| e.contains("iptables-legacy tables present")),
        "{ev:?}"
    );
}

/// https://github.com/kubernetes/kubernetes/issues/23657
#[test]
fn k8s_23657_kube_dns_no_endpoints_reject() {
    let (v, _) = check("case37_kube_dns_no_endpoints", &[]);
    let ev = evidence(&v, "service-no-endpoints");
    assert!(
        ev.iter().any(
            |e| e.starts_with("iptables-save.txt:6:") && e.contains("kube-system/kube-dns:dns")
        ),
        "{v:#}"
    );
    assert_eq!(v["findings"][0]["id"], "service-no-endpoints");
}
