//! Evaluating a packet through a rule set as the kernel does.
//!
//! Kernel semantics modelled here (`net/ipv4/netfilter/ip_tables.c`, `ipt_do_table`):
//! - the tables at a hook run in priority order (raw, mangle, nat-DNAT, filter, security,
//!   nat-SNAT); ACCEPT ends one table, the next still runs; DROP ends everything;
//! - `-j` pushes a return point, `-g` does not: RETURN (or the end) of a chain entered by goto
//!   returns to the caller of the chain that did the goto, and with no caller, the built-in
//!   chain's policy applies;
//! - nat chains see only the first packet of a connection (conntrack NEW), never untracked ones;
//! - several rule sets evaluated together ([`Evaluator::combined`]: iptables-legacy,
//!   iptables-nft and native nftables tables coexist in one kernel) run as one hook: every base
//!   chain of every set in priority order, sets in the order given at equal priorities;
//! - NAT is decided once per connection and hook: after a nat chain bound the connection, the
//!   later nat chains of that hook are not consulted (`nf_nat_inet_fn`);
//! - `statistic` is a choice: [`Evaluator::hook`] enumerates every branch with its probability,
//!   [`Evaluator::hook_with`] lets the caller pick.

mod matches;
mod outcome;
mod targets;

pub use outcome::*;

use crate::packet::{CtState, Hook, HostContext, Packet};
use crate::rule::*;
use matches::{eval_match, Tri};
use std::net::IpAddr;

/// Evaluates packets through one [`Ruleset`], or several together, on a host described by a
/// [`HostContext`].
pub struct Evaluator<'a> {
    sets: Vec<&'a Ruleset>,
    ctx: &'a HostContext,
    /// Enumeration stops after this many outcomes ([`Evaluation::truncated`] says so).
    pub max_outcomes: usize,
    /// Jumps deeper than this are reported as a loop (the kernel refuses loops at load time).
    pub max_depth: usize,
}

struct Stage {
    set: usize,
    table: usize,
    chain: usize,
    priority: i32,
    kind: ChainKind,
}

enum StageOrMissing {
    Stage(Stage),
    Missing {
        set: usize,
        table: String,
        reason: String,
    },
}

#[derive(Clone)]
struct Pos {
    chain: usize,
    rule: usize,
    frames: Vec<(usize, usize)>,
}

#[derive(Clone)]
struct Path {
    pkt: Packet,
    trace: Vec<Step>,
    prob: Option<f64>,
    choices: Vec<Choice>,
    nat: Vec<NatDone>,
    stage: usize,
    pos: Option<Pos>,
}

impl Path {
    fn finish(self, verdict: Verdict) -> Outcome {
        Outcome {
            verdict,
            packet: self.pkt,
            probability: self.prob,
            choices: self.choices,
            nat: self.nat,
            trace: self.trace,
        }
    }
}

/// How choices are resolved.
enum Mode<'c> {
    Enumerate,
    Choose(&'c mut dyn FnMut(&ChoicePoint) -> bool),
}

/// A choice the evaluator asks about in [`Evaluator::hook_with`].
#[derive(Debug, Clone)]
pub struct ChoicePoint {
    pub rule: RuleRef,
    /// In words: `statistic random 0.5`, `10.0.0.1 is in recent list X`.
    pub what: String,
    /// Probability that the match is true; `None` when unknowable.
    pub probability: Option<f64>,
}

impl<'a> Evaluator<'a> {
    pub fn new(rs: &'a Ruleset, ctx: &'a HostContext) -> Self {
        Self::combined(&[rs], ctx)
    }

