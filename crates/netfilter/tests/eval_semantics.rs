//! Kernel semantics on small hand-written rule sets (the kernel differential tests check the
//! same against real namespaces when run as root).

use netdoctor_netfilter::*;

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().expect("ip")
}

fn eval(rules: &str, pkt: &Packet, hook: Hook) -> Evaluation {
    let (rs, errs) = parse_iptables_save(rules, "t");
    assert!(errs.is_empty(), "{errs:?}");
    let ctx = HostContext::with_addresses([("eth0", "192.168.0.2/24".parse().expect("net"))]);
    Evaluator::new(&rs, &ctx).hook(hook, pkt)
}

const GOTO: &str = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n\
-A FORWARD -j A\n-A FORWARD -j ACCEPT\n-A A -p tcp -g B\n-A A -j DROP\n-A B -d 10.0.0.3 -j RETURN\n-A B -j ACCEPT\nCOMMIT\n";

#[test]
fn return_from_a_goto_chain_returns_to_the_caller_of_the_goto_ing_chain() {
    // B was entered by goto from A (itself jumped to from FORWARD): RETURN goes back to
    // FORWARD's next rule (ACCEPT), skipping A's DROP.
    let p = Packet::tcp(ip("10.0.0.1"), ip("10.0.0.3"), 80)
        .in_iface("a")
        .out_iface("b");
    let res = eval(GOTO, &p, Hook::Forward);
    assert!(res.accepted());
    let o = &res.outcomes[0];
    assert_eq!(o.deciding_rule().expect("rule").line, 8);
    // UDP skips the goto and hits A's DROP.
    let u = Packet::udp(ip("10.0.0.1"), ip("10.0.0.3"), 53)
        .in_iface("a")
        .out_iface("b");
    assert!(eval(GOTO, &u, Hook::Forward).dropped());
}

#[test]
fn goto_from_the_base_chain_returns_to_the_policy() {
    let rules = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:B - [0:0]\n-A FORWARD -g B\n-A FORWARD -j ACCEPT\n-A B -j RETURN\nCOMMIT\n";
    let p = Packet::tcp(ip("10.0.0.1"), ip("10.0.0.3"), 80)
        .in_iface("a")
        .out_iface("b");
    let res = eval(rules, &p, Hook::Forward);
    assert!(res.dropped());
    assert!(res.outcomes[0]
        .trace
        .iter()
        .any(|s| matches!(&s.action, Action::Policy { verdict } if verdict == "DROP")));
}

#[test]
fn negation_marks_and_connmark() {
    let rules = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
-A PREROUTING ! -s 10.0.0.0/8 -j MARK --set-xmark 0x10/0x30\n-A PREROUTING -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff\n-A PREROUTING -m mark --mark 0x10/0x10 -j MARK --and-mark 0x0\n-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xf0 --ctmask 0xf0\nCOMMIT\n";
    let outside = Packet::tcp(ip("192.168.1.1"), ip("192.168.0.2"), 22)
        .in_iface("eth0")
        .mark(0x21);
    let o = &eval(rules, &outside, Hook::Prerouting).outcomes[0];
    // 0x21 -> (0x21 & !0x30) ^ 0x10 = 0x11; ctmark = 0x11; mark & 0 = 0; restore: (0 & !0xf0) ^ (0x11 & 0xf0) = 0x10.
    assert_eq!(o.packet.ct.mark, 0x11);
    assert_eq!(o.packet.mark, 0x10);
    let inside = Packet::tcp(ip("10.1.1.1"), ip("192.168.0.2"), 22)
        .in_iface("eth0")
        .mark(0x21);
    let o = &eval(rules, &inside, Hook::Prerouting).outcomes[0];
    assert_eq!(o.packet.ct.mark, 0x21);
    assert_eq!(
        o.packet.mark, 0x21,
        "restore puts back the same high nibble"
    );
}

