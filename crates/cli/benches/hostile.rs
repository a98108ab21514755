//! Hostile inputs: time and peak memory of `netdoctor check` on inputs built to make a reader
//! slow or greedy, and how the time grows when the input doubles.
//!
//! For each scalable input the bench runs size n and size 2n in alternation (three pairs) and
//! prints the median ratio t(2n)/t(n): about 2 means linear, 4 would mean quadratic. Every run is
//! a fresh process whose peak resident memory is read with `getrusage(RUSAGE_CHILDREN)` by a
//! small wrapper (this bench re-run with `--measure`), so each figure belongs to one run.
//!
//! Run: `cargo bench -p netdoctor --bench hostile` (prints a markdown table; the README keeps
//! the figures of the last run on the reference machine).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NETDOCTOR: &str = env!("CARGO_BIN_EXE_netdoctor");

/// One hostile input: files to write into a bundle directory of size `n`.
struct Case {
    name: &'static str,
    what: &'static str,
    n: usize,
    build: fn(&Path, usize),
    /// Arguments; `{dir}` is the bundle directory.
    args: &'static [&'static str],
}

fn write(dir: &Path, name: &str, data: &[u8]) {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(p, data).expect("write");
}

fn route_n_lines(n: usize, sep: &str) -> String {
    let mut s = String::from("Kernel IP routing table");
    s.push_str(sep);
    s.push_str("Destination Gateway Genmask Flags Metric Ref Use Iface");
    for i in 0..n {
        let _ = write!(
            s,
            "{sep}10.{}.{}.0 192.168.1.{} 255.255.255.0 UG 0 0 0 eth0",
            (i >> 8) & 255,
            i & 255,
            i % 250 + 1
        );
    }
    s.push('\n');
    s
}

fn ip_route_lines(n: usize) -> String {
    let mut s = String::with_capacity(n * 50);
    for i in 0..n {
        let _ = writeln!(
            s,
            "10.{}.{}.{}/32 via 192.168.1.{} dev eth0 proto bird",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255,
            i % 250 + 1
        );
    }
    s
}

/// A deterministic byte stream (xorshift), so every run reads the same input.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "brackets",
            what: "one line of `[x ` (n bytes): truncation markers are looked for in it",
            n: 1 << 20,
            build: |d, n| write(d, "paste.txt", "[x ".repeat(n / 3).as_bytes()),
            args: &["check", "--from", "{dir}"],
        },
        Case {
            name: "one-line route -n",
            what: "`route -n` with its line breaks lost: n routes on one line",
            n: 100_000,
            build: |d, n| write(d, "paste.txt", route_n_lines(n, " ").as_bytes()),
            args: &["check", "--from", "{dir}"],
        },
        Case {
            name: "routes merged",
            what: "n routes in `ip route` and the same n in `route -n`, merged",
            n: 100_000,
            build: |d, n| {
                write(d, "ip-route.txt", ip_route_lines(n).as_bytes());
                write(d, "route-n.txt", route_n_lines(n, "\n").as_bytes());
            },
            args: &["check", "--from", "{dir}"],
        },
        Case {
            name: "unreadable lines",
            what: "n lines that are not routes in ip-route.txt",
            n: 200_000,
            build: |d, n| {
                let mut s = String::new();
                for i in 0..n {
                    let _ = writeln!(s, "garbage line {i} here");
                }
                write(d, "ip-route.txt", s.as_bytes());
            },
            args: &["check", "--from", "{dir}"],
        },
        Case {
            name: "non-Latin text",
            what: "n bytes of Cyrillic and CJK text, scanned for known messages",
            n: 1 << 20,
            build: |d, n| {
                let words = [
                    "сеть",
                    "недоступна",
                    "节点",
                    "网络",
                    "错误",
                    "Ошибка",
                    "маршрут",
                ];
                let mut s = String::new();
                let mut i = 0usize;
                while s.len() < n {
                    s.push_str(words[i % words.len()]);
                    s.push(if i % 17 == 16 { '\n' } else { ' ' });
                    i += 1;
                }
                write(d, "paste.txt", s.as_bytes());
            },
            args: &["check", "--from", "{dir}"],
        },
        Case {
            name: "random bytes",
            what: "n bytes of noise (invalid UTF-8, NULs, control characters)",
            n: 1 << 20,
            build: |d, n| write(d, "paste.txt", &noise(n, 7)),
            args: &["check", "--from", "{dir}"],
        },
        Case {
            name: "NUL bytes",
            what: "sysctl.txt of n NUL bytes",
            n: 4 << 20,
            build: |d, n| write(d, "sysctl.txt", &vec![0u8; n]),
            args: &["check", "--from", "{dir}"],
        },
        Case {
            name: "sysctl keys",
            what: "n sysctl keys",
            n: 200_000,
            build: |d, n| {
                let mut s = String::new();
                for i in 0..n {
                    let _ = writeln!(s, "net.ipv4.conf.veth{i}.rp_filter = 1");
                }
                write(d, "sysctl.txt", s.as_bytes());
            },
            args: &["check", "--from", "{dir}"],
        },
        Case {
            name: "log with messages",
            what: "a journal of n lines, every tenth a known failure message",
            n: 200_000,
            build: |d, n| {
                let mut s = String::new();
                for i in 0..n {
                    if i % 10 == 0 {
                        let _ = writeln!(s, "Dec 02 10:00:00 node1 flanneld[123]: E1202 10:00:00.000 main.go:330] Error registering network: failed to acquire lease: node \"n{i}\" pod cidr not assigned");
                    } else {
                        let _ = writeln!(s, "Dec 02 10:00:00 node1 kubelet[99]: I1202 10:00:00.000 reconciler.go:224] volume {i} attached");
                    }
                }
                write(d, "journal.txt", s.as_bytes());
            },
            args: &["check", "--from", "{dir}"],
        },
        Case {
            name: "garbage rules",
            what: "iptables-save.txt with n rules of unknown matches",
            n: 200_000,
            build: |d, n| {
                let mut s = String::from(
                    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n",
                );
                for i in 0..n {
                    let _ = writeln!(s, "-A FORWARD -m weird{i} --zz {i} -j ACCEPT");
                }
                s.push_str("COMMIT\n");
                write(d, "iptables-save.txt", s.as_bytes());
            },
            args: &["check", "--from", "{dir}"],
        },
        Case {
            name: "explain, one long line",
            what: "`explain iptables` of a single line of n bytes",
            n: 8 << 20,
            build: |d, n| write(d, "dump.txt", "-A X ".repeat(n / 5).as_bytes()),
            args: &["explain", "iptables", "{dir}/dump.txt"],
        },
    ]
}

