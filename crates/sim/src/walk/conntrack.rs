//! Conntrack along the walk: the entries a request leaves on each node, and the reply's NAT
//! reversal through them.

use super::*;

impl Walker<'_> {
    // ---- conntrack ----

    /// The packet enters a node's conntrack: a request opens (or re-uses) an entry, a reply is
    /// matched against the entries the request left. Returns the entry index.
    pub(super) fn ct_enter(&self, path: &mut Path, node: usize, f: &mut Frame) -> Option<usize> {
        if f.inner.is_some() {
            return None;
        }
        match path.dir {
            Direction::Request => {
                f.pkt.ct.state = CtState::New;
                f.pkt.ct.dir = CtDir::Original;
                path.ct.push(CtEntry {
                    node,
                    pre: tuple(&f.pkt),
                    post: tuple(&f.pkt),
                });
                Some(path.ct.len() - 1)
            }
            Direction::Reply => {
                let t = tuple(&f.pkt);
                let found = path
                    .ct
                    .iter()
                    .rposition(|e| e.node == node && (e.post.2, e.post.3, e.post.0, e.post.1) == t);
                match found {
                    Some(i) => {
                        let e = &path.ct[i];
                        f.pkt.ct.state = CtState::Established;
                        f.pkt.ct.dir = CtDir::Reply;
                        f.pkt.ct.dnat = e.pre.2 != e.post.2 || e.pre.3 != e.post.3;
                        f.pkt.ct.snat = e.pre.0 != e.post.0 || e.pre.1 != e.post.1;
                        f.pkt.ct.orig_dst = Some((e.pre.2, e.pre.3));
                        f.pkt.ct.orig_src = Some((e.pre.0, e.pre.1));
                    }
                    None => {
                        // A reply conntrack never saw the request of: a TCP SYN-ACK or an
                        // ICMP echo reply without its request is INVALID.
                        f.pkt.ct.state = if f.pkt.proto == proto::UDP {
                            CtState::New
                        } else {
                            CtState::Invalid
                        };
                    }
                }
                found
            }
        }
    }

    /// Reply: undo the request's source NAT (the reply's destination) before routing.
    pub(super) fn ct_unsnat(&self, path: &mut Path, node: usize, ct: Option<usize>, f: &mut Frame) {
        let (Direction::Reply, Some(i)) = (path.dir, ct) else {
            return;
        };
        let e = path.ct[i].clone();
        if e.pre.0 != e.post.0 || e.pre.1 != e.post.1 {
            let old = fmt_addr(f.pkt.dst, f.pkt.dport);
            f.pkt.dst = e.pre.0;
            f.pkt.dport = e.pre.1;
            self.hop(
                path,
                node,
                "conntrack",
                format!(
                    "reply to a source-NATed connection: destination {old} -> {}",
                    fmt_addr(f.pkt.dst, f.pkt.dport)
                ),
            );
        }
    }

    /// Reply: undo the request's destination NAT (the reply's source) on the way out.
    pub(super) fn ct_undnat(&self, path: &mut Path, node: usize, ct: Option<usize>, f: &mut Frame) {
        let (Direction::Reply, Some(i)) = (path.dir, ct) else {
            return;
        };
        let e = path.ct[i].clone();
        if e.pre.2 != e.post.2 || e.pre.3 != e.post.3 {
            let old = fmt_addr(f.pkt.src, f.pkt.sport);
            f.pkt.src = e.pre.2;
            f.pkt.sport = e.pre.3;
            self.hop(
                path,
                node,
                "conntrack",
                format!(
                    "reply to a DNATed connection: source {old} -> {}",
                    fmt_addr(f.pkt.src, f.pkt.sport)
                ),
            );
        }
    }

    pub(super) fn ct_leave(&self, path: &mut Path, ct: Option<usize>, f: &Frame) {
        if let (Direction::Request, Some(i)) = (path.dir, ct) {
            path.ct[i].post = tuple(&f.pkt);
        }
    }
}
