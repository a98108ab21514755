//! Every real dump in the fixtures parses; broken lines are reported with file and line, and
//! the rest is kept.

mod common;
use common::*;
use netdoctor_netfilter::*;

const COMPLETE: &[&str] = &[
    "kubeproxy_test_badips_loadbalancer_sourceranges.rules",
    "kubeproxy_test_getchainlines_userspace_2015_iptables-save.txt",
    "kubeproxy_test_overall_v1.30.rules",
    "kubeproxy_test_repeated_1_initial_two_clusterip.rules",
    "kubeproxy_test_repeated_2_partial_sync_no_endpoints_reject.rules",
    "kubeproxy_test_repeated_3_full_resync_after_delete.rules",
    "moby_docker_bridge_golden_icc_false_masq__iptables-save.rules",
];

#[test]
fn every_complete_dump_parses_without_error() {
    for name in COMPLETE {
        let (rs, errs) = parse_fixture(name, "");
        assert!(errs.is_empty(), "{name}: {errs:?}");
        assert!(
            rs.tables.iter().all(|t| t.committed),
            "{name}: uncommitted table"
        );
        assert!(
            rs.tables.iter().map(Table::rule_count).sum::<usize>() > 10,
            "{name}"
        );
        // Every line that starts with -A became a rule.
        let text = fixture(name);
        let appends = text.lines().filter(|l| l.starts_with("-A ")).count();
        let rules: usize = rs.tables.iter().map(Table::rule_count).sum();
        assert_eq!(appends, rules, "{name}");
    }
}

#[test]
fn rules_keep_text_and_line() {
    let name = "kubeproxy_test_overall_v1.30.rules";
    let (rs, _) = parse_fixture(name, "");
    let text = fixture(name);
    let lines: Vec<&str> = text.lines().collect();
    for t in &rs.tables {
        for c in &t.chains {
            for r in &c.rules {
                assert_eq!(&*r.text, lines[r.line as usize - 1]);
            }
        }
    }
    let nat = rs.tables.iter().find(|t| t.name == "nat").expect("nat");
    let sep = nat.chain("KUBE-SEP-C6EBXVWJJZMIWKLZ").expect("sep chain");
    assert_eq!(sep.rules[1].comment(), Some("ns4/svc4:p80"));
    match &sep.rules[1].target {
        Some(Target::Dnat { to, .. }) => assert_eq!(to[0].to_string(), "10.180.0.5:80"),
        other => panic!("expected DNAT, got {other:?}"),
    }
}

#[test]
fn partial_sync_records_undeclared_chains() {
    let (rs, errs) = parse_fixture(
        "kubeproxy_test_repeated_2_partial_sync_no_endpoints_reject.rules",
        "",
    );
    assert!(errs.is_empty(), "{errs:?}");
    let nat = rs.tables.iter().find(|t| t.name == "nat").expect("nat");
    let svc = nat
        .chain("KUBE-SVC-XPGD46QRK7WJZT7O")
        .expect("referenced chain recorded");
    assert!(!svc.is_declared());
    assert!(svc.first_reference.is_some());
    assert!(nat.chain("KUBE-SERVICES").expect("declared").is_declared());
}

#[test]
fn full_resync_records_deleted_chains() {
    let (rs, _) = parse_fixture(
        "kubeproxy_test_repeated_3_full_resync_after_delete.rules",
        "",
    );
    let nat = rs.tables.iter().find(|t| t.name == "nat").expect("nat");
    let deleted: Vec<&str> = nat.deleted_chains.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        deleted,
        ["KUBE-SEP-AYCN5HPXMIRJNJXU", "KUBE-SVC-4SW47YFZTEDKD3PK"]
    );
}

