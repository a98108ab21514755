//! `netdoctor fleet` against simulated agents: real `netdoctor-agent` servers on loopback, each
//! serving this machine's real snapshot (collected once at start), read by the real binary.
//!
//! For 100 and 1,000 agents it prints the fleet's wall time, beside the same number of nodes
//! read from snapshot files in the same run (the baseline: no network), and the ratio
//! t(1000)/t(100) (about 10 means the fleet grows linearly).
//!
//! Run: `cargo bench -p netdoctor --bench fleet` (needs `ulimit -n` above 4,100: every agent
//! holds a listening socket, and the reader a connection per worker).

#[path = "../tests/support/mod.rs"]
mod support;

use netdoctor_agent::Agent;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const NETDOCTOR: &str = env!("CARGO_BIN_EXE_netdoctor");

fn snapshot_json(dir: &Path) -> String {
    let file = dir.join("node.json");
    let st = Command::new(NETDOCTOR)
        .args(["collect", "--node-name", "bench", "-o"])
        .arg(&file)
        .status()
        .expect("collect");
    assert!(st.success());
    std::fs::read_to_string(file).expect("snapshot")
}

fn agents(n: usize, snapshot: &str) -> Vec<Agent> {
    (0..n)
        .map(|_| support::snapshot_agent(snapshot.as_bytes(), "bench-token"))
        .collect()
}

fn time(args: &[String]) -> Duration {
    let t = Instant::now();
    let out = Command::new(NETDOCTOR)
        .arg("fleet")
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("fleet");
    let took = t.elapsed();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("fleet json");
    let nodes = v["nodes"].as_array().expect("nodes");
    let failed = nodes.iter().filter(|n| !n["error"].is_null()).count();
    assert_eq!(failed, 0, "{failed} nodes not read: {}", nodes[0]);
    took
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snapshot = snapshot_json(dir.path());
    let token = dir.path().join("token");
    std::fs::write(&token, "bench-token\n").expect("token");
    println!(
        "snapshot: {} KiB of JSON per node\n\n| nodes | agents (HTTP) | files (baseline) | agents / files |\n|---|---|---|---|",
        snapshot.len() / 1024
    );
    let mut by_n = Vec::new();
    for n in [100usize, 1000] {
        let running = agents(n, &snapshot);
        let mut from_agents = vec!["--token-file".to_string(), token.display().to_string()];
        for a in &running {
            from_agents.push("--agent".into());
            from_agents.push(format!("http://{}", a.addr()));
        }
        let mut from_files = Vec::new();
        for i in 0..n {
            let f = dir.path().join(format!("n{i}.json"));
            if !f.exists() {
                std::fs::write(&f, &snapshot).expect("write");
            }
            from_files.push("--snapshot".to_string());
            from_files.push(f.display().to_string());
        }
        // Alternate the two, three times; keep the median of each.
        let mut a = Vec::new();
        let mut f = Vec::new();
        for _ in 0..3 {
            a.push(time(&from_agents));
            f.push(time(&from_files));
        }
        a.sort();
        f.sort();
        println!(
            "| {n} | {:.2} s | {:.2} s | {:.2} |",
            a[1].as_secs_f64(),
            f[1].as_secs_f64(),
            a[1].as_secs_f64() / f[1].as_secs_f64()
        );
        by_n.push(a[1]);
        drop(running);
    }
    println!(
        "\nt(1000 agents) / t(100 agents) = {:.1} (10 is linear)",
        by_n[1].as_secs_f64() / by_n[0].as_secs_f64()
    );
}
