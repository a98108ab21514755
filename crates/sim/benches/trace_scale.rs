//! Scale: a trace on a synthetic flannel cluster of 500 nodes, each with a full overlay (routes,
//! neighbours and FDB entries for every other node) and a kube-proxy dump of about 100k rules
//! (10k services x 3 endpoints spread over the cluster), as kube-proxy renders the same rules on
//! every node. Prints figures; asserts nothing about time.
//!
//! Run: `cargo bench -p netdoctor-sim --bench trace_scale`. `ND_BENCH_NODES` and
//! `ND_BENCH_SERVICES` shrink it.

use netdoctor_model::*;
use netdoctor_sim::{trace, Cluster, Proto, TraceRequest, TraceVerdict};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

const ENDPOINTS: usize = 3;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn node_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(172, 16, (i / 250) as u8, (i % 250 + 1) as u8)
}

/// Node i's pod subnet: 10.(100 + i/256).(i%256).0/24.
fn pod_net(i: usize) -> [u8; 3] {
    [10, (100 + i / 256) as u8, (i % 256) as u8]
}

fn pod_ip(i: usize, host: u8) -> Ipv4Addr {
    let p = pod_net(i);
    Ipv4Addr::new(p[0], p[1], p[2], host)
}

fn vtep_mac(i: usize) -> String {
    format!("0e:00:00:00:{:02x}:{:02x}", i / 256, i % 256)
}

fn src() -> Source {
    Source::live("bench")
}

fn kube_dump(services: usize, nodes: usize) -> (String, usize) {
    let mut s = String::new();
    let mut rules = 0;
    s.push_str("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:KUBE-FORWARD - [0:0]\n");
    s.push_str("-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n");
    s.push_str("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n");
    s.push_str("-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT\n");
    s.push_str("-A KUBE-FORWARD -s 10.0.0.0/8 -j ACCEPT\n-A KUBE-FORWARD -d 10.0.0.0/8 -j ACCEPT\nCOMMIT\n");
    rules += 6;
    s.push_str("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-POSTROUTING - [0:0]\n");
    for i in 0..services {
        let _ = writeln!(s, ":KUBE-SVC-{i:016} - [0:0]");
        for e in 0..ENDPOINTS {
            let _ = writeln!(s, ":KUBE-SEP-{:016} - [0:0]", i * ENDPOINTS + e);
        }
    }
    s.push_str("-A PREROUTING -j KUBE-SERVICES\n-A OUTPUT -j KUBE-SERVICES\n-A POSTROUTING -j KUBE-POSTROUTING\n");
    s.push_str("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n");
    s.push_str("-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n-A KUBE-POSTROUTING -j MASQUERADE\n");
    rules += 7;
    for i in 0..services {
        let vip = Ipv4Addr::new(10, 96, (i / 250) as u8, (i % 250 + 1) as u8);
        let _ = writeln!(s, "-A KUBE-SERVICES -d {vip}/32 -p tcp -m comment --comment \"ns/svc{i}:http cluster IP\" -m tcp --dport 80 -j KUBE-SVC-{i:016}");
        let _ = writeln!(s, "-A KUBE-SVC-{i:016} ! -s 10.0.0.0/8 -d {vip}/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ");
        rules += 2;
        for e in 0..ENDPOINTS {
            let n = i * ENDPOINTS + e;
            let ep = pod_ip(n % nodes, 2 + (n / nodes % 200) as u8);
            let sep = format!("KUBE-SEP-{n:016}");
            match ENDPOINTS - e {
                1 => {
                    let _ = writeln!(s, "-A KUBE-SVC-{i:016} -j {sep}");
                }
                left => {
                    let _ = writeln!(s, "-A KUBE-SVC-{i:016} -m statistic --mode random --probability {:.11} -j {sep}", 1.0 / left as f64);
                }
            }
            let _ = writeln!(s, "-A {sep} -s {ep}/32 -j KUBE-MARK-MASQ");
            let _ = writeln!(
                s,
                "-A {sep} -p tcp -m tcp -j DNAT --to-destination {ep}:8080"
            );
            rules += 3;
        }
    }
    s.push_str("COMMIT\n");
    (s, rules)
}

fn link(name: &str, kind: Option<&str>, mtu: u32, mac: Option<String>) -> Link {
    Link {
        index: None,
        name: name.into(),
        kind: kind.map(str::to_string),
        mtu: Some(mtu),
        flags: vec!["UP".into(), "LOWER_UP".into()],
        operstate: None,
        mac,
        master: None,
        peer_index: None,
        parent: None,
        vxlan: (kind == Some("vxlan")).then(|| VxlanInfo {
            id: Some(1),
            dstport: Some(8472),
            ..VxlanInfo::default()
        }),
        source: src(),
    }
}

fn route(dst: &str, gw: Option<IpAddr>, dev: &str, onlink: bool) -> Route {
    Route {
        table: TABLE_MAIN,
        kind: RouteKind::Unicast,
        dst: dst.parse().expect("dst"),
        gateway: gw,
        dev: Some(dev.into()),
        prefsrc: None,
        scope: None,
        protocol: None,
        metric: None,
        onlink,
        mtu: None,
        source: src(),
    }
}

