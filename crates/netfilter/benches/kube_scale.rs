//! Scale benchmark: a kube-proxy-shaped dump of 10k services x 3 endpoints (~110k rules).
//!
//! Measures, in one run, and prints the ratios:
//! - parse time against `iptables-legacy-restore --test` on the same file (run inside a network
//!   namespace this bench creates and deletes; skipped when not root). Target: >= 20x faster;
//! - a trace (PREROUTING, every outcome enumerated) through the dump. Target: < 1 ms/packet;
//! - peak memory of parsing, in a child process, against the dump's size. Target: < 3x.
//!
//! Run: `cargo bench -p netdoctor-netfilter --bench kube_scale`.

use criterion::Criterion;
use netdoctor_netfilter::{
    parse_iptables_save, parse_iptables_save_shared, parse_iptables_save_threads, Evaluator, Hook,
    HostContext, Packet,
};
use netdoctor_testkit::{is_root, Netns};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SERVICES: u32 = 10_000;
const ENDPOINTS: u32 = 3;

fn cluster_ip(i: u32) -> Ipv4Addr {
    netdoctor_testkit::kube_dump::cluster_ip(i)
}

fn kube_dump() -> String {
    netdoctor_testkit::kube_dump::iptables_save(SERVICES, ENDPOINTS)
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Child mode: read and parse the file as `check` does (the rule set shares the text it was
/// read into), and print the peak resident memory growth.
fn memory_child(path: &str) {
    let before = status_kb("VmRSS:");
    let text = std::fs::read_to_string(path).expect("read dump");
    let (rs, errs) = parse_iptables_save_shared(std::sync::Arc::new(text), "bench");
    let peak = status_kb("VmHWM:");
    let rules: usize = rs.tables.iter().map(|t| t.rule_count()).sum();
    println!("ND-MEM {} {} {} {}", before, peak, rules, errs.len());
}

/// A network namespace for iptables-legacy-restore --test, deleted on drop.
/// A network namespace to run `iptables-legacy-restore --test` in (it needs one: the test
/// still talks to the kernel), or `None` when it cannot be made (not root).
fn restore_netns() -> Option<Netns> {
    if is_root() {
        Some(Netns::new("kube-scale"))
    } else {
        eprintln!(
            "iptables-legacy-restore --test: skipped (cannot create a network namespace: not root)"
        );
        None
    }
}

/// One `iptables-legacy-restore --test` of the file.
fn restore_test_once(ns: &Netns, path: &str) -> Option<Duration> {
    let file = std::fs::File::open(path).ok()?;
    let t = Instant::now();
    let st = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "iptables-legacy-restore",
            "--test",
        ])
        .stdin(file)
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let d = t.elapsed();
    if !st.success() {
        eprintln!("iptables-legacy-restore --test failed on the generated dump");
        return None;
    }
    Some(d)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if let Ok(path) = std::env::var("ND_BENCH_MEM_CHILD") {
        memory_child(&path);
        return;
    }
    let dump = kube_dump();
    // `ND_BENCH_WRITE_DUMP=FILE`: write the dump there and stop (for profiling by hand).
    if let Ok(out) = std::env::var("ND_BENCH_WRITE_DUMP") {
        std::fs::write(&out, &dump).expect("write dump");
        return;
    }
    let path = std::env::temp_dir().join(format!("nd-kube-scale-{}.rules", std::process::id()));
    std::fs::write(&path, &dump).expect("write dump");
    let path_s = path.to_string_lossy().to_string();
    let lines = dump.lines().count();
    println!(
        "dump: {SERVICES} services x {ENDPOINTS} endpoints, {lines} lines, {:.1} MiB",
        dump.len() as f64 / 1048576.0
    );

    // Parse vs iptables-legacy-restore --test, same file, same run.
    // As `check` and `trace` parse: the rule set shares the snapshot's text (`parse_dump`).
    let shared = std::sync::Arc::new(dump.clone());
    let parse_once = |threads: Option<usize>| {
        let t = Instant::now();
        let (rs, errs) = match threads {
            None => parse_iptables_save_shared(std::sync::Arc::clone(&shared), "bench"),
            Some(n) => parse_iptables_save_threads(std::sync::Arc::clone(&shared), "bench", n),
        };
        let d = t.elapsed();
        assert!(errs.is_empty(), "{:?}", &errs[..errs.len().min(3)]);
        std::hint::black_box(rs);
        d
    };
    // Ours and theirs alternate, so that a machine that slows down or speeds up during the
    // run (shared cloud cores do) affects both sides of each ratio alike.
    let ns = restore_netns();
    let mut ours = Vec::new();
    let mut ratios = Vec::new();
    let mut theirs_all = Vec::new();
    for _ in 0..5 {
        let o = parse_once(None);
        ours.push(o);
        if let Some(t) = ns.as_ref().and_then(|ns| restore_test_once(ns, &path_s)) {
            theirs_all.push(t);
            ratios.push(t.as_secs_f64() / o.as_secs_f64());
        }
    }
    let ours = median(ours);
    let one_thread = median((0..3).map(|_| parse_once(Some(1))).collect());
    // Through the `&str` entry point, which first copies the text.
    let copying = median(
        (0..3)
            .map(|_| {
                let t = Instant::now();
                let parsed = parse_iptables_save(&dump, "bench");
                let d = t.elapsed();
                std::hint::black_box(parsed);
                d
            })
            .collect(),
    );
    let (rs, _) = parse_iptables_save(&dump, "bench");
    let rules: usize = rs.tables.iter().map(|t| t.rule_count()).sum();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "parse: {rules} rules in {:.1} ms (median of 5, {cores} cores; on one thread {:.1} ms; {:.1} ms through parse_iptables_save(&str), which copies the text first)",
        ours.as_secs_f64() * 1e3,
        one_thread.as_secs_f64() * 1e3,
        copying.as_secs_f64() * 1e3
    );
    if ratios.len() == 5 {
        ratios.sort_by(f64::total_cmp);
        let theirs = median(theirs_all);
        println!(
            "iptables-legacy-restore --test: {:.1} ms (median of 5, alternating with ours) -> parse is {:.1}x faster (median of the 5 paired ratios, {:.1}x..{:.1}x; target >= 20x; {:.1}x on one thread)",
            theirs.as_secs_f64() * 1e3,
            ratios[2],
            ratios[0],
            ratios[4],
            theirs.as_secs_f64() / one_thread.as_secs_f64()
        );
    } else {
        println!("iptables-legacy-restore --test: not measured");
    }
    drop(ns);

    // Trace through the dump.
    let ctx = HostContext::with_addresses([("eth0", "192.168.0.2/24".parse().expect("net"))]);
    let ev = Evaluator::new(&rs, &ctx);
    let packets: Vec<Packet> = (0..1000u32)
        .map(|k| {
            let i = (k * 7919) % SERVICES;
            Packet::tcp(
                IpAddr::V4(Ipv4Addr::new(10, 244, 200, 9)),
                IpAddr::V4(cluster_ip(i)),
                80,
            )
            .in_iface("cni0")
        })
        .collect();
    let t = Instant::now();
    let mut outcomes = 0;
    for p in &packets {
        let res = ev.hook(Hook::Prerouting, p);
        assert_eq!(res.outcomes.len(), ENDPOINTS as usize);
        outcomes += res.outcomes.len();
    }
    let per = t.elapsed() / packets.len() as u32;
    println!(
        "trace: {:.1} us per packet (all {outcomes} outcomes enumerated; target < 1000 us)",
        per.as_secs_f64() * 1e6
    );

    // Peak memory, in a fresh process so nothing above counts.
    let exe = std::env::current_exe().expect("bench binary");
    match Command::new(exe)
        .env("ND_BENCH_MEM_CHILD", &path_s)
        .output()
    {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text.lines().find(|l| l.starts_with("ND-MEM"));
            let nums: Vec<u64> = line
                .map(|l| {
                    l.split_whitespace()
                        .skip(1)
                        .filter_map(|x| x.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            if let [before, peak, ..] = nums.as_slice() {
                let grown = peak.saturating_sub(*before) as f64 * 1024.0;
                println!(
                    "memory: peak RSS grew {:.1} MiB while reading and parsing a {:.1} MiB dump = {:.2}x the dump (target < 3x; includes the dump text itself)",
                    grown / 1048576.0,
                    dump.len() as f64 / 1048576.0,
                    grown / dump.len() as f64
                );
            } else {
                println!("memory: not measured ({text})");
            }
        }
        Err(e) => println!("memory: not measured ({e})"),
    }

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    c.bench_function("parse kube-proxy dump, 10k services", |b| {
        b.iter(|| parse_iptables_save(std::hint::black_box(&dump), "bench"))
    });
    let p = &packets[17];
    c.bench_function("trace a ClusterIP packet at PREROUTING", |b| {
        b.iter(|| ev.hook(Hook::Prerouting, std::hint::black_box(p)))
    });
    c.final_summary();
    let _ = std::fs::remove_file(&path);
}
