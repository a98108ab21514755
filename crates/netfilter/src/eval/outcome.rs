//! What an evaluation returns: verdicts, the rewritten packet, the trace.

use crate::packet::Packet;
use crate::text::Text;
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// A rule, as a trace or a verdict quotes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    pub table: String,
    pub chain: Text,
    /// 1-based position in the chain (as `iptables -L --line-numbers` counts).
    pub index: usize,
    /// 1-based line in the dump.
    pub line: u32,
    /// The rule's original text.
    pub text: Text,
    /// Which of the rule sets evaluated together it belongs to ([`crate::Evaluator::combined`]);
    /// 0 for a single set.
    #[serde(skip)]
    pub set: usize,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} rule {} (line {}): {}",
            self.table, self.chain, self.index, self.line, self.text
        )
    }
}

/// The fate of a packet at a hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    Accept,
    Drop,
    /// `REJECT --reject-with TYPE`: the sender gets an error (`tcp-reset`: a RST, so "connection
    /// refused"; the ICMP types: an ICMP error) instead of silence.
    Reject {
        with: String,
    },
    /// Handed to user space (`QUEUE`, `NFQUEUE`).
    Queue {
        num: u16,
    },
    /// The evaluator cannot decide: `at` names the rule (or is `None` for a missing chain or
    /// policy), `reason` says what is missing.
    Unknown {
        #[serde(skip_serializing_if = "Option::is_none")]
        at: Option<RuleRef>,
        reason: String,
    },
}

impl Verdict {
    /// Accept.
    pub fn is_accept(&self) -> bool {
        matches!(self, Verdict::Accept)
    }

    /// Drop or reject: the packet does not go on.
    pub fn is_dropped(&self) -> bool {
        matches!(self, Verdict::Drop | Verdict::Reject { .. })
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Verdict::Unknown { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Accept => f.write_str("ACCEPT"),
            Verdict::Drop => f.write_str("DROP"),
            Verdict::Reject { with } => write!(f, "REJECT ({with})"),
            Verdict::Queue { num } => write!(f, "QUEUE {num}"),
            Verdict::Unknown {
                at: Some(r),
                reason,
            } => write!(f, "UNKNOWN at {r}: {reason}"),
            Verdict::Unknown { at: None, reason } => write!(f, "UNKNOWN: {reason}"),
        }
    }
}

/// One entry of a trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub table: String,
    pub chain: Text,
    /// The rule (absent for entering a chain, a policy, or a skipped table).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleRef>,
    pub action: Action,
    /// The rule set the table belongs to, as in [`RuleRef::set`].
    #[serde(skip)]
    pub set: usize,
}

/// What happened at a [`Step`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// A base chain (a table at this hook) is entered.
    EnterBaseChain {
        priority: i32,
    },
    /// The table is skipped for this packet (nat on a packet that is not the first of its
    /// connection).
    SkipTable {
        why: String,
    },
    Jump {
        to: Text,
    },
    Goto {
        to: Text,
    },
    Return,
    /// The end of a user chain: back to the caller.
    FallThrough,
    /// A built-in chain's policy applied.
    Policy {
        verdict: String,
    },
    /// The rule decided: ACCEPT, DROP, REJECT, QUEUE.
    Verdict {
        verdict: String,
    },
    /// The packet's mark changed.
    Mark {
        old: u32,
        new: u32,
    },
    /// The connection's mark changed.
    ConnMark {
        old: u32,
        new: u32,
    },
    /// The packet's mark was restored from the connection mark.
    RestoreMark {
        old: u32,
        new: u32,
    },
    Nat(NatDone),
    /// A non-deciding target (LOG, TRACE, ...), or a match-only rule: the packet continues.
    Continue {
        target: String,
    },
    /// The packet is no longer tracked (`NOTRACK`, `CT --notrack`).
    Untrack,
    /// A choice (statistic, an unknown `recent` list) was resolved one way on this path.
    Choice(Choice),
    /// A rule that could not be decided but whose target changes nothing the evaluation
    /// reports (a LOG behind a rate limit): skipped.
    SkippedUndecidable {
        reason: String,
    },
}

/// The kind of address translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum NatKind {
    Dnat,
    Snat,
    Masquerade,
    Redirect,
}

/// An address translation that happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NatDone {
    pub kind: NatKind,
    pub from: (IpAddr, Option<u16>),
    /// The new address and port; the address is `None` when the host's interface addresses are
    /// not known (MASQUERADE, REDIRECT).
    pub to: (Option<IpAddr>, Option<u16>),
    /// Set when the rule gives a range and the kernel picks one member: `to` is its first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub rule: RuleRef,
}

/// One resolved choice on an outcome's path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    pub rule: RuleRef,
    /// What was chosen, in words (`statistic random 0.50000: matched`).
    pub what: String,
    pub taken: bool,
    /// Probability of this branch; `None` when unknowable (a `recent` list not given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

