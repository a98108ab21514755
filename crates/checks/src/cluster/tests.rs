//! Cross-node checks on hand-built clusters and snapshots, and on the real flannel and Calico
//! outputs in the fixtures.

use crate::{run, run_cluster, Options};
use netdoctor_kube::Cluster;
use netdoctor_model::{
    Address, CheckReport, FdbEntry, IptablesDump, Link, Neighbour, NodeSnapshot, Route, RouteKind,
    Source, TABLE_MAIN,
};
use std::net::IpAddr;
use std::sync::Arc;

const REALWORLD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/realworld/"
);

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{REALWORLD}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test IP")
}

fn src() -> Source {
    Source::live("test")
}

fn vtep_mac(i: usize) -> String {
    format!("0e:6e:64:00:{:02x}:{:02x}", i / 256, i % 256)
}

fn node_ip(i: usize) -> String {
    format!("172.31.{}.{}", i / 200, 10 + i % 200)
}

/// Node `i` of a flannel vxlan cluster, as the lab writes it.
fn node_json(i: usize, public_ip: &str) -> String {
    format!(
        r#"{{"kind":"Node","metadata":{{"name":"n{i}","annotations":{{
        "flannel.alpha.coreos.com/backend-data":"{{\"VNI\":1,\"VtepMAC\":\"{mac}\"}}",
        "flannel.alpha.coreos.com/backend-type":"vxlan","flannel.alpha.coreos.com/public-ip":"{public_ip}"}}}},
        "spec":{{"podCIDR":"10.{a}.{b}.0/24"}},
        "status":{{"addresses":[{{"type":"InternalIP","address":"{ip}"}}]}}}}"#,
        mac = vtep_mac(i),
        a = 100 + i / 256,
        b = i % 256,
        ip = node_ip(i)
    )
}

fn cluster_text(n: usize, extra: &str) -> String {
    let nodes: Vec<String> = (0..n).map(|i| node_json(i, &node_ip(i))).collect();
    format!(r#"{{"kind":"List","items":[{}]}}{extra}"#, nodes.join(","))
}

fn cluster(n: usize) -> Arc<Cluster> {
    Arc::new(
        Cluster::from_documents(&[("nodes.json".into(), cluster_text(n, ""))]).expect("cluster"),
    )
}

fn pod_net(i: usize) -> String {
    format!("10.{}.{}.0", 100 + i / 256, i % 256)
}

fn route(dst: &str, gw: Option<&str>, dev: &str) -> Route {
    Route {
        table: TABLE_MAIN,
        kind: RouteKind::Unicast,
        dst: dst.parse().expect("dst"),
        gateway: gw.map(ip),
        dev: Some(dev.into()),
        prefsrc: None,
        scope: None,
        protocol: None,
        metric: None,
        onlink: dev.starts_with("flannel"),
        mtu: None,
        source: Source::at("ip-route.txt", 1),
    }
}

fn link(name: &str, kind: Option<&str>) -> Link {
    Link {
        index: None,
        name: name.into(),
        kind: kind.map(str::to_string),
        mtu: Some(if name.starts_with("eth") { 1500 } else { 1450 }),
        flags: vec!["BROADCAST".into(), "UP".into(), "LOWER_UP".into()],
        operstate: Some("UNKNOWN".into()),
        mac: None,
        master: None,
        peer_index: None,
        parent: None,
        vxlan: None,
        source: src(),
    }
}

fn addr(ifname: &str, a: &str, len: u8) -> Address {
    Address {
        ifname: ifname.into(),
        addr: ip(a),
        prefix_len: len,
        scope: None,
        peer: None,
        source: src(),
    }
}

/// A healthy snapshot of node `me` in an `n`-node flannel vxlan cluster.
fn snapshot(me: usize, n: usize) -> NodeSnapshot {
    let mut s = NodeSnapshot {
        hostname: Some(format!("n{me}")),
        ..NodeSnapshot::default()
    };
    s.links = Some(vec![
        link("eth0", None),
        link("cni0", Some("bridge")),
        link("flannel.1", Some("vxlan")),
    ]);
    s.addresses = Some(vec![
        addr("eth0", &node_ip(me), 16),
        addr("cni0", &format!("10.{}.{}.1", 100 + me / 256, me % 256), 24),
        addr("flannel.1", &pod_net(me), 32),
    ]);
    let mut routes = vec![
        route("0.0.0.0/0", Some("172.31.0.1"), "eth0"),
        route("172.31.0.0/16", None, "eth0"),
        route(&format!("{}/24", pod_net(me)), None, "cni0"),
    ];
    let mut fdb = Vec::new();
    let mut neigh = Vec::new();
    for r in (0..n).filter(|r| *r != me) {
        routes.push(route(
            &format!("{}/24", pod_net(r)),
            Some(&pod_net(r)),
            "flannel.1",
        ));
        fdb.push(FdbEntry {
            mac: vtep_mac(r),
            dev: "flannel.1".into(),
            dst: Some(ip(&node_ip(r))),
            master: None,
            vlan: None,
            flags: vec!["self".into(), "permanent".into()],
            source: Source::at("bridge-fdb.txt", 1),
        });
        neigh.push(Neighbour {
            addr: ip(&pod_net(r)),
            dev: "flannel.1".into(),
            lladdr: Some(vtep_mac(r)),
            state: vec!["PERMANENT".into()],
            source: Source::at("ip-neigh.txt", 1),
        });
    }
    s.routes = Some(routes);
    s.fdb = Some(fdb);
    s.neighbours = Some(neigh);
    s
}

fn opts(c: &Arc<Cluster>) -> Options {
    Options {
        cluster: Some(c.clone()),
        ..Options::default()
    }
}

fn ids(r: &CheckReport) -> Vec<&str> {
    r.findings.iter().map(|f| f.id.as_str()).collect()
}

fn finding<'a>(r: &'a CheckReport, id: &str) -> &'a netdoctor_model::Finding {
    r.findings
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no {id} in {:?}", ids(r)))
}

