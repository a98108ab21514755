//! `netdoctor explain iptables` end to end (the whole process: read, parse, explain, print),
//! text and JSON, against `iptables-legacy-restore --test` on the same 110k-rule kube-proxy
//! dump (10k Services x 3 endpoints), measured in one run, alternating, and printed as ratios.
//! Target (issue #16): explain at least 10x faster.
//!
//! `iptables-legacy-restore --test` runs in a network namespace this bench creates and deletes
//! (it talks to the kernel even when testing); without root that side is skipped.
//!
//! Run: `cargo bench -p netdoctor --bench explain_e2e`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NETDOCTOR: &str = env!("CARGO_BIN_EXE_netdoctor");
const PAIRS: usize = 5;

/// Time one command, its output thrown away (as a pipe to `less` would not be).
fn time(cmd: &mut Command, stdin: Option<&str>) -> Duration {
    if let Some(path) = stdin {
        cmd.stdin(std::fs::File::open(path).expect("dump"));
    }
    let t = Instant::now();
    let st = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run");
    let d = t.elapsed();
    assert!(st.success(), "{cmd:?} failed");
    d
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let dump = netdoctor_testkit::kube_dump::iptables_save(10_000, 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("iptables-save.txt");
    std::fs::write(&path, &dump).expect("write dump");
    let p = path.to_string_lossy().into_owned();
    println!(
        "dump: {} lines, {:.1} MiB",
        dump.lines().count(),
        dump.len() as f64 / 1048576.0
    );
    // The test-support namespace, deleted on drop; it needs root.
    let ns = netdoctor_testkit::is_root().then(|| netdoctor_testkit::Netns::new("explain"));
    if ns.is_none() {
        println!("iptables-legacy-restore --test: not measured (cannot create a network namespace: not root?)");
    }
    let mut text = Vec::new();
    let mut json = Vec::new();
    let mut restore = Vec::new();
    for _ in 0..PAIRS {
        text.push(
            time(
                Command::new(NETDOCTOR).args(["explain", "iptables", &p]),
                None,
            )
            .as_secs_f64(),
        );
        json.push(
            time(
                Command::new(NETDOCTOR).args(["explain", "iptables", &p, "-o", "json"]),
                None,
            )
            .as_secs_f64(),
        );
        if let Some(ns) = &ns {
            restore.push(
                time(
                    Command::new("ip").args([
                        "netns",
                        "exec",
                        &ns.name,
                        "iptables-legacy-restore",
                        "--test",
                    ]),
                    Some(&p),
                )
                .as_secs_f64(),
            );
        }
    }
    println!(
        "explain (text): {:.0} ms, explain -o json: {:.0} ms (medians of {PAIRS})",
        median(text.clone()) * 1e3,
        median(json.clone()) * 1e3
    );
    if restore.len() == PAIRS {
        let ratio = |ours: &[f64]| median(restore.iter().zip(ours).map(|(r, o)| r / o).collect());
        println!(
            "iptables-legacy-restore --test: {:.0} ms -> explain is {:.1}x faster (text), {:.1}x (JSON) (medians of {PAIRS} paired ratios; target >= 10x)",
            median(restore.clone()) * 1e3,
            ratio(&text),
            ratio(&json)
        );
    }
}
