//! The datapath model on hand-built two-node flannel clusters: each test sets up the state of
//! one situation and checks the verdict, where the packet died and the finding that explains it.

mod common;

use common::{flannel_node, kube_proxy, snapshot, FLANNEL_FILTER};
use netdoctor_model::NodeSnapshot;
use netdoctor_sim::{trace, Cluster, Direction, Proto, Trace, TraceRequest, TraceVerdict};

fn tcp(src: &str, dst: &str, port: u16) -> TraceRequest {
    TraceRequest {
        src: src.parse().expect("src"),
        dst: dst.parse().expect("dst"),
        dport: Some(port),
        proto: Proto::Tcp,
        size: 60,
        endpoint: None,
    }
}

fn run(nodes: Vec<NodeSnapshot>, req: &TraceRequest) -> Trace {
    let c = Cluster::new(nodes, None);
    let t = trace(&c, req);
    eprintln!("{}", t.render_text());
    t
}

fn two(extra0: &str, rules0: &str, extra1: &str, rules1: &str) -> Vec<NodeSnapshot> {
    vec![
        flannel_node(0, extra0, rules0),
        flannel_node(1, extra1, rules1),
    ]
}

fn finding(t: &Trace) -> Option<&str> {
    t.drop.as_ref().and_then(|d| d.finding.as_deref())
}

fn stages(t: &Trace, dir: Direction) -> Vec<String> {
    t.hops
        .iter()
        .filter(|h| h.direction == dir)
        .map(|h| format!("{} {}", h.node, h.stage))
        .collect()
}

#[test]
fn bridged_same_node_goes_through_iptables_with_br_netfilter() {
    let t = run(
        two("", FLANNEL_FILTER, "", FLANNEL_FILTER),
        &tcp("10.244.0.2", "10.244.0.3", 8080),
    );
    assert_eq!(t.verdict, TraceVerdict::Delivered);
    let req = stages(&t, Direction::Request);
    assert!(req.contains(&"n0 bridge".to_string()), "{req:?}");
    assert!(
        req.contains(&"n0 filter/FORWARD".to_string()),
        "bridged traffic meets FORWARD: {req:?}"
    );
    assert!(
        !req.iter().any(|s| s.contains("route")),
        "bridged traffic is not routed: {req:?}"
    );
    assert!(
        !stages(&t, Direction::Reply).is_empty(),
        "the SYN-ACK is traced too"
    );
}

#[test]
fn bridged_traffic_skips_a_forward_drop_without_bridge_nf() {
    let drop_all = FLANNEL_FILTER
        .replace(":FORWARD ACCEPT", ":FORWARD DROP")
        .replace("-A FORWARD -j FLANNEL-FWD\n", "");
    let req = tcp("10.244.0.2", "10.244.0.3", 8080);
    let t = run(two("", &drop_all, "", FLANNEL_FILTER), &req);
    assert_eq!(t.verdict, TraceVerdict::Dropped);
    assert_eq!(finding(&t), Some("forward-policy-drop"));
    let t = run(
        two(
            "sysctl net.bridge.bridge-nf-call-iptables=0",
            &drop_all,
            "",
            FLANNEL_FILTER,
        ),
        &req,
    );
    assert_eq!(t.verdict, TraceVerdict::Delivered, "iptables never sees it");
}

#[test]
fn routed_cross_node_via_vxlan_and_back() {
    let t = run(
        two("", FLANNEL_FILTER, "", FLANNEL_FILTER),
        &tcp("10.244.0.2", "10.244.1.2", 8080),
    );
    assert_eq!(t.verdict, TraceVerdict::Delivered);
    let details: Vec<&str> = t.hops.iter().map(|h| h.detail.as_str()).collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("FDB sends 0e:00:00:00:00:01 to 172.31.255.11")),
        "{details:?}"
    );
    assert!(details
        .iter()
        .any(|d| d.contains("decapsulated on flannel.1")));
    let reply = stages(&t, Direction::Reply);
    assert!(
        reply.contains(&"n1 vxlan".to_string()) && reply.contains(&"n0 vxlan".to_string()),
        "{reply:?}"
    );
}

#[test]
fn dnat_and_the_reply_un_dnat() {
    let rules = kube_proxy(&["10.244.1.2"]);
    let t = run(
        two("", &rules, "", &rules),
        &tcp("10.244.0.2", "10.96.0.10", 80),
    );
    assert_eq!(t.verdict, TraceVerdict::Delivered);
    assert_eq!(t.paths.len(), 1);
    assert_eq!(t.paths[0].endpoint.as_deref(), Some("10.244.1.2:8080"));
    let undnat = t
        .hops
        .iter()
        .find(|h| h.stage == "conntrack")
        .expect("the reply is un-DNATed");
    assert_eq!(undnat.direction, Direction::Reply);
    assert!(undnat.detail.contains("10.96.0.10:80"), "{}", undnat.detail);
}

