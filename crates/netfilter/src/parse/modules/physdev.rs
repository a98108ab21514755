//! Bridge ports (`physdev`), for bridged traffic seen through br_netfilter.

use super::{unknown_opt, Args};
use crate::parse::args::{neg, no_value, one};
use crate::rule::*;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] = &[(&["physdev"], physdev)];

/// `-m physdev`.
fn physdev(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    for o in opts {
        let opt = match o.name {
            "--physdev-in" => PhysdevOpt::In(IfaceName::new(one(o)?)),
            "--physdev-out" => PhysdevOpt::Out(IfaceName::new(one(o)?)),
            "--physdev-is-in" => {
                no_value(o)?;
                PhysdevOpt::IsIn
            }
            "--physdev-is-out" => {
                no_value(o)?;
                PhysdevOpt::IsOut
            }
            "--physdev-is-bridged" => {
                no_value(o)?;
                PhysdevOpt::IsBridged
            }
            _ => return Err(unknown_opt(name, o)),
        };
        out.matches.push(neg(o, MatchKind::Physdev(opt)));
    }
    Ok(())
}
