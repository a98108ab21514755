//! `-m set`: ipset membership.

use super::{opaque, unknown_opt, Args};
use crate::parse::args::neg;
use crate::rule::*;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] = &[(&["set"], set_match)];

/// `-m set`.
fn set_match(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    for o in opts {
        match o.name {
            "--match-set" | "--set" => {
                let [sname, dirs] = o.values else {
                    return Err("--match-set needs a set name and src/dst flags".into());
                };
                let (sname, dirs) = (&*sname.text, &*dirs.text);
                let dirs = dirs
                    .split(',')
                    .map(|d| match d {
                        "src" => Ok(Side::Src),
                        "dst" => Ok(Side::Dst),
                        _ => Err(format!("bad set flag {d:?}")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                out.matches.push(neg(
                    o,
                    MatchKind::Set(Box::new(SetMatch {
                        name: sname.to_string(),
                        dirs,
                    })),
                ));
            }
            "--return-nomatch"
            | "--update-counters"
            | "--update-subcounters"
            | "--packets-eq"
            | "--packets-lt"
            | "--packets-gt"
            | "--bytes-eq"
            | "--bytes-lt"
            | "--bytes-gt"
            | "! --update-counters" => {
                opaque(
                    out,
                    name,
                    std::slice::from_ref(o),
                    "ipset counter options are not modelled",
                );
            }
            _ => return Err(unknown_opt(name, o)),
        }
    }
    Ok(())
}
