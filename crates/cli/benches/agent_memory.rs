//! The agent's memory on a big node: 100k kube-proxy-shaped iptables rules and 500 pods' veth
//! pairs in a network namespace this bench creates, then 10,000 netlink changes in bursts (each
//! burst ends in one debounced check). Prints the agent's resident memory (VmRSS) after its
//! first check and after every 2,000 changes, and its peak (VmHWM): flat means bounded.
//! Target: under 150 MiB.
//!
//! Needs root, `ip` and `iptables-restore`; says so and stops otherwise.
//! Run: `cargo bench -p netdoctor --bench agent_memory`.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SERVICES: u32 = 10_000;
const PODS: u32 = 500;
const CHANGES: u32 = 10_000;
const BURST: u32 = 500;

fn sh(ns: &str, args: &[&str]) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn rules() -> String {
    let mut s = String::from(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\n",
    );
    for i in 0..SERVICES {
        let _ = writeln!(s, ":KUBE-SVC-{i:012} - [0:0]");
        for e in 0..3 {
            let _ = writeln!(s, ":KUBE-SEP-{i:010}-{e} - [0:0]");
        }
    }
    for i in 0..SERVICES {
        let (a, b) = (i / 250, i % 250 + 1);
        let _ = writeln!(s, "-A KUBE-SERVICES -d 10.96.{a}.{b}/32 -p tcp -m comment --comment \"ns/svc{i}:http cluster IP\" -m tcp --dport 80 -j KUBE-SVC-{i:012}");
        for e in 0..3u32 {
            let stat = match e {
                0 => " -m statistic --mode random --probability 0.33333333349".to_string(),
                1 => " -m statistic --mode random --probability 0.50000000000".to_string(),
                _ => String::new(),
            };
            let _ = writeln!(s, "-A KUBE-SVC-{i:012}{stat} -j KUBE-SEP-{i:010}-{e}");
            let _ = writeln!(
                s,
                "-A KUBE-SEP-{i:010}-{e} -s 10.{}.{a}.{b}/32 -j MARK --set-xmark 0x4000/0x4000",
                100 + e
            );
            let _ = writeln!(
                s,
                "-A KUBE-SEP-{i:010}-{e} -p tcp -m tcp -j DNAT --to-destination 10.{}.{a}.{b}:8080",
                100 + e
            );
        }
    }
    s.push_str("COMMIT\n");
    s
}

fn status(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn checks(ns: &str) -> u64 {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "curl",
            "-s",
            "--max-time",
            "10",
            "http://127.0.0.1:9469/metrics",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.lines()
        .filter(|l| l.starts_with("netdoctor_checks_total"))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn main() {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        println!("agent_memory: needs root (network namespaces); nothing measured");
        return;
    }
    let ns = format!("ndbench-agent-{}", std::process::id());
    if !Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .is_ok_and(|s| s.success())
    {
        println!("agent_memory: cannot create a network namespace; nothing measured");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let run = || -> Result<(), String> {
        sh(&ns, &["ip", "link", "set", "lo", "up"]);
        let file = dir.path().join("rules");
        std::fs::write(&file, rules()).map_err(|e| e.to_string())?;
        if !sh(&ns, &["iptables-restore", file.to_str().unwrap_or("")]) {
            return Err("iptables-restore failed".into());
        }
        let mut batch = String::new();
        for p in 0..PODS {
            let _ = writeln!(batch, "link add vp{p} type veth peer name vq{p}");
        }
        std::fs::write(dir.path().join("pods"), batch).map_err(|e| e.to_string())?;
        sh(
            &ns,
            &[
                "ip",
                "-batch",
                dir.path().join("pods").to_str().unwrap_or(""),
            ],
        );
        let mut agent = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns,
                env!("CARGO_BIN_EXE_netdoctor"),
                "agent",
            ])
            .args([
                "--listen",
                "127.0.0.1:9469",
                "--interval",
                "1h",
                "--debounce",
                "300ms",
                "--root",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let pid = agent.id();
        let started = Instant::now();
        while checks(&ns) < 1 {
            if started.elapsed() > Duration::from_secs(120) {
                let _ = agent.kill();
                return Err("no first check in 2 minutes".into());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        println!(
            "node: {} iptables rules, {PODS} veth pairs; first check after {:.1} s",
            SERVICES * 10 + 1,
            started.elapsed().as_secs_f64()
        );
        println!("\n| netlink changes | checks | VmRSS | VmHWM (peak) |\n|---|---|---|---|");
        let row = |n: u32| {
            println!(
                "| {n} | {} | {} MiB | {} MiB |",
                checks(&ns),
                status(pid, "VmRSS:") / 1024,
                status(pid, "VmHWM:") / 1024
            );
        };
        row(0);
        let mut done = 0;
        while done < CHANGES {
            let mut b = String::new();
            for k in 0..BURST {
                let _ = writeln!(
                    b,
                    "link set vp{} mtu {}",
                    (done + k) % PODS,
                    1400 + (done + k) % 2 * 50
                );
            }
            std::fs::write(dir.path().join("burst"), b).map_err(|e| e.to_string())?;
            sh(
                &ns,
                &[
                    "ip",
                    "-batch",
                    dir.path().join("burst").to_str().unwrap_or(""),
                ],
            );
            done += BURST;
            // Past the debounce, so each burst gets its check.
            std::thread::sleep(Duration::from_millis(1500));
            if done % 2000 == 0 {
                row(done);
            }
        }
        let _ = agent.kill();
        let _ = agent.wait();
        Ok(())
    };
    let r = run();
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    if let Err(e) = r {
        println!("agent_memory: {e}");
    }
}
