//! Test support: root gating and network namespaces that clean up after themselves.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// True when the test may use namespaces. Without root it skips, unless
/// NETDOCTOR_REQUIRE_LAB=1, when it fails loudly (CI must never skip silently).
pub fn lab_available(test: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false);
    if root {
        return true;
    }
    if std::env::var("NETDOCTOR_REQUIRE_LAB").as_deref() == Ok("1") {
        panic!("{test}: needs root for network namespaces, and NETDOCTOR_REQUIRE_LAB=1 forbids skipping");
    }
    eprintln!("{test}: skipped (needs root; set NETDOCTOR_REQUIRE_LAB=1 to make this an error)");
    false
}

/// Run a command; panic with its output if it fails.
pub fn sh(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A network namespace named with a per-process prefix, deleted on drop (also on panic).
pub struct Netns {
    pub name: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = format!(
            "ndt{}-{}-{tag}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.run("ip link set lo up");
        ns
    }

    /// Run a shell command line inside the namespace; panic on failure.
    pub fn run(&self, cmd: &str) -> Output {
        sh(&["ip", "netns", "exec", &self.name, "sh", "-ec", cmd])
    }

    /// Run inside the namespace; return whether it succeeded.
    pub fn try_run(&self, cmd: &str) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-ec", cmd])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Run the netdoctor binary inside the namespace.
    pub fn netdoctor(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, env!("CARGO_BIN_EXE_netdoctor")])
            .args(args)
            .output()
            .expect("run netdoctor")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace removes every device inside it.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A temporary fake root with the kubeadm docs' sysctl and modules files.
pub fn fake_root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    std::fs::create_dir_all(root.join("etc/sysctl.d")).expect("mkdir");
    std::fs::create_dir_all(root.join("etc/modules-load.d")).expect("mkdir");
    std::fs::write(
        root.join("etc/sysctl.d/k8s.conf"),
        "net.ipv4.ip_forward = 1\n",
    )
    .expect("write");
    std::fs::write(
        root.join("etc/modules-load.d/k8s.conf"),
        "overlay\nbr_netfilter\n",
    )
    .expect("write");
    (dir, root)
}

/// Run `netdoctor check --output json --root <node root> --node-name <node> EXTRA...` inside a
/// lab node's namespace, as a user on that node would.
pub fn check_in_node(node: &netdoctor_lab::NodeHandle, extra: &[&str]) -> serde_json::Value {
    let root = node.root_dir().to_string_lossy().into_owned();
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &node.netns,
            env!("CARGO_BIN_EXE_netdoctor"),
        ])
        .args([
            "check",
            "--output",
            "json",
            "--root",
            &root,
            "--node-name",
            &node.name,
        ])
        .args(extra)
        .output()
        .expect("run netdoctor");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: not JSON ({e}): {}",
            node.name,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Finding ids of a `check --output json` report; only the critical ones if asked.
pub fn finding_ids(v: &serde_json::Value, critical_only: bool) -> Vec<String> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| !critical_only || f["severity"] == "critical")
        .filter_map(|f| f["id"].as_str().map(String::from))
        .collect()
}
