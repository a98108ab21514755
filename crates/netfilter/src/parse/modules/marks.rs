//! Packet and connection marks (`mark`, `connmark`).

use super::{unknown_opt, Args};
use crate::parse::args::{neg, one};
use crate::parse::values as v;
use crate::rule::*;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] = &[(&["mark", "connmark"], mark)];

/// `-m mark | connmark`.
fn mark(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    for o in opts {
        match o.name {
            "--mark" => {
                let (value, mask) = v::value_mask(one(o)?)?;
                let kind = if name == "mark" {
                    MatchKind::Mark { value, mask }
                } else {
                    MatchKind::ConnMark { value, mask }
                };
                out.matches.push(neg(o, kind));
            }
            _ => return Err(unknown_opt(name, o)),
        }
    }
    Ok(())
}