#[test]
fn healthy_cluster_has_no_cross_node_finding() {
    let c = cluster(4);
    let snaps: Vec<NodeSnapshot> = (0..4).map(|i| snapshot(i, 4)).collect();
    let reports = run_cluster(&snaps, c, &Options::default());
    assert_eq!(reports.len(), 4);
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r.node, format!("n{i}"));
        assert!(r.findings.is_empty(), "n{i}: {:?}", r.findings);
        // The cross-node checks ran (they are not listed as not checked).
        for id in [
            "pod-route-missing",
            "vxlan-fdb-missing",
            "vxlan-device-down",
        ] {
            assert!(
                !r.not_checked.iter().any(|n| n.check == id),
                "n{i}: {id} {:?}",
                r.not_checked
            );
        }
    }
}

#[test]
fn without_cluster_objects_the_checks_say_so() {
    let r = run(&snapshot(0, 2), &Options::default());
    let n = r
        .not_checked
        .iter()
        .find(|n| n.check == "pod-route-missing")
        .expect("not_checked");
    assert!(n.reason.contains("--kube-objects"));
}

#[test]
fn identified_by_address_when_the_hostname_differs() {
    let c = cluster(3);
    let mut s = snapshot(2, 3);
    s.hostname = Some("ip-172-31-0-12.internal".into());
    s.routes
        .as_mut()
        .expect("routes")
        .retain(|r| r.dst.to_string() != "10.100.0.0/24");
    let r = run(&s, &opts(&c));
    assert_eq!(r.node, "n2");
    let f = finding(&r, "pod-route-missing");
    assert!(f.title.contains("n0"), "{}", f.title);
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("10.100.0.0/24 via 10.100.0.0 dev flannel.1 onlink")),
        "{:?}",
        f.evidence
    );
}