#[test]
fn counters_and_header_of_a_real_save() {
    let (rs, errs) = parse_fixture(
        "kubeproxy_test_getchainlines_userspace_2015_iptables-save.txt",
        "",
    );
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(rs.generated_by.as_deref(), Some("iptables-save v1.4.21"));
    let filter = rs
        .tables
        .iter()
        .find(|t| t.name == "filter")
        .expect("filter");
    let input = filter.chain("INPUT").expect("INPUT");
    assert_eq!(input.policy, Some(Policy::Accept));
    assert_eq!(
        input.counters,
        Some(Counters {
            packets: 17514,
            bytes: 83115836
        })
    );
}

#[test]
fn pasted_fragments_report_each_broken_line_and_keep_the_rest() {
    let name = "real_issue_dumps_fragments.txt";
    let (rs, errs) = parse_fixture(name, "");
    let text = fixture(name);
    let line_of = |needle: &str| -> u32 {
        text.lines()
            .position(|l| l.contains(needle))
            .expect("needle in fixture") as u32
            + 1
    };
    let at = |l: u32| errs.iter().find(|e| e.line == l);
    let k3s_cut = line_of("-A KUBE-FORWARD -d 10.42.0[");
    let e = at(k3s_cut).expect("error on the truncated k3s line");
    assert_eq!(e.kind, ErrorKind::Truncated);
    assert!(
        e.to_string().starts_with(&format!("{name}:{k3s_cut}: ")),
        "{e}"
    );
    assert!(at(line_of("-j RETU[RN")).is_some());
    assert!(at(line_of("--set-xm[ark")).is_some());
    // The `iptables -L` listing is reported once per block, not line by line.
    let listing = errs
        .iter()
        .filter(|e| e.kind == ErrorKind::NotADump)
        .count();
    assert_eq!(listing, 2, "{errs:?}");
    // The rest still parses: the k3s FORWARD chain, the old kube-proxy KUBE-SERVICES lines
    // and the kubo `iptables -t nat -S` policies.
    let filter = rs
        .tables
        .iter()
        .find(|t| t.name == "filter")
        .expect("filter");
    assert_eq!(filter.chain("FORWARD").expect("FORWARD").rules.len(), 4);
    let nat = rs.tables.iter().find(|t| t.name == "nat").expect("nat");
    assert!(nat.chain("KUBE-SERVICES").expect("svc").rules.len() >= 10);
    assert!(nat
        .chain("KUBE-SEP-3WA7XSG26NELCLNG")
        .expect("-N chain")
        .is_declared());
    // The cut rule is remembered at its place in its chain.
    let kf = filter.chain("KUBE-FORWARD").expect("KUBE-FORWARD");
    assert_eq!(kf.unreadable, vec![(3, k3s_cut)]);
}

#[test]
fn blog_slices_parse_with_the_table_inferred() {
    let name = "real_xlb_externalTrafficPolicy_local_vs_cluster__sn0rt_blog_2020.txt";
    let (rs, errs) = parse_fixture(name, "");
    let assumption = errs
        .iter()
        .find(|e| e.kind == ErrorKind::Assumption)
        .expect("assumption reported");
    assert!(assumption.message.contains("table nat"), "{assumption}");
    let annotated = errs
        .iter()
        .find(|e| e.message.contains("// here is"))
        .expect("annotated line reported");
    assert_eq!(annotated.kind, ErrorKind::Malformed);
    let nat = &rs.tables[0];
    assert!(nat.inferred);
    // Each slice re-declares the chain, which (as in iptables-restore) flushes it: the last
    // slice, the node without local endpoints, wins.
    let xlb = nat.chain("KUBE-XLB-66B67NPFXW65VVJM").expect("xlb");
    assert_eq!(xlb.rules.len(), 2);
    assert!(xlb.rules[1]
        .comment()
        .is_some_and(|c| c.contains("has no local endpoints")));
}

