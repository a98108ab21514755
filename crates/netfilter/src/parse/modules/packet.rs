//! Properties of the packet itself (`pkttype`, `length`) and accounting (`nfacct`).

use super::{unknown_opt, Args};
use crate::parse::args::{neg, one};
use crate::parse::values as v;
use crate::rule::*;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] = &[
    (&["pkttype"], pkttype),
    (&["length"], length_match),
    (&["nfacct"], nfacct),
];

/// `-m pkttype`.
fn pkttype(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    for o in opts {
        match o.name {
            "--pkt-type" => out.matches.push(neg(
                o,
                MatchKind::PktType {
                    kind: one(o)?.to_ascii_lowercase(),
                },
            )),
            _ => return Err(unknown_opt(name, o)),
        }
    }
    Ok(())
}

/// `-m length`.
fn length_match(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    for o in opts {
        match o.name {
            "--length" => out.matches.push(neg(
                o,
                MatchKind::Length {
                    range: v::port_range(one(o)?)?,
                },
            )),
            _ => return Err(unknown_opt(name, o)),
        }
    }
    Ok(())
}

/// `-m nfacct`.
fn nfacct(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    for o in opts {
        match o.name {
            "--nfacct-name" => out.matches.push(Match::new(MatchKind::Nfacct {
                name: one(o)?.to_string(),
            })),
            _ => return Err(unknown_opt(name, o)),
        }
    }
    Ok(())
}
