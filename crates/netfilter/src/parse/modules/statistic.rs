//! Choices that depend on chance or on history (`statistic`, `recent`).

use super::{unknown_opt, Args};
use crate::parse::args::{one, values_text};
use crate::parse::values as v;
use crate::rule::*;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] =
    &[(&["statistic"], statistic), (&["recent"], recent)];

/// `-m statistic`.
fn statistic(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    let mut mode = None;
    let mut prob = None;
    let mut every = None;
    let mut packet = 0;
    let mut negated = false;
    for o in opts {
        negated |= o.neg;
        match o.name {
            "--mode" => mode = Some(one(o)?),
            "--probability" => {
                let p: f64 = one(o)?
                    .parse()
                    .map_err(|_| format!("bad probability {:?}", values_text(o)))?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!("probability {p} out of 0..1"));
                }
                prob = Some(p);
            }
            "--every" => every = Some(v::number(one(o)?)?),
            "--packet" => packet = v::number(one(o)?)?,
            _ => return Err(unknown_opt(name, o)),
        }
    }
    let s = match (mode, prob, every) {
        (Some("random"), Some(p), _) => Statistic::Random { probability: p },
        (Some("nth"), _, Some(e)) if e > 0 => Statistic::Nth { every: e, packet },
        _ => {
            return Err(
                "statistic needs --mode random --probability P or --mode nth --every N".into(),
            )
        }
    };
    out.matches.push(Match {
        negated,
        kind: MatchKind::Statistic(s),
    });
    Ok(())
}

/// `-m recent`.
fn recent(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    let mut rname = "DEFAULT".to_string();
    let mut cmd = None;
    let mut side = Side::Src;
    let mut seconds = None;
    let mut hitcount = None;
    let mut negated = false;
    for o in opts {
        match o.name {
            "--name" => rname = one(o)?.to_string(),
            "--set" => {
                negated |= o.neg;
                cmd = Some(RecentCmd::Set)
            }
            "--rcheck" => {
                negated |= o.neg;
                cmd = Some(RecentCmd::Rcheck)
            }
            "--update" => {
                negated |= o.neg;
                cmd = Some(RecentCmd::Update)
            }
            "--remove" => {
                negated |= o.neg;
                cmd = Some(RecentCmd::Remove)
            }
            "--rsource" => side = Side::Src,
            "--rdest" => side = Side::Dst,
            "--seconds" => seconds = Some(v::number(one(o)?)?),
            "--hitcount" => hitcount = Some(v::number(one(o)?)?),
            "--mask" | "--reap" | "--rttl" => {}
            _ => return Err(unknown_opt(name, o)),
        }
    }
    let cmd = cmd.ok_or("recent needs --set, --rcheck, --update or --remove")?;
    out.matches.push(Match {
        negated,
        kind: MatchKind::Recent(Box::new(Recent {
            name: rname,
            cmd,
            side,
            seconds,
            hitcount,
        })),
    });
    Ok(())
}