#[test]
fn hairpin_reply_on_a_bridge_without_bridge_nf_is_caught() {
    let rules = kube_proxy(&["10.244.0.3"]);
    let req = tcp("10.244.0.2", "10.96.0.10", 80);
    let t = run(two("", &rules, "", &rules), &req);
    assert_eq!(t.verdict, TraceVerdict::Delivered);
    let t = run(
        two(
            "sysctl net.bridge.bridge-nf-call-iptables=0",
            &rules,
            "",
            &rules,
        ),
        &req,
    );
    assert_eq!(t.verdict, TraceVerdict::Dropped);
    let d = t.drop.as_ref().expect("drop");
    assert_eq!(d.direction, Direction::Reply);
    assert_eq!(
        d.finding.as_deref(),
        Some("bridge-nf-call-iptables-disabled")
    );
    assert!(d.detail.contains("10.244.0.3:8080"), "{}", d.detail);
    let t = run(two("no-br-netfilter", &rules, "", &rules), &req);
    assert_eq!(finding(&t), Some("br-netfilter-missing"));
}

#[test]
fn forwarding_off_globally_and_per_interface() {
    let req = tcp("10.244.0.2", "10.244.1.2", 8080);
    let t = run(
        two(
            "sysctl net.ipv4.ip_forward=0",
            FLANNEL_FILTER,
            "",
            FLANNEL_FILTER,
        ),
        &req,
    );
    assert_eq!(finding(&t), Some("ip-forward-disabled"));
    let t = run(
        two(
            "",
            FLANNEL_FILTER,
            "sysctl net.ipv4.conf.flannel/1.forwarding=0",
            FLANNEL_FILTER,
        ),
        &req,
    );
    assert_eq!(finding(&t), Some("iface-forwarding-disabled"));
    assert_eq!(t.drop.as_ref().map(|d| d.node.as_str()), Some("n1"));
    // Bridged traffic does not need forwarding.
    let t = run(
        two(
            "sysctl net.ipv4.ip_forward=0",
            FLANNEL_FILTER,
            "",
            FLANNEL_FILTER,
        ),
        &tcp("10.244.0.2", "10.244.0.3", 1),
    );
    assert_eq!(t.verdict, TraceVerdict::Delivered);
}

#[test]
fn rp_filter_strict_drops_an_asymmetric_reply_and_loose_does_not() {
    // Node 0 sends to node 1's pods over eth0; node 1 answers through the overlay.
    let direct = "route 10.244.1.0/25 via 172.31.255.11 dev eth0";
    let req = tcp("10.244.0.2", "10.244.1.2", 8080);
    let strict = format!("{direct}\nsysctl net.ipv4.conf.flannel/1.rp_filter=1");
    let t = run(two(&strict, FLANNEL_FILTER, "", FLANNEL_FILTER), &req);
    assert_eq!(t.verdict, TraceVerdict::Dropped);
    assert_eq!(finding(&t), Some("rp-filter-strict"));
    assert_eq!(t.drop.as_ref().map(|d| d.direction), Some(Direction::Reply));
    // The effective value is max(all, interface): all=1 makes it strict too.
    let all = format!("{direct}\nsysctl net.ipv4.conf.all.rp_filter=1");
    assert_eq!(
        finding(&run(two(&all, FLANNEL_FILTER, "", FLANNEL_FILTER), &req)),
        Some("rp-filter-strict")
    );
    let loose = format!("{direct}\nsysctl net.ipv4.conf.flannel/1.rp_filter=2");
    assert_eq!(
        run(two(&loose, FLANNEL_FILTER, "", FLANNEL_FILTER), &req).verdict,
        TraceVerdict::Delivered
    );
}

#[test]
fn mtu_with_df_counts_the_vxlan_overhead() {
    let mut req = tcp("10.244.0.2", "10.244.1.2", 8080);
    req.proto = Proto::Icmp;
    req.dport = None;
    req.size = 1420;
    let t = run(two("", FLANNEL_FILTER, "", FLANNEL_FILTER), &req);
    assert_eq!(t.verdict, TraceVerdict::Delivered);
    let mut small = flannel_node(0, "", FLANNEL_FILTER);
    for l in small.links.iter_mut().flatten() {
        if l.name == "eth0" {
            l.mtu = Some(1400);
        }
    }
    let nodes = vec![small, flannel_node(1, "", FLANNEL_FILTER)];
    let t = run(nodes.clone(), &req);
    assert_eq!(finding(&t), Some("mtu-mismatch"));
    assert!(t.drop.as_ref().is_some_and(|d| d.detail.contains("1470")));
    req.size = 1300;
    assert_eq!(run(nodes, &req).verdict, TraceVerdict::Delivered);
}

