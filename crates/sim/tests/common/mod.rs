//! Hand-built snapshots from a few lines in `ip` words, so each test shows the state it needs.
//!
//! ```text
//! link eth0 veth mtu 1500 mac 02:00:00:00:00:01
//! link flannel.1 vxlan mtu 1450 mac 0e:00:00:00:00:01 port 8472
//! link veth1 veth master cni0
//! addr eth0 172.31.255.10/24
//! route 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink
//! route local 10.0.0.1/32 dev lo table 255
//! neigh 10.244.1.0 dev flannel.1 lladdr 0e:00:00:00:00:02
//! fdb 0e:00:00:00:00:02 dev flannel.1 dst 172.31.255.11
//! sysctl net.ipv4.ip_forward=1
//! ```
//! followed by an optional `iptables:` line and the iptables-save text.
#![allow(dead_code)]

use ipnet::IpNet;
use netdoctor_model::*;
use std::collections::BTreeMap;

fn src(line: usize) -> Source {
    Source::at("test", line as u32 + 1)
}

pub fn snapshot(name: &str, text: &str) -> NodeSnapshot {
    let mut s = NodeSnapshot {
        hostname: Some(name.to_string()),
        links: Some(Vec::new()),
        addresses: Some(Vec::new()),
        routes: Some(Vec::new()),
        rules: Some(Vec::new()),
        neighbours: Some(Vec::new()),
        fdb: Some(Vec::new()),
        bridge_nf_present: Some(Sourced::new(true, Source::live("/proc/sys/net/bridge"))),
        ..NodeSnapshot::default()
    };
    let mut sysctls: BTreeMap<String, Sourced<String>> = BTreeMap::new();
    for (k, v) in [
        ("net.ipv4.ip_forward", "1"),
        ("net.ipv4.conf.all.rp_filter", "0"),
        ("net.ipv4.conf.all.forwarding", "1"),
        ("net.bridge.bridge-nf-call-iptables", "1"),
    ] {
        sysctls.insert(k.into(), Sourced::new(v.into(), Source::live("test")));
    }
    let (head, rules) = match text.split_once("iptables:\n") {
        Some((h, r)) => (h, Some(r)),
        None => (text, None),
    };
    for (i, line) in head.lines().enumerate() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let after = |k: &str| w.iter().position(|x| *x == k).map(|p| w[p + 1]);
        match w.first().copied() {
            None => {}
            Some("link") => {
                let kind = w.get(2).filter(|k| **k != "-").map(|k| k.to_string());
                let vxlan = (kind.as_deref() == Some("vxlan")).then(|| VxlanInfo {
                    id: Some(1),
                    dstport: after("port").and_then(|p| p.parse().ok()),
                    ..VxlanInfo::default()
                });
                s.links.as_mut().expect("links").push(Link {
                    index: None,
                    name: w[1].to_string(),
                    kind,
                    mtu: after("mtu").and_then(|m| m.parse().ok()),
                    flags: if w.contains(&"down") {
                        vec!["BROADCAST".into()]
                    } else {
                        vec!["UP".into(), "LOWER_UP".into()]
                    },
                    operstate: None,
                    mac: after("mac").map(str::to_string),
                    master: after("master").map(str::to_string),
                    peer_index: None,
                    parent: None,
                    vxlan,
                    source: src(i),
                });
            }
            Some("addr") => {
                let n: IpNet = w[2].parse().expect("addr");
                s.addresses.as_mut().expect("addresses").push(Address {
                    ifname: w[1].to_string(),
                    addr: n.addr(),
                    prefix_len: n.prefix_len(),
                    scope: None,
                    peer: None,
                    source: src(i),
                });
                // The kernel's connected route.
                if n.prefix_len() < 32 {
                    s.routes.as_mut().expect("routes").push(Route {
                        table: TABLE_MAIN,
                        kind: RouteKind::Unicast,
                        dst: n.trunc(),
                        gateway: None,
                        dev: Some(w[1].to_string()),
                        prefsrc: Some(n.addr()),
                        scope: Some("link".into()),
                        protocol: Some("kernel".into()),
                        metric: None,
                        onlink: false,
                        mtu: None,
                        source: src(i),
                    });
                }
            }
            Some("route") => {
                let (kind, rest) = match RouteKind::from_keyword(w[1]) {
                    Some(k) => (k, &w[2..]),
                    None => (RouteKind::Unicast, &w[1..]),
                };
                let dst: IpNet = if rest[0] == "default" {
                    "0.0.0.0/0".parse().expect("default")
                } else {
                    rest[0].parse().expect("route dst")
                };
                s.routes.as_mut().expect("routes").push(Route {
                    table: after("table")
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(TABLE_MAIN),
                    kind,
                    dst,
                    gateway: after("via").and_then(|g| g.parse().ok()),
                    dev: after("dev").map(str::to_string),
                    prefsrc: after("src").and_then(|g| g.parse().ok()),
                    scope: None,
                    protocol: None,
                    metric: None,
                    onlink: w.contains(&"onlink"),
                    mtu: None,
                    source: src(i),
                });
            }
            Some("rule") => {
                s.rules.as_mut().expect("rules").push(RoutingRule {
                    family: Family::Ipv4,
                    priority: w[1].parse().expect("prio"),
                    not: false,
                    from: after("from").and_then(|f| f.parse().ok()),
                    to: after("to").and_then(|f| f.parse().ok()),
                    iif: after("iif").map(str::to_string),
                    oif: None,
                    fwmark: after("fwmark").and_then(|m| {
                        u32::from_str_radix(m.trim_start_matches("0x"), 16)
                            .ok()
                            .map(|v| (v, u32::MAX))
                    }),
                    table: after("lookup").and_then(|t| t.parse().ok()),
                    action: if w.contains(&"lookup") {
                        "lookup".into()
                    } else {
                        w[w.len() - 1].into()
                    },
                    source: src(i),
                });
            }
            Some("neigh") => s.neighbours.as_mut().expect("neighbours").push(Neighbour {
                addr: w[1].parse().expect("neigh addr"),
                dev: after("dev").expect("dev").to_string(),
                lladdr: after("lladdr").map(str::to_string),
                state: vec![w[w.len() - 1].to_string()],
                source: src(i),
            }),
            Some("fdb") => s.fdb.as_mut().expect("fdb").push(FdbEntry {
                mac: w[1].to_string(),
                dev: after("dev").expect("dev").to_string(),
                dst: after("dst").and_then(|d| d.parse().ok()),
                master: after("master").map(str::to_string),
                vlan: None,
                flags: Vec::new(),
                source: src(i),
            }),
            Some("sysctl") => {
                let (k, v) = w[1].split_once('=').expect("k=v");
                sysctls.insert(k.into(), Sourced::new(v.into(), src(i)));
            }
            Some("no-br-netfilter") => {
                s.bridge_nf_present = Some(Sourced::new(false, src(i)));
                sysctls.remove("net.bridge.bridge-nf-call-iptables");
            }
            Some(other) => panic!("test snapshot line {}: unknown keyword {other}", i + 1),
        }
    }
    s.sysctls = Some(sysctls);
    s.routes_all_tables = false;
    if let Some(r) = rules {
        s.iptables.push(IptablesDump {
            backend: Backend::Nft,
            family: Family::Ipv4,
            text: r.to_string().into(),
            source: Source::live("iptables-nft-save"),
        });
    }
    s
}

