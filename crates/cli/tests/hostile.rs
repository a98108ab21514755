//! Hostile input through the whole command: no hang, no panic, a message that names the file,
//! and nothing read from outside the bundle. Each input here once hung, crawled (quadratic
//! scans that took minutes) or leaked; the guard below turns a hang into a failure. Timings
//! and peak memory are measured by `cargo bench -p netdoctor --bench hostile`, not here.

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longer than any of these inputs takes in a debug build (seconds), far shorter than the
/// minutes the quadratic versions took even in release.
const GUARD: Duration = Duration::from_secs(90);

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run netdoctor; fail the test if it runs past the guard (and kill it) or panics.
fn netdoctor(args: &[&str]) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run netdoctor");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!("netdoctor {args:?} still running after {GUARD:?}: a hang or a quadratic scan");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = String::from_utf8_lossy(&reader.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "netdoctor {args:?} panicked: {stderr}"
    );
    Out {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    }
}

fn write(dir: &Path, name: &str, data: impl AsRef<[u8]>) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, data).expect("write");
}

fn check_json(dir: &Path) -> (Out, serde_json::Value) {
    let out = netdoctor(&[
        "check",
        "--from",
        dir.to_str().expect("utf-8 path"),
        "--output",
        "json",
    ]);
    let v = serde_json::from_str(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out, v)
}

