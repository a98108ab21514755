//! Evaluating a packet through a rule set as the kernel does.
//!
//! Kernel semantics modelled here (`net/ipv4/netfilter/ip_tables.c`, `ipt_do_table`):
//! - the tables at a hook run in priority order (raw, mangle, nat-DNAT, filter, security,
//!   nat-SNAT); ACCEPT ends one table, the next still runs; DROP ends everything;
//! - `-j` pushes a return point, `-g` does not: RETURN (or the end) of a chain entered by goto
//!   returns to the caller of the chain that did the goto, and with no caller, the built-in
//!   chain's policy applies;
//! - nat chains see only the first packet of a connection (conntrack NEW), never untracked ones;
//! - `statistic` is a choice: [`Evaluator::hook`] enumerates every branch with its probability,
//!   [`Evaluator::hook_with`] lets the caller pick.

mod matches;
mod outcome;

pub use outcome::*;

use crate::packet::{CtState, HostContext, Hook, Packet};
use crate::rule::*;
use matches::{eval_match, Tri};
use std::net::IpAddr;

/// Evaluates packets through one [`Ruleset`] on a host described by a [`HostContext`].
pub struct Evaluator<'a> {
    rs: &'a Ruleset,
    ctx: &'a HostContext,
    /// Enumeration stops after this many outcomes ([`Evaluation::truncated`] says so).
    pub max_outcomes: usize,
    /// Jumps deeper than this are reported as a loop (the kernel refuses loops at load time).
    pub max_depth: usize,
}

struct Stage {
    table: usize,
    chain: usize,
    priority: i32,
    kind: ChainKind,
}

