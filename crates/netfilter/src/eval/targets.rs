//! What targets do to a path: verdicts, jumps and gotos, NAT, marks.

use super::*;

impl Evaluator<'_> {
    pub(super) fn apply_target(
        &self,
        hook: Hook,
        st: &Stage,
        ci: usize,
        ri: usize,
        p: &mut Path,
    ) -> Flow {
        let table = &self.sets[st.set].tables[st.table];
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
                p.trace.push(self.step(
                    st,
                    ci,
                    Some(ri),
                    Action::Continue {
                        target: "(no target)".into(),
                    },
                ));
                Flow::Next
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_one(
        &self,
        hook: Hook,
        st: &Stage,
        ci: usize,
        ri: usize,
        p: &mut Path,
        target: &Target,
        goto: bool,
    ) -> Flow {
        let table = &self.sets[st.set].tables[st.table];
        let verdict_step = |p: &mut Path, v: &str| {
            p.trace
                .push(self.step(st, ci, Some(ri), Action::Verdict { verdict: v.into() }));
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
                Flow::End(Verdict::Reject {
                    with: with.to_string(),
                })
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
                    return self.unknown(
                        st,
                        ci,
                        ri,
                        format!("chain {name} does not exist in table {}", table.name),
                    );
                };
                let target_chain = &table.chains[idx];
                if !target_chain.is_declared()
                    && target_chain.rules.is_empty()
                    && self.sets[st.set].origin == Origin::IptablesSave
                {
                    return self.unknown(
                        st,
                        ci,
                        ri,
                        format!("chain {name} is referenced but not in this dump (a partial dump): what it does is unknown"),
                    );
                }
                let Some(pos) = p.pos.as_mut() else {
                    return Flow::Next;
                };
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
            Target::Masquerade { ports, .. } | Target::Redirect { ports, .. } => {
                let kind = if matches!(target, Target::Masquerade { .. }) {
                    NatKind::Masquerade
                } else {
                    NatKind::Redirect
                };
                let r = NatRange {
                    addr_lo: None,
                    addr_hi: None,
                    ports: *ports,
                };
                self.nat(st, ci, ri, p, kind, std::slice::from_ref(&r), hook)
            }
            Target::Mark(op) => {
                let old = p.pkt.mark;
                p.pkt.mark = op.apply(old);
                p.trace.push(self.step(
                    st,
                    ci,
                    Some(ri),
                    Action::Mark {
                        old,
                        new: p.pkt.mark,
                    },
                ));
                Flow::Next
            }
            Target::Connmark(op) => {
                match op {
                    ConnMarkOp::Set(m) => {
                        let old = p.pkt.ct.mark;
                        p.pkt.ct.mark = m.apply(old);
                        p.trace.push(self.step(
                            st,
                            ci,
                            Some(ri),
                            Action::ConnMark {
                                old,
                                new: p.pkt.ct.mark,
                            },
                        ));
                    }
                    ConnMarkOp::Save { nfmask, ctmask } => {
                        let old = p.pkt.ct.mark;
                        p.pkt.ct.mark = (old & !ctmask) ^ (p.pkt.mark & nfmask);
                        p.trace.push(self.step(
                            st,
                            ci,
                            Some(ri),
                            Action::ConnMark {
                                old,
                                new: p.pkt.ct.mark,
                            },
                        ));
                    }
                    ConnMarkOp::Restore { nfmask, ctmask } => {
                        let old = p.pkt.mark;
                        p.pkt.mark = (old & !nfmask) ^ (p.pkt.ct.mark & ctmask);
                        p.trace.push(self.step(
                            st,
                            ci,
                            Some(ri),
                            Action::RestoreMark {
                                old,
                                new: p.pkt.mark,
                            },
                        ));
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
                p.trace.push(self.step(
                    st,
                    ci,
                    Some(ri),
                    Action::Continue {
                        target: "CT".into(),
                    },
                ));
                Flow::Next
            }
            Target::Continue(e) => {
                p.trace.push(self.step(
                    st,
                    ci,
                    Some(ri),
                    Action::Continue {
                        target: e.name.clone(),
                    },
                ));
                Flow::Next
            }
            Target::Other(e) => {
                let (name, args) = (&e.name, &e.args);
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

    fn apply_vmap_verdict(
        &self,
        st: &Stage,
        ci: usize,
        ri: usize,
        p: &mut Path,
        v: crate::nft::VmapVerdict,
    ) -> Flow {
        use crate::nft::VmapVerdict as V;
        let table = &self.sets[st.set].tables[st.table];
        match v {
            V::Accept => {
                p.trace.push(self.step(
                    st,
                    ci,
                    Some(ri),
                    Action::Verdict {
                        verdict: "ACCEPT".into(),
                    },
                ));
                Flow::StageDone
            }
            V::Drop => {
                p.trace.push(self.step(
                    st,
                    ci,
                    Some(ri),
                    Action::Verdict {
                        verdict: "DROP".into(),
                    },
                ));
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
                let (V::Jump(name) | V::Goto(name)) = v else {
                    return Flow::Next;
                };
                let Some(idx) = table.chain_index(&name) else {
                    return self.unknown(
                        st,
                        ci,
                        ri,
                        format!(
                            "vmap names chain {name}, which is not in table {}",
                            table.name
                        ),
                    );
                };
                let Some(pos) = p.pos.as_mut() else {
                    return Flow::Next;
                };
                if pos.frames.len() >= self.max_depth {
                    return self.unknown(st, ci, ri, "jumps nest too deep (a loop?)".into());
                }
                if !goto {
                    pos.frames.push((ci, ri + 1));
                }
                pos.chain = idx;
                pos.rule = 0;
                let action = if goto {
                    Action::Goto { to: name.into() }
                } else {
                    Action::Jump { to: name.into() }
                };
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
    fn nat(
        &self,
        st: &Stage,
        ci: usize,
        ri: usize,
        p: &mut Path,
        kind: NatKind,
        to: &[NatRange],
        hook: Hook,
    ) -> Flow {
        let table = &self.sets[st.set].tables[st.table];
        if st.kind != ChainKind::Nat {
            return self.unknown(
                st,
                ci,
                ri,
                format!("{kind:?} outside a nat chain (table {})", table.name),
            );
        }
        let Some(r) = to.first() else {
            return self.unknown(st, ci, ri, "NAT without a range".into());
        };
        let mut note = None;
        if to.len() > 1 || r.addr_lo != r.addr_hi || r.ports.is_some_and(|x| x.lo != x.hi) {
            note = Some(
                "the rule gives a range; the kernel picks one member, shown is the first"
                    .to_string(),
            );
        }
        let v6 = p.pkt.is_ipv6();
        let new_addr: Option<IpAddr> = match kind {
            NatKind::Dnat | NatKind::Snat => r.addr_lo.or(Some(if kind == NatKind::Dnat {
                p.pkt.dst
            } else {
                p.pkt.src
            })),
            NatKind::Masquerade => {
                let out = p.pkt.out_iface.clone();
                let a = out
                    .as_deref()
                    .and_then(|o| masq_address(self.ctx, o, p.pkt.dst, v6));
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
                    Some(if v6 {
                        IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
                    } else {
                        IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
                    })
                } else {
                    let a = p
                        .pkt
                        .in_iface
                        .as_deref()
                        .and_then(|i| self.ctx.primary_address(i, v6));
                    if a.is_none() {
                        note = Some("the address of the input interface is not known".into());
                    }
                    a
                }
            }
        };
        let dst_side = matches!(kind, NatKind::Dnat | NatKind::Redirect);
        let (old_addr, old_port) = if dst_side {
            (p.pkt.dst, p.pkt.dport)
        } else {
            (p.pkt.src, p.pkt.sport)
        };
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
        p.trace
            .push(self.step(st, ci, Some(ri), Action::Nat(done.clone())));
        p.nat.push(done);
        Flow::StageDone
    }
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
