//! `-m comment`: the first comment is the rule's, later ones are matches.

use super::{unknown_opt, Args};
use crate::parse::args::one;
use crate::rule::*;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] = &[(&["comment"], comment)];

/// `-m comment`.
fn comment(
    Args {
        name,
        opts,
        src,
        out,
        ..
    }: Args,
) -> Result<(), String> {
    for o in opts {
        match o.name {
            "--comment" => {
                let text = Text::slice_of(src, one(o)?);
                if out.comment.is_none() {
                    out.comment = Some(text);
                } else {
                    out.matches.push(Match::new(MatchKind::Comment { text }));
                }
            }
            _ => return Err(unknown_opt(name, o)),
        }
    }
    Ok(())
}
