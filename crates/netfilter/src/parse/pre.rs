//! Reading one rule line without the parser's state, so that a large dump's rule lines can be
//! read on several threads while one thread puts the results in order.
//!
//! Reading a line (splitting it into words, parsing every match and the target) is nearly all
//! of a parse; putting a rule into its chain is cheap. [`read_append`] does the first for a
//! `-A CHAIN ...` line, whatever table or section it is in, and the parser applies its
//! [`Pre`] in line order, so the result is the same as reading line by line.

use super::args::{self, RuleArgs};
use super::lex::{self, Token};
use super::{looks_truncated, split_counters};
use crate::error::ErrorKind;
use crate::rule::*;
use std::sync::Arc;

/// What a rule line gives.
pub(super) enum Pre<'a> {
    /// `-A CHAIN ...`, read. `rule.line` is set by the parser.
    Append { chain: &'a str, rule: Rule },
    /// The line cannot be read: the error, and whether a rule of the chain was lost there
    /// (see `Parser::mark_unreadable`).
    Bad {
        kind: ErrorKind,
        msg: String,
        lost_rule: bool,
    },
    /// Another command (`-I`, `-N`, `-P`, ...): the parser reads it itself.
    Other,
}

/// Read `t` when it is an append; `tokens` and `args` are scratch space the caller reuses.
pub(super) fn read_append<'a>(
    src: &Arc<String>,
    t: &'a str,
    tokens: &mut Vec<Token<'a>>,
    args: &mut RuleArgs,
) -> Pre<'a> {
    let (counters, body) = match split_counters(t) {
        Ok(x) => x,
        Err(msg) => {
            return Pre::Bad {
                kind: ErrorKind::Malformed,
                msg,
                lost_rule: false,
            }
        }
    };
    if let Err(m) = lex::split_into(body, tokens) {
        return unreadable(t, ErrorKind::Truncated, m);
    }
    if !matches!(tokens.first().map(|k| &*k.text), Some("-A" | "--append")) {
        return Pre::Other;
    }
    let Some(chain) = tokens.get(1).map(|k| k.text.clone()) else {
        return Pre::Bad {
            kind: ErrorKind::Truncated,
            msg: "-A without a chain".into(),
            lost_rule: false,
        };
    };
    // The chain name borrows from the line unless it was quoted: then the parser's slow path
    // (which copies) reads it.
    let std::borrow::Cow::Borrowed(chain) = chain else {
        return Pre::Other;
    };
    match rule(src, t, counters, &tokens[2..], args) {
        // A paste cut inside a name still reads: `-j KUBE-SVC-ABC[... truncated]` (the words
        // after it do not), `-j KUBE-SVC-AB...`.
        Ok(rule)
            if cut_name(chain)
                || matches!(&rule.target, Some(Target::Chain { name }) if cut_name(name)) =>
        {
            Pre::Bad {
                kind: ErrorKind::Truncated,
                msg: format!("truncated rule: {t:?}"),
                lost_rule: true,
            }
        }
        Ok(rule) => Pre::Append { chain, rule },
        Err((kind, msg)) => unreadable(t, kind, msg),
    }
}

/// A chain name that ends in a truncation marker.
fn cut_name(name: &str) -> bool {
    name.ends_with("...") || (name.as_bytes().contains(&b'[') && name.contains("[..."))
}

/// The rule of `t`, from its arguments after `-A CHAIN` (or `-I CHAIN [N]`).
pub(super) fn rule(
    src: &Arc<String>,
    t: &str,
    counters: Option<Counters>,
    rest: &[Token],
    a: &mut RuleArgs,
) -> Result<Rule, (ErrorKind, String)> {
    match args::parse_rule_args(rest, src, a) {
        Ok(()) => Ok(Rule {
            line: 0,
            goto: a.goto,
            text: Text::slice_of(src, t),
            comment: a.comment.take(),
            counters: counters.or(a.counters.take()).map(Box::new),
            matches: a.matches.drain(..).collect(),
            target: a.target.take(),
            also: Box::new([]),
        }),
        Err(m) => {
            let kind = if m.contains("needs a value") || m.contains("ends with") {
                ErrorKind::Truncated
            } else {
                ErrorKind::Malformed
            };
            Err((kind, format!("{m} (rule not read: {t:?})")))
        }
    }
}

/// A rule line that could not be read: truncated when it carries a paste's truncation marker
/// (looked for only now: scanning every line of a large dump for `...` cost a sixth of the
/// parse), else `kind` and `why`.
fn unreadable<'a>(t: &str, kind: ErrorKind, why: String) -> Pre<'a> {
    let (kind, msg) = if looks_truncated(t) {
        (ErrorKind::Truncated, format!("truncated rule: {t:?}"))
    } else {
        (kind, why)
    };
    Pre::Bad {
        kind,
        msg,
        lost_rule: true,
    }
}