#[test]
fn vxlan_without_fdb_or_with_its_port_blocked() {
    let req = tcp("10.244.0.2", "10.244.1.2", 8080);
    let mut n0 = flannel_node(0, "", FLANNEL_FILTER);
    n0.fdb = Some(Vec::new());
    let t = run(vec![n0, flannel_node(1, "", FLANNEL_FILTER)], &req);
    assert_eq!(finding(&t), Some("vxlan-fdb-missing"));
    let blocked = FLANNEL_FILTER.replace(
        "-A FORWARD -j FLANNEL-FWD\n",
        "-A FORWARD -j FLANNEL-FWD\n-A INPUT -p udp -m udp --dport 8472 -j DROP\n",
    );
    let t = run(two("", FLANNEL_FILTER, "", &blocked), &req);
    assert_eq!(finding(&t), Some("overlay-port-blocked"));
    assert_eq!(
        t.drop.as_ref().map(|d| (d.node.as_str(), d.direction)),
        Some(("n1", Direction::Request))
    );
}

#[test]
fn missing_or_captured_pod_routes_name_their_cause() {
    let req = tcp("10.244.0.2", "10.244.1.2", 8080);
    let mut n0 = flannel_node(0, "", FLANNEL_FILTER);
    n0.routes
        .as_mut()
        .expect("routes")
        .retain(|r| r.dst.to_string() != "10.244.1.0/24");
    let t = run(vec![n0.clone(), flannel_node(1, "", FLANNEL_FILTER)], &req);
    assert_eq!(finding(&t), Some("pod-route-missing"));
    // A leftover device holding the remote node's VTEP address.
    let mut stale = n0.clone();
    let extra = common::snapshot("x", "link tunl0 ipip mtu 1480\naddr tunl0 10.244.1.0/32");
    stale
        .links
        .as_mut()
        .expect("links")
        .extend(extra.links.into_iter().flatten());
    stale
        .addresses
        .as_mut()
        .expect("addrs")
        .extend(extra.addresses.into_iter().flatten());
    let t = run(vec![stale, flannel_node(1, "", FLANNEL_FILTER)], &req);
    assert_eq!(finding(&t), Some("stale-interface-address"));
    // A host network inside the remote pod CIDR captures the traffic.
    let t = run(
        two(
            "addr eth0 10.244.1.126/25",
            FLANNEL_FILTER,
            "",
            FLANNEL_FILTER,
        ),
        &req,
    );
    assert_eq!(finding(&t), Some("pod-cidr-overlap"));
}

#[test]
fn policy_routing_rules_come_before_the_main_table() {
    let extra = "rule 0 lookup 255\nrule 100 from 10.244.0.2/32 lookup 100\nrule 32766 lookup 254\nroute blackhole 10.244.1.0/24 table 100";
    let t = run(
        two(extra, FLANNEL_FILTER, "", FLANNEL_FILTER),
        &tcp("10.244.0.2", "10.244.1.2", 8080),
    );
    assert_eq!(t.verdict, TraceVerdict::Dropped);
    let d = t.drop.as_ref().expect("drop");
    assert_eq!(d.stage, "route");
    assert!(
        t.hops.iter().any(|h| h.detail.contains("rule 100")),
        "{:?}",
        t.hops
    );
    // Another source is not matched by the rule.
    let t = run(
        two(extra, FLANNEL_FILTER, "", FLANNEL_FILTER),
        &tcp("10.244.0.3", "10.244.1.2", 8080),
    );
    assert_eq!(t.verdict, TraceVerdict::Delivered);
}

#[test]
fn service_paths_per_endpoint_and_the_endpoint_flag() {
    let rules = kube_proxy(&["10.244.1.2", "10.244.1.3"]);
    let n1_rules = rules.replace(
        "-A FORWARD -j FLANNEL-FWD\n",
        "-A FORWARD -d 10.244.1.3/32 -j DROP\n-A FORWARD -j FLANNEL-FWD\n",
    );
    let mut req = tcp("10.244.0.2", "10.96.0.10", 80);
    let t = run(two("", &rules, "", &n1_rules), &req);
    assert_eq!(t.paths.len(), 2);
    let total: f64 = t.paths.iter().filter_map(|p| p.probability).sum();
    assert!((total - 1.0).abs() < 1e-6, "{total}");
    assert_eq!(
        t.verdict,
        TraceVerdict::Dropped,
        "one endpoint in two fails: the service is broken"
    );
    assert_eq!(t.drop.as_ref().map(|d| d.node.as_str()), Some("n1"));
    req.endpoint = Some("10.244.1.2".parse().expect("ip"));
    let t = run(two("", &rules, "", &n1_rules), &req);
    assert_eq!(t.verdict, TraceVerdict::Delivered);
    assert_eq!(t.paths.len(), 1);
}