/// The input problems about `file` (`file: message` or `file:line: message`), message only.
fn problems_of<'a>(report: &'a serde_json::Value, file: &str) -> Vec<&'a str> {
    report["input_problems"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str())
                .filter_map(|p| {
                    let rest = p.strip_prefix(file)?;
                    let rest = rest.strip_prefix(':')?;
                    // `:LINE: message` or ` message`.
                    Some(match rest.split_once(": ") {
                        Some((no, m)) if no.chars().all(|c| c.is_ascii_digit()) => m,
                        _ => rest.trim_start(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn read_as<'a>(report: &'a serde_json::Value, file: &str) -> Vec<&'a str> {
    report["inputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| {
                    i["source"]
                        .as_str()
                        .is_some_and(|s| s == file || s.starts_with(&format!("{file}:")))
                })
                .filter_map(|i| i["read_as"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

fn ip_route_lines(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let _ = writeln!(
            s,
            "10.{}.{}.0/24 via 192.168.1.{} dev eth0 proto bird",
            (i >> 8) & 255,
            i & 255,
            i % 250 + 1
        );
    }
    s
}

fn route_n_lines(n: usize, sep: &str) -> String {
    let mut s = format!(
        "Kernel IP routing table{sep}Destination Gateway Genmask Flags Metric Ref Use Iface"
    );
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

/// A megabyte of `[x [x ...` on one line: every `[` once scanned to the end of the line for a
/// truncation marker (over a minute in release).
#[test]
fn a_megabyte_of_brackets_on_one_line() {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "paste.txt", "[x ".repeat(350_000));
    write(d.path(), "sysctl.txt", "net.ipv4.ip_forward = 1\n");
    let (out, report) = check_json(d.path());
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    assert!(!read_as(&report, "paste.txt").is_empty(), "{}", out.stdout);
}

/// `route -n` pasted with its line breaks lost: 10 MB on one line is still read as routes.
#[test]
fn a_ten_megabyte_single_line_paste_is_read() {
    let d = tempfile::tempdir().expect("tempdir");
    let text = route_n_lines(200_000, " ");
    assert!(text.len() > 10 << 20, "{}", text.len());
    write(d.path(), "paste.txt", &text);
    let (out, report) = check_json(d.path());
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    assert!(
        read_as(&report, "paste.txt")
            .iter()
            .any(|r| r.contains("route -n")),
        "{:?}",
        report["inputs"]
    );
}

/// NUL bytes and bytes that are not UTF-8: read where readable, and the rest reported with
/// file and line.
#[test]
fn nul_bytes_and_invalid_utf8_are_reported_with_their_line() {
    let d = tempfile::tempdir().expect("tempdir");
    let mut sysctl = b"net.ipv4.ip_forward = 0\n".to_vec();
    sysctl.extend(std::iter::repeat_n(0u8, 1 << 20));
    sysctl.extend(b"\nnet.ipv4.conf.all.rp_filter = 1\n");
    write(d.path(), "sysctl.txt", &sysctl);
    write(
        d.path(),
        "ip-route.txt",
        b"default via 10.0.0.1 dev eth0\n\xff\xfe\xfd garbage \xc3\x28\n10.244.0.0/24 dev cni0 scope link\n",
    );
    let (out, report) = check_json(d.path());
    assert_eq!(out.code, 1, "ip_forward=0 is critical: {}", out.stderr);
    let ids: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert!(ids.contains(&"ip-forward-disabled"), "{ids:?}");
    let p = problems_of(&report, "sysctl.txt");
    assert!(!p.is_empty(), "{:?}", report["input_problems"]);
    let p = problems_of(&report, "ip-route.txt");
    assert!(
        p.len() == 1,
        "one unreadable line: {:?}",
        report["input_problems"]
    );
    let line = report["input_problems"]
        .as_array()
        .expect("problems")
        .iter()
        .find(|p| {
            p.as_str()
                .is_some_and(|p| p.starts_with("ip-route.txt:2: "))
        });
    assert!(line.is_some(), "{:?}", report["input_problems"]);
}

/// JSON and YAML nested a million deep: a parse error with its place, no stack overflow.
#[test]
fn deeply_nested_json_and_yaml_are_refused_with_a_message() {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "cluster.json", "[".repeat(1_000_000));
    write(d.path(), "kube/nodes.json", "{\"a\":".repeat(200_000));
    write(d.path(), "kube/pods.yaml", "- ".repeat(100_000) + "x\n");
    write(d.path(), "kube/svc.yaml", "[".repeat(1_000_000));
    write(d.path(), "sysctl.txt", "net.ipv4.ip_forward = 1\n");
    let (out, report) = check_json(d.path());
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    for f in [
        "cluster.json",
        "kube/nodes.json",
        "kube/pods.yaml",
        "kube/svc.yaml",
    ] {
        assert!(
            !problems_of(&report, f).is_empty(),
            "{f}: {:?}",
            report["input_problems"]
        );
    }
}

/// A link to a file outside the bundle (a customer's bundle with `ip-route.txt ->
/// /etc/passwd`) is not followed: nothing of this machine's files reaches the report. A link
/// to a directory (a loop) is not followed either.
#[test]
fn links_out_of_the_bundle_are_not_followed() {
    let outside = tempfile::tempdir().expect("tempdir");
    write(
        outside.path(),
        "secret.txt",
        "SECRET-LINE-7f3a default via 10.9.9.9 dev eth9\n",
    );
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "sysctl.txt", "net.ipv4.ip_forward = 1\n");
    let secret = outside.path().join("secret.txt");
    std::os::unix::fs::symlink(&secret, d.path().join("ip-route.txt")).expect("symlink");
    std::fs::create_dir_all(d.path().join("kube")).expect("mkdir");
    std::os::unix::fs::symlink(&secret, d.path().join("kube/nodes.json")).expect("symlink");
    std::os::unix::fs::symlink(d.path(), d.path().join("loop")).expect("symlink");
    // A link inside the bundle is followed.
    write(
        d.path(),
        "notes/route.txt",
        "default via 10.0.0.1 dev eth0\n",
    );
    std::os::unix::fs::symlink("notes/route.txt", d.path().join("ip-route-copy.txt"))
        .expect("symlink");
    let (out, report) = check_json(d.path());
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    assert!(
        !out.stdout.contains("SECRET-LINE") && !out.stdout.contains("10.9.9.9"),
        "{}",
        out.stdout
    );
    for f in ["ip-route.txt", "kube/nodes.json", "loop"] {
        let p = problems_of(&report, f);
        assert!(
            p.iter().any(|m| m.contains("not followed")),
            "{f}: {:?}",
            report["input_problems"]
        );
    }
    assert!(
        read_as(&report, "ip-route-copy.txt")
            .iter()
            .any(|r| r.contains("ip route")),
        "{:?}",
        report["inputs"]
    );
}

/// More files than a bundle is read up to: one problem counts the rest.
#[test]
fn too_many_files_is_one_problem_with_a_count() {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "sysctl.txt", "net.ipv4.ip_forward = 1\n");
    for i in 0..10_030 {
        write(d.path(), &format!("many/f{i:05}.txt"), "x\n");
    }
    let (out, report) = check_json(d.path());
    assert!(
        out.code == 0 || out.code == 1 || out.code == 2,
        "{}",
        out.stderr
    );
    let all = report["input_problems"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let counted: Vec<_> = all
        .iter()
        .filter(|p| p.as_str().is_some_and(|m| m.contains("more files")))
        .collect();
    assert_eq!(counted.len(), 1, "{all:?}");
    assert!(
        all.len() < 50,
        "one problem per file is not readable: {}",
        all.len()
    );
}

/// A hundred thousand unreadable lines: the first are listed, the rest counted (the report
/// stays readable), and the file's good lines are still read. Once quadratic (minutes).
#[test]
fn many_unreadable_lines_are_listed_then_counted() {
    let d = tempfile::tempdir().expect("tempdir");
    let mut s = String::from("default via 10.0.0.1 dev eth0\n");
    for i in 0..100_000 {
        let _ = writeln!(s, "garbage line {i} here");
    }
    write(d.path(), "ip-route.txt", s);
    let (out, report) = check_json(d.path());
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    let p = problems_of(&report, "ip-route.txt");
    assert!(p.len() <= 101, "{}", p.len());
    assert!(
        p.iter().any(|m| m.contains("99900 more problems")),
        "{:?}",
        &p[p.len().saturating_sub(2)..]
    );
}

/// The same routes in `ip route` and `route -n`, 60,000 of each: merged in one pass (this took
/// 11.6 s in release when each route was compared with every other).
#[test]
fn sixty_thousand_routes_merge_without_crawling() {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "ip-route.txt", ip_route_lines(60_000));
    write(d.path(), "route-n.txt", route_n_lines(60_000, "\n"));
    let (out, report) = check_json(d.path());
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    assert!(problems_of(&report, "route-n.txt").is_empty());
}

/// A log repeating one failure 50,000 times: one finding, a few quoted lines and a count.
#[test]
fn a_repeated_message_is_quoted_a_few_times_and_counted() {
    let d = tempfile::tempdir().expect("tempdir");
    let mut s = String::new();
    for i in 0..50_000 {
        let _ = writeln!(
            s,
            "Dec 02 10:00:{:02} node1 kernel: nf_conntrack: nf_conntrack: table full, dropping packet",
            i % 60
        );
    }
    write(d.path(), "dmesg.txt", s);
    let (out, report) = check_json(d.path());
    assert_eq!(out.code, 1, "{}", out.stderr);
    let f = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["id"] == "conntrack-table-full")
        .unwrap_or_else(|| panic!("{}", out.stdout));
    let evidence = f["evidence"].as_array().expect("evidence");
    assert!(evidence.len() <= 41, "{}", evidence.len());
    assert!(
        evidence
            .iter()
            .any(|e| e.as_str().is_some_and(|e| e.contains("more times"))),
        "{evidence:?}"
    );
}

