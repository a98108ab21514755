//! What packets do in the real dumps of the fixtures.

mod common;
use common::*;
use netdoctor_netfilter::NatKind;
use netdoctor_netfilter::*;

/// The v1.30 test node: 192.168.0.2 on eth0, pod CIDR 10.0.0.0/8 behind cni0.
fn node() -> HostContext {
    HostContext::with_addresses([
        ("eth0", "192.168.0.2/24".parse().expect("net")),
        ("cni0", "10.0.0.1/24".parse().expect("net")),
    ])
}

fn overall() -> Ruleset {
    let (rs, errs) = parse_fixture("kubeproxy_test_overall_v1.30.rules", KUBE_PROXY_JUMPS);
    assert!(errs.is_empty(), "{errs:?}");
    rs
}

#[test]
fn overall_nodeport_of_etp_local_service_without_local_endpoints_is_dropped() {
    let rs = overall();
    let ctx = node();
    let ev = Evaluator::new(&rs, &ctx);
    let pkt = Packet::tcp(ip("203.0.113.9"), ip("192.168.0.2"), 3001).in_iface("eth0");
    let res = ev.path(&[Hook::Prerouting, Hook::Input], &pkt);
    assert!(res.dropped(), "{res:#?}");
    for o in &res.outcomes {
        let rule = o.deciding_rule().expect("a rule decided");
        assert_eq!(rule.table, "filter");
        assert_eq!(rule.chain, "KUBE-EXTERNAL-SERVICES");
        assert!(rule.text.contains("has no local endpoints") && rule.text.contains("--dport 3001"));
        assert!(o.nat.is_empty(), "no DNAT without local endpoints");
    }
    // The same NodePort of an ETP=Cluster service (svc3, 3003) is DNATed and accepted.
    let pkt = Packet::tcp(ip("203.0.113.9"), ip("192.168.0.2"), 3003)
        .in_iface("eth0")
        .out_iface("cni0");
    let res = ev.path(&[Hook::Prerouting, Hook::Forward, Hook::Postrouting], &pkt);
    assert!(res.accepted(), "{res:#?}");
    assert_eq!(
        res.dnat_targets(),
        vec![((ip("10.180.0.3"), Some(80)), Some(1.0))]
    );
    // Marked for masquerade, so POSTROUTING rewrites the source to cni0's address.
    let o = &res.outcomes[0];
    assert!(o
        .nat
        .iter()
        .any(|n| n.kind == NatKind::Masquerade && n.to.0 == Some(ip("10.0.0.1"))));
    assert_eq!(o.packet.src, ip("10.0.0.1"));
    assert_eq!(
        o.packet.mark & 0x4000,
        0,
        "KUBE-POSTROUTING clears the masquerade bit"
    );
}

#[test]
fn overall_clusterip_dnats_to_one_of_the_endpoints_with_probabilities() {
    let rs = overall();
    let ctx = node();
    let ev = Evaluator::new(&rs, &ctx);
    let pkt = Packet::tcp(ip("10.0.0.7"), ip("172.30.0.44"), 80).in_iface("cni0");
    let res = ev.hook(Hook::Prerouting, &pkt);
    assert!(res.accepted());
    let targets = res.dnat_targets();
    assert_eq!(
        targets,
        vec![
            ((ip("10.180.0.4"), Some(80)), Some(0.5)),
            ((ip("10.180.0.5"), Some(80)), Some(0.5)),
        ]
    );
    // A pod source is not marked for masquerade; a source outside the cluster CIDR is.
    assert!(res.outcomes.iter().all(|o| o.packet.mark == 0));
    let from_node = Packet::tcp(ip("192.168.0.9"), ip("172.30.0.44"), 80).in_iface("eth0");
    let res = ev.hook(Hook::Prerouting, &from_node);
    assert!(res.outcomes.iter().all(|o| o.packet.mark & 0x4000 != 0));
    // A statistic choice shows in each outcome's choices and trace.
    assert!(res.outcomes.iter().all(|o| o.choices.len() == 1));
}

#[test]
fn overall_service_without_endpoints_is_rejected() {
    let rs = overall();
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
    let rule = res.outcomes[0].deciding_rule().expect("rule");
    assert!(rule.text.contains("ns6/svc6:p80 has no endpoints"));
    // Another port of that address is not touched.
    let pkt = Packet::tcp(ip("10.0.0.7"), ip("172.30.0.46"), 81)
        .in_iface("cni0")
        .out_iface("eth0");
    assert!(ev.path(&[Hook::Prerouting, Hook::Forward], &pkt).accepted());
}

