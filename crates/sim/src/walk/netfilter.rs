//! A netfilter hook inside the walk: forks per outcome, finishes drops and unknowns, names
//! the finding a drop points to.

use netdoctor_model::Cause;

use super::*;

impl Walker<'_> {
    // ---- netfilter ----

    /// Run a hook; returns the accepted continuations, finishing the others.
    pub(super) fn hook(
        &mut self,
        path: &Path,
        node: usize,
        hook: Hook,
        f: &Frame,
    ) -> Vec<(Path, Frame)> {
        let n = &self.c.nodes[node];
        let outcomes = match run_hook(n.rules(), &n.ctx, hook, &f.pkt) {
            Ok(o) => o,
            Err(why) => {
                self.unknown(path.clone(), node, &format!("netfilter/{hook}"), why);
                return Vec::new();
            }
        };
        let multi = n.rules().active().count() > 1;
        let mut out = Vec::new();
        for o in outcomes {
            let mut p = path.clone();
            for (stage, detail) in &o.lines {
                self.hop(&mut p, node, stage, detail.clone());
            }
            p.prob = p.prob.zip(o.probability).map(|(a, b)| a * b);
            let before = f.pkt.dst;
            let mut nf = f.clone();
            nf.pkt = o.packet.clone();
            if o.dnat.is_some()
                && p.dir == Direction::Request
                && nf.inner.is_none()
                && nf.pkt.dst != before
            {
                if let Some(want) = self.req.endpoint {
                    if nf.pkt.dst != want {
                        continue;
                    }
                }
                if p.endpoint.is_none() {
                    p.endpoint = Some(fmt_addr(nf.pkt.dst, nf.pkt.dport));
                }
                p.dnat_multi_backend |= multi;
            }
            match &o.verdict {
                Verdict::Accept => out.push((p, nf)),
                Verdict::Drop | Verdict::Reject { .. } => {
                    let finding = self.nf_finding(&o, hook, &nf);
                    let (stage, detail) =
                        o.lines.last().cloned().unwrap_or_else(|| {
                            (format!("netfilter/{hook}"), o.verdict.to_string())
                        });
                    // The verdict's line becomes the drop's own hop.
                    if !o.lines.is_empty() {
                        p.hops.pop();
                    }
                    self.drop(p, node, &stage, finding, detail);
                }
                Verdict::Unknown { .. } | Verdict::Queue { .. } => {
                    let (stage, detail) =
                        o.lines.last().cloned().unwrap_or_else(|| {
                            (format!("netfilter/{hook}"), o.verdict.to_string())
                        });
                    // The verdict's line becomes the drop's own hop.
                    if !o.lines.is_empty() {
                        p.hops.pop();
                    }
                    self.unknown(p, node, &stage, detail);
                }
            }
        }
        out
    }

    pub(super) fn nf_finding(
        &self,
        o: &HookOutcome,
        hook: Hook,
        f: &Frame,
    ) -> Option<&'static str> {
        if let Some(netdoctor_datapath::hook::Decided::Rule(r)) = &o.decided {
            if netdoctor_datapath::kube_proxy::rejects_for_no_endpoints(&r.table, &r.chain, &r.text)
            {
                return Some(Cause::ServiceNoEndpoints.id());
            }
        }
        let overlay_port = f.pkt.proto == proto::UDP
            && f.pkt
                .dport
                .is_some_and(netdoctor_datapath::overlay::is_overlay_udp_port);
        if hook == Hook::Input && (f.inner.is_some() || overlay_port) {
            return Some(Cause::OverlayPortBlocked.id());
        }
        if hook == Hook::Forward && o.by_policy {
            return Some(Cause::ForwardPolicyDrop.id());
        }
        None
    }
}