#[test]
fn a_service_without_endpoints_is_rejected() {
    let rules = kube_proxy(&[]);
    let t = run(
        two("", &rules, "", &rules),
        &tcp("10.244.0.2", "10.96.0.10", 80),
    );
    assert_eq!(t.verdict, TraceVerdict::Dropped);
    assert_eq!(finding(&t), Some("service-no-endpoints"));
}

#[test]
fn unknown_names_the_missing_data() {
    let mut n0 = flannel_node(0, "", FLANNEL_FILTER);
    n0.routes = None;
    let t = run(
        vec![n0, flannel_node(1, "", FLANNEL_FILTER)],
        &tcp("10.244.0.2", "10.244.1.2", 8080),
    );
    assert_eq!(t.verdict, TraceVerdict::Unknown);
    assert!(t.paths[0]
        .unknown
        .as_deref()
        .is_some_and(|u| u.contains("routes were not collected")));
    // No rules at all is missing data, not an open firewall.
    let mut n0 = flannel_node(0, "", FLANNEL_FILTER);
    n0.iptables.clear();
    let t = run(
        vec![n0, flannel_node(1, "", FLANNEL_FILTER)],
        &tcp("10.244.0.2", "10.244.1.2", 8080),
    );
    assert_eq!(t.verdict, TraceVerdict::Unknown);
    assert!(t.paths[0]
        .unknown
        .as_deref()
        .is_some_and(|u| u.contains("no iptables or nft rules")));
    // A source no node knows.
    let t = run(
        two("", FLANNEL_FILTER, "", FLANNEL_FILTER),
        &tcp("192.0.2.1", "10.244.1.2", 1),
    );
    assert_eq!(t.verdict, TraceVerdict::Unknown);
}

#[test]
fn nodeport_from_another_node_is_masqueraded_and_answered() {
    let nat = "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 172.31.255.10/32 -p tcp -m tcp --dport 30080 -j MARK --set-xmark 0x4000/0x4000
-A PREROUTING -d 172.31.255.10/32 -p tcp -m tcp --dport 30080 -j DNAT --to-destination 10.244.1.3:8080
-A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE
COMMIT
";
    let rules0 = format!("{nat}{FLANNEL_FILTER}");
    let t = run(
        two("", &rules0, "", FLANNEL_FILTER),
        &tcp("172.31.255.11", "172.31.255.10", 30080),
    );
    assert_eq!(t.verdict, TraceVerdict::Delivered);
    let conntrack: Vec<&str> = t
        .hops
        .iter()
        .filter(|h| h.stage == "conntrack")
        .map(|h| h.detail.as_str())
        .collect();
    assert_eq!(conntrack.len(), 2, "un-SNAT then un-DNAT: {conntrack:?}");
    let _ = snapshot;
}

#[test]
fn nodes_in_different_subnets_reach_each_other_through_the_underlay_router() {
    let mut n0 = flannel_node(0, "", FLANNEL_FILTER);
    let mut n1 = flannel_node(1, "", FLANNEL_FILTER);
    for e in n0.fdb.iter_mut().flatten() {
        e.dst = Some("172.31.2.11".parse().expect("ip"));
    }
    for a in n1
        .addresses
        .iter_mut()
        .flatten()
        .filter(|a| a.ifname == "eth0")
    {
        a.addr = "172.31.2.11".parse().expect("ip");
    }
    for r in n1.routes.iter_mut().flatten() {
        if r.dst.to_string() == "172.31.255.0/24" {
            r.dst = "172.31.2.0/24".parse().expect("net");
            r.prefsrc = Some("172.31.2.11".parse().expect("ip"));
        }
        if r.dst.prefix_len() == 0 {
            r.gateway = Some("172.31.2.1".parse().expect("ip"));
        }
    }
    let t = run(vec![n0, n1], &tcp("10.244.0.2", "10.244.1.2", 8080));
    assert_eq!(t.verdict, TraceVerdict::Delivered);
    assert!(t
        .hops
        .iter()
        .any(|h| h.stage == "wire" && h.detail.contains("gateway 172.31.255.1")));
}

#[test]
fn udp_is_the_request_alone() {
    let mut req = tcp("10.244.0.2", "10.244.1.2", 53);
    req.proto = Proto::Udp;
    let t = run(two("", FLANNEL_FILTER, "", FLANNEL_FILTER), &req);
    assert_eq!(t.verdict, TraceVerdict::Delivered);
    assert!(
        stages(&t, Direction::Reply).is_empty(),
        "no reply is traced for UDP"
    );
    assert!(t
        .hops
        .iter()
        .any(|h| h.detail.contains("udp 10.244.0.2:40000 -> 10.244.1.2:53")));
}