fn node(i: usize, nodes: usize, dump: &str) -> NodeSnapshot {
    let p = pod_net(i);
    let addr = |ifname: &str, a: Ipv4Addr, len: u8| Address {
        ifname: ifname.into(),
        addr: a.into(),
        prefix_len: len,
        scope: None,
        peer: None,
        source: src(),
    };
    let mut routes = vec![
        route(
            "0.0.0.0/0",
            Some(Ipv4Addr::new(172, 16, 255, 254).into()),
            "eth0",
            false,
        ),
        route("172.16.0.0/16", None, "eth0", false),
        route(
            &format!("{}.{}.{}.0/24", p[0], p[1], p[2]),
            None,
            "cni0",
            false,
        ),
    ];
    let mut neighbours = Vec::new();
    let mut fdb = Vec::new();
    for j in (0..nodes).filter(|&j| j != i) {
        let q = pod_net(j);
        let gw = Ipv4Addr::new(q[0], q[1], q[2], 0);
        routes.push(route(
            &format!("{gw}/24"),
            Some(gw.into()),
            "flannel.1",
            true,
        ));
        neighbours.push(Neighbour {
            addr: gw.into(),
            dev: "flannel.1".into(),
            lladdr: Some(vtep_mac(j)),
            state: vec!["PERMANENT".into()],
            source: src(),
        });
        fdb.push(FdbEntry {
            mac: vtep_mac(j),
            dev: "flannel.1".into(),
            dst: Some(node_ip(j).into()),
            master: None,
            vlan: None,
            flags: vec!["self".into()],
            source: src(),
        });
    }
    let sysctls: BTreeMap<String, Sourced<String>> = [
        ("net.ipv4.ip_forward", "1"),
        ("net.bridge.bridge-nf-call-iptables", "1"),
        ("net.ipv4.conf.all.rp_filter", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Sourced::new(v.to_string(), src())))
    .collect();
    NodeSnapshot {
        hostname: Some(format!("node-{i}")),
        sysctls: Some(sysctls),
        bridge_nf_present: Some(Sourced::new(true, src())),
        links: Some(vec![
            link("lo", None, 65536, None),
            link("eth0", None, 1500, None),
            link("cni0", Some("bridge"), 1450, None),
            link("flannel.1", Some("vxlan"), 1450, Some(vtep_mac(i))),
        ]),
        addresses: Some(vec![
            addr("lo", Ipv4Addr::LOCALHOST, 8),
            addr("eth0", node_ip(i), 16),
            addr("cni0", Ipv4Addr::new(p[0], p[1], p[2], 1), 24),
            addr("flannel.1", Ipv4Addr::new(p[0], p[1], p[2], 0), 32),
        ]),
        routes: Some(routes),
        rules: Some(Vec::new()),
        neighbours: Some(neighbours),
        fdb: Some(fdb),
        iptables: vec![IptablesDump {
            backend: Backend::Nft,
            family: Family::Ipv4,
            text: dump.to_string().into(),
            source: src(),
        }],
        ..NodeSnapshot::default()
    }
}

fn rss_mib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(l.split_whitespace().nth(1)?.parse::<u64>().ok()? / 1024)
}

fn main() {
    let nodes = env("ND_BENCH_NODES", 500);
    let services = env("ND_BENCH_SERVICES", 10_000);
    let t = Instant::now();
    let (dump, rules) = kube_dump(services, nodes);
    let snaps: Vec<NodeSnapshot> = (0..nodes).map(|i| node(i, nodes, &dump)).collect();
    println!(
        "built {nodes} node snapshots, {rules} rules each ({:.1} MiB of rules text per node) in {:.2}s",
        dump.len() as f64 / 1048576.0,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let cluster = Cluster::new(snaps, None);
    println!("Cluster::new: {:.2}s", t.elapsed().as_secs_f64());
    // A service whose endpoints sit on three different nodes, from a pod of node 7.
    let req = TraceRequest {
        src: pod_ip(7, 2).into(),
        dst: Ipv4Addr::new(10, 96, 0, 5).into(),
        dport: Some(80),
        proto: Proto::Tcp,
        size: 60,
        endpoint: None,
    };
    for round in 0..3 {
        let t = Instant::now();
        let tr = trace(&cluster, &req);
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let hops: usize = tr.paths.iter().map(|p| p.hops.len()).sum();
        println!(
            "trace {} (ClusterIP, {} endpoint paths, {hops} hops, verdict {:?}): {ms:.1} ms{}",
            round + 1,
            tr.paths.len(),
            tr.verdict,
            if round == 0 {
                " (includes parsing the rules of the nodes on the path)"
            } else {
                ""
            }
        );
        assert_eq!(tr.verdict, TraceVerdict::Delivered, "{}", tr.render_text());
    }
    let t = Instant::now();
    let mut direct = req.clone();
    direct.dst = pod_ip(nodes - 1, 3).into();
    direct.dport = Some(8080);
    let tr = trace(&cluster, &direct);
    println!(
        "trace pod -> pod on node {}: {:.1} ms, verdict {:?}",
        nodes - 1,
        t.elapsed().as_secs_f64() * 1000.0,
        tr.verdict
    );
    if let Some(m) = rss_mib() {
        println!("peak RSS: {m} MiB");
    }
}