enum StageOrMissing {
    Stage(Stage),
    Missing { table: String, reason: String },
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
        Evaluator {
            rs,
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
        let complete = self.rs.generated_by.is_some() || self.rs.origin == Origin::NftJson;
        for (ti, t) in self.rs.tables.iter().enumerate() {
            if !t.family.sees(ipv6) {
                continue;
            }
            if self.rs.origin == Origin::NftJson {
                for (ci, c) in t.chains.iter().enumerate() {
                    if let Some(b) = c.base.filter(|b| b.hook == hook) {
                        out.push((
                            b.priority,
                            StageOrMissing::Stage(Stage {
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
        out.sort_by_key(|(p, _)| *p);
        out.into_iter().map(|(_, s)| s).collect()
    }

    fn rule_ref(&self, st: &Stage, chain: usize, rule: usize) -> RuleRef {
        let t = &self.rs.tables[st.table];
        let c = &t.chains[chain];
        let r = &c.rules[rule];
        RuleRef {
            table: t.name.clone(),
            chain: c.name.clone(),
            index: rule + 1,
            line: r.line,
            text: r.text.to_string(),
        }
    }

    fn step(&self, st: &Stage, chain: usize, rule: Option<usize>, action: Action) -> Step {
        let t = &self.rs.tables[st.table];
        Step {
            table: t.name.clone(),
            chain: t.chains[chain].name.clone(),
            rule: rule.map(|r| self.rule_ref(st, chain, r)),
            action,
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
                StageOrMissing::Missing { table, reason } => {
                    p.trace.push(Step {
                        table: table.clone(),
                        chain: hook.chain_name().into(),
                        rule: None,
                        action: Action::SkipTable { why: reason.clone() },
                    });
                    done.push(p.finish(Verdict::Unknown {
                        at: None,
                        reason: reason.clone(),
                    }));
                    return;
                }
            };
            let table = &self.rs.tables[st.table];
            if p.pos.is_none() {
                if st.kind == ChainKind::Nat && p.pkt.ct.state != CtState::New {
                    let why = match p.pkt.ct.state {
                        CtState::Untracked => "nat never sees untracked packets",
                        _ => "nat sees only the first packet of a connection",
                    };
                    p.trace.push(self.step(st, st.chain, None, Action::SkipTable { why: why.into() }));
                    p.stage += 1;
                    continue;
                }
                p.trace.push(self.step(st, st.chain, None, Action::EnterBaseChain { priority: st.priority }));
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
                    p.trace.push(self.step(st, ci, Some(ri), Action::SkippedUndecidable { reason }));
                    if let Some(pos) = p.pos.as_mut() {
                        pos.rule += 1;
                    }
                    continue;
                }
                let at = self.rule_ref(st, ci, ri);
                done.push(p.finish(Verdict::Unknown { at: Some(at), reason }));
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
                            alt.trace.push(self.step(st, ci, Some(ri), Action::Choice(c.clone())));
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
                p.trace.push(self.step(st, ci, Some(ri), Action::Choice(c.clone())));
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
        let table = &self.rs.tables[st.table];
        let pos = p.pos.as_mut()?;
        let chain = &table.chains[pos.chain];
        let is_base = pos.chain == st.chain && pos.frames.is_empty();
        if !is_return && !is_base && !chain.is_declared() && self.rs.origin == Origin::IptablesSave {
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
            let action = if is_return { Action::Return } else { Action::FallThrough };
            p.trace.push(self.step(st, from, None, action));
            return None;
        }
        // No caller: the built-in chain's policy (also after a goto'd chain ends).
        let base = &table.chains[st.chain];
        let policy = match base.policy {
            Some(pol) => pol,
            None if self.rs.generated_by.is_some() || self.rs.origin == Origin::NftJson => Policy::Accept,
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
        let name = if policy == Policy::Accept { "ACCEPT" } else { "DROP" };
        p.trace.push(self.step(st, st.chain, None, Action::Policy { verdict: name.into() }));
        match policy {
            Policy::Accept => {
                p.stage += 1;
                p.pos = None;
                None
            }
            Policy::Drop => Some(Verdict::Drop),
        }
    }

    fn apply_target(&self, hook: Hook, st: &Stage, ci: usize, ri: usize, p: &mut Path) -> Flow {
        let table = &self.rs.tables[st.table];
        let rule = &table.chains[ci].rules[ri];
        for t in &rule.also {
            match self.apply_one(hook, st, ci, ri, p, t, false) {
                Flow::Next => {}
                other => return other,
            }
        }
        match &rule.target {
            Some(t) => self.apply_one(hook, st, ci, ri, p, t, rule.goto),
            None => {
                p.trace.push(self.step(st, ci, Some(ri), Action::Continue { target: "(no target)".into() }));
                Flow::Next
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_one(&self, hook: Hook, st: &Stage, ci: usize, ri: usize, p: &mut Path, target: &Target, goto: bool) -> Flow {
        let table = &self.rs.tables[st.table];
        let verdict_step = |p: &mut Path, v: &str| {
            p.trace.push(self.step(st, ci, Some(ri), Action::Verdict { verdict: v.into() }));
        };
        match target {
            Target::Accept => {
                verdict_step(p, "ACCEPT");
                Flow::StageDone
            }
            Target::Drop => {
                verdict_step(p, "DROP");
                Flow::End(Verdict::Drop)
            }
            Target::Reject { with } => {
                verdict_step(p, &format!("REJECT {with}"));
                Flow::End(Verdict::Reject { with: with.clone() })
            }
            Target::Queue => {
                verdict_step(p, "QUEUE");
                Flow::End(Verdict::Queue { num: 0 })
            }
            Target::Nfqueue { num, .. } => {
                verdict_step(p, "NFQUEUE");
                Flow::End(Verdict::Queue { num: *num })
            }
            Target::Return => {
                p.trace.push(self.step(st, ci, Some(ri), Action::Return));
                // The RETURN's own step is recorded; pop without a second step.
                match self.pop_return(st, p) {
                    Some(v) => Flow::End(v),
                    None => Flow::Moved,
                }
            }
            Target::Chain { name } => {
                let Some(idx) = table.chain_index(name) else {
                    return self.unknown(st, ci, ri, format!("chain {name} does not exist in table {}", table.name));
                };
                let target_chain = &table.chains[idx];
                if !target_chain.is_declared() && target_chain.rules.is_empty() && self.rs.origin == Origin::IptablesSave {
                    return self.unknown(
                        st,
                        ci,
                        ri,
                        format!("chain {name} is referenced but not in this dump (a partial dump): what it does is unknown"),
                    );
                }
                let Some(pos) = p.pos.as_mut() else { return Flow::Next };
                if pos.frames.len() >= self.max_depth {
                    return self.unknown(st, ci, ri, "jumps nest too deep (a loop?)".into());
                }
                let action = if goto {
                    Action::Goto { to: name.clone() }
                } else {
                    pos.frames.push((ci, ri + 1));
                    Action::Jump { to: name.clone() }
                };
                pos.chain = idx;
                pos.rule = 0;
                p.trace.push(self.step(st, ci, Some(ri), action));
                Flow::Moved
            }
            Target::Dnat { to, .. } => self.nat(st, ci, ri, p, NatKind::Dnat, to, hook),
            Target::Snat { to, .. } => self.nat(st, ci, ri, p, NatKind::Snat, to, hook),
            Target::Masquerade { ports, .. } => {
                let r = NatRange {
                    addr_lo: None,
                    addr_hi: None,
                    ports: *ports,
                };
                self.nat(st, ci, ri, p, NatKind::Masquerade, std::slice::from_ref(&r), hook)
            }
            Target::Redirect { ports, .. } => {
                let r = NatRange {
                    addr_lo: None,
                    addr_hi: None,
                    ports: *ports,
                };
                self.nat(st, ci, ri, p, NatKind::Redirect, std::slice::from_ref(&r), hook)
            }
            Target::Mark(op) => {
                let old = p.pkt.mark;
                p.pkt.mark = op.apply(old);
                p.trace.push(self.step(st, ci, Some(ri), Action::Mark { old, new: p.pkt.mark }));
                Flow::Next
            }
            Target::Connmark(op) => {
                match op {
                    ConnMarkOp::Set(m) => {
                        let old = p.pkt.ct.mark;
                        p.pkt.ct.mark = m.apply(old);
                        p.trace.push(self.step(st, ci, Some(ri), Action::ConnMark { old, new: p.pkt.ct.mark }));
                    }
                    ConnMarkOp::Save { nfmask, ctmask } => {
                        let old = p.pkt.ct.mark;
                        p.pkt.ct.mark = (old & !ctmask) ^ (p.pkt.mark & nfmask);
                        p.trace.push(self.step(st, ci, Some(ri), Action::ConnMark { old, new: p.pkt.ct.mark }));
                    }
                    ConnMarkOp::Restore { nfmask, ctmask } => {
                        let old = p.pkt.mark;
                        p.pkt.mark = (old & !nfmask) ^ (p.pkt.ct.mark & ctmask);
                        p.trace.push(self.step(st, ci, Some(ri), Action::RestoreMark { old, new: p.pkt.mark }));
                    }
                }
                Flow::Next
            }
            Target::Notrack => {
                p.pkt.ct.state = CtState::Untracked;
                p.trace.push(self.step(st, ci, Some(ri), Action::Untrack));
                Flow::Next
            }
            Target::Ct { .. } => {
                p.trace.push(self.step(st, ci, Some(ri), Action::Continue { target: "CT".into() }));
                Flow::Next
            }
            Target::Continue { name, .. } => {
                p.trace.push(self.step(st, ci, Some(ri), Action::Continue { target: name.clone() }));
                Flow::Next
            }
            Target::Other { name, args } => {
                let why = match name.strip_prefix("xt ") {
                    Some(_) => args.join(" "),
                    None if args.is_empty() => String::new(),
                    None => format!(" ({})", args.join(" ")),
                };
                if name.starts_with("xt ") {
                    self.unknown(st, ci, ri, format!("target {name}: {why}"))
                } else {
                    self.unknown(st, ci, ri, format!("target {name} is not modelled{why}"))
                }
            }
            Target::Vmap(vm) => match crate::nft::eval_vmap(vm, &p.pkt) {
                Ok(Some(v)) => self.apply_vmap_verdict(st, ci, ri, p, v),
                Ok(None) => Flow::Next,
                Err(reason) => self.unknown(st, ci, ri, reason),
            },
        }
    }

    fn apply_vmap_verdict(&self, st: &Stage, ci: usize, ri: usize, p: &mut Path, v: crate::nft::VmapVerdict) -> Flow {
        use crate::nft::VmapVerdict as V;
        let table = &self.rs.tables[st.table];
        match v {
            V::Accept => {
                p.trace.push(self.step(st, ci, Some(ri), Action::Verdict { verdict: "ACCEPT".into() }));
                Flow::StageDone
            }
            V::Drop => {
                p.trace.push(self.step(st, ci, Some(ri), Action::Verdict { verdict: "DROP".into() }));
                Flow::End(Verdict::Drop)
            }
            V::Continue => Flow::Next,
            V::Return => {
                p.trace.push(self.step(st, ci, Some(ri), Action::Return));
                match self.pop_return(st, p) {
                    Some(v) => Flow::End(v),
                    None => Flow::Moved,
                }
            }
            V::Jump(_) | V::Goto(_) => {
                let goto = matches!(v, V::Goto(_));
                let (V::Jump(name) | V::Goto(name)) = v else { return Flow::Next };
                let Some(idx) = table.chain_index(&name) else {
                    return self.unknown(st, ci, ri, format!("vmap names chain {name}, which is not in table {}", table.name));
                };
                let Some(pos) = p.pos.as_mut() else { return Flow::Next };
                if pos.frames.len() >= self.max_depth {
                    return self.unknown(st, ci, ri, "jumps nest too deep (a loop?)".into());
                }
                if !goto {
                    pos.frames.push((ci, ri + 1));
                }
                pos.chain = idx;
                pos.rule = 0;
                let action = if goto { Action::Goto { to: name } } else { Action::Jump { to: name } };
                p.trace.push(self.step(st, ci, Some(ri), action));
                Flow::Moved
            }
        }
    }

    /// RETURN: back to the caller, or the policy when there is none.
    fn pop_return(&self, st: &Stage, p: &mut Path) -> Option<Verdict> {
        let pos = p.pos.as_mut()?;
        if let Some((c, r)) = pos.frames.pop() {
            pos.chain = c;
            pos.rule = r;
            return None;
        }
        self.end_of_chain(st, p, true)
    }

    fn unknown(&self, st: &Stage, ci: usize, ri: usize, reason: String) -> Flow {
        Flow::End(Verdict::Unknown {
            at: Some(self.rule_ref(st, ci, ri)),
            reason,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn nat(&self, st: &Stage, ci: usize, ri: usize, p: &mut Path, kind: NatKind, to: &[NatRange], hook: Hook) -> Flow {
        let table = &self.rs.tables[st.table];
        if st.kind != ChainKind::Nat {
            return self.unknown(st, ci, ri, format!("{kind:?} outside a nat chain (table {})", table.name));
        }
        let Some(r) = to.first() else {
            return self.unknown(st, ci, ri, "NAT without a range".into());
        };
        let mut note = None;
        if to.len() > 1 || r.addr_lo != r.addr_hi || r.ports.is_some_and(|x| x.lo != x.hi) {
            note = Some("the rule gives a range; the kernel picks one member, shown is the first".to_string());
        }
        let v6 = p.pkt.is_ipv6();
        let new_addr: Option<IpAddr> = match kind {
            NatKind::Dnat | NatKind::Snat => r.addr_lo.or(Some(if kind == NatKind::Dnat { p.pkt.dst } else { p.pkt.src })),
            NatKind::Masquerade => {
                let out = p.pkt.out_iface.clone();
                let a = out.as_deref().and_then(|o| masq_address(self.ctx, o, p.pkt.dst, v6));
                if a.is_none() {
                    note = Some(match out {
                        Some(o) => format!("the address of {o} is not known"),
                        None => "the packet's output interface is not given".into(),
                    });
                }
                a
            }
            NatKind::Redirect => {
                if hook == Hook::Output {
                    Some(if v6 { IpAddr::V6(std::net::Ipv6Addr::LOCALHOST) } else { IpAddr::V4(std::net::Ipv4Addr::LOCALHOST) })
                } else {
                    let a = p.pkt.in_iface.as_deref().and_then(|i| self.ctx.primary_address(i, v6));
                    if a.is_none() {
                        note = Some("the address of the input interface is not known".into());
                    }
                    a
                }
            }
        };
        let dst_side = matches!(kind, NatKind::Dnat | NatKind::Redirect);
        let (old_addr, old_port) = if dst_side { (p.pkt.dst, p.pkt.dport) } else { (p.pkt.src, p.pkt.sport) };
        let new_port = r.ports.map(|x| x.lo).or(old_port);
        if dst_side {
            p.pkt.ct.orig_dst.get_or_insert((old_addr, old_port));
            if let Some(a) = new_addr {
                p.pkt.dst = a;
            }
            p.pkt.dport = new_port;
            p.pkt.ct.dnat = true;
        } else {
            p.pkt.ct.orig_src.get_or_insert((old_addr, old_port));
            if let Some(a) = new_addr {
                p.pkt.src = a;
            }
            p.pkt.sport = new_port;
            p.pkt.ct.snat = true;
        }
        let done = NatDone {
            kind,
            from: (old_addr, old_port),
            to: (new_addr, new_port),
            note,
            rule: self.rule_ref(st, ci, ri),
        };
        p.trace.push(self.step(st, ci, Some(ri), Action::Nat(done.clone())));
        p.nat.push(done);
        Flow::StageDone
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
        let last_line = table.chains.iter().flat_map(|c| c.rules.iter().map(|r| r.line).chain(c.unreadable.iter().map(|u| u.1))).max();
        let chain_last = chain.rules.iter().map(|r| r.line).chain(chain.unreadable.iter().map(|u| u.1)).max();
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

/// A rule whose target changes nothing reported can be skipped when its matches are
/// undecidable (`-m limit ... -j LOG`).
fn harmless(t: Option<&Target>) -> bool {
    matches!(t, None | Some(Target::Continue { .. }))
}

/// The source address MASQUERADE picks: the out interface's address in the destination's
/// subnet if there is one, else its first (primary) address of the family.
fn masq_address(ctx: &HostContext, iface: &str, dst: IpAddr, v6: bool) -> Option<IpAddr> {
    let addrs = ctx.addresses.as_ref()?;
    let on_if: Vec<_> = addrs
        .iter()
        .filter(|a| a.ifname == iface && a.addr.is_ipv6() == v6)
        .collect();
    on_if
        .iter()
        .find(|a| {
            ipnet::IpNet::new(a.addr, a.prefix_len)
                .map(|n| n.contains(&dst))
                .unwrap_or(false)
        })
        .or(on_if.first())
        .map(|a| a.addr)
}
