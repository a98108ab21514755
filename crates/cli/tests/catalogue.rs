//! `netdoctor check --list` prints the whole catalogue, in text and JSON.

use std::process::Command;

#[test]
fn check_list_prints_every_root_cause() {
    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(["check", "--list", "-o", "json"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let ids: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids.len(), netdoctor_model::CAUSES.len());
    for c in netdoctor_model::CAUSES {
        assert!(ids.contains(&c.id), "{} missing", c.id);
    }
    let text = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(["check", "--list"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&text.stdout);
    for c in netdoctor_model::CAUSES {
        assert!(text.contains(c.id) && text.contains(c.title), "{}", c.id);
    }
    assert!(text.contains("needs: sysctls"), "{text}");
}
