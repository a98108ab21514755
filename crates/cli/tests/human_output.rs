//! Snapshot tests of the human report (`check` text and markdown) on real cases: a change in
//! wording, order or layout shows up as a diff to review (`cargo insta review`, or
//! `INSTA_UPDATE=always cargo test -p netdoctor --test human_output` to accept).

use std::process::Command;

fn report(case: &str, format: &str) -> String {
    let dir = netdoctor_testkit::repo_root()
        .join("tests/cases")
        .join(case);
    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .current_dir(&dir)
        .args(["check", "--from", ".", "--output", format])
        .output()
        .expect("run netdoctor");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{case}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn bridge_nf_call_iptables_off_on_centos7() {
    insta::assert_snapshot!(report("case03_bridge_nf_call_iptables_0", "text"));
}

#[test]
fn forward_policy_drop_from_docker() {
    insta::assert_snapshot!(report("case13_forward_drop_docker", "text"));
}

#[test]
fn a_healthy_flannel_node_in_markdown() {
    insta::assert_snapshot!(report("flannel1775_healthy_vxlan_mtu_1450", "markdown"));
}
