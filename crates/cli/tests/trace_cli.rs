//! `netdoctor trace` as a program: exit status, JSON shape, names resolved through cluster
//! objects. No root needed: the snapshot is written by hand.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_netdoctor");

mod support;

use support::{one_node, FORWARD_ACCEPTS_PODS};

/// One node with two pods on `cni0`.
fn write_node(dir: &Path) -> std::path::PathBuf {
    one_node(dir, "n0", "1", FORWARD_ACCEPTS_PODS)
}

fn write_node_fwd(dir: &Path, ip_forward: &str) -> std::path::PathBuf {
    one_node(dir, "n0", ip_forward, FORWARD_ACCEPTS_PODS)
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("trace")
        .args(args)
        .output()
        .expect("run netdoctor")
}

#[test]
fn json_output_follows_the_contract() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = write_node(dir.path());
    let s = snap.to_str().expect("utf8");
    let out = run(&[
        "--snapshot",
        s,
        "--from",
        "10.244.0.2",
        "--to",
        "10.244.0.3:8080",
        "--output",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["schema"], "netdoctor.trace/v1");
    assert_eq!(v["verdict"], "delivered");
    assert!(v["drop"].is_null());
    let hops = v["hops"].as_array().expect("hops");
    assert!(
        hops.iter().any(|h| h["direction"] == "reply"),
        "the SYN-ACK is traced"
    );
    assert!(hops
        .iter()
        .all(|h| h["node"] == "n0" && h["stage"].is_string() && h["detail"].is_string()));
    // To the node itself: INPUT, not FORWARD.
    let out = run(&[
        "--snapshot",
        s,
        "--from",
        "10.244.0.2",
        "--to",
        "172.31.255.10:22",
        "-o",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        v["verdict"], "delivered",
        "local delivery needs no FORWARD: {v}"
    );
}

#[test]
fn text_output_names_the_finding_of_a_drop() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = write_node_fwd(dir.path(), "0");
    let s = snap.to_str().expect("utf8");
    let out = run(&[
        "--snapshot",
        s,
        "--from",
        "10.244.0.2",
        "--to",
        "172.31.255.99:80",
    ]);
    assert_eq!(out.status.code(), Some(0), "exit 0 whatever the verdict");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("verdict: dropped"), "{text}");
    assert!(text.contains("[finding: ip-forward-disabled]"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("n0") && l.contains("route")),
        "one line per decision:\n{text}"
    );
    // With forwarding on, the packet leaves the nodes given: the model says so instead of guessing.
    let dir2 = tempfile::tempdir().expect("tmp");
    let snap = write_node(dir2.path());
    let out = run(&[
        "--snapshot",
        snap.to_str().expect("utf8"),
        "--from",
        "10.244.0.2",
        "--to",
        "172.31.255.99:80",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("verdict: unknown") && text.contains("172.31.255.99"),
        "{text}"
    );
}

#[test]
fn fail_on_drop_gives_scripts_the_verdict() {
    let dir = tempfile::tempdir().expect("tmp");
    let args = |snap: &Path| {
        vec![
            "--snapshot".to_string(),
            snap.to_str().expect("utf8").to_string(),
            "--from".into(),
            "10.244.0.2".into(),
            "--to".into(),
            "172.31.255.99:80".into(),
            "--fail-on-drop".into(),
        ]
    };
    let dropped = write_node_fwd(dir.path(), "0");
    let a = args(&dropped);
    let out = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(1), "dropped");
    let dir2 = tempfile::tempdir().expect("tmp");
    let unknown = write_node(dir2.path());
    let a = args(&unknown);
    let out = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(3), "undecided");
}

#[test]
fn bad_input_exits_2_and_names_the_problem() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("nope.json");
    let out = run(&[
        "--snapshot",
        missing.to_str().expect("utf8"),
        "--from",
        "10.0.0.1",
        "--to",
        "10.0.0.2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.json"));
    let snap = write_node(dir.path());
    let s = snap.to_str().expect("utf8");
    let out = run(&[
        "--snapshot",
        s,
        "--from",
        "pod/default/a",
        "--to",
        "10.244.0.3",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--kube-objects"));
    let out = run(&[
        "--snapshot",
        s,
        "--from",
        "10.244.0.2",
        "--to",
        "10.244.0.3:80",
        "--proto",
        "icmp",
    ]);
    assert_eq!(out.status.code(), Some(2), "ICMP has no port");
}

#[test]
fn names_resolve_through_cluster_objects() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = write_node(dir.path());
    let pod = |name: &str, ip: &str| json!({"kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": {"nodeName": "n0"}, "status": {"podIP": ip}});
    let list = json!({"kind": "List", "items": [pod("a", "10.244.0.2"), pod("b", "10.244.0.3")]});
    let kube = dir.path().join("kube.json");
    std::fs::write(&kube, list.to_string()).expect("write");
    let args = |to: &str| -> Vec<String> {
        vec![
            "--snapshot".into(),
            snap.display().to_string(),
            "--kube-objects".into(),
            kube.display().to_string(),
            "--from".into(),
            "pod/default/a".into(),
            "--to".into(),
            to.into(),
            "-o".into(),
            "json".into(),
        ]
    };
    let out = Command::new(BIN)
        .arg("trace")
        .args(args("pod/default/b:8080"))
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["verdict"], "delivered", "{v}");
    // An address on the bridge that no pod holds: nobody answers.
    let out = Command::new(BIN)
        .arg("trace")
        .args(args("10.244.0.77:8080"))
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["verdict"], "dropped", "{v}");
}

