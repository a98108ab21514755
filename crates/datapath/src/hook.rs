//! A netfilter hook on a node: every IPv4 rule set it holds (iptables-legacy and iptables-nft
//! both register at the same priorities; native nft tables at their chains' priorities),
//! through the netfilter engine. The trace follows packets through it, and the firewall checks
//! ask it what a hook does to the flows they judge.
//!
//! All the sets run as one hook: every base chain of every set in priority order (an nft chain
//! at priority -110 before iptables' filter at 0). Which set's chain runs first at equal
//! priority depends on the order the tables were registered (the later one runs first,
//! `nf_hook_entries_grow`), which no snapshot records; so when two sets both hold rules, both
//! orders are followed as separate outcomes. The first NAT binding of a connection wins: the
//! later nat chains of the hook are not consulted.

use crate::rules::NodeRules;
use netdoctor_model::Backend;
use netdoctor_netfilter::{Action, NatKind, Outcome, RuleRef};
use netdoctor_netfilter::{Evaluator, Hook, HostContext, Packet, Ruleset, Verdict};

/// One fate of a packet at a hook.
#[derive(Debug, Clone)]
pub struct HookOutcome {
    pub verdict: Verdict,
    pub packet: Packet,
    pub probability: Option<f64>,
    /// (stage, detail) lines for the hop list.
    pub lines: Vec<(String, String)>,
    /// The DNAT done here, and the backend whose rule did it.
    pub dnat: Option<Backend>,
    /// A source NAT was done here.
    pub snat: bool,
    /// The verdict was a built-in chain's policy.
    pub by_policy: bool,
    /// What gave a verdict other than ACCEPT: a rule, or a chain's policy.
    pub decided: Option<Decided>,
    /// The rule set (an index into [`NodeRules::sets`]) whose rule or policy gave the verdict,
    /// when one did.
    pub set: Option<usize>,
}

/// What decided a packet's fate at a hook.
#[derive(Debug, Clone)]
pub enum Decided {
    Rule(RuleRef),
    Policy {
        table: String,
        chain: String,
        /// The policy as the rules write it (`DROP`).
        verdict: String,
    },
}

impl HookOutcome {
    /// The table and chain whose rule or policy decided.
    pub fn table_chain(&self) -> Option<(&str, &str)> {
        match &self.decided {
            Some(Decided::Rule(r)) => Some((&r.table, &r.chain)),
            Some(Decided::Policy { table, chain, .. }) => Some((table, chain)),
            None => None,
        }
    }
}

/// Every outcome of `pkt` at `hook` through `rules`. `Err` when the node's rules were not
/// collected.
pub fn run_hook(
    rules: &NodeRules,
    host: &HostContext,
    hook: Hook,
    pkt: &Packet,
) -> Result<Vec<HookOutcome>, String> {
    if let Some(why) = &rules.missing {
        return Err(why.clone());
    }
    let active: Vec<usize> = rules.active().map(|(i, _)| i).collect();
    let orders: Vec<Vec<usize>> = if active.len() >= 2 {
        let mut rev = active.clone();
        rev.reverse();
        vec![active, rev]
    } else {
        vec![active]
    };
    let n_orders = orders.len();
    let multi = n_orders > 1;
    let mut all: Vec<HookOutcome> = Vec::new();
    for order in orders {
        let sets: Vec<&Ruleset> = order.iter().map(|&i| &rules.sets[i].ruleset).collect();
        let ev = Evaluator::combined(&sets, host).hook(hook, pkt);
        for o in ev.outcomes {
            all.push(outcome(
                o,
                &order,
                rules,
                multi,
                hook,
                1.0 / n_orders as f64,
            ));
        }
    }
    // Orders that end the same way are one outcome; except that two sets the engine could not
    // decide stay two, so that each is named.
    let mut merged: Vec<HookOutcome> = Vec::new();
    for o in all {
        match merged.iter_mut().find(|m| {
            m.verdict == o.verdict
                && (m.set == o.set || !matches!(o.verdict, Verdict::Unknown { .. }))
                && m.packet.src == o.packet.src
                && m.packet.dst == o.packet.dst
                && m.packet.sport == o.packet.sport
                && m.packet.dport == o.packet.dport
                && m.packet.mark == o.packet.mark
        }) {
            Some(m) => m.probability = m.probability.zip(o.probability).map(|(a, b)| a + b),
            None => merged.push(o),
        }
    }
    Ok(merged)
}