#[test]
fn missing_route_names_the_node_and_the_route() {
    let c = cluster(3);
    let mut s = snapshot(0, 3);
    s.routes
        .as_mut()
        .expect("routes")
        .retain(|r| r.dst.to_string() != "10.100.2.0/24");
    let r = run(&s, &opts(&c));
    let f = finding(&r, "pod-route-missing");
    assert!(
        f.title.contains("n2") && !f.title.contains("n1"),
        "{}",
        f.title
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("take 0.0.0.0/0 via 172.31.0.1 dev eth0")),
        "{:?}",
        f.evidence
    );
    assert!(f.fix.runtime[0]
        .contains("ip route replace 10.100.2.0/24 via 10.100.2.0 dev flannel.1 onlink"));
    assert!(!f.actions.is_empty());
    assert!(!ids(&r).contains(&"pod-route-conflict"));
}

#[test]
fn conflicting_routes_wrong_device_gateway_mask_or_type() {
    let c = cluster(3);
    for (bad, what) in [
        (
            route("10.100.2.0/24", Some("10.100.1.0"), "flannel.1"),
            "via 10.100.1.0",
        ),
        (route("10.100.2.0/24", None, "cni0"), "dev cni0"),
        (route("10.100.2.0/26", None, "eth0"), "wrong prefix"),
        (
            Route {
                kind: RouteKind::Unreachable,
                dev: None,
                ..route("10.100.2.64/26", None, "x")
            },
            "unreachable",
        ),
    ] {
        let mut s = snapshot(0, 3);
        let routes = s.routes.as_mut().expect("routes");
        if bad.dst.prefix_len() == 24 {
            routes.retain(|r| r.dst != bad.dst);
        }
        routes.push(bad.clone());
        let r = run(&s, &opts(&c));
        let f = finding(&r, "pod-route-conflict");
        assert!(f.title.contains(what), "{what}: {}", f.title);
        assert!(f
            .evidence
            .iter()
            .any(|e| e.contains("expected `10.100.2.0/24 via 10.100.2.0 dev flannel.1 onlink`")));
        // A wrong exact route is the conflict, not a missing route as well.
        assert!(
            !ids(&r).contains(&"pod-route-missing"),
            "{what}: {:?}",
            ids(&r)
        );
    }
}

#[test]
fn fdb_and_neighbour_per_remote_vtep() {
    let c = cluster(3);
    let mut s = snapshot(0, 3);
    s.fdb
        .as_mut()
        .expect("fdb")
        .retain(|e| e.mac != vtep_mac(1));
    let r = run(&s, &opts(&c));
    let f = finding(&r, "vxlan-fdb-missing");
    assert!(
        f.title.contains("n1") && !f.title.contains("n2"),
        "{}",
        f.title
    );
    assert!(
        f.fix.runtime.iter().any(|l| l
            == "bridge fdb replace 0e:6e:64:00:00:01 dev flannel.1 dst 172.31.0.11 self permanent"),
        "{:?}",
        f.fix.runtime
    );

    // A stale dst (the node moved) and a neighbour with the old MAC.
    let mut s = snapshot(0, 3);
    s.fdb.as_mut().expect("fdb")[1].dst = Some(ip("172.31.0.99"));
    s.neighbours.as_mut().expect("neigh")[0].lladdr = Some("aa:aa:aa:aa:aa:aa".into());
    let r = run(&s, &opts(&c));
    let f = finding(&r, "vxlan-fdb-missing");
    assert!(
        f.title.contains("n1") && f.title.contains("n2"),
        "{}",
        f.title
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("has dst 172.31.0.99 but Node n2 is at 172.31.0.12")),
        "{:?}",
        f.evidence
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("lladdr aa:aa:aa:aa:aa:aa")),
        "{:?}",
        f.evidence
    );
}

#[test]
fn vxlan_device_down_but_unknown_is_not_down() {
    let c = cluster(2);
    let s = snapshot(0, 2);
    assert!(!ids(&run(&s, &opts(&c))).contains(&"vxlan-device-down"));
    let mut s = snapshot(0, 2);
    s.links.as_mut().expect("links")[2].flags = vec!["BROADCAST".into()];
    s.links.as_mut().expect("links")[2].operstate = Some("DOWN".into());
    let f = run(&s, &opts(&c));
    assert!(finding(&f, "vxlan-device-down")
        .title
        .contains("flannel.1 is down"));
    let mut s = snapshot(0, 2);
    s.links.as_mut().expect("links").truncate(2);
    let f = run(&s, &opts(&c));
    assert!(finding(&f, "vxlan-device-down")
        .title
        .contains("does not exist"));
}