/// A megabyte of text in other scripts is scanned for known messages as fast as English
/// (a Unicode-aware signature set took 9 s in release).
#[test]
fn text_in_other_scripts_is_scanned_quickly() {
    let d = tempfile::tempdir().expect("tempdir");
    let words = ["сеть", "недоступна", "节点", "网络", "错误", "Ошибка"];
    let mut s = String::new();
    let mut i = 0;
    while s.len() < 1 << 20 {
        s.push_str(words[i % words.len()]);
        s.push(if i % 13 == 12 { '\n' } else { ' ' });
        i += 1;
    }
    s.push_str("\nkernel: nf_conntrack: table full, dropping packet\n");
    write(d.path(), "journal.txt", s);
    let (out, report) = check_json(d.path());
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .any(|f| f["id"] == "conntrack-table-full"));
}

/// `explain iptables` of one 8 MB line: a message, not a million tokens in memory.
#[test]
fn explain_refuses_a_line_longer_than_any_rule() {
    let d = tempfile::tempdir().expect("tempdir");
    let dump = format!(
        "*filter\n:FORWARD DROP [0:0]\n{}\n-A FORWARD -j ACCEPT\nCOMMIT\n",
        "-A X ".repeat(8 << 20 >> 2)
    );
    write(d.path(), "dump.txt", &dump);
    let path = d.path().join("dump.txt");
    let out = netdoctor(&["explain", "iptables", path.to_str().expect("path")]);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("longer than any rule"),
        "{}",
        &all[..all.len().min(2000)]
    );
}

/// A FIFO given as the file to explain, and /dev/zero: refused at once.
#[test]
fn explain_does_not_wait_on_a_fifo_or_read_dev_zero() {
    let d = tempfile::tempdir().expect("tempdir");
    let fifo = d.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let out = netdoctor(&["explain", "iptables", fifo.to_str().expect("path")]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("fifo") && out.stderr.contains("empty"),
        "{}",
        out.stderr
    );
    let out = netdoctor(&["explain", "iptables", "/dev/zero"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("/dev/zero"), "{}", out.stderr);
}
