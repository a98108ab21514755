//! Bad input: exit status 2 and a message naming the file (and line), never a panic.

use std::process::{Command, Output};

fn netdoctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(args)
        .output()
        .expect("run netdoctor")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn malformed_snapshot_names_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("bad.json");
    std::fs::write(
        &p,
        "{\n \"schema\": \"netdoctor.snapshot/v1\",\n \"routes\": [1,\n",
    )
    .expect("write");
    let o = netdoctor(&["check", "--snapshot", p.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("bad.json:"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn missing_bundle_directory() {
    let o = netdoctor(&["check", "--from", "/nonexistent/bundle"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/bundle"), "{}", stderr(&o));
}

#[test]
fn invalid_cluster_json_names_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("cluster.json"),
        "{\n  \"cluster_cidr\": \"10.244.0.0/16\",\n  oops\n}\n",
    )
    .expect("write");
    let o = netdoctor(&["check", "--from", dir.path().to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cluster.json:3"), "{}", stderr(&o));
}

#[test]
fn bad_flag_values_are_refused() {
    let o = netdoctor(&["check", "--cluster-cidr", "10.244.0.0/99"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--cluster-cidr"), "{}", stderr(&o));
}

#[test]
fn snapshot_round_trip_gives_the_same_diagnosis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snap = dir.path().join("node.json.zst");
    let o = netdoctor(&[
        "collect",
        "--node-name",
        "n7",
        "-o",
        snap.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let live = netdoctor(&[
        "check",
        "--output",
        "json",
        "--snapshot",
        snap.to_str().expect("utf8"),
    ]);
    assert!(
        matches!(live.status.code(), Some(0 | 1)),
        "{}",
        stderr(&live)
    );
    let v: serde_json::Value = serde_json::from_slice(&live.stdout).expect("json");
    assert_eq!(v["schema"], "netdoctor.check/v1");
    assert_eq!(
        v["node"], "n7",
        "the name recorded at collection is the node's name"
    );
}