/// One possible fate of the packet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub verdict: Verdict,
    /// The packet after every rewrite (DNAT, SNAT, marks, conntrack state).
    pub packet: Packet,
    /// Probability of this outcome; `None` when a choice on its path has no known probability.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// The choices that led here, in order.
    pub choices: Vec<Choice>,
    /// The translations done, in order.
    pub nat: Vec<NatDone>,
    pub trace: Vec<Step>,
}

impl Outcome {
    /// The destination after DNAT/REDIRECT, when one happened.
    pub fn dnat_target(&self) -> Option<(IpAddr, Option<u16>)> {
        self.nat
            .iter()
            .rev()
            .find(|n| matches!(n.kind, NatKind::Dnat | NatKind::Redirect))
            .and_then(|n| n.to.0.map(|a| (a, n.to.1)))
    }

    /// The rule that decided the verdict (the last rule step), when a rule did.
    pub fn deciding_rule(&self) -> Option<&RuleRef> {
        if let Verdict::Unknown { at, .. } = &self.verdict {
            return at.as_ref();
        }
        self.trace.iter().rev().find_map(|s| match &s.action {
            Action::Verdict { .. } => s.rule.as_ref(),
            _ => None,
        })
    }

    /// The trace as text, one step per line.
    pub fn render_trace(&self) -> String {
        let mut out = String::new();
        for s in &self.trace {
            let what = match &s.action {
                Action::EnterBaseChain { priority } => format!("enter (priority {priority})"),
                Action::SkipTable { why } => format!("skipped: {why}"),
                Action::Jump { to } => format!("jump {to}"),
                Action::Goto { to } => format!("goto {to}"),
                Action::Return => "RETURN".into(),
                Action::FallThrough => "end of chain, back to caller".into(),
                Action::Policy { verdict } => format!("policy {verdict}"),
                Action::Verdict { verdict } => verdict.clone(),
                Action::Mark { old, new } => format!("mark {old:#x} -> {new:#x}"),
                Action::ConnMark { old, new } => format!("connmark {old:#x} -> {new:#x}"),
                Action::RestoreMark { old, new } => format!("mark restored {old:#x} -> {new:#x}"),
                Action::Nat(n) => {
                    let to = match n.to {
                        (Some(a), Some(p)) => format!("{a}:{p}"),
                        (Some(a), None) => a.to_string(),
                        (None, _) => "an address of the interface (not known)".into(),
                    };
                    format!("{:?} to {to}", n.kind)
                }
                Action::Continue { target } => format!("{target}, continue"),
                Action::Untrack => "untracked".into(),
                Action::Choice(c) => c.what.clone(),
                Action::SkippedUndecidable { reason } => {
                    format!("skipped (undecidable, harmless): {reason}")
                }
            };
            match &s.rule {
                Some(r) => out.push_str(&format!(
                    "{}/{} #{} (line {}): {} => {what}\n",
                    s.table, s.chain, r.index, r.line, r.text
                )),
                None => out.push_str(&format!("{}/{}: {what}\n", s.table, s.chain)),
            }
        }
        out
    }
}

/// An address and port a connection is translated to, with its probability (`None` when
/// unknowable).
pub type WeightedTarget = ((IpAddr, Option<u16>), Option<f64>);

/// Every possible fate of a packet at a hook (or along a path of hooks).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub outcomes: Vec<Outcome>,
    /// Set when enumeration stopped at the outcome limit: the list is incomplete.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl Evaluation {
    /// True when every outcome has this verdict kind.
    pub fn always(&self, f: impl Fn(&Verdict) -> bool) -> bool {
        !self.outcomes.is_empty() && self.outcomes.iter().all(|o| f(&o.verdict))
    }

    /// True when some outcome has this verdict kind.
    pub fn sometimes(&self, f: impl Fn(&Verdict) -> bool) -> bool {
        self.outcomes.iter().any(|o| f(&o.verdict))
    }

    /// The verdict when all outcomes agree on it.
    pub fn verdict(&self) -> Option<&Verdict> {
        let first = &self.outcomes.first()?.verdict;
        self.outcomes
            .iter()
            .all(|o| &o.verdict == first)
            .then_some(first)
    }

    /// True when the packet is accepted on every path.
    pub fn accepted(&self) -> bool {
        self.always(Verdict::is_accept)
    }

    /// True when the packet is dropped or rejected on every path.
    pub fn dropped(&self) -> bool {
        self.always(Verdict::is_dropped)
    }

    /// True when some path cannot be decided.
    pub fn has_unknown(&self) -> bool {
        self.sometimes(Verdict::is_unknown)
    }

    /// Every DNAT destination with its total probability (`None` if unknowable), in first-seen
    /// order.
    pub fn dnat_targets(&self) -> Vec<WeightedTarget> {
        let mut out: Vec<WeightedTarget> = Vec::new();
        for o in &self.outcomes {
            if let Some(t) = o.dnat_target() {
                match out.iter_mut().find(|(k, _)| *k == t) {
                    Some((_, p)) => *p = p.zip(o.probability).map(|(a, b)| a + b),
                    None => out.push((t, o.probability)),
                }
            }
        }
        out
    }
}
