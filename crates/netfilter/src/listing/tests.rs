use super::*;
use crate::{Evaluator, Hook, HostContext, Packet, Verdict};

fn pod_flow() -> Packet {
    Packet::tcp(
        "10.244.1.2".parse().expect("ip"),
        "10.244.2.3".parse().expect("ip"),
        80,
    )
    .in_iface("cni0")
    .out_iface("flannel.1")
}

fn host() -> HostContext {
    HostContext::with_addresses([("eth0", "192.168.0.2/24".parse().expect("net"))])
}

/// flannel-io/flannel#1619: a verbose listing of FORWARD with line numbers, cut after its last
/// rule. The catch-all REJECT before flannel's ACCEPT decides pod traffic.
#[test]
fn flannel_1619_forward_reject_before_the_accepts() {
    let text = "# iptables -nvL FORWARD --line-numbers\n\
Chain FORWARD (policy DROP 0 packets, 0 bytes)\n\
num   pkts bytes target                  prot opt in     out     source               destination\n\
1    40659 2294K KUBE-FORWARD            all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kubernetes forwarding rules */\n\
2    40659 2294K KUBE-SERVICES           all  --  *      *       0.0.0.0/0            0.0.0.0/0            ctstate NEW /* kubernetes service portals */\n\
3    40295 2260K KUBE-EXTERNAL-SERVICES  all  --  *      *       0.0.0.0/0            0.0.0.0/0            ctstate NEW /* kubernetes externally-visible service portals */\n\
4    40876 2293K LOG                     all  --  *      *       0.0.0.0/0            0.0.0.0/0            LOG flags 8 level 4 prefix \"FORWARD (rejecting): \"\n\
5    40876 2293K REJECT                  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* Log all rejected packets */ reject-with icmp-host-prohibited\n\
6        0     0 ACCEPT                  all  --  *      *       10.244.0.0/16        0.0.0.0/0\n";
    let (rs, errors, info) = parse_listing(text, "iptables-list.txt");
    assert!(errors.is_empty(), "{errors:?}");
    assert!(info.verbose);
    assert_eq!(info.chains, ["filter/FORWARD"]);
    assert_eq!(
        info.assumed,
        [
            "filter/KUBE-FORWARD",
            "filter/KUBE-SERVICES",
            "filter/KUBE-EXTERNAL-SERVICES"
        ]
    );
    let res = Evaluator::new(&rs, &host()).hook(Hook::Forward, &pod_flow());
    assert!(
        matches!(res.verdict(), Some(Verdict::Reject { .. })),
        "{:?}",
        res.outcomes
    );
    let rule = res.outcomes[0].deciding_rule().expect("rule");
    assert_eq!(rule.line, 8, "the listing's own line");
    let chain = rs.tables[0]
        .chains
        .iter()
        .find(|c| c.name.as_str() == "FORWARD")
        .expect("FORWARD");
    let reject = chain.rules.iter().find(|r| r.line == 8).expect("rule 5");
    assert_eq!(reject.counters.as_ref().expect("counters").packets, 40876);
}

/// k3s-io/k3s#283: a listing without -n and -v (host names, no interfaces).
#[test]
fn k3s_283_names_and_no_interfaces() {
    let text = "Chain FORWARD (policy ACCEPT)\n\
target     prot opt source               destination\n\
KUBE-FORWARD  all  --  anywhere             anywhere             /* kubernetes forwarding rules */\n\
REJECT     all  --  anywhere             anywhere             reject-with icmp-host-prohibited\n\
ACCEPT     all  --  schmitch01/16        anywhere\n\
ACCEPT     all  --  anywhere             schmitch01/16\n\
\n\
Chain INPUT (policy ACCEPT)\n\
target     prot opt source               destination\n\
ACCEPT     tcp  --  anywhere             anywhere             state NEW tcp dpt:ssh\n";
    let (rs, errors, info) = parse_listing(text, "l.txt");
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!info.verbose);
    let host = host();
    let ev = Evaluator::new(&rs, &host);
    assert!(matches!(
        ev.hook(Hook::Forward, &pod_flow()).verdict(),
        Some(Verdict::Reject { .. })
    ));
    // `tcp dpt:ssh` is port 22.
    let ssh = Packet::tcp(
        "192.168.0.3".parse().expect("ip"),
        "192.168.0.2".parse().expect("ip"),
        22,
    )
    .in_iface("eth0");
    assert!(ev.hook(Hook::Input, &ssh).accepted());
}

/// A jump to a chain that is neither listed nor kube-proxy's is unknown, never guessed.
#[test]
fn an_unlisted_chain_is_unknown() {
    let text = "Chain FORWARD (policy DROP)\n\
target     prot opt source               destination\n\
DOCKER-USER  all  --  0.0.0.0/0            0.0.0.0/0\n\
ACCEPT     all  --  10.244.0.0/16        0.0.0.0/0\n";
    let (rs, _, _) = parse_listing(text, "l.txt");
    let res = Evaluator::new(&rs, &host()).hook(Hook::Forward, &pod_flow());
    assert!(
        matches!(res.verdict(), Some(Verdict::Unknown { .. })),
        "{:?}",
        res.outcomes
    );
}

/// A nat listing of one chain with its command line, and words the reader does not know.
#[test]
fn nat_table_from_the_command_and_unknown_words() {
    let text = "[root@minion:~]$ iptables -t nat -nL PREROUTING\n\
Chain PREROUTING (policy ACCEPT)\n\
target     prot opt source               destination\n\
DOCKER     all  --  0.0.0.0/0            0.0.0.0/0            ADDRTYPE match dst-type LOCAL\n\
KUBE-X     all  --  0.0.0.0/0            0.0.0.0/0            something new here\n\
Warning: iptables-legacy tables present, use iptables-legacy to see them\n";
    let (rs, errors, _) = parse_listing(text, "l.txt");
    assert!(errors.is_empty(), "{errors:?}");
    assert!(rs.legacy_tables_present);
    assert_eq!(rs.tables[0].name, "nat");
    let chain = rs.tables[0]
        .chains
        .iter()
        .find(|c| c.name.as_str() == "PREROUTING")
        .expect("chain");
    assert_eq!(chain.rules.len(), 2);
    assert_eq!(chain.rules[0].line, 4);
}

#[test]
fn counters_with_suffixes() {
    assert_eq!(count("2294K"), Some(2_294_000));
    assert_eq!(count("12"), Some(12));
    assert_eq!(count("x"), None);
}