#[test]
fn leftover_tunl0_inside_another_nodes_subnet() {
    let c = cluster(3);
    let mut s = snapshot(0, 3);
    s.links
        .as_mut()
        .expect("links")
        .push(link("tunl0", Some("ipip")));
    s.addresses
        .as_mut()
        .expect("addrs")
        .push(addr("tunl0", "10.100.2.0", 32));
    s.routes
        .as_mut()
        .expect("routes")
        .retain(|r| r.dst.to_string() != "10.100.2.0/24");
    let r = run(&s, &opts(&c));
    let f = finding(&r, "stale-interface-address");
    assert!(
        f.title.contains("Node n2")
            && f.title
                .contains("10.100.2.0/24 via 10.100.2.0 dev flannel.1 onlink"),
        "{}",
        f.title
    );
    assert!(finding(&r, "leftover-cni-interface")
        .title
        .contains("tunl0"));
    assert!(ids(&r).contains(&"pod-route-missing"));
    // An address-less tunl0 (the ipip module is loaded) is not a leftover.
    let mut s = snapshot(0, 3);
    s.links
        .as_mut()
        .expect("links")
        .push(link("tunl0", Some("ipip")));
    assert!(run(&s, &opts(&c)).findings.is_empty());
}

#[test]
fn podcidr_not_allocated_and_shared_public_ip() {
    let text = format!(
        r#"{{"kind":"List","items":[{},{},{}]}}"#,
        node_json(0, "10.0.2.15"),
        node_json(1, "10.0.2.15"),
        r#"{"kind":"Node","metadata":{"name":"n2","annotations":{"flannel.alpha.coreos.com/backend-type":"vxlan"}},"spec":{},"status":{"addresses":[{"type":"InternalIP","address":"172.31.0.12"}]}}"#
    );
    let c = Arc::new(Cluster::from_documents(&[("nodes.json".into(), text)]).expect("cluster"));
    let mut s = snapshot(0, 2);
    s.links.as_mut().expect("links").push(link("eth1", None));
    s.addresses
        .as_mut()
        .expect("addrs")
        .push(addr("eth1", "10.0.2.15", 24));
    let r = run(&s, &opts(&c));
    let f = finding(&r, "wrong-node-ip");
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("Nodes n1 announce the same address 10.0.2.15")),
        "{:?}",
        f.evidence
    );
    let s2 = NodeSnapshot {
        hostname: Some("n2".into()),
        ..snapshot(2, 2)
    };
    let r = run(&s2, &opts(&c));
    assert!(finding(&r, "podcidr-not-allocated").title.contains("n2"));
}

#[test]
fn services_without_endpoints_and_missing_kube_proxy_rules() {
    let extra = r#"
      {"kind":"Service","metadata":{"name":"web","namespace":"default"},"spec":{"clusterIP":"10.96.0.20","ports":[{"name":"http","port":80,"protocol":"TCP"}],"selector":{"app":"web"}}}
      {"kind":"Service","metadata":{"name":"db","namespace":"default"},"spec":{"clusterIP":"10.96.0.30","ports":[{"port":5432}],"selector":{"app":"db"}}}
      {"kind":"EndpointSlice","metadata":{"name":"web-1","namespace":"default","labels":{"kubernetes.io/service-name":"web"}},"endpoints":[{"addresses":["10.100.1.5"],"conditions":{"ready":true}}],"ports":[{"name":"http","port":8080}]}
      {"kind":"EndpointSlice","metadata":{"name":"db-1","namespace":"default","labels":{"kubernetes.io/service-name":"db"}},"endpoints":[{"addresses":["10.100.1.6"],"conditions":{"ready":false}}]}"#;
    let c = Arc::new(
        Cluster::from_documents(&[("all.json".into(), cluster_text(2, extra))]).expect("cluster"),
    );
    let mut s = snapshot(0, 2);
    s.iptables.push(IptablesDump {
        backend: netdoctor_model::Backend::Nft,
        family: netdoctor_model::Family::Ipv4,
        text: "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment \"default/kubernetes:https cluster IP\" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y\nCOMMIT\n".into(),
        source: Source::live("iptables-nft-save"),
    });
    let r = run(&s, &opts(&c));
    let f = finding(&r, "service-no-endpoints");
    assert!(
        f.title.contains("default/db") && !f.title.contains("web"),
        "{}",
        f.title
    );
    let f = finding(&r, "kube-proxy-rules-missing");
    assert!(
        f.title.contains("default/web") && !f.title.contains("db"),
        "{}",
        f.title
    );
    assert!(f.evidence[0].contains("10.96.0.20:80/tcp"));
    // With the rule present, nothing is missing.
    s.iptables[0].text = s.iptables[0].text.replace(
        "COMMIT",
        "-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m comment --comment \"default/web:http cluster IP\" -m tcp --dport 80 -j KUBE-SVC-X\nCOMMIT",
    );
    assert!(!ids(&run(&s, &opts(&c))).contains(&"kube-proxy-rules-missing"));
}

