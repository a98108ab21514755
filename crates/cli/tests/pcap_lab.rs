//! `netdoctor pcap` on captures taken in the lab at two points of one path (the client's
//! side and the server's side of a router that DNATs a Service address, drops one port on the
//! way in and another on the way back): it must agree with the kernel on where each flow died.

use netdoctor_testkit::{require_lab, sh, Netns, Processes};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn spawn(ns: &Netns, args: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", &ns.name])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn")
}

fn flow<'a>(v: &'a Value, needle: &str) -> &'a Value {
    v["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .find(|f| f["flow"].as_str().is_some_and(|s| s.contains(needle)))
        .unwrap_or_else(|| panic!("no flow with {needle:?} in {v:#}"))
}

#[test]
fn pcap_agrees_with_the_kernel_on_where_flows_died() {
    require_lab!("pcap_lab", "ip", "iptables", "tcpdump", "curl", "python3", "ping");
    let (client, router, server) = (Netns::new("pc"), Netns::new("pr"), Netns::new("ps"));
    let tag = std::process::id() % 100_000;
    let link = |a: &Netns, an: &str, b: &Netns, bn: &str| {
        let (x, y) = (format!("pa{tag}{an}"), format!("pb{tag}{bn}"));
        sh(&["ip", "link", "add", &x, "type", "veth", "peer", "name", &y]);
        sh(&["ip", "link", "set", &x, "netns", &a.name]);
        sh(&["ip", "link", "set", &y, "netns", &b.name]);
        a.run(&format!("ip link set {x} name {an} && ip link set {an} up"));
        b.run(&format!("ip link set {y} name {bn} && ip link set {bn} up"));
    };
    link(&client, "eth0", &router, "left");
    link(&server, "eth0", &router, "right");
    client.run("ip addr add 10.77.1.2/24 dev eth0 && ip route add default via 10.77.1.1");
    server.run("ip addr add 10.77.2.2/24 dev eth0 && ip route add default via 10.77.2.1");
    router.run(
        "ip addr add 10.77.1.1/24 dev left && ip addr add 10.77.2.1/24 dev right \
         && sysctl -qw net.ipv4.ip_forward=1 \
         && iptables -t nat -A PREROUTING -d 10.96.0.10 -p tcp --dport 80 -j DNAT --to-destination 10.77.2.2:8080 \
         && iptables -A FORWARD -p tcp --dport 9090 -j DROP \
         && iptables -A FORWARD -p tcp --sport 8081 -j DROP",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (
        dir.path().join("client.pcap"),
        dir.path().join("server.pcap"),
    );
    let mut procs = Processes::default();
    procs.interrupt = true;
    procs.push(spawn(
        &server,
        &[
            "python3",
            "-m",
            "http.server",
            "8080",
            "--bind",
            "10.77.2.2",
        ],
    ));
    procs.push(spawn(
        &server,
        &[
            "python3",
            "-m",
            "http.server",
            "8081",
            "--bind",
            "10.77.2.2",
        ],
    ));
    // The servers answer before any capture starts (python can take seconds to start on a
    // busy machine; a fixed sleep made this test flaky).
    for port in [8080, 8081] {
        let url = format!("http://10.77.2.2:{port}/");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !server.try_run(&format!("curl -s -o /dev/null --max-time 1 {url}")) {
            assert!(std::time::Instant::now() < deadline, "{url} never answered");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    procs.push(spawn(
        &client,
        &[
            "tcpdump",
            "-U",
            "-ni",
            "eth0",
            "-w",
            a.to_str().expect("path"),
            "ip",
        ],
    ));
    procs.push(spawn(
        &server,
        &[
            "tcpdump",
            "-U",
            "-ni",
            "eth0",
            "-w",
            b.to_str().expect("path"),
            "ip",
        ],
    ));
    // Both captures are running once tcpdump has written its file header.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while ![&a, &b]
        .iter()
        .all(|f| std::fs::metadata(f).is_ok_and(|m| m.len() >= 24))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "tcpdump did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    // Delivered through DNAT; dropped on the way in; dropped on the way back; a ping.
    let curl = |url: &str| {
        let _ = Command::new("ip")
            .args([
                "netns",
                "exec",
                &client.name,
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "--max-time",
                "2",
                url,
            ])
            .status();
    };
    curl("http://10.96.0.10:80/");
    curl("http://10.77.2.2:9090/");
    curl("http://10.77.2.2:8081/");
    client.exec(&["ping", "-c", "2", "-i", "0.2", "10.77.2.2"]);
    std::thread::sleep(Duration::from_millis(500));
    drop(procs);

    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .arg("pcap")
        .arg(format!("client:eth0={}", a.display()))
        .arg(format!("server:eth0={}", b.display()))
        .args(["-o", "json"])
        .output()
        .expect("pcap");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");

    // Through DNAT: the client's view (to the Service address) names the flow; both points saw it.
    let ok = flow(&v, "-> 10.96.0.10:80");
    assert_eq!(ok["verdict"], "delivered", "{ok:#}");
    assert!(
        ok["points"]
            .as_array()
            .expect("points")
            .iter()
            .all(|p| p["seen"] == true),
        "{ok:#}"
    );
    assert!(ok["replies"].as_u64().expect("replies") > 0);

    // Dropped on the way in: last seen at the client's side.
    let inbound = flow(&v, "-> 10.77.2.2:9090");
    assert_eq!(inbound["verdict"], "dropped", "{inbound:#}");
    assert_eq!(inbound["direction"], "request");
    assert_eq!(inbound["last_seen"]["node"], "client");
    assert_eq!(inbound["points"][1]["seen"], false);
    assert!(
        inbound["retransmissions"]
            .as_u64()
            .expect("retransmissions")
            >= 1,
        "{inbound:#}"
    );

    // Dropped on the way back: the request arrived, the reply never left the router.
    let back = flow(&v, "-> 10.77.2.2:8081");
    assert_eq!(back["verdict"], "dropped", "{back:#}");
    assert_eq!(back["direction"], "reply");
    assert_eq!(back["last_seen"]["node"], "server");

    let ping = flow(&v, "icmp 10.77.1.2");
    assert_eq!(ping["verdict"], "delivered", "{ping:#}");
}