#[test]
fn overall_loadbalancer_source_ranges() {
    let rs = overall();
    let ctx = node();
    let ev = Evaluator::new(&rs, &ctx);
    let hooks = [Hook::Prerouting, Hook::Forward, Hook::Postrouting];
    let allowed = Packet::tcp(ip("203.0.113.7"), ip("5.6.7.8"), 80)
        .in_iface("eth0")
        .out_iface("cni0");
    let res = ev.path(&hooks, &allowed);
    assert!(res.accepted(), "{res:#?}");
    // ClientIP affinity: whether the client is in the recent list is unknown, both paths
    // lead to the single endpoint.
    assert!(res.outcomes.len() >= 2);
    assert!(res
        .outcomes
        .iter()
        .all(|o| o.dnat_target() == Some((ip("10.180.0.3"), Some(80)))));
    assert!(res.outcomes.iter().any(|o| o.probability.is_none()));
    let denied = Packet::tcp(ip("198.51.100.1"), ip("5.6.7.8"), 80)
        .in_iface("eth0")
        .out_iface("cni0");
    let res = ev.path(&hooks, &denied);
    assert!(res.dropped(), "{res:#?}");
    let rule = res.outcomes[0].deciding_rule().expect("rule");
    assert_eq!(rule.chain, "KUBE-PROXY-FIREWALL");
}

#[test]
fn overall_established_packets_skip_nat() {
    let rs = overall();
    let ctx = node();
    let ev = Evaluator::new(&rs, &ctx);
    let pkt = Packet::tcp(ip("10.0.0.7"), ip("172.30.0.44"), 80)
        .in_iface("cni0")
        .ct_state(CtState::Established);
    let res = ev.hook(Hook::Prerouting, &pkt);
    assert_eq!(res.outcomes.len(), 1);
    assert!(res.outcomes[0].nat.is_empty());
    assert!(res.outcomes[0]
        .trace
        .iter()
        .any(|s| matches!(s.action, Action::SkipTable { .. })));
}

#[test]
fn badips_loadbalancer_source_ranges() {
    let (rs, errs) = parse_fixture(
        "kubeproxy_test_badips_loadbalancer_sourceranges.rules",
        KUBE_PROXY_JUMPS,
    );
    assert!(errs.is_empty(), "{errs:?}");
    let ctx = node();
    let ev = Evaluator::new(&rs, &ctx);
    let hooks = [Hook::Prerouting, Hook::Forward];
    let ok = Packet::tcp(ip("203.0.113.1"), ip("1.2.3.4"), 80)
        .in_iface("eth0")
        .out_iface("cni0");
    let res = ev.path(&hooks, &ok);
    assert!(res.accepted());
    assert_eq!(
        res.dnat_targets(),
        vec![((ip("10.180.0.1"), Some(80)), Some(1.0))]
    );
    let bad = Packet::tcp(ip("8.8.8.8"), ip("1.2.3.4"), 80)
        .in_iface("eth0")
        .out_iface("cni0");
    assert!(ev.path(&hooks, &bad).dropped());
    // The external IP is open to everybody.
    let ext = Packet::tcp(ip("8.8.8.8"), ip("192.168.99.22"), 80)
        .in_iface("eth0")
        .out_iface("cni0");
    assert!(ev.path(&hooks, &ext).accepted());
}

#[test]
fn repeated_syncs() {
    let ctx = node();
    let (rs1, _) = parse_fixture(
        "kubeproxy_test_repeated_1_initial_two_clusterip.rules",
        KUBE_PROXY_JUMPS,
    );
    let ev = Evaluator::new(&rs1, &ctx);
    let pkt = Packet::tcp(ip("10.0.0.7"), ip("172.30.0.42"), 8080).in_iface("cni0");
    assert_eq!(
        ev.hook(Hook::Prerouting, &pkt).dnat_targets(),
        vec![((ip("10.0.2.1"), Some(8080)), Some(1.0))]
    );

    // The partial sync references chains it does not carry: precisely unknown, naming the rule.
    let (rs2, _) = parse_fixture(
        "kubeproxy_test_repeated_2_partial_sync_no_endpoints_reject.rules",
        KUBE_PROXY_JUMPS,
    );
    let ev = Evaluator::new(&rs2, &ctx);
    let pkt = Packet::tcp(ip("10.0.0.7"), ip("172.30.0.41"), 80).in_iface("cni0");
    let res = ev.hook(Hook::Prerouting, &pkt);
    match res.verdict() {
        Some(Verdict::Unknown {
            at: Some(r),
            reason,
        }) => {
            assert!(r.text.contains("-j KUBE-SVC-XPGD46QRK7WJZT7O"), "{r}");
            assert!(reason.contains("not in this dump"), "{reason}");
        }
        other => panic!("expected unknown, got {other:?}"),
    }
    // ...while the new service without endpoints is rejected by a rule it does carry.
    let pkt = Packet::tcp(ip("10.0.0.7"), ip("172.30.0.44"), 80)
        .in_iface("cni0")
        .out_iface("eth0");
    let res = ev.hook(Hook::Forward, &pkt);
    assert!(
        matches!(res.verdict(), Some(Verdict::Reject { .. })),
        "{res:#?}"
    );

    let (rs3, _) = parse_fixture(
        "kubeproxy_test_repeated_3_full_resync_after_delete.rules",
        KUBE_PROXY_JUMPS,
    );
    let ev = Evaluator::new(&rs3, &ctx);
    let pkt = Packet::tcp(ip("10.0.0.7"), ip("172.30.0.43"), 80).in_iface("cni0");
    let t = ev.hook(Hook::Prerouting, &pkt).dnat_targets();
    assert_eq!(t.len(), 2);
    assert!(t.iter().all(|(_, p)| *p == Some(0.5)));
}