/// One outcome of the combined evaluation, in the trace's words. `order` maps the evaluator's
/// set numbers to [`NodeRules::sets`]; `share` is this order's share of the probability.
fn outcome(
    o: Outcome,
    order: &[usize],
    rules: &NodeRules,
    multi: bool,
    hook: Hook,
    share: f64,
) -> HookOutcome {
    let set_of = |i: usize| order.get(i).copied().unwrap_or(0);
    let tag = |i: usize| {
        if multi {
            format!(" [{}]", rules.sets[set_of(i)].tool())
        } else {
            String::new()
        }
    };
    let mut out = HookOutcome {
        verdict: Verdict::Accept,
        packet: o.packet.clone(),
        probability: o.probability.map(|p| p * share),
        lines: Vec::new(),
        dnat: None,
        snat: false,
        by_policy: false,
        decided: None,
        set: None,
    };
    for c in &o.choices {
        out.lines.push((
            format!("{}/{}", c.rule.table, hook.chain_name()),
            format!(
                "rule {} {}: {}{}{}",
                c.rule.index,
                c.rule.chain,
                c.what,
                c.probability
                    .map(|p| format!(" (p={p:.2})"))
                    .unwrap_or_default(),
                tag(c.rule.set)
            ),
        ));
    }
    for st in &o.trace {
        // A nat chain the connection's earlier binding made the kernel skip.
        if let Action::SkipTable { why } = &st.action {
            if why.contains("already bound") {
                out.lines.push((
                    format!("{}/{}", st.table, hook.chain_name()),
                    format!("chain {} skipped: {why}{}", st.chain, tag(st.set)),
                ));
            }
        }
    }
    for n in &o.nat {
        let to = match n.to {
            (Some(a), Some(p)) => format!("{a}:{p}"),
            (Some(a), None) => a.to_string(),
            (None, _) => "an interface address (not known)".into(),
        };
        out.lines.push((
            format!("{}/{}", n.rule.table, hook.chain_name()),
            format!(
                "rule {} {}: {} to {to}{}{}",
                n.rule.index,
                n.rule.chain,
                format!("{:?}", n.kind).to_uppercase(),
                comment_of(&n.rule.text)
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default(),
                tag(n.rule.set)
            ),
        ));
        match n.kind {
            NatKind::Dnat | NatKind::Redirect => {
                out.dnat
                    .get_or_insert(rules.sets[set_of(n.rule.set)].backend);
            }
            NatKind::Snat | NatKind::Masquerade => out.snat = true,
        }
    }
    let by_policy = o
        .trace
        .last()
        .is_some_and(|s| matches!(s.action, Action::Policy { .. }));
    let deciding = o.deciding_rule().cloned();
    match &o.verdict {
        Verdict::Accept => {
            if let Some(r) = &deciding {
                out.lines.push((
                    format!("{}/{}", r.table, hook.chain_name()),
                    format!("rule {} {}: ACCEPT{}", r.index, r.chain, tag(r.set)),
                ));
            }
        }
        v => {
            // The set of the deciding rule, else of the last step (a policy, a missing chain).
            let set = deciding
                .as_ref()
                .map(|r| r.set)
                .or_else(|| o.trace.last().map(|s| s.set))
                .unwrap_or(0);
            let (stage, detail) = match (&deciding, by_policy) {
                (Some(r), _) => (
                    format!("{}/{}", r.table, hook.chain_name()),
                    format!(
                        "rule {} {} (line {}): {} => {v}{}",
                        r.index,
                        r.chain,
                        r.line,
                        r.text,
                        tag(set)
                    ),
                ),
                (None, true) => {
                    let t = o.trace.last().map(|s| s.table.clone()).unwrap_or_default();
                    (
                        format!("{t}/{}", hook.chain_name()),
                        format!("chain policy {v}{}", tag(set)),
                    )
                }
                (None, false) => (
                    format!("netfilter/{}", hook.chain_name()),
                    format!("{v}{}", tag(set)),
                ),
            };
            out.lines.push((stage.clone(), detail));
            let set = set_of(set);
            for c in rules.sets[set].caveats().0 {
                out.lines.push((stage.clone(), format!("caveat: {c}")));
            }
            out.set = Some(set);
            // The rule's set, numbered as in `NodeRules::sets` (the evaluator numbers them in
            // this order's sequence).
            out.decided = deciding
                .map(|mut r| {
                    r.set = set_of(r.set);
                    Decided::Rule(r)
                })
                .or_else(|| {
                    o.trace.iter().rev().find_map(|s| match &s.action {
                        Action::Policy { verdict } => Some(Decided::Policy {
                            table: s.table.clone(),
                            chain: s.chain.to_string(),
                            verdict: verdict.clone(),
                        }),
                        _ => None,
                    })
                });
        }
    }
    out.by_policy = by_policy && !o.verdict.is_accept();
    out.verdict = o.verdict;
    out
}

/// The `--comment` of a rule, for naming the service a DNAT belongs to.
pub fn comment_of(text: &str) -> Option<String> {
    let i = text.find("--comment ")? + "--comment ".len();
    let rest = &text[i..];
    if let Some(r) = rest.strip_prefix('"') {
        r.find('"').map(|j| r[..j].to_string())
    } else {
        Some(rest.split_whitespace().next()?.to_string())
    }
}
