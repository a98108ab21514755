//! `netdoctor explain iptables` on real kube-proxy output.

use std::io::Write;
use std::process::{Command, Stdio};

const OVERALL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/realworld/iptables/kubeproxy_test_overall_v1.30.rules"
);

#[test]
fn explains_services_endpoints_and_drops() {
    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(["explain", "iptables", OVERALL])
        .output()
        .expect("run");
    assert!(out.status.success());
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.contains("service ns4/svc4:p80"), "{t}");
    assert!(
        t.contains("50.0% -> KUBE-SEP-UKSFD7AGPMPPLUHC DNAT to 10.180.0.4:80"),
        "{t}"
    );
    assert!(t.contains("no local endpoints"), "{t}");
}

#[test]
fn reads_stdin_and_writes_json() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(["explain", "iptables", "-", "--output", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let dump = std::fs::read(OVERALL).expect("fixture");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&dump)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["schema"], "netdoctor.explain/v1");
    assert!(
        v["explanation"]["services"]
            .as_array()
            .is_some_and(|s| s.len() == 6),
        "{v:#}"
    );
}

#[test]
fn not_a_dump_exits_2_naming_the_line() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(["explain", "iptables", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"hello\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<stdin>:1:"));
}
