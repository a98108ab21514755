//! Address classes and ranges (`addrtype`, `iprange`).

use super::{unknown_opt, Args};
use crate::parse::args::{neg, no_value, one};
use crate::parse::values as v;
use crate::rule::*;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] =
    &[(&["addrtype"], addrtype), (&["iprange"], iprange)];

/// `-m addrtype`.
fn addrtype(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    let mut limit = None;
    for o in opts {
        match o.name {
            "--limit-iface-in" => limit = Some(LimitIface::In),
            "--limit-iface-out" => limit = Some(LimitIface::Out),
            _ => {}
        }
    }
    for o in opts {
        match o.name {
            "--src-type" | "--dst-type" => out.matches.push(neg(
                o,
                MatchKind::AddrType {
                    side: if o.name == "--src-type" {
                        Side::Src
                    } else {
                        Side::Dst
                    },
                    types: v::addr_types(one(o)?)?,
                    limit_iface: limit,
                },
            )),
            "--limit-iface-in" | "--limit-iface-out" => no_value(o)?,
            _ => return Err(unknown_opt(name, o)),
        }
    }
    Ok(())
}

/// `-m iprange`.
fn iprange(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    for o in opts {
        let side = match o.name {
            "--src-range" => Side::Src,
            "--dst-range" => Side::Dst,
            _ => return Err(unknown_opt(name, o)),
        };
        let r = one(o)?;
        let (a, b) = r.split_once('-').unwrap_or((r, r));
        let from = a.parse().map_err(|_| format!("bad address range {r:?}"))?;
        let to = b.parse().map_err(|_| format!("bad address range {r:?}"))?;
        out.matches.push(neg(
            o,
            MatchKind::IpRange(Box::new(IpRange { side, from, to })),
        ));
    }
    Ok(())
}