    /// Several rule sets as one kernel runs them: at each hook, the base chains of all of them
    /// in priority order; at equal priorities, in the order of `sets` (the kernel runs the one
    /// registered later first, which no dump records, so callers try both orders). Rule
    /// references and trace steps say which set they come from ([`RuleRef::set`]).
    pub fn combined(sets: &[&'a Ruleset], ctx: &'a HostContext) -> Self {
        Evaluator {
            sets: sets.to_vec(),
            ctx,
            max_outcomes: 10_000,
            max_depth: 128,
        }
    }

    /// Every possible outcome of `pkt` at `hook`.
    pub fn hook(&self, hook: Hook, pkt: &Packet) -> Evaluation {
        self.run(hook, pkt, Mode::Enumerate)
    }

    /// One outcome of `pkt` at `hook`; `choose` decides each choice (true: the match is true).
    pub fn hook_with(
        &self,
        hook: Hook,
        pkt: &Packet,
        choose: &mut dyn FnMut(&ChoicePoint) -> bool,
    ) -> Outcome {
        let mut ev = self.run(hook, pkt, Mode::Choose(choose));
        ev.outcomes.pop().unwrap_or_else(|| Outcome {
            verdict: Verdict::Unknown {
                at: None,
                reason: "no outcome".into(),
            },
            packet: pkt.clone(),
            probability: None,
            choices: Vec::new(),
            nat: Vec::new(),
            trace: Vec::new(),
        })
    }

    /// Every outcome of `pkt` through several hooks in turn (`[Prerouting, Forward,
    /// Postrouting]`). Accepted outcomes go on to the next hook with their rewritten packet.
    /// Routing between the hooks is the caller's business: set the packet's interfaces.
    pub fn path(&self, hooks: &[Hook], pkt: &Packet) -> Evaluation {
        let mut current = vec![Outcome {
            verdict: Verdict::Accept,
            packet: pkt.clone(),
            probability: Some(1.0),
            choices: Vec::new(),
            nat: Vec::new(),
            trace: Vec::new(),
        }];
        let mut truncated = false;
        for &h in hooks {
            let mut next = Vec::new();
            for o in current {
                if !o.verdict.is_accept() {
                    next.push(o);
                    continue;
                }
                let ev = self.hook(h, &o.packet);
                truncated |= ev.truncated;
                for mut n in ev.outcomes {
                    n.probability = n.probability.zip(o.probability).map(|(a, b)| a * b);
                    let mut trace = o.trace.clone();
                    trace.append(&mut n.trace);
                    n.trace = trace;
                    let mut choices = o.choices.clone();
                    choices.append(&mut n.choices);
                    n.choices = choices;
                    let mut nat = o.nat.clone();
                    nat.append(&mut n.nat);
                    n.nat = nat;
                    next.push(n);
                }
            }
            current = next;
        }
        Evaluation {
            outcomes: current,
            truncated,
        }
    }

    fn stages(&self, hook: Hook, ipv6: bool) -> Vec<StageOrMissing> {
        let mut out: Vec<(i32, StageOrMissing)> = Vec::new();
        for (si, rs) in self.sets.iter().enumerate() {
            self.stages_of(si, rs, hook, ipv6, &mut out);
        }
        // Stable: at equal priorities, the sets keep the order given.
        out.sort_by_key(|(p, _)| *p);
        out.into_iter().map(|(_, s)| s).collect()
    }

    fn stages_of(
        &self,
        si: usize,
        rs: &Ruleset,
        hook: Hook,
        ipv6: bool,
        out: &mut Vec<(i32, StageOrMissing)>,
    ) {
        let complete = rs.generated_by.is_some() || rs.origin.is_nft();
        for (ti, t) in rs.tables.iter().enumerate() {
            if !t.family.sees(ipv6) {
                continue;
            }
            if rs.origin.is_nft() {
                for (ci, c) in t.chains.iter().enumerate() {
                    if let Some(b) = c.base.filter(|b| b.hook == hook) {
                        out.push((
                            b.priority,
                            StageOrMissing::Stage(Stage {
                                set: si,
                                table: ti,
                                chain: ci,
                                priority: b.priority,
                                kind: b.kind,
                            }),
                        ));
                    }
                }
                continue;
            }
            let Some(b) = crate::parse::builtin_base(&t.name, hook.chain_name()) else {
                continue;
            };
            match t.chain_index(hook.chain_name()) {
                Some(ci) => out.push((
                    b.priority,
                    StageOrMissing::Stage(Stage {
                        set: si,
                        table: ti,
                        chain: ci,
                        priority: b.priority,
                        kind: b.kind,
                    }),
                )),
                None if complete => {}
                None => out.push((
                    b.priority,
                    StageOrMissing::Missing {
                        set: si,
                        table: t.name.clone(),
                        reason: format!(
                            "table {} is in this dump but its {} chain is not (a restore-style or partial file): what that chain does is unknown",
                            t.name,
                            hook.chain_name()
                        ),
                    },
                )),
            }
        }
        if let (true, Some(cut)) = (rs.origin.is_nft(), &rs.cut) {
            // What was not shown comes last: a drop seen before it is proven, an accept is not.
            out.push((
                i32::MAX,
                StageOrMissing::Missing {
                    set: si,
                    table: "(not shown)".into(),
                    reason: format!("{cut}: chains on this hook that were not shown are unknown"),
                },
            ));
        }
    }

    fn rule_ref(&self, st: &Stage, chain: usize, rule: usize) -> RuleRef {
        let t = &self.sets[st.set].tables[st.table];
        let c = &t.chains[chain];
        let r = &c.rules[rule];
        RuleRef {
            table: t.name.clone(),
            chain: c.name.clone(),
            index: rule + 1,
            line: r.line,
            text: r.text.clone(),
            set: st.set,
        }
    }

    fn step(&self, st: &Stage, chain: usize, rule: Option<usize>, action: Action) -> Step {
        let t = &self.sets[st.set].tables[st.table];
        Step {
            table: t.name.clone(),
            chain: t.chains[chain].name.clone(),
            rule: rule.map(|r| self.rule_ref(st, chain, r)),
            action,
            set: st.set,
        }
    }

    fn run(&self, hook: Hook, pkt: &Packet, mut mode: Mode) -> Evaluation {
        let stages = self.stages(hook, pkt.is_ipv6());
        let mut work = vec![Path {
            pkt: pkt.clone(),
            trace: Vec::new(),
            prob: Some(1.0),
            choices: Vec::new(),
            nat: Vec::new(),
            stage: 0,
            pos: None,
        }];
        let mut done = Vec::new();
        let mut truncated = false;
        while let Some(p) = work.pop() {
            if done.len() >= self.max_outcomes {
                truncated = true;
                break;
            }
            self.advance(hook, &stages, p, &mut work, &mut done, &mut mode);
        }
        Evaluation {
            outcomes: done,
            truncated,
        }
    }

    /// Run one path until it ends, pushing the alternatives of each choice onto `work`.
    fn advance(
        &self,
        hook: Hook,
        stages: &[StageOrMissing],
        mut p: Path,
        work: &mut Vec<Path>,
        done: &mut Vec<Outcome>,
        mode: &mut Mode,
    ) {
        loop {
            let Some(stage) = stages.get(p.stage) else {
                done.push(p.finish(Verdict::Accept));
                return;
            };
            let st = match stage {
                StageOrMissing::Stage(s) => s,
                StageOrMissing::Missing { set, table, reason } => {
                    p.trace.push(Step {
                        table: table.clone(),
                        chain: hook.chain_name().into(),
                        rule: None,
                        action: Action::SkipTable {
                            why: reason.clone(),
                        },
                        set: *set,
                    });
                    done.push(p.finish(Verdict::Unknown {
                        at: None,
                        reason: reason.clone(),
                    }));
                    return;
                }
            };
            let table = &self.sets[st.set].tables[st.table];
            if p.pos.is_none() {
                let bound = st.kind == ChainKind::Nat && p.nat.iter().any(|n| binds(hook, n.kind));
                if st.kind == ChainKind::Nat && (p.pkt.ct.state != CtState::New || bound) {
                    let why = match p.pkt.ct.state {
                        _ if bound => {
                            "an earlier nat chain at this hook already bound the connection"
                        }
                        CtState::Untracked => "nat never sees untracked packets",
                        _ => "nat sees only the first packet of a connection",
                    };
                    p.trace.push(self.step(
                        st,
                        st.chain,
                        None,
                        Action::SkipTable { why: why.into() },
                    ));
                    p.stage += 1;
                    continue;
                }
                p.trace.push(self.step(
                    st,
                    st.chain,
                    None,
                    Action::EnterBaseChain {
                        priority: st.priority,
                    },
                ));
                p.pos = Some(Pos {
                    chain: st.chain,
                    rule: 0,
                    frames: Vec::new(),
                });
            }
            let Some(pos) = p.pos.as_mut() else { continue };
            let chain = &table.chains[pos.chain];

            if pos.rule >= chain.rules.len() {
                if let Some(v) = unreadable_at(table, chain, pos.rule) {
                    done.push(p.finish(v));
                    return;
                }
                match self.end_of_chain(st, &mut p, false) {
                    Some(v) => {
                        done.push(p.finish(v));
                        return;
                    }
                    None => continue,
                }
            }
            let (ci, ri) = (pos.chain, pos.rule);
            if let Some(v) = unreadable_at(table, chain, ri) {
                done.push(p.finish(v));
                return;
            }
            let rule = &chain.rules[ri];

            // AND of the matches: a definite false decides regardless of unknowns and choices.
            let mut unknown = None;
            let mut choices = Vec::new();
            let mut is_false = false;
            for m in &rule.matches {
                match eval_match(m, &p.pkt, hook, self.ctx) {
                    Tri::True => {}
                    Tri::False => {
                        is_false = true;
                        break;
                    }
                    Tri::Unknown(r) => {
                        unknown.get_or_insert(r);
                    }
                    Tri::Choice { what, p } => choices.push((what, p)),
                }
            }
            if is_false {
                if let Some(pos) = p.pos.as_mut() {
                    pos.rule += 1;
                }
                continue;
            }
            if let Some(reason) = unknown {
                if harmless(rule.target.as_ref()) {
                    p.trace.push(self.step(
                        st,
                        ci,
                        Some(ri),
                        Action::SkippedUndecidable { reason },
                    ));
                    if let Some(pos) = p.pos.as_mut() {
                        pos.rule += 1;
                    }
                    continue;
                }
                let at = self.rule_ref(st, ci, ri);
                done.push(p.finish(Verdict::Unknown {
                    at: Some(at),
                    reason,
                }));
                return;
            }
            let mut skip = false;
            for (what, prob) in choices {
                let rref = self.rule_ref(st, ci, ri);
                let taken = match mode {
                    Mode::Choose(f) => f(&ChoicePoint {
                        rule: rref.clone(),
                        what: what.clone(),
                        probability: prob,
                    }),
                    Mode::Enumerate => {
                        // Fork the branch where the match is false.
                        if prob != Some(1.0) {
                            let mut alt = p.clone();
                            let c = Choice {
                                rule: rref.clone(),
                                what: format!("{what}: no match"),
                                taken: false,
                                probability: prob.map(|x| 1.0 - x),
                            };
                            alt.prob = alt.prob.zip(c.probability).map(|(a, b)| a * b);
                            alt.trace
                                .push(self.step(st, ci, Some(ri), Action::Choice(c.clone())));
                            alt.choices.push(c);
                            if let Some(pos) = alt.pos.as_mut() {
                                pos.rule += 1;
                            }
                            work.push(alt);
                        }
                        prob != Some(0.0)
                    }
                };
                let c = Choice {
                    rule: rref,
                    what: format!("{what}: {}", if taken { "matched" } else { "no match" }),
                    taken,
                    probability: prob.map(|x| if taken { x } else { 1.0 - x }),
                };
                p.prob = p.prob.zip(c.probability).map(|(a, b)| a * b);
                p.trace
                    .push(self.step(st, ci, Some(ri), Action::Choice(c.clone())));
                p.choices.push(c);
                if !taken {
                    skip = true;
                    break;
                }
            }
            if skip {
                if let Some(pos) = p.pos.as_mut() {
                    pos.rule += 1;
                }
                continue;
            }
            match self.apply_target(hook, st, ci, ri, &mut p) {
                Flow::Next => {
                    if let Some(pos) = p.pos.as_mut() {
                        pos.rule += 1;
                    }
                }
                Flow::Moved => {}
                Flow::StageDone => {
                    p.stage += 1;
                    p.pos = None;
                }
                Flow::End(v) => {
                    done.push(p.finish(v));
                    return;
                }
            }
        }
    }

    /// The end of a chain or a RETURN. `None`: carry on (popped to the caller or the next
    /// table); `Some`: the path ends with that verdict.
    fn end_of_chain(&self, st: &Stage, p: &mut Path, is_return: bool) -> Option<Verdict> {
        let rs = self.sets[st.set];
        let table = &rs.tables[st.table];
        let pos = p.pos.as_mut()?;
        let chain = &table.chains[pos.chain];
        let is_base = pos.chain == st.chain && pos.frames.is_empty();
        if !is_return && !is_base && !chain.is_declared() && rs.origin == Origin::IptablesSave {
            return Some(Verdict::Unknown {
                at: None,
                reason: format!(
                    "end of chain {} of table {}, which this dump does not declare: its other rules are not known",
                    chain.name, table.name
                ),
            });
        }
        if let Some((c, r)) = pos.frames.pop() {
            let from = pos.chain;
            pos.chain = c;
            pos.rule = r;
            let action = if is_return {
                Action::Return
            } else {
                Action::FallThrough
            };
            p.trace.push(self.step(st, from, None, action));
            return None;
        }
        // No caller: the built-in chain's policy (also after a goto'd chain ends).
        let base = &table.chains[st.chain];
        let policy = match base.policy {
            Some(pol) => pol,
            None if rs.generated_by.is_some() || rs.origin.is_nft() => Policy::Accept,
            None => {
                return Some(Verdict::Unknown {
                    at: None,
                    reason: format!(
                        "the policy of {} in table {} is not in this dump",
                        base.name, table.name
                    ),
                })
            }
        };
        let name = if policy == Policy::Accept {
            "ACCEPT"
        } else {
            "DROP"
        };
        p.trace.push(self.step(
            st,
            st.chain,
            None,
            Action::Policy {
                verdict: name.into(),
            },
        ));
        match policy {
            Policy::Accept => {
                p.stage += 1;
                p.pos = None;
                None
            }
            Policy::Drop => Some(Verdict::Drop),
        }
    }
}

enum Flow {
    /// Go on with the next rule.
    Next,
    /// The position moved (jump, goto, return).
    Moved,
    /// This table is done with the packet (ACCEPT, a NAT target).
    StageDone,
    End(Verdict),
}

/// A rule of this chain that could not be read sits here (before rule `ri`), or the chain may
/// continue past the end of a table that was cut short.
fn unreadable_at(table: &Table, chain: &Chain, ri: usize) -> Option<Verdict> {
    if let Some((_, line)) = chain.unreadable.iter().find(|(pos, _)| *pos == ri) {
        return Some(Verdict::Unknown {
            at: None,
            reason: format!(
                "line {line} (a rule of chain {} in table {}) could not be read: what it does is unknown",
                chain.name, table.name
            ),
        });
    }
    if ri >= chain.rules.len() && !table.committed && !table.inferred {
        let last_line = table
            .chains
            .iter()
            .flat_map(|c| {
                c.rules
                    .iter()
                    .map(|r| r.line)
                    .chain(c.unreadable.iter().map(|u| u.1))
            })
            .max();
        let chain_last = chain
            .rules
            .iter()
            .map(|r| r.line)
            .chain(chain.unreadable.iter().map(|u| u.1))
            .max();
        if chain_last.is_none() || chain_last == last_line {
            return Some(Verdict::Unknown {
                at: None,
                reason: format!(
                    "table {} is cut short (no COMMIT): chain {} may have more rules than the dump shows",
                    table.name, chain.name
                ),
            });
        }
    }
    None
}

/// A NAT of `kind` binds the connection for the nat chains of `hook`: destination NAT before
/// routing (PREROUTING, OUTPUT), source NAT after (POSTROUTING, INPUT).
fn binds(hook: Hook, kind: NatKind) -> bool {
    match hook {
        Hook::Prerouting | Hook::Output => matches!(kind, NatKind::Dnat | NatKind::Redirect),
        Hook::Postrouting | Hook::Input => matches!(kind, NatKind::Snat | NatKind::Masquerade),
        Hook::Forward => false,
    }
}

/// A rule whose target changes nothing reported can be skipped when its matches are
/// undecidable (`-m limit ... -j LOG`).
fn harmless(t: Option<&Target>) -> bool {
    matches!(t, None | Some(Target::Continue { .. }))
}
