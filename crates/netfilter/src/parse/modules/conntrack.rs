//! Connection tracking (`conntrack`, `state`).

use super::{opaque, unknown_opt, Args};
use crate::packet::{CtDir, CtStateSet};
use crate::parse::args::{neg, one};
use crate::parse::values as v;
use crate::rule::*;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] = &[(&["conntrack", "state"], conntrack)];

/// `-m conntrack | state`.
fn conntrack(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    for o in opts {
        let kind = match (name, o.name) {
            ("state", "--state") | ("conntrack", "--ctstate") => MatchKind::CtState {
                states: CtStateSet::parse(one(o)?)?,
            },
            ("conntrack", "--ctorigsrc") => MatchKind::CtAddr {
                which: CtTuple::OrigSrc,
                net: Box::new(v::addr_mask(one(o)?)?),
            },
            ("conntrack", "--ctorigdst") => MatchKind::CtAddr {
                which: CtTuple::OrigDst,
                net: Box::new(v::addr_mask(one(o)?)?),
            },
            ("conntrack", "--ctreplsrc") => MatchKind::CtAddr {
                which: CtTuple::ReplSrc,
                net: Box::new(v::addr_mask(one(o)?)?),
            },
            ("conntrack", "--ctrepldst") => MatchKind::CtAddr {
                which: CtTuple::ReplDst,
                net: Box::new(v::addr_mask(one(o)?)?),
            },
            ("conntrack", "--ctorigsrcport") => MatchKind::CtPort {
                which: CtTuple::OrigSrc,
                range: v::port_range(one(o)?)?,
            },
            ("conntrack", "--ctorigdstport") => MatchKind::CtPort {
                which: CtTuple::OrigDst,
                range: v::port_range(one(o)?)?,
            },
            ("conntrack", "--ctreplsrcport") => MatchKind::CtPort {
                which: CtTuple::ReplSrc,
                range: v::port_range(one(o)?)?,
            },
            ("conntrack", "--ctrepldstport") => MatchKind::CtPort {
                which: CtTuple::ReplDst,
                range: v::port_range(one(o)?)?,
            },
            ("conntrack", "--ctdir") => MatchKind::CtDir {
                dir: match one(o)?.to_ascii_uppercase().as_str() {
                    "ORIGINAL" => CtDir::Original,
                    "REPLY" => CtDir::Reply,
                    d => return Err(format!("bad --ctdir {d:?}")),
                },
            },
            ("conntrack", "--ctproto") => MatchKind::CtProto {
                proto: v::protocol(one(o)?)?,
            },
            ("conntrack", "--ctstatus") => MatchKind::CtStatus {
                status: one(o)?.split(',').map(str::to_string).collect(),
            },
            ("conntrack", "--ctexpire") => {
                opaque(
                    out,
                    name,
                    std::slice::from_ref(o),
                    "conntrack expiry is not part of the packet description",
                );
                continue;
            }
            _ => return Err(unknown_opt(name, o)),
        };
        out.matches.push(neg(o, kind));
    }
    Ok(())
}
