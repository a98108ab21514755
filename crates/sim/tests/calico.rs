//! Calico's data path on hand-built nodes: pods on routed veths (no bridge, `/32` routes) and
//! IP-in-IP through `tunl0` between nodes.

mod common;

use netdoctor_model::NodeSnapshot;
use netdoctor_sim::{trace, Cluster, Direction, Proto, TraceRequest, TraceVerdict};

const OPEN: &str =
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";

fn calico_node(i: u8, rules: &str) -> NodeSnapshot {
    let j = 1 - i;
    common::snapshot(
        &format!("c{i}"),
        &format!(
            "link lo - mtu 65536
link eth0 - mtu 1500
link tunl0 ipip mtu 1480
link cali{i}a veth mtu 1480
addr lo 127.0.0.1/8
addr eth0 172.31.255.1{i}/24
addr tunl0 192.168.{i}.1/32
route default via 172.31.255.1 dev eth0
route 192.168.{i}.5/32 dev cali{i}a
route blackhole 192.168.{i}.0/26
route 192.168.{j}.0/26 via 172.31.255.1{j} dev tunl0 onlink
iptables:
{rules}"
        ),
    )
}

fn req() -> TraceRequest {
    TraceRequest {
        src: "192.168.0.5".parse().expect("ip"),
        dst: "192.168.1.5".parse().expect("ip"),
        dport: Some(8080),
        proto: Proto::Tcp,
        size: 60,
        endpoint: None,
    }
}

#[test]
fn routed_pods_talk_over_ipip() {
    let t = trace(
        &Cluster::new(vec![calico_node(0, OPEN), calico_node(1, OPEN)], None),
        &req(),
    );
    eprintln!("{}", t.render_text());
    assert_eq!(t.verdict, TraceVerdict::Delivered);
    let ipip: Vec<(String, Direction)> = t
        .hops
        .iter()
        .filter(|h| h.stage == "ipip")
        .map(|h| (h.node.clone(), h.direction))
        .collect();
    assert_eq!(
        ipip.len(),
        4,
        "encapsulated and decapsulated both ways: {ipip:?}"
    );
    assert!(t.hops.iter().any(|h| h
        .detail
        .contains("outer ipip 172.31.255.10 -> 172.31.255.11")));
}

#[test]
fn ipip_blocked_by_the_firewall_and_mtu_counts_its_header() {
    let blocked = OPEN.replace("COMMIT", "-A INPUT -p 4 -j DROP\nCOMMIT");
    let t = trace(
        &Cluster::new(vec![calico_node(0, OPEN), calico_node(1, &blocked)], None),
        &req(),
    );
    assert_eq!(t.verdict, TraceVerdict::Dropped);
    let d = t.drop.expect("drop");
    assert_eq!(
        (d.node.as_str(), d.finding.as_deref()),
        ("c1", Some("overlay-port-blocked"))
    );
    let mut big = req();
    big.size = 1490;
    let t = trace(
        &Cluster::new(vec![calico_node(0, OPEN), calico_node(1, OPEN)], None),
        &big,
    );
    assert_eq!(
        t.drop.and_then(|d| d.finding),
        Some("mtu-mismatch".to_string()),
        "1490 > tunl0's 1480"
    );
}
