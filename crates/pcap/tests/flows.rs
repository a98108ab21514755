//! The reader on both file formats and three link types, and the flow analysis on packets
//! built to the byte: NAT between the points, VXLAN at one of them, a lost reply, a lost
//! request, an ICMP "fragmentation needed".

use etherparse::PacketBuilder;
use netdoctor_pcap::{analyse, read, Point};

const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

/// A legacy pcap file (little-endian, microseconds) of `frames` with `linktype`.
fn pcap(linktype: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        let len = u32::try_from(f.len()).expect("len");
        out.extend_from_slice(&u32::try_from(i).expect("i").to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
    let len = u32::try_from(12 + b.len()).expect("len");
    let mut out = kind.to_le_bytes().to_vec();
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&b);
    out.extend_from_slice(&len.to_le_bytes());
    out
}

/// A pcapng file: one section, one interface of `linktype`, an enhanced packet per frame.
fn pcapng(linktype: u16, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut out = block(0x0a0d_0d0a, &shb);
    let mut idb = linktype.to_le_bytes().to_vec();
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65535u32.to_le_bytes());
    out.extend(block(1, &idb));
    for f in frames {
        let len = u32::try_from(f.len()).expect("len");
        let mut epb = Vec::new();
        for v in [0u32, 0, 0, len, len] {
            epb.extend_from_slice(&v.to_le_bytes());
        }
        epb.extend_from_slice(f);
        out.extend(block(6, &epb));
    }
    out
}

fn tcp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, seq: u32, ack: Option<u32>) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC, MAC)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, seq, 64000);
    let b = match ack {
        Some(a) => b.syn().ack(a),
        None => b.syn(),
    };
    let mut out = Vec::new();
    b.write(&mut out, &[]).expect("build");
    out
}

/// `inner` (an Ethernet frame) inside VXLAN between two nodes.
fn vxlan(inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
    payload.extend_from_slice(inner);
    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC, MAC)
        .ipv4([192, 168, 0, 1], [192, 168, 0, 2], 64)
        .udp(40000, 8472)
        .write(&mut out, &payload)
        .expect("build");
    out
}

fn point(node: &str) -> Point {
    Point {
        node: node.into(),
        interface: "eth0".into(),
    }
}

#[test]
fn both_formats_and_raw_ip_read_the_same_packets() {
    let frames = vec![
        tcp([10, 0, 0, 2], 40000, [10, 96, 0, 10], 80, 1000, None),
        tcp([10, 96, 0, 10], 80, [10, 0, 0, 2], 40000, 5000, Some(1001)),
    ];
    let a = read(&pcap(1, &frames), "a.pcap").expect("pcap");
    let b = read(&pcapng(1, &frames), "b.pcapng").expect("pcapng");
    assert_eq!(a.packets.len(), 2);
    assert_eq!(b.packets.len(), 2);
    assert_eq!(a.packets[0].key, b.packets[0].key);
    // Raw IP (linktype 101): the same packets without Ethernet.
    let raw: Vec<Vec<u8>> = frames.iter().map(|f| f[14..].to_vec()).collect();
    let c = read(&pcap(101, &raw), "c.pcap").expect("raw");
    assert_eq!(c.packets[1].key, a.packets[1].key);
    assert_eq!(c.packets[1].tuple, a.packets[1].tuple);
    // Not a capture at all.
    assert!(read(b"hello world", "x").is_err());
    // Cut short: what was read is kept, and the cut is said.
    let whole = pcap(1, &frames);
    let cut = read(&whole[..whole.len() - 10], "cut.pcap").expect("cut");
    assert_eq!(cut.packets.len(), 1);
    assert!(cut.problems[0].contains("cut short"), "{:?}", cut.problems);
}

#[test]
fn a_reply_lost_after_dnat_and_vxlan_is_placed_after_the_server_side() {
    // Point a (client node): client -> ClusterIP. Point b (server node, on the underlay): the
    // same SYN DNATed to the pod inside VXLAN, and the pod's SYN-ACK going back, which never
    // reaches a.
    let syn_a = tcp([10, 244, 0, 5], 40000, [10, 96, 0, 10], 80, 1000, None);
    let syn_b = tcp([10, 244, 0, 5], 40000, [10, 244, 1, 7], 8080, 1000, None);
    let synack_b = tcp(
        [10, 244, 1, 7],
        8080,
        [10, 244, 0, 5],
        40000,
        7000,
        Some(1001),
    );
    let a = read(&pcap(1, &[syn_a.clone(), syn_a]), "a").expect("a");
    let b = read(&pcap(1, &[vxlan(&syn_b), vxlan(&synack_b)]), "b").expect("b");
    assert!(b.packets[0].encapsulated);
    let r = analyse(&[point("client"), point("server")], &[a, b]);
    assert_eq!(r.flows.len(), 1, "{:#?}", r.flows);
    let f = &r.flows[0];
    assert_eq!(f.flow, "tcp 10.244.0.5:40000 -> 10.96.0.10:80");
    assert_eq!((f.verdict, f.direction), ("dropped", Some("reply")));
    assert_eq!(
        f.last_seen.as_ref().map(|w| w.node.as_str()),
        Some("server")
    );
    assert_eq!((f.requests, f.replies), (1, 1));
    assert_eq!(f.retransmissions, 1);
}

#[test]
fn a_request_that_never_arrives_and_an_icmp_error_about_it() {
    let syn = tcp([10, 0, 0, 2], 40001, [10, 0, 1, 9], 443, 1, None);
    // A router answers with "fragmentation needed, MTU 1400", quoting the SYN.
    let mut err = Vec::new();
    let ip = &syn[14..];
    PacketBuilder::ethernet2(MAC, MAC)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .icmpv4_raw(3, 4, [0, 0, 0x05, 0x78])
        .write(&mut err, &ip[..28])
        .expect("build");
    let a = read(&pcap(1, &[syn, err]), "a").expect("a");
    let b = read(&pcap(1, &[]), "b").expect("b");
    let r = analyse(&[point("a"), point("b")], &[a, b]);
    let f = &r.flows[0];
    assert_eq!((f.verdict, f.direction), ("dropped", Some("request")));
    assert!(!f.points[1].seen);
    assert!(
        f.icmp_errors[0].contains("fragmentation needed"),
        "{:?}",
        f.icmp_errors
    );
    assert!(f.icmp_errors[0].contains("MTU 1400"), "{:?}", f.icmp_errors);
    assert_eq!(f.finding, Some("mtu-mismatch"));
}

#[test]
fn real_tcpdump_captures_are_read() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/pcap");
    for name in ["ping-lo.pcap", "ping-lo.pcapng"] {
        let bytes = std::fs::read(format!("{root}/{name}")).expect(name);
        let cap = read(&bytes, name).expect(name);
        assert_eq!(cap.packets.len(), 6, "{name}");
        assert!(cap.problems.is_empty(), "{:?}", cap.problems);
        let r = analyse(&[point("lo")], &[cap]);
        assert_eq!(r.flows.len(), 1, "{name}: {:#?}", r.flows);
        assert_eq!(r.flows[0].verdict, "delivered");
        assert_eq!((r.flows[0].requests, r.flows[0].replies), (3, 3));
    }
}