#[test]
fn quoting_negation_and_goto() {
    let text = r#"*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:CNI-FORWARD - [0:0]
[5:300] -A FORWARD -m comment --comment "name: \"cbr0\" id: \"abc\"" ! -s 10.88.0.0/16 -g CNI-FORWARD
-A FORWARD -p tcp -m multiport ! --dports 80,443,30000:32767 -m physdev --physdev-is-bridged -j DROP
-A INPUT -p udp -m udp --dport 8472 -m addrtype ! --src-type LOCAL --limit-iface-in -j REJECT --reject-with icmp-port-unreachable
-A INPUT -m set --match-set cali40all-hosts-net src -m mark --mark 0x10000/0x10000 -j ACCEPT
-A INPUT -p tcp --syn -m limit --limit 3/min -j LOG --log-prefix "[UFW BLOCK] "
-A INPUT -m statistic --mode nth --every 3 --packet 0 -m string --string "GET" --algo bm -j NFQUEUE --queue-num 3
-A OUTPUT -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff
-A OUTPUT -p icmp -m icmp --icmp-type 3/4 -j ACCEPT
-A OUTPUT -m u32 --u32 "0>>22&0x3C@4>>16=0x1F90" -j CT --notrack
COMMIT
"#;
    let (rs, errs) = parse_iptables_save(text, "t");
    assert!(errs.is_empty(), "{errs:?}");
    let f = &rs.tables[0];
    let fwd = f.chain("FORWARD").expect("FORWARD");
    assert_eq!(fwd.policy, Some(Policy::Drop));
    let r0 = &fwd.rules[0];
    assert!(r0.goto);
    assert_eq!(
        r0.counters,
        Some(Box::new(Counters {
            packets: 5,
            bytes: 300
        }))
    );
    assert_eq!(r0.comment(), Some(r#"name: "cbr0" id: "abc""#));
    assert!(r0
        .matches
        .iter()
        .any(|m| m.negated && matches!(m.kind, MatchKind::Source { .. })));
    let r1 = &fwd.rules[1];
    assert!(r1.matches.iter().any(
        |m| m.negated && matches!(&m.kind, MatchKind::Port { ranges, .. } if ranges.len() == 3)
    ));
    let input = f.chain("INPUT").expect("INPUT");
    assert!(
        matches!(&input.rules[0].target, Some(Target::Reject { with }) if with == "icmp-port-unreachable")
    );
    assert!(input.rules[0].matches.iter().any(|m| m.negated
        && matches!(
            m.kind,
            MatchKind::AddrType {
                limit_iface: Some(LimitIface::In),
                ..
            }
        )));
    assert!(
        matches!(&input.rules[2].target, Some(Target::Continue(e)) if e.name == "LOG" && e.args[1] == "[UFW BLOCK] ")
    );
    let out = f.chain("OUTPUT").expect("OUTPUT");
    assert!(matches!(out.rules[2].target, Some(Target::Notrack)));
}

#[test]
fn malformed_lines_name_their_line_and_the_rest_parses() {
    let text = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.300 -j DROP\n-A INPUT -p tcp --dport -j ACCEPT\n-A INPUT -m comment --comment \"open\n-A INPUT -j FOO --bar\n-A INPUT -p udp --dport 53 -j ACCEPT\nCOMMIT\n";
    let (rs, errs) = parse_iptables_save(text, "dump.txt");
    let lines: Vec<u32> = errs.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4, 5], "{errs:?}");
    assert!(
        errs[0].to_string().starts_with("dump.txt:3: bad address"),
        "{}",
        errs[0]
    );
    let input = rs.tables[0].chain("INPUT").expect("INPUT");
    assert_eq!(input.rules.len(), 2);
    assert!(matches!(&input.rules[0].target, Some(Target::Other(e)) if e.name == "FOO"));
}

