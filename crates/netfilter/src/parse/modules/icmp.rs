//! `icmp` and `icmp6` types.

use super::{unknown_opt, Args};
use crate::parse::args::{neg, one};
use crate::parse::values as v;
use crate::rule::*;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] = &[(&["icmp", "icmp6", "icmpv6"], icmp)];

/// `-m icmp | icmp6 | icmpv6`.
fn icmp(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    let v6 = name != "icmp";
    for o in opts {
        match o.name {
            "--icmp-type" | "--icmpv6-type" => {
                let (t, c) = v::icmp_type(one(o)?, v6)?;
                out.matches.push(neg(
                    o,
                    MatchKind::Icmp {
                        v6,
                        icmp_type: t,
                        code: c,
                    },
                ));
            }
            _ => return Err(unknown_opt(name, o)),
        }
    }
    Ok(())
}
