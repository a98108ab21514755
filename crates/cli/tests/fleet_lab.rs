//! `netdoctor fleet` over three lab nodes (network namespaces on one switch), read from their
//! agents and from `collect` files: per-node findings, the cross-node ones, the summary; and
//! `netdoctor trace` from the same agents, which must answer as from the files.

use netdoctor_testkit::{require_lab, sh, Netns, Processes};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Lab {
    sw: Netns,
    nodes: Vec<Netns>,
}

/// Three nodes 10.99.0.1-3 on a bridge in `sw`, each with a flannel-like VXLAN device and an
/// (open) iptables filter table, so that a trace can decide the hooks. Node 2
/// has forwarding off; node 3's device was made with another port, and has node 1's MAC and
/// pod subnet address.
fn lab() -> Lab {
    let sw = Netns::new("fsw");
    sw.run(
        "ip link add br0 type bridge && ip addr add 10.99.0.254/24 dev br0 && ip link set br0 up",
    );
    let mut nodes = Vec::new();
    let tag = std::process::id() % 100_000;
    for i in 1..=3 {
        let n = Netns::new(&format!("fn{i}"));
        let (a, b) = (format!("fa{tag}{i}"), format!("fb{tag}{i}"));
        sh(&["ip", "link", "add", &a, "type", "veth", "peer", "name", &b]);
        sh(&["ip", "link", "set", &a, "netns", &sw.name]);
        sh(&["ip", "link", "set", &b, "netns", &n.name]);
        sw.run(&format!("ip link set {a} master br0 up"));
        n.run(&format!(
            "ip link set {b} name eth0 && ip addr add 10.99.0.{i}/24 dev eth0 && ip link set eth0 up \
             && ip route add default via 10.99.0.254 && sysctl -qw net.ipv4.ip_forward=1 \
             && iptables-nft -w -P INPUT ACCEPT"
        ));
        let port = if i == 3 { 4789 } else { 8472 };
        let subnet = if i == 3 { 1 } else { i };
        n.run(&format!(
            "ip link add flannel.1 type vxlan id 1 local 10.99.0.{i} dev eth0 dstport {port} nolearning \
             && ip addr add 10.244.{subnet}.0/32 dev flannel.1 && ip link set flannel.1 up"
        ));
        nodes.push(n);
    }
    let mac = nodes[0].run("cat /sys/class/net/flannel.1/address");
    nodes[2].run(&format!("ip link set flannel.1 address {}", mac.trim()));
    nodes[1].exec(&["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    Lab { sw, nodes }
}

/// `netdoctor ARGS...` in the switch's namespace, where every node's address is reachable.
fn netdoctor_on_switch(sw: &Netns, args: &[&str]) -> std::process::Output {
    Command::new("ip")
        .args(["netns", "exec", &sw.name, env!("CARGO_BIN_EXE_netdoctor")])
        .args(args)
        .output()
        .expect("run netdoctor")
}

fn fleet(sw: &Netns, args: &[String]) -> Value {
    let mut all = vec!["fleet", "-o", "json"];
    all.extend(args.iter().map(String::as_str));
    let out = netdoctor_on_switch(sw, &all);
    assert_eq!(
        out.status.code(),
        Some(1),
        "critical findings expected: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("fleet json")
}

/// `netdoctor trace ARGS...` of a ping from node 1 to node 3.
fn trace_out(sw: &Netns, args: &[String], json: bool) -> std::process::Output {
    let mut all = vec!["trace"];
    all.extend(args.iter().map(String::as_str));
    all.extend([
        "--from",
        "10.99.0.1",
        "--to",
        "10.99.0.3",
        "--proto",
        "icmp",
    ]);
    if json {
        all.extend(["-o", "json"]);
    }
    netdoctor_on_switch(sw, &all)
}

/// The trace of that ping over `args`' nodes, in JSON.
fn trace(sw: &Netns, args: &[String]) -> Value {
    let out = trace_out(sw, args, true);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("trace json")
}

fn assert_fleet(v: &Value) {
    assert_eq!(v["schema"], "netdoctor.fleet/v1");
    let nodes = v["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 3, "{v:#}");
    assert!(nodes.iter().all(|n| n["error"].is_null()), "{v:#}");
    let summary = v["summary"].as_array().expect("summary");
    let fwd = summary
        .iter()
        .find(|s| s["id"] == "ip-forward-disabled")
        .unwrap_or_else(|| panic!("no ip-forward-disabled in {v:#}"));
    assert_eq!(fwd["nodes"], serde_json::json!(["fn2"]), "{v:#}");
    let cluster: Vec<&str> = v["cluster"]
        .as_array()
        .expect("cluster")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    for id in [
        "duplicate-mac-address",
        "duplicate-pod-subnet",
        "overlay-config-mismatch",
    ] {
        assert!(cluster.contains(&id), "{id} not in {cluster:?}");
    }
    let text = v["cluster"].to_string();
    assert!(
        text.contains("fn1: flannel.1") && text.contains("fn3: flannel.1"),
        "{text}"
    );
    assert!(text.contains("dstport 4789 on 1 node(s): fn3"), "{text}");
}

#[test]
fn fleet_from_snapshots_and_from_agents() {
    require_lab!("fleet_lab", "ip", "curl");
    let lab = lab();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = tempfile::tempdir().expect("root");
    // From `collect` files.
    let mut args = Vec::new();
    let mut files = Vec::new();
    for (i, n) in lab.nodes.iter().enumerate() {
        let file = dir.path().join(format!("n{i}.json.zst"));
        let file = file.to_str().expect("path").to_string();
        n.exec(&[
            env!("CARGO_BIN_EXE_netdoctor"),
            "collect",
            "--node-name",
            &format!("fn{}", i + 1),
            "--root",
            root.path().to_str().expect("path"),
            "-o",
            &file,
        ]);
        args.push("--snapshot".to_string());
        args.push(file.clone());
        files.push("--snapshot".to_string());
        files.push(file);
    }
    assert_fleet(&fleet(&lab.sw, &args));

    // From the nodes' agents.
    let token = dir.path().join("token");
    std::fs::write(&token, "fleet-lab-token\n").expect("token");
    let mut agents = Processes::default();
    for (i, n) in lab.nodes.iter().enumerate() {
        agents.push(
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &n.name,
                    env!("CARGO_BIN_EXE_netdoctor"),
                    "agent",
                ])
                .args(["--listen", ":9469", "--interval", "1h", "--no-watch"])
                .args(["--node-name", &format!("fn{}", i + 1)])
                .arg("--root")
                .arg(root.path())
                .arg("--token-file")
                .arg(&token)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("agent"),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    for i in 1..=3 {
        let url = format!("http://10.99.0.{i}:9469/healthz");
        while !lab
            .sw
            .run(&format!("curl -s --max-time 2 {url} || true"))
            .contains("ok")
        {
            assert!(Instant::now() < deadline, "agent {i} never became healthy");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let mut args = vec![
        "--token-file".to_string(),
        token.to_str().expect("path").to_string(),
    ];
    for i in 1..=3 {
        args.push("--agent".into());
        args.push(format!("http://10.99.0.{i}:9469"));
    }
    assert_fleet(&fleet(&lab.sw, &args));
    // `trace` reads the same agents, and answers as from the collect files.
    let from_agents = trace(&lab.sw, &args);
    let from_files = trace(&lab.sw, &files);
    assert_eq!(from_agents["schema"], "netdoctor.trace/v1");
    assert_eq!(from_files["verdict"], "delivered", "{from_files:#}");
    assert_eq!(
        from_agents["verdict"], from_files["verdict"],
        "{from_agents:#}"
    );
    assert_eq!(from_agents["hops"], from_files["hops"], "{from_agents:#}");
    // Without the token, the agents refuse and the trace says which one.
    let out = trace_out(&lab.sw, &args[2..], false);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("agent http://10.99.0.") && err.contains("401"),
        "{err}"
    );
    // Without the token, every agent refuses, and the report says so for each node.
    let mut no_token = vec!["fleet", "-o", "json"];
    no_token.extend(args[2..].iter().map(String::as_str));
    let out = netdoctor_on_switch(&lab.sw, &no_token);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        v["nodes"][0]["error"]
            .as_str()
            .expect("error")
            .contains("401"),
        "{v:#}"
    );
}
