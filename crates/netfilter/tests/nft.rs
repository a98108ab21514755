//! nft JSON rulesets: kube-proxy's nftables mode and an inet host firewall.

use netdoctor_netfilter::NatKind;
use netdoctor_netfilter::*;

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().expect("ip")
}

fn kube_proxy() -> Ruleset {
    let (rs, errs) = parse_nft_json(&data("kp.json"), "kp.json");
    assert!(errs.is_empty(), "{errs:?}");
    rs
}

fn node() -> HostContext {
    HostContext::with_addresses([
        ("eth0", "192.168.0.2/24".parse().expect("net")),
        ("cni0", "10.0.0.1/24".parse().expect("net")),
    ])
}

#[test]
fn reads_tables_chains_hooks_and_policies() {
    let rs = kube_proxy();
    assert_eq!(rs.origin, Origin::NftJson);
    let kp = rs
        .tables
        .iter()
        .find(|t| t.name == "kube-proxy")
        .expect("table");
    assert_eq!(kp.family, TableFamily::Ip);
    let pre = kp.chain("nat-prerouting").expect("chain");
    let base = pre.base.expect("base chain");
    assert_eq!(
        (base.hook, base.priority, base.kind),
        (Hook::Prerouting, -100, ChainKind::Nat)
    );
    let filter = rs
        .tables
        .iter()
        .find(|t| t.name == "filter")
        .expect("inet filter");
    assert_eq!(filter.family, TableFamily::Inet);
    assert_eq!(
        filter.chain("input").expect("input").policy,
        Some(Policy::Drop)
    );
    // numgen mod 2 became two statistic choices.
    let svc = kp.chain("service-4SW47YFZ-ns4/svc4/tcp/p80").expect("svc");
    assert_eq!(svc.rules.len(), 3);
    assert!(svc.rules[1].text.contains("numgen random mod 2"));
}

#[test]
fn clusterip_enumerates_numgen_endpoints() {
    let rs = kube_proxy();
    let ctx = node();
    let ev = Evaluator::new(&rs, &ctx);
    let pkt = Packet::tcp(ip("10.0.0.7"), ip("172.30.0.44"), 80).in_iface("cni0");
    let res = ev.hook(Hook::Prerouting, &pkt);
    assert!(res.accepted(), "{res:#?}");
    assert_eq!(
        res.dnat_targets(),
        vec![
            ((ip("10.180.0.4"), Some(80)), Some(0.5)),
            ((ip("10.180.0.5"), Some(80)), Some(0.5))
        ]
    );
}

#[test]
fn service_without_endpoints_is_rejected_through_the_map() {
    let rs = kube_proxy();
    let ctx = node();
    let ev = Evaluator::new(&rs, &ctx);
    let pkt = Packet::tcp(ip("10.0.0.7"), ip("172.30.0.46"), 80)
        .in_iface("cni0")
        .out_iface("eth0");
    let res = ev.path(&[Hook::Prerouting, Hook::Forward], &pkt);
    assert_eq!(
        res.verdict(),
        Some(&Verdict::Reject {
            with: "icmp-port-unreachable".into()
        })
    );
    // A ClusterIP on a port it does not serve: cluster-ips-check rejects it too.
    let pkt = Packet::tcp(ip("10.0.0.7"), ip("172.30.0.41"), 81)
        .in_iface("cni0")
        .out_iface("eth0");
    let res = ev.path(&[Hook::Prerouting, Hook::Forward], &pkt);
    assert!(matches!(res.verdict(), Some(Verdict::Reject { .. })));
}

#[test]
fn nodeport_is_dnated_marked_and_masqueraded() {
    let rs = kube_proxy();
    let ctx = node();
    let ev = Evaluator::new(&rs, &ctx);
    let pkt = Packet::tcp(ip("203.0.113.5"), ip("192.168.0.2"), 3001)
        .in_iface("eth0")
        .out_iface("cni0");
    let res = ev.path(&[Hook::Prerouting, Hook::Forward, Hook::Postrouting], &pkt);
    assert!(res.accepted(), "{}", res.outcomes[0].render_trace());
    assert_eq!(res.outcomes.len(), 2);
    for o in &res.outcomes {
        assert!(o.nat.iter().any(|n| n.kind == NatKind::Masquerade));
        assert_eq!(o.packet.src, ip("10.0.0.1"));
        assert_eq!(o.packet.mark, 0, "the masquerade bit is cleared again");
    }
}

#[test]
fn host_firewall_drops_vxlan_and_keeps_ssh() {
    let rs = kube_proxy();
    let ctx = node();
    let ev = Evaluator::new(&rs, &ctx);
    let vxlan = Packet::udp(ip("192.168.0.3"), ip("192.168.0.2"), 8472).in_iface("eth0");
    let res = ev.path(&[Hook::Prerouting, Hook::Input], &vxlan);
    assert!(res.dropped());
    assert!(res.outcomes[0]
        .deciding_rule()
        .expect("rule")
        .text
        .contains("udp dport 8472 drop"));
    let ssh = Packet::tcp(ip("192.168.0.3"), ip("192.168.0.2"), 22).in_iface("eth0");
    assert!(ev.path(&[Hook::Prerouting, Hook::Input], &ssh).accepted());
    // The NodePort range is open on eth* only; elsewhere the policy drops.
    let np = Packet::tcp(ip("192.168.5.5"), ip("192.168.0.2"), 30080).in_iface("eth0");
    assert!(ev.path(&[Hook::Prerouting, Hook::Input], &np).accepted());
    let np = Packet::tcp(ip("192.168.5.5"), ip("192.168.0.2"), 30080).in_iface("wg0");
    let res = ev.path(&[Hook::Prerouting, Hook::Input], &np);
    assert!(res.dropped());
    assert!(res.outcomes[0]
        .trace
        .iter()
        .any(|s| matches!(&s.action, Action::Policy { verdict } if verdict == "DROP")));
}

#[test]
fn iptables_nft_rules_are_opaque_and_say_where_to_look() {
    let (rs, errs) = parse_nft_json(&data("xtnat.json"), "xtnat.json");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].message.contains("iptables-nft-save"), "{}", errs[0]);
    let ctx = node();
    let ev = Evaluator::new(&rs, &ctx);
    let out = Packet::tcp(ip("10.244.1.2"), ip("8.8.8.8"), 443).out_iface("eth0");
    match ev.hook(Hook::Postrouting, &out).verdict() {
        Some(Verdict::Unknown {
            at: Some(r),
            reason,
        }) => {
            assert!(reason.contains("iptables-nft-save"), "{reason}");
            assert!(r.text.contains("xt target MASQUERADE"), "{}", r.text);
        }
        other => panic!("expected unknown, got {other:?}"),
    }
    // Decided without the opaque target: the rule's own matches exclude pod-to-pod traffic.
    let inner = Packet::tcp(ip("10.244.1.2"), ip("10.244.2.2"), 443).out_iface("flannel.1");
    assert!(ev.hook(Hook::Postrouting, &inner).accepted());
}

#[test]
fn garbage_json_is_an_error_not_a_panic() {
    let (rs, errs) = parse_nft_json("{\"nftables\": [", "x.json");
    assert!(rs.tables.is_empty());
    assert_eq!(errs.len(), 1);
    assert!(errs[0].to_string().starts_with("x.json:"));
}