/// k3s#1719: master 192.168.1.72 and worker .73, one FDB entry each. If the worker's
/// annotation announces another MAC than the master's FDB holds, the master cannot reach it.
#[test]
fn k3s1719_two_nodes_fdb() {
    let text = fixture("flannel/k3s_two_nodes_fdb_and_ipaddr__k3s1719.txt");
    let master_fdb = text
        .lines()
        .skip_while(|l| !l.contains("[root@k3s-master ~]# bridge fdb show"))
        .nth(1)
        .expect("master fdb line");
    // `bridge fdb show dev flannel.1` leaves the device out of each line; put it back.
    let line = master_fdb.replacen(" dst ", " dev flannel.1 dst ", 1);
    let (fdb, problems) =
        netdoctor_bundle::fdb::parse_bridge_fdb(&format!("{line}\n"), "bridge-fdb.txt");
    assert!(problems.is_empty(), "{problems:?}");
    let node = |name: &str, ip: &str, mac: &str, cidr: &str| {
        format!(
            r#"{{"kind":"Node","metadata":{{"name":"{name}","annotations":{{"flannel.alpha.coreos.com/backend-data":"{{\"VNI\":1,\"VtepMAC\":\"{mac}\"}}","flannel.alpha.coreos.com/backend-type":"vxlan","flannel.alpha.coreos.com/public-ip":"{ip}"}}}},"spec":{{"podCIDR":"{cidr}"}},"status":{{"addresses":[{{"type":"InternalIP","address":"{ip}"}}]}}}}"#
        )
    };
    let mk = |worker_mac: &str| {
        Arc::new(
            Cluster::from_documents(&[(
                "nodes.json".into(),
                format!(
                    "{}{}",
                    node(
                        "k3s-master",
                        "192.168.1.72",
                        "ca:a3:3a:8f:57:36",
                        "10.42.0.0/24"
                    ),
                    node("k3s-worker", "192.168.1.73", worker_mac, "10.42.1.0/24")
                ),
            )])
            .expect("cluster"),
        )
    };
    let mut s = NodeSnapshot {
        hostname: Some("k3s-master".into()),
        ..NodeSnapshot::default()
    };
    s.fdb = Some(fdb);
    // The MAC in the master's FDB is the worker's: fine.
    let r = run(&s, &opts(&mk("d6:ad:6b:77:37:eb")));
    assert!(!ids(&r).contains(&"vxlan-fdb-missing"), "{:?}", r.findings);
    // The reporter: "the MAC addresses in FDB don't correspond to anything on those two machines".
    let r = run(&s, &opts(&mk("5a:00:00:00:00:01")));
    let f = finding(&r, "vxlan-fdb-missing");
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("no FDB entry `5a:00:00:00:00:01 dev flannel.1 dst 192.168.1.73`")),
        "{:?}",
        f.evidence
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("d6:ad:6b:77:37:eb dst 192.168.1.73 matches no Node's VtepMAC")),
        "{:?}",
        f.evidence
    );
}

