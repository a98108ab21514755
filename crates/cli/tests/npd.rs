//! `check --output npd` follows node-problem-detector's custom plugin protocol: one line of at
//! most 80 characters, exit 0 OK, 1 problem, 2 unknown; and the plugin config in deploy/npd
//! runs exactly that.

use serde_json::Value;
use std::process::Command;

fn case(name: &str) -> String {
    format!("{}/../../tests/cases/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn npd(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(["check", "--output", "npd"])
        .args(args)
        .output()
        .expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn npd_protocol() {
    let (code, out) = npd(&["--from", &case("calicoctl910_ip_tables_module_not_loaded")]);
    assert_eq!(code, Some(1));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with("kernel-netfilter-feature-missing: "),
        "{out}"
    );
    assert!(out.trim_end().chars().count() <= 80, "{out}");
    let (code, out) = npd(&[
        "--from",
        &case("blog_ericpuwang_kind_healthy_iptables_save"),
    ]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "netdoctor: no network problem found\n")
    );
    // Nothing could be judged: Unknown, and the message says so.
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("notes.txt"), "the pods cannot talk\n").expect("write");
    let (code, out) = npd(&["--from", dir.path().to_str().expect("path")]);
    assert_eq!(code, Some(2), "{out}");
    assert!(!out.contains("no network problem"), "{out}");
}

#[test]
fn the_npd_plugin_config_runs_this_mode() {
    let path = format!(
        "{}/../../deploy/npd/netdoctor-plugin.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("config")).expect("json");
    assert_eq!(v["plugin"], "custom");
    let rule = &v["rules"][0];
    assert_eq!(rule["condition"], v["conditions"][0]["type"]);
    let args: Vec<&str> = rule["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        args.windows(2).any(|w| w == ["--output", "npd"]),
        "{args:?}"
    );
    assert!(v["pluginConfig"]["max_output_length"].as_u64() >= Some(80));
}