/// A two-node flannel VXLAN cluster like the lab's: node `a` (10.244.0.0/24, 172.31.255.10) and
/// node `b` (10.244.1.0/24, 172.31.255.11), a pod 10.244.x.2 and .3 on each `cni0`.
pub fn flannel_node(i: u8, extra: &str, rules: &str) -> NodeSnapshot {
    let j = 1 - i;
    let text = format!(
        "link lo - mtu 65536
link eth0 veth mtu 1500 mac 02:00:00:00:00:0{i}
link cni0 bridge mtu 1450 mac 02:00:00:00:01:0{i}
link veth{i}a veth mtu 1450 master cni0
link veth{i}b veth mtu 1450 master cni0
link flannel.1 vxlan mtu 1450 mac 0e:00:00:00:00:0{i} port 8472
addr lo 127.0.0.1/8
addr eth0 172.31.255.1{i}/24
addr cni0 10.244.{i}.1/24
addr flannel.1 10.244.{i}.0/32
route default via 172.31.255.1 dev eth0
route 10.244.{j}.0/24 via 10.244.{j}.0 dev flannel.1 onlink
neigh 10.244.{j}.0 dev flannel.1 lladdr 0e:00:00:00:00:0{j} PERMANENT
fdb 0e:00:00:00:00:0{j} dev flannel.1 dst 172.31.255.1{j}
{extra}
iptables:
{rules}"
    );
    snapshot(&format!("n{i}"), &text)
}

/// A filter table that accepts pod traffic, as flannel writes it.
pub const FLANNEL_FILTER: &str = "*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:FLANNEL-FWD - [0:0]
-A FORWARD -j FLANNEL-FWD
-A FLANNEL-FWD -s 10.244.0.0/16 -j ACCEPT
-A FLANNEL-FWD -d 10.244.0.0/16 -j ACCEPT
COMMIT
";

/// kube-proxy's rules for a service 10.96.0.10:80 with the given endpoints (port 8080), plus
/// flannel's filter table.
pub fn kube_proxy(endpoints: &[&str]) -> String {
    let mut nat = String::from(
        "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-WEB - [0:0]
",
    );
    for i in 0..endpoints.len() {
        nat.push_str(&format!(":KUBE-SEP-{i} - [0:0]\n"));
    }
    nat.push_str(
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n",
    );
    nat.push_str(
        "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n",
    );
    if endpoints.is_empty() {
        let filter = FLANNEL_FILTER.replace(
            "-A FORWARD -j FLANNEL-FWD\n",
            "-A FORWARD -d 10.96.0.10/32 -p tcp -m comment --comment \"default/web:http has no endpoints\" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable\n-A FORWARD -j FLANNEL-FWD\n",
        );
        return format!("{nat}COMMIT\n{filter}");
    }
    nat.push_str("-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment \"default/web:http cluster IP\" -m tcp --dport 80 -j KUBE-SVC-WEB\n");
    let n = endpoints.len();
    for (i, ep) in endpoints.iter().enumerate() {
        let left = n - i;
        if left > 1 {
            nat.push_str(&format!(
                "-A KUBE-SVC-WEB -m comment --comment \"default/web:http -> {ep}:8080\" -m statistic --mode random --probability {:.11} -j KUBE-SEP-{i}\n",
                1.0 / left as f64
            ));
        } else {
            nat.push_str(&format!("-A KUBE-SVC-WEB -m comment --comment \"default/web:http -> {ep}:8080\" -j KUBE-SEP-{i}\n"));
        }
        nat.push_str(&format!(
            "-A KUBE-SEP-{i} -p tcp -m comment --comment \"default/web:http\" -m tcp -j DNAT --to-destination {ep}:8080\n"
        ));
    }
    format!("{nat}COMMIT\n{FLANNEL_FILTER}")
}