/// flannel#1119: two MACs per remote node (a previous flannel.1's entries stayed). With the
/// current MACs present, that is not a fault; two nodes announcing one MAC is.
#[test]
fn flannel1119_stale_and_duplicate_vtep_macs() {
    let text = fixture("flannel/bridge_fdb_show_dev_flannel.1__flannel1119.txt");
    // `bridge fdb show dev flannel.1` leaves the device out of each line; put it back.
    let text: String = text
        .lines()
        .filter(|l| l.contains(" dst ") && !l.starts_with('#'))
        .map(|l| l.replacen(" dst ", " dev flannel.1 dst ", 1) + "\n")
        .collect();
    let (fdb, _) = netdoctor_bundle::fdb::parse_bridge_fdb(&text, "bridge-fdb.txt");
    assert_eq!(fdb.len(), 4);
    let node = |name: &str, ip: &str, mac: &str, cidr: &str| {
        format!(
            r#"{{"kind":"Node","metadata":{{"name":"{name}","annotations":{{"flannel.alpha.coreos.com/backend-data":"{{\"VtepMAC\":\"{mac}\"}}","flannel.alpha.coreos.com/backend-type":"vxlan","flannel.alpha.coreos.com/public-ip":"{ip}"}}}},"spec":{{"podCIDR":"{cidr}"}}}}"#
        )
    };
    let mk = |m2: &str, m3: &str| {
        Arc::new(
            Cluster::from_documents(&[(
                "nodes.json".into(),
                format!(
                    "{}{}{}",
                    node(
                        "k8s-master01",
                        "192.168.56.101",
                        "11:22:33:44:55:66",
                        "10.244.0.0/24"
                    ),
                    node("k8s-node01", "192.168.56.102", m2, "10.244.1.0/24"),
                    node("k8s-node02", "192.168.56.103", m3, "10.244.2.0/24")
                ),
            )])
            .expect("cluster"),
        )
    };
    let mut s = NodeSnapshot {
        hostname: Some("k8s-master01".into()),
        ..NodeSnapshot::default()
    };
    s.fdb = Some(fdb);
    let r = run(&s, &opts(&mk("8e:32:8d:27:ac:9a", "0e:22:e2:f3:09:04")));
    assert!(!ids(&r).contains(&"vxlan-fdb-missing"), "{:?}", r.findings);
    let r = run(&s, &opts(&mk("0e:22:e2:f3:09:04", "0e:22:e2:f3:09:04")));
    let f = finding(&r, "vxlan-fdb-missing");
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("all announce VtepMAC 0e:22:e2:f3:09:04")),
        "{:?}",
        f.evidence
    );
}

fn calico_node(name: &str, ip: &str, block: &str) -> String {
    format!(
        r#"{{"kind":"Node","metadata":{{"name":"{name}","annotations":{{"projectcalico.org/IPv4Address":"{ip}/24","projectcalico.org/IPv4IPIPTunnelAddr":"{tun}"}}}},"status":{{"addresses":[{{"type":"InternalIP","address":"{ip}"}}]}}}}
        {{"kind":"BlockAffinity","metadata":{{"name":"{name}-b"}},"spec":{{"cidr":"{block}","node":"{name}","state":"confirmed"}}}}"#,
        tun = block.split('/').next().unwrap_or("")
    )
}

