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
    "/../../tests/fixtures/realworld/"
);

pub(super) fn fixture(name: &str) -> String {
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

pub(super) fn opts(c: &Arc<Cluster>) -> Options {
    Options {
        cluster: Some(c.clone()),
        ..Options::default()
    }
}

pub(super) fn ids(r: &CheckReport) -> Vec<&str> {
    r.findings.iter().map(|f| f.id.as_str()).collect()
}

pub(super) fn finding<'a>(r: &'a CheckReport, id: &str) -> &'a netdoctor_model::Finding {
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
        text: "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment \"default/kubernetes:https cluster IP\" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y\nCOMMIT\n".to_string().into(),
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
    ).into();
    assert!(!ids(&run(&s, &opts(&c))).contains(&"kube-proxy-rules-missing"));
}

/// kube-proxy's nftables mode, pasted as `nft list ruleset` text: a Service with endpoints
/// but no element in the `service-ips` verdict map is missing from this node.
#[test]
fn missing_kube_proxy_rules_in_nftables_mode() {
    let extra = r#"
      {"kind":"Service","metadata":{"name":"web","namespace":"default"},"spec":{"clusterIP":"10.96.0.20","ports":[{"name":"http","port":80,"protocol":"TCP"}],"selector":{"app":"web"}}}
      {"kind":"Service","metadata":{"name":"api","namespace":"default"},"spec":{"clusterIP":"10.96.0.40","ports":[{"port":443,"protocol":"TCP"}],"selector":{"app":"api"}}}
      {"kind":"EndpointSlice","metadata":{"name":"web-1","namespace":"default","labels":{"kubernetes.io/service-name":"web"}},"endpoints":[{"addresses":["10.100.1.5"],"conditions":{"ready":true}}],"ports":[{"name":"http","port":8080}]}
      {"kind":"EndpointSlice","metadata":{"name":"api-1","namespace":"default","labels":{"kubernetes.io/service-name":"api"}},"endpoints":[{"addresses":["10.100.1.7"],"conditions":{"ready":true}}],"ports":[{"port":8443}]}"#;
    let c = Arc::new(
        Cluster::from_documents(&[("all.json".into(), cluster_text(2, extra))]).expect("cluster"),
    );
    let mut s = snapshot(0, 2);
    let ruleset = "table ip kube-proxy {\n\tmap service-ips {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n\t\telements = { 10.96.0.1 . tcp . 443 : goto service-2QRHZV4L-default/kubernetes/tcp/https,\n\t\t\t     10.96.0.20 . tcp . 80 : goto service-ULMVA6XW-default/web/tcp/http }\n\t}\n\tchain services {\n\t\tip daddr . meta l4proto . th dport vmap @service-ips\n\t}\n\tchain nat-prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tjump services\n\t}\n}\n";
    s.nft_text = Some(netdoctor_model::Sourced::new(
        ruleset.to_string(),
        Source::at("nft.txt", 1),
    ));
    let r = run(&s, &opts(&c));
    let f = finding(&r, "kube-proxy-rules-missing");
    assert!(
        f.title.contains("default/api") && !f.title.contains("web"),
        "{}",
        f.title
    );
    assert!(
        f.evidence[0].contains("service-ips map"),
        "{:?}",
        f.evidence
    );
    // Cut before its end, the listing proves nothing missing.
    s.nft_text = Some(netdoctor_model::Sourced::new(
        ruleset[..ruleset.len() - 3].to_string(),
        Source::at("nft.txt", 1),
    ));
    assert!(!ids(&run(&s, &opts(&c))).contains(&"kube-proxy-rules-missing"));
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
