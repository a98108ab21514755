//! `icmp` and `icmp6` types.

use super::unknown_opt;
use crate::parse::args::{neg, one, Opt, RuleArgs};
use crate::parse::values as v;
use crate::rule::*;
use std::sync::Arc;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] = &[(&["icmp", "icmp6", "icmpv6"], icmp)];

/// `-m icmp | icmp6 | icmpv6`.
fn icmp(
    name: &str,
    opts: &[Opt],
    _proto_seen: Option<u8>,
    _src: &Arc<String>,
    out: &mut RuleArgs,
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