/// calico#281, server B: `192.168.1.64/26 ... *` is B's own block (a blackhole, as Calico
/// installs for its blocks); if that block belonged to another node, it would swallow its pods.
#[test]
fn calico281_blackhole_on_star() {
    let (routes, problems) = netdoctor_bundle::routen::parse_route_n(
        &fixture("iproute/calico_ipip_route_n__calico281.txt"),
        "route-n.txt",
    );
    assert!(problems.is_empty(), "{problems:?}");
    let mut s = NodeSnapshot {
        hostname: Some("serverB".into()),
        ..NodeSnapshot::default()
    };
    s.routes = Some(routes);
    let mk = |b_blocks: &str, a_blocks: &str| {
        let mut text = calico_node("serverA", "10.211.55.18", a_blocks);
        text.push_str(&calico_node("serverB", "10.211.55.17", b_blocks));
        Arc::new(Cluster::from_documents(&[("nodes.json".into(), text)]).expect("cluster"))
    };
    let r = run(&s, &opts(&mk("192.168.1.64/26", "192.168.1.0/26")));
    assert!(
        !ids(&r).iter().any(|i| i.starts_with("pod-route")),
        "{:?}",
        r.findings
    );
    let r = run(&s, &opts(&mk("192.168.77.192/26", "192.168.1.64/26")));
    let f = finding(&r, "pod-route-conflict");
    assert!(
        f.title.contains("serverA") && f.title.contains("192.168.1.64/26"),
        "{}",
        f.title
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("expected `192.168.1.64/26 via 10.211.55.18 dev tunl0 onlink`")),
        "{:?}",
        f.evidence
    );
}

/// kubeasz#774: IPIP routes via tunl0 to four nodes' blocks; a fifth node's block has no route.
#[test]
fn kubeasz774_tunl0_routes() {
    let text = fixture("calico/tunl0_and_ipip_routes.txt");
    let section = &text[text.find("## C)").expect("section C")..];
    let (routes, _) = netdoctor_bundle::routen::parse_route_n(section, "route-n.txt");
    assert!(routes.len() >= 8, "{routes:?}");
    let mut s = NodeSnapshot {
        hostname: Some("me".into()),
        ..NodeSnapshot::default()
    };
    s.routes = Some(routes);
    let mut nodes = calico_node("me", "192.168.2.250", "172.20.32.128/26");
    for (i, (ip, b)) in [
        ("192.168.2.248", "172.20.58.192/26"),
        ("192.168.2.247", "172.20.85.192/26"),
        ("192.168.2.246", "172.20.122.128/26"),
        ("192.168.2.249", "172.20.135.128/26"),
    ]
    .iter()
    .enumerate()
    {
        nodes.push_str(&calico_node(&format!("w{i}"), ip, b));
    }
    let c = Arc::new(Cluster::from_documents(&[("n.json".into(), nodes.clone())]).expect("c"));
    let r = run(&s, &opts(&c));
    assert!(
        !ids(&r).iter().any(|i| i.starts_with("pod-route")),
        "{:?}",
        r.findings
    );
    nodes.push_str(&calico_node("w9", "192.168.2.245", "172.20.9.0/26"));
    let c = Arc::new(Cluster::from_documents(&[("n.json".into(), nodes)]).expect("c"));
    let r = run(&s, &opts(&c));
    let f = finding(&r, "pod-route-missing");
    assert!(
        f.title.contains("w9") && f.title.contains("172.20.9.0/26"),
        "{}",
        f.title
    );
}

/// Not a timed test: prints how long the cross-node checks take over 1,000 node snapshots
/// (`cargo test -p netdoctor-checks --release cross_node_bench -- --ignored --nocapture`).
#[test]
#[ignore]
fn cross_node_bench() {
    let n: usize = std::env::var("ND_BENCH_NODES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let c = cluster(n);
    let o = opts(&c);
    let mut total = std::time::Duration::ZERO;
    let (mut mine, mut mine_ctx) = (total, total);
    let mut findings = 0;
    for i in 0..n {
        let s = snapshot(i, n);
        let t = std::time::Instant::now();
        let r = run(&s, &o);
        total += t.elapsed();
        let t = std::time::Instant::now();
        let ctx = crate::Context::new(&s, &o);
        mine_ctx += t.elapsed();
        let t = std::time::Instant::now();
        super::check(&ctx, &mut crate::Outcome::default());
        mine += t.elapsed();
        findings += r.findings.len();
    }
    eprintln!("cross-node checks over {n} snapshots of a {n}-node cluster: {total:?} ({findings} findings)");
    eprintln!("of which: Context::new {mine_ctx:?}, the cluster module {mine:?}");
    assert_eq!(findings, 0);
}