#[test]
fn docker_published_port_icc_false_and_raw_protection() {
    let (rs, errs) = parse_fixture(
        "moby_docker_bridge_golden_icc_false_masq__iptables-save.rules",
        "",
    );
    assert!(errs.is_empty());
    let ctx = HostContext::with_addresses([
        ("eth0", "10.10.0.5/24".parse().expect("net")),
        ("br-dummy", "192.168.0.1/24".parse().expect("net")),
    ]);
    let ev = Evaluator::new(&rs, &ctx);
    let published = Packet::tcp(ip("10.10.0.9"), ip("10.10.0.5"), 8080)
        .in_iface("eth0")
        .out_iface("br-dummy");
    let res = ev.path(
        &[Hook::Prerouting, Hook::Forward, Hook::Postrouting],
        &published,
    );
    assert!(res.accepted(), "{}", res.outcomes[0].render_trace());
    assert_eq!(
        res.dnat_targets(),
        vec![((ip("192.168.0.2"), Some(80)), Some(1.0))]
    );
    // icc=false: container to container on the same bridge is dropped.
    let icc = Packet::tcp(ip("192.168.0.3"), ip("192.168.0.2"), 80)
        .in_iface("br-dummy")
        .out_iface("br-dummy");
    let res = ev.path(&[Hook::Prerouting, Hook::Forward], &icc);
    assert!(res.dropped());
    assert!(res.outcomes[0]
        .deciding_rule()
        .expect("rule")
        .text
        .contains("-i br-dummy -o br-dummy -j DROP"));
    // Reaching the container address directly from outside dies in raw PREROUTING.
    let direct = Packet::tcp(ip("10.10.0.9"), ip("192.168.0.2"), 80).in_iface("eth0");
    let res = ev.hook(Hook::Prerouting, &direct);
    assert!(res.dropped());
    assert_eq!(res.outcomes[0].deciding_rule().expect("rule").table, "raw");
    // The container's own traffic out is masqueraded to eth0's address.
    let out = Packet::tcp(ip("192.168.0.2"), ip("1.1.1.1"), 443)
        .in_iface("br-dummy")
        .out_iface("eth0");
    let res = ev.path(&[Hook::Prerouting, Hook::Forward, Hook::Postrouting], &out);
    assert!(res.accepted());
    assert_eq!(res.outcomes[0].packet.src, ip("10.10.0.5"));
}

#[test]
fn userspace_era_dump_with_counters_and_recent() {
    let (rs, _) = parse_fixture(
        "kubeproxy_test_getchainlines_userspace_2015_iptables-save.txt",
        "",
    );
    let ctx = HostContext::with_addresses([("eth0", "10.0.2.15/24".parse().expect("net"))]);
    let ev = Evaluator::new(&rs, &ctx);
    let dns = Packet::udp(ip("10.246.1.5"), ip("10.247.0.10"), 53).in_iface("cbr0");
    let res = ev.hook(Hook::Prerouting, &dns);
    assert_eq!(
        res.dnat_targets(),
        vec![((ip("10.246.1.2"), Some(53)), Some(1.0))]
    );
    // Pod traffic leaving the node is masqueraded (`! -o cbr0`), pod-to-pod on cbr0 is not.
    let out = Packet::tcp(ip("10.246.1.5"), ip("8.8.8.8"), 443).out_iface("eth0");
    let res = ev.hook(Hook::Postrouting, &out);
    assert_eq!(res.outcomes[0].packet.src, ip("10.0.2.15"));
    let local = Packet::tcp(ip("10.246.1.5"), ip("10.246.1.6"), 443).out_iface("cbr0");
    assert!(ev.hook(Hook::Postrouting, &local).outcomes[0]
        .nat
        .is_empty());
}

#[test]
fn fragments_are_unknown_where_a_line_was_cut() {
    let (rs, _) = parse_fixture("real_issue_dumps_fragments.txt", "");
    let ctx = HostContext::with_addresses([("eth0", "192.168.1.10/24".parse().expect("net"))]);
    let ev = Evaluator::new(&rs, &ctx);
    let text = fixture("real_issue_dumps_fragments.txt");
    let cut = text
        .lines()
        .position(|l| l.contains("-A KUBE-FORWARD -d 10.42.0["))
        .expect("line")
        + 1;
    // k3s#1104: pod-to-pod forwarding passes KUBE-FORWARD, whose 4th rule was cut off.
    let pkt = Packet::tcp(ip("10.42.1.2"), ip("10.42.2.3"), 80)
        .in_iface("cni0")
        .out_iface("flannel.1");
    let res = ev.hook(Hook::Forward, &pkt);
    match res.verdict() {
        Some(Verdict::Unknown { reason, .. }) => {
            assert!(reason.contains(&format!("line {cut}")), "{reason}")
        }
        other => panic!("expected unknown, got {other:?}"),
    }
    // A packet accepted before reaching the cut is decided: KUBE-FORWARD's mark rule.
    let marked = pkt.clone().mark(0x4000);
    assert!(ev.hook(Hook::Forward, &marked).accepted());
}
