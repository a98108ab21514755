//! Every JSON output has a JSON Schema generated from its types (`netdoctor schema NAME`),
//! committed under docs/schemas/; the committed files equal what the binary prints (run with
//! UPDATE_SCHEMAS=1 to rewrite them), and real outputs validate against them. `probe`,
//! `capture` and `collect` need root: their outputs are validated in their lab tests
//! (`support::assert_schema`).

mod support;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_netdoctor");

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn run(args: &[&str]) -> Value {
    let out = Command::new(BIN).args(args).output().expect("run");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The names the binary knows, from its own answer to an unknown one ("... one of check,
/// snapshot, ..."), so a schema added to `schema.rs` is checked here without a second list.
fn schema_names() -> Vec<String> {
    let out = Command::new(BIN)
        .args(["schema", "nope"])
        .output()
        .expect("schema");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let list = err
        .split_once("one of ")
        .unwrap_or_else(|| panic!("no list of names in: {err}"))
        .1;
    let names: Vec<String> = list.trim().split(", ").map(str::to_string).collect();
    assert!(
        names.len() >= 11 && names.iter().any(|n| n == "catalogue"),
        "{names:?}"
    );
    names
}

#[test]
fn committed_schemas_are_the_ones_the_types_give() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    let names = schema_names();
    for name in &names {
        let out = Command::new(BIN)
            .args(["schema", name.as_str()])
            .output()
            .expect("schema");
        assert!(out.status.success(), "{name}");
        let file = repo(&format!("docs/schemas/{name}.schema.json"));
        if update {
            std::fs::write(&file, &out.stdout).expect("write");
            continue;
        }
        let committed = std::fs::read(&file).unwrap_or_default();
        if committed != out.stdout {
            stale.push(file.display().to_string());
        }
        // Each is a valid schema.
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        jsonschema::validator_for(&v).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(
        stale.is_empty(),
        "out of date (UPDATE_SCHEMAS=1 cargo test --test schemas rewrites them): {stale:?}"
    );
    // No committed schema is left over from an output that is gone.
    for e in std::fs::read_dir(repo("docs/schemas")).expect("docs/schemas") {
        let file = e.expect("entry").file_name().to_string_lossy().into_owned();
        let name = file.trim_end_matches(".schema.json");
        assert!(names.iter().any(|n| n == name), "{file} has no output");
    }
}

/// A one-node snapshot with a pod bridge, forwarding off and FORWARD dropping.
fn snapshot(dir: &Path, name: &str) -> PathBuf {
    support::one_node(
        dir,
        name,
        "0",
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n",
    )
}

#[test]
fn real_outputs_validate_against_their_committed_schemas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s0 = snapshot(dir.path(), "n0");
    let s1 = snapshot(dir.path(), "n1");
    let (a, b) = (s0.to_str().expect("utf8"), s1.to_str().expect("utf8"));
    // The snapshots written by hand are snapshots too.
    support::assert_schema(
        "snapshot",
        &serde_json::from_slice(&std::fs::read(&s0).expect("read")).expect("json"),
    );
    // check: on the snapshot, and on real cases' bundles.
    support::assert_schema("check", &run(&["check", "--snapshot", a, "-o", "json"]));
    let cases = repo("tests/cases");
    let mut n = 0;
    for e in std::fs::read_dir(&cases).expect("cases").flatten() {
        if e.path().is_dir() {
            let p = e.path();
            let out = Command::new(BIN)
                .args(["check", "--from", p.to_str().expect("utf8"), "-o", "json"])
                .output()
                .expect("run");
            // A case with nothing readable as node state prints nothing (exit 2).
            if out.stdout.is_empty() {
                assert_eq!(out.status.code(), Some(2), "{}", p.display());
                continue;
            }
            let v: Value = serde_json::from_slice(&out.stdout).expect("json");
            support::assert_schema("check", &v);
            n += 1;
        }
    }
    assert!(n >= 50, "{n} cases");
    // trace, dropped and delivered.
    for to in ["172.31.255.99:80", "10.244.0.3:8080"] {
        let v = run(&[
            "trace",
            "--snapshot",
            a,
            "--from",
            "10.244.0.2",
            "--to",
            to,
            "-o",
            "json",
        ]);
        support::assert_schema("trace", &v);
    }
    // fleet
    let v = run(&["fleet", "--snapshot", a, "--snapshot", b, "-o", "json"]);
    support::assert_schema("fleet", &v);
    // pcap, on the fuzz seeds of real tcpdump captures.
    let v = run(&[
        "pcap",
        repo("fuzz/corpus/pcap/ping-lo.pcap")
            .to_str()
            .expect("utf8"),
        repo("fuzz/corpus/pcap/ping-lo.pcapng")
            .to_str()
            .expect("utf8"),
        "-o",
        "json",
    ]);
    support::assert_schema("pcap", &v);
    // explain --packet
    let rules = repo("tests/fixtures/realworld/iptables/kubeproxy_test_overall_v1.30.rules");
    let v = run(&[
        "explain",
        "iptables",
        rules.to_str().expect("utf8"),
        "--packet",
        "tcp 10.0.0.2 -> 172.30.0.44:80",
        "--local",
        "192.168.0.2",
        "-o",
        "json",
    ]);
    support::assert_schema("packet", &v);
    // explain, on iptables and nft rule sets
    let v = run(&[
        "explain",
        "iptables",
        rules.to_str().expect("utf8"),
        "-o",
        "json",
    ]);
    support::assert_schema("explain", &v);
    let nft = repo("crates/netfilter/tests/data/kp.nft");
    let v = run(&["explain", "nft", nft.to_str().expect("utf8"), "-o", "json"]);
    support::assert_schema("explain", &v);
    // fix, on the snapshot (ip_forward = 0: sysctl and file steps) and on cases' bundles
    let v = run(&["fix", "--snapshot", a, "--format", "json"]);
    assert!(!v["steps"].as_array().expect("steps").is_empty(), "{v:#}");
    support::assert_schema("fix", &v);
    // the catalogue of root causes
    // (every cause the text listing counts, each id once)
    let v = run(&["check", "--list", "-o", "json"]);
    let text = Command::new(BIN)
        .args(["check", "--list"])
        .output()
        .expect("list");
    let counted: usize = String::from_utf8_lossy(&text.stdout)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("the listing starts with its count");
    let ids: std::collections::BTreeSet<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids.len(), counted, "{v:#}");
    support::assert_schema("catalogue", &v);
    for case in [
        "nixpkgs118656_systemd_sysctl_restart_resets_forwarding",
        "case12_vxlan_8472_blocked_cloud_sg",
    ] {
        let dir = repo(&format!("tests/cases/{case}"));
        let out = Command::new(BIN)
            .args([
                "fix",
                "--from",
                dir.to_str().expect("utf8"),
                "--format",
                "json",
            ])
            .output()
            .expect("fix");
        if !out.stdout.is_empty() {
            support::assert_schema("fix", &serde_json::from_slice(&out.stdout).expect("json"));
        }
    }
}

#[test]
fn a_document_the_schema_refuses_is_refused() {
    let mut v = run(&["check", "--list", "-o", "json"]);
    // Not a check report at all.
    assert!(!support::schema_accepts("check", &v));
    v = json!({"schema": "netdoctor.check/v1", "node": 7, "findings": [], "not_checked": [], "inputs": []});
    assert!(
        !support::schema_accepts("check", &v),
        "a number for a node name"
    );
}
