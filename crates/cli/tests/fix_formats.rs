//! `fix --format json|markdown`: the same plan as the text, for programs and for tickets.

use serde_json::Value;
use std::process::Command;

const CASE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/cases/nixpkgs118656_systemd_sysctl_restart_resets_forwarding"
);

fn fix(format: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(["fix", "--from", CASE, "--format", format])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn json_and_markdown_say_what_the_text_says() {
    let v: Value = serde_json::from_str(&fix("json")).expect("json");
    assert_eq!(v["schema"], "netdoctor.fix/v1");
    let steps = v["steps"].as_array().expect("steps");
    let now = steps
        .iter()
        .find(|s| s["kind"] == "sysctl")
        .expect("a runtime step");
    assert_eq!(now["key"], "net.ipv4.conf.default.forwarding");
    assert_eq!(now["value"], "1");
    let boot = steps
        .iter()
        .find(|s| s["kind"] == "file")
        .expect("a boot step");
    assert!(boot["path"]
        .as_str()
        .expect("path")
        .starts_with("/etc/sysctl.d/"));
    assert_eq!(boot["adds"][0], "net.ipv4.conf.default.forwarding = 1");
    let text = fix("text");
    assert!(
        text.contains(boot["path"].as_str().expect("path")),
        "{text}"
    );
    let md = fix("markdown");
    assert!(md.starts_with("## netdoctor fix"), "{md}");
    assert!(md.contains("net.ipv4.conf.default.forwarding = 1"), "{md}");
}