#[test]
fn unknown_matches_never_guess_but_harmless_ones_are_skipped() {
    let rules = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
-A INPUT -m limit --limit 3/min -j LOG --log-prefix \"x \"\n-A INPUT -p tcp --dport 22 -m owner --uid-owner 0 -j ACCEPT\n-A INPUT -p udp -m set --match-set allowed src -j ACCEPT\nCOMMIT\n";
    let ssh = Packet::tcp(ip("192.168.0.9"), ip("192.168.0.2"), 22).in_iface("eth0");
    match eval(rules, &ssh, Hook::Input).verdict() {
        Some(Verdict::Unknown {
            at: Some(r),
            reason,
        }) => {
            assert_eq!(r.line, 6);
            assert!(reason.contains("owner"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Port 80: the owner rule is false by its port, whatever the owner; then the policy.
    let web = Packet::tcp(ip("192.168.0.9"), ip("192.168.0.2"), 80).in_iface("eth0");
    assert!(eval(rules, &web, Hook::Input).dropped());
    // An unknown ipset is unknown...
    let dns = Packet::udp(ip("192.168.0.9"), ip("192.168.0.2"), 53).in_iface("eth0");
    assert!(eval(rules, &dns, Hook::Input).has_unknown());
    // ...and known when its members are given.
    let (rs, _) = parse_iptables_save(rules, "t");
    let mut ctx = HostContext::with_addresses([("eth0", "192.168.0.2/24".parse().expect("net"))]);
    ctx.ipsets.insert(
        "allowed".into(),
        IpSetContents {
            nets: vec!["192.168.0.0/28".parse().expect("net")],
            has_non_address_members: false,
        },
    );
    assert!(Evaluator::new(&rs, &ctx).hook(Hook::Input, &dns).accepted());
}

#[test]
fn notrack_in_raw_skips_nat_and_addrtype_uses_local_addresses() {
    let rules = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -p udp --dport 8472 -j NOTRACK\nCOMMIT\n\
*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j DNAT --to-destination 10.9.9.9\nCOMMIT\n";
    let vx = Packet::udp(ip("192.168.0.3"), ip("192.168.0.2"), 8472).in_iface("eth0");
    let o = &eval(rules, &vx, Hook::Prerouting).outcomes[0];
    assert!(o.nat.is_empty());
    assert_eq!(o.packet.ct.state, CtState::Untracked);
    let dns = Packet::udp(ip("192.168.0.3"), ip("192.168.0.2"), 53).in_iface("eth0");
    assert_eq!(
        eval(rules, &dns, Hook::Prerouting).outcomes[0].packet.dst,
        ip("10.9.9.9")
    );
    let remote = Packet::udp(ip("192.168.0.3"), ip("192.168.0.7"), 53).in_iface("eth0");
    assert!(eval(rules, &remote, Hook::Prerouting).outcomes[0]
        .nat
        .is_empty());
    // Without host addresses, addrtype is unknown.
    let (rs, _) = parse_iptables_save(rules, "t");
    let none = HostContext::default();
    assert!(Evaluator::new(&rs, &none)
        .hook(Hook::Prerouting, &dns)
        .has_unknown());
}

#[test]
fn chooser_picks_one_branch() {
    let rules = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
-A PREROUTING -m statistic --mode random --probability 0.3 -j DNAT --to-destination 10.0.0.1\n-A PREROUTING -j DNAT --to-destination 10.0.0.2\nCOMMIT\n";
    let (rs, _) = parse_iptables_save(rules, "t");
    let ctx = HostContext::default();
    let ev = Evaluator::new(&rs, &ctx);
    let p = Packet::tcp(ip("1.1.1.1"), ip("2.2.2.2"), 80).in_iface("eth0");
    let all = ev.hook(Hook::Prerouting, &p);
    let t = all.dnat_targets();
    assert_eq!(t.len(), 2);
    assert!((t[0].1.expect("p") - 0.3).abs() < 1e-9 && (t[1].1.expect("p") - 0.7).abs() < 1e-9);
    let picked = ev.hook_with(Hook::Prerouting, &p, &mut |_| false);
    assert_eq!(picked.packet.dst, ip("10.0.0.2"));
}