/// One run, measured: wall time, peak RSS (KiB) of netdoctor itself, exit code, the last line
/// of stderr (the message a user sees).
struct Run {
    time: Duration,
    peak_kib: u64,
    exit: i32,
    message: String,
}

fn run(args: &[String]) -> Run {
    let me = std::env::current_exe().expect("current exe");
    let start = Instant::now();
    let out = Command::new(me)
        .arg("--measure")
        .arg(NETDOCTOR)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the wrapper");
    let time = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut peak_kib = 0;
    let mut exit = -1;
    let mut message = String::new();
    for line in stderr.lines() {
        if let Some(rest) = line.strip_prefix("ND-RUSAGE ") {
            let mut it = rest.split_whitespace();
            peak_kib = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            exit = it.next().and_then(|v| v.parse().ok()).unwrap_or(-1);
        } else if !line.trim().is_empty() {
            message = line.trim().to_string();
        }
    }
    if message.is_empty() {
        message = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.contains("not read") || l.contains("more problems"))
            .unwrap_or("")
            .trim()
            .to_string();
    }
    Run {
        time,
        peak_kib,
        exit,
        message,
    }
}

/// `--measure PROGRAM ARGS...`: run it, then report its peak RSS and exit code on stderr.
fn measure(program: &str, args: &[String]) -> ! {
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("spawn netdoctor");
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    eprintln!(
        "ND-RUSAGE {} {}",
        usage.max_rss(),
        status.code().unwrap_or(-1)
    );
    std::process::exit(0)
}

fn args_for(case: &Case, dir: &Path) -> Vec<String> {
    case.args
        .iter()
        .map(|a| a.replace("{dir}", &dir.display().to_string()))
        .collect()
}

fn build(case: &Case, root: &Path, n: usize) -> PathBuf {
    let dir = root.join(format!("{}-{n}", case.name.replace([' ', ','], "_")));
    std::fs::create_dir_all(&dir).expect("mkdir");
    (case.build)(&dir, n);
    dir
}

fn size_of(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--measure") {
        measure(&argv[2], &argv[3..]);
    }
    let filter = argv.iter().skip(1).find(|a| !a.starts_with('-')).cloned();
    let root = tempfile::tempdir().expect("tempdir");
    println!(
        "| input | size (2n) | time n | time 2n | t(2n)/t(n) | peak RSS (2n) | exit | message |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for case in cases() {
        if filter
            .as_ref()
            .is_some_and(|f| !case.name.contains(f.as_str()))
        {
            continue;
        }
        let small = build(&case, root.path(), case.n);
        let large = build(&case, root.path(), case.n * 2);
        let (a_small, a_large) = (args_for(&case, &small), args_for(&case, &large));
        let mut ratios = Vec::new();
        let mut last = None;
        let mut times = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let s = run(&a_small);
            let l = run(&a_large);
            ratios.push(l.time.as_secs_f64() / s.time.as_secs_f64().max(1e-6));
            times.0.push(s.time.as_secs_f64());
            times.1.push(l.time.as_secs_f64());
            last = Some(l);
        }
        let l = last.expect("three runs");
        println!(
            "| {} ({}) | {:.1} MiB | {:.2} s | {:.2} s | {:.2} | {:.0} MiB | {} | {} |",
            case.name,
            case.what,
            size_of(&large) as f64 / (1 << 20) as f64,
            median(times.0),
            median(times.1),
            median(ratios),
            l.peak_kib as f64 / 1024.0,
            l.exit,
            l.message.replace('|', "\\|"),
        );
        let _ = std::fs::remove_dir_all(&small);
        let _ = std::fs::remove_dir_all(&large);
    }
}