/// A snapshot with more than a MiB of rules keeps them on disk until the trace crosses the
/// node; they are then read again and evaluated like any other.
#[test]
fn large_rule_sets_are_read_when_the_path_needs_them() {
    let mut rules =
        String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for i in 0..20_000u32 {
        rules.push_str(&format!(
            "-A FORWARD -s 192.0.{}.{}/32 -m comment --comment \"filler rule {i} of a large firewall\" -j ACCEPT\n",
            i / 250,
            i % 250 + 1
        ));
    }
    rules.push_str("-A FORWARD -d 172.31.255.99/32 -p tcp -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable\n");
    rules.push_str("-A FORWARD -s 10.244.0.0/16 -j ACCEPT\nCOMMIT\n");
    assert!(rules.len() > 1 << 20);
    let reject_line = rules.lines().count() - 2;
    let dir = tempfile::tempdir().expect("tmp");
    let snap = one_node(dir.path(), "n0", "1", &rules);
    let out = run(&[
        "--snapshot",
        snap.to_str().expect("utf8"),
        "--from",
        "10.244.0.2",
        "--to",
        "172.31.255.99:80",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["verdict"], "dropped", "{v}");
    let detail = v["drop"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("line {reject_line}")) && detail.contains("REJECT"),
        "the rule read again decides: {detail}"
    );
}

/// `trace --bundle`: the same node, as pasted text instead of a snapshot, with its pods named
/// by the bundle's own `kube/` objects (one loader of cluster objects for every command).
#[test]
fn a_bundle_is_traced_like_a_snapshot() {
    let dir = tempfile::tempdir().expect("tmp");
    let b = dir.path().join("n0");
    std::fs::create_dir_all(b.join("kube")).expect("mkdir");
    let w = |name: &str, text: &str| std::fs::write(b.join(name), text).expect("write");
    w(
        "sysctl.txt",
        "net.ipv4.ip_forward = 0\nnet.bridge.bridge-nf-call-iptables = 1\n",
    );
    w(
        "ip-addr.txt",
        "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq state UP\n    inet 172.31.255.10/24 scope global eth0\n3: cni0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP\n    inet 10.244.0.1/24 scope global cni0\n",
    );
    w(
        "ip-route.txt",
        "10.244.0.0/24 dev cni0 proto kernel scope link src 10.244.0.1\n172.31.255.0/24 dev eth0 proto kernel scope link src 172.31.255.10\n",
    );
    w(
        "iptables-save.txt",
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n",
    );
    w(
        "kube/pods.json",
        r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0","namespace":"default"},"spec":{"nodeName":"n0"},"status":{"podIP":"10.244.0.2","podIPs":[{"ip":"10.244.0.2"}]}}]}"#,
    );
    let out = run(&[
        "--bundle",
        b.to_str().expect("utf8"),
        "--from",
        "pod/default/web-0",
        "--to",
        "172.31.255.99:80",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("verdict: dropped"), "{text}");
    assert!(text.contains("[finding: ip-forward-disabled]"), "{text}");
    // Neither a snapshot nor a bundle: a clear error.
    let out = run(&["--from", "10.0.0.1", "--to", "10.0.0.2"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn markdown_marks_the_drop_and_its_finding() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = write_node_fwd(dir.path(), "0");
    let out = run(&[
        "--snapshot",
        snap.to_str().expect("utf8"),
        "--from",
        "10.244.0.2",
        "--to",
        "172.31.255.99:80",
        "-o",
        "markdown",
    ]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("## Trace: dropped"), "{md}");
    assert!(
        md.contains("| # | way | node | stage | what happened |"),
        "{md}"
    );
    assert!(md.contains("| **drop** | request |"), "{md}");
    assert!(md.contains("(finding `ip-forward-disabled`)"), "{md}");
}
