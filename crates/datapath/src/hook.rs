//! A netfilter hook on a node: every IPv4 rule set it holds (iptables-legacy and iptables-nft
//! both register at the same priorities; native nft tables at their chains' priorities),
//! through the netfilter engine. The trace follows packets through it, and the firewall checks
//! ask it what a hook does to the flows they judge.
//!
//! Which backend's hook runs first at equal priority depends on the order the tables were
//! registered (the later one runs first, `nf_hook_entries_grow`), which no snapshot records; so
//! when two backends both hold rules, both orders are followed as separate outcomes. The first
//! NAT binding of a connection wins: a later DNAT in the other backend is not applied.

use crate::rules::{NodeRules, RuleSet};
use netdoctor_model::Backend;
use netdoctor_netfilter::{Action, NatKind, Outcome, RuleRef};
use netdoctor_netfilter::{Evaluator, Hook, HostContext, Packet, Verdict};

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
    /// The text of the rule that decided, when a rule did.
    pub fn rule_text(&self) -> Option<&str> {
        match &self.decided {
            Some(Decided::Rule(r)) => Some(&r.text),
            _ => None,
        }
    }

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
    let mut all: Vec<HookOutcome> = Vec::new();
    for order in orders {
        let mut current = vec![HookOutcome {
            verdict: Verdict::Accept,
            packet: pkt.clone(),
            probability: Some(1.0 / n_orders as f64),
            lines: Vec::new(),
            dnat: None,
            snat: false,
            by_policy: false,
            decided: None,
            set: None,
        }];
        for &ri in &order {
            let rs = &rules.sets[ri];
            let mut next = Vec::new();
            for cur in current {
                if !cur.verdict.is_accept() {
                    next.push(cur);
                    continue;
                }
                let ev = Evaluator::new(&rs.ruleset, host).hook(hook, &cur.packet);
                for o in ev.outcomes {
                    next.push(combine(&cur, o, (ri, rs), n_orders > 1, hook));
                }
            }
            current = next;
        }
        all.extend(current);
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

fn combine(
    prev: &HookOutcome,
    o: Outcome,
    (index, set): (usize, &RuleSet),
    multi: bool,
    hook: Hook,
) -> HookOutcome {
    let backend = set.backend;
    let mut out = prev.clone();
    let mut pkt = o.packet.clone();
    let did_dnat = o
        .nat
        .iter()
        .any(|n| matches!(n.kind, NatKind::Dnat | NatKind::Redirect));
    let did_snat = o
        .nat
        .iter()
        .any(|n| matches!(n.kind, NatKind::Snat | NatKind::Masquerade));
    let prev_dnat = prev.dnat.is_some();
    if did_dnat && prev_dnat {
        pkt.dst = prev.packet.dst;
        pkt.dport = prev.packet.dport;
    }
    if did_snat && prev.snat {
        pkt.src = prev.packet.src;
        pkt.sport = prev.packet.sport;
    }
    let tag = if multi {
        format!(" [{}]", set.tool())
    } else {
        String::new()
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
                tag
            ),
        ));
    }
    for n in &o.nat {
        let to = match n.to {
            (Some(a), Some(p)) => format!("{a}:{p}"),
            (Some(a), None) => a.to_string(),
            (None, _) => "an interface address (not known)".into(),
        };
        let ignored = if matches!(n.kind, NatKind::Dnat | NatKind::Redirect) && prev_dnat {
            " (ignored: the connection is already DNATed by the other backend)"
        } else {
            ""
        };
        out.lines.push((
            format!("{}/{}", n.rule.table, hook.chain_name()),
            format!(
                "rule {} {}: {} to {to}{}{tag}{ignored}",
                n.rule.index,
                n.rule.chain,
                format!("{:?}", n.kind).to_uppercase(),
                comment_of(&n.rule.text)
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
        ));
        if matches!(n.kind, NatKind::Dnat | NatKind::Redirect) && !prev_dnat {
            out.dnat = Some(backend);
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
                    format!("rule {} {}: ACCEPT{tag}", r.index, r.chain),
                ));
            }
        }
        v => {
            let (stage, detail) = match (&deciding, by_policy) {
                (Some(r), _) => (
                    format!("{}/{}", r.table, hook.chain_name()),
                    format!(
                        "rule {} {} (line {}): {} => {v}{tag}",
                        r.index, r.chain, r.line, r.text
                    ),
                ),
                (None, true) => {
                    let t = o.trace.last().map(|s| s.table.clone()).unwrap_or_default();
                    (
                        format!("{t}/{}", hook.chain_name()),
                        format!("chain policy {v}{tag}"),
                    )
                }
                (None, false) => (
                    format!("netfilter/{}", hook.chain_name()),
                    format!("{v}{tag}"),
                ),
            };
            out.lines.push((stage.clone(), detail));
            for c in set.caveats().0 {
                out.lines.push((stage.clone(), format!("caveat: {c}")));
            }
            out.set = Some(index);
            out.decided = deciding.clone().map(Decided::Rule).or_else(|| {
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
    out.snat |= did_snat;
    out.by_policy = by_policy && !o.verdict.is_accept();
    out.verdict = o.verdict;
    out.packet = pkt;
    out.probability = prev.probability.zip(o.probability).map(|(a, b)| a * b);
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