/// Found by fuzzing: a table first inferred from loose rules, then opened by a `*nat` header
/// and never committed, reported its error at line 0.
#[test]
fn fuzz_uncommitted_table_after_loose_rules_names_its_header_line() {
    let text = "-A KUBE-SVC-X -j KUBE-SEP-Y\n*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j KUBE-SVC-X\n";
    let (_, errs) = parse_iptables_save(text, "f");
    let e = errs
        .iter()
        .find(|e| e.message.contains("no COMMIT"))
        .expect("reported");
    assert_eq!(e.line, 2);
    assert!(errs.iter().all(|e| e.line >= 1));
}

#[test]
fn truncation_markers_anywhere_in_a_rule_are_reported_as_truncation() {
    let dump = "*nat\n:PREROUTING ACCEPT [0:0]\n\
        -A PREROUTING -j KUBE-SVC-ABC[... truncated]\n\
        -A PREROUTING -j KUBE-SVC-AB...\n\
        -A PREROUTING -d 10.96.0...\n\
        -A KUBE-SVC-X[...] -j ACCEPT\n\
        -A PREROUTING -m comment --comment \"wait... it is fine\" -j ACCEPT\n\
        COMMIT\n";
    let (rs, errs) = parse_iptables_save(dump, "paste.txt");
    let cut: Vec<u32> = errs
        .iter()
        .filter(|e| e.kind == ErrorKind::Truncated)
        .map(|e| e.line)
        .collect();
    assert_eq!(cut, [3, 4, 5, 6], "{errs:?}");
    let pre = rs.tables[0].chain("PREROUTING").expect("PREROUTING");
    assert_eq!(pre.rules.len(), 1, "only the whole rule is kept");
    assert_eq!(pre.rules[0].comment(), Some("wait... it is fine"));
    // A packet reaching the lost rules gets an unknown outcome, not a guess.
    assert_eq!(
        pre.unreadable.iter().map(|u| u.1).collect::<Vec<_>>(),
        [3, 4, 5]
    );
}

/// A chain that rules jump to without declaring it is created at its first reference and keeps
/// that line, however often it is jumped to again, whatever jumps come between, and table by
/// table (the same name in another table is another chain).
#[test]
fn undeclared_jump_targets_keep_their_first_reference() {
    let dump = "\
*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SVC-A - [0:0]
-A PREROUTING -j KUBE-SVC-A
-A KUBE-SVC-A -j MASQ
-A KUBE-SVC-A -j SEP-1
-A KUBE-SVC-A -j SEP-2
-A KUBE-SVC-A -j MASQ
-A SEP-1 -j MASQ
-A SEP-2 -j SEP-1
COMMIT
*filter
:INPUT ACCEPT [0:0]
-A INPUT -j SEP-2
-A INPUT -j MASQ
:MASQ - [0:0]
-A INPUT -j MASQ
COMMIT
";
    let (rs, errors) = parse_iptables_save(dump, "t");
    assert!(errors.is_empty(), "{errors:?}");
    let at = |table: &str, chain: &str| {
        let t = rs.tables.iter().find(|t| t.name == table).expect("table");
        let c = t.chain(chain).unwrap_or_else(|| panic!("{table}/{chain}"));
        (c.declared_at, c.first_reference)
    };
    assert_eq!(at("nat", "KUBE-SVC-A"), (Some(3), None));
    assert_eq!(at("nat", "MASQ"), (None, Some(5)));
    assert_eq!(at("nat", "SEP-1"), (None, Some(6)));
    assert_eq!(at("nat", "SEP-2"), (None, Some(7)));
    assert_eq!(at("filter", "SEP-2"), (None, Some(14)));
    // Declared after its first use: a declared chain has no "first reference".
    assert_eq!(at("filter", "MASQ"), (Some(16), None));
    // Chains in the order they were first seen.
    let nat = rs.tables.iter().find(|t| t.name == "nat").expect("nat");
    let names: Vec<&str> = nat.chains.iter().map(|c| &*c.name).collect();
    assert_eq!(
        names,
        ["PREROUTING", "KUBE-SVC-A", "MASQ", "SEP-1", "SEP-2"]
    );
}
