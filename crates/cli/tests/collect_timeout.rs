//! A tool that hangs on a node in trouble (iptables-save behind a stuck lock) must not hang
//! `collect`: it is killed after the time limit and its part reported as not collected.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn a_hanging_iptables_save_is_killed_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("iptables-nft-save");
    // `exec`: the PID netdoctor kills is the sleeping process itself, so nothing outlives it.
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 120\n").expect("write fake tool");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out_file = dir.path().join("snap.json");
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(["collect", "-o"])
        .arg(&out_file)
        .env("PATH", path)
        .env("NETDOCTOR_COMMAND_TIMEOUT", "1")
        .output()
        .expect("run netdoctor");
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "collect took {:?}",
        t.elapsed()
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).expect("snapshot")).expect("json");
    let missing = snap["not_collected"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let hung = missing
        .iter()
        .find(|n| n["part"] == "iptables-nft")
        .unwrap_or_else(|| panic!("iptables-nft not reported: {missing:?}"));
    let reason = hung["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("did not finish in 1 s") && reason.contains("killed"),
        "{reason}"
    );
}
