//! Reading one rule line without the parser's state, so that a large dump's rule lines can be
//! read on several threads while one thread puts the results in order.
//!
//! Reading a line (splitting it into words, parsing every match and the target) is nearly all
//! of a parse; putting a rule into its chain is cheap. [`read_append`] does the first for a
//! `-A CHAIN ...` line, whatever table or section it is in, and the parser applies its
//! [`Pre`] in line order, so the result is the same as reading line by line.

use super::args::{self, RuleArgs};
use super::lex::{self, Token};
use super::{looks_truncated, split_counters, Parser};
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
    // `NAME...`, `NAME[...`, `NAME[...]`; anything cut where a space follows fails to read
    // anyway. The last byte first: this runs on every rule.
    matches!(name.as_bytes().last(), Some(b'.' | b']'))
        && (name.ends_with("...") || name.contains("[..."))
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
            also: Sparse::new(),
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

/// The piece of a dump one thread reads at a time: 256 KiB, or less for a small dump so that
/// every thread gets several.
fn piece_size(len: usize, threads: usize) -> usize {
    (len / (8 * threads)).clamp(4 << 10, 256 << 10)
}

/// Feed every line of `text` to the parser, in order. For a large dump, the rule lines are
/// first read ([`read_append`], nearly all the work) piece by piece by `threads - 1`
/// helper threads and this one, which also applies the results in line order; at most a few
/// pieces are read ahead, so memory stays bounded.
pub(super) fn read_lines<'a>(p: &mut Parser<'a>, src: &Arc<String>, text: &'a str, threads: usize) {
    if threads < 2 {
        for (i, raw) in text.lines().enumerate() {
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            p.line(n, raw.strip_suffix('\r').unwrap_or(raw), None);
        }
        return;
    }
    use std::sync::atomic::{AtomicUsize, Ordering};
    let chunks = split_chunks(text, piece_size(text.len(), threads));
    let window = threads + 2;
    let next = AtomicUsize::new(0);
    let applied = AtomicUsize::new(0);
    // Emptied result lists, handed back for the next pieces rather than a new list (on new
    // pages) for every piece.
    let pool: Lines = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 1..threads {
            let (tx, next, applied, chunks, pool) = (tx.clone(), &next, &applied, &chunks, &pool);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(chunk) = chunks.get(i) else { break };
                while i >= applied.load(Ordering::Acquire) + window {
                    std::thread::park_timeout(std::time::Duration::from_micros(100));
                }
                if tx.send((i, read_chunk(src, chunk, pool))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut ready = std::collections::HashMap::new();
        let mut n: u32 = 0;
        for (ci, chunk) in chunks.iter().enumerate() {
            let read: Option<Vec<(&str, Option<Pre>)>> = loop {
                while let Ok((i, r)) = rx.try_recv() {
                    ready.insert(i, r);
                }
                if let Some(r) = ready.remove(&ci) {
                    break Some(r);
                }
                // Rather than wait, read the next unclaimed piece here.
                let i = next.load(Ordering::Relaxed);
                if i < chunks.len() && i < ci + window {
                    if next
                        .compare_exchange(i, i + 1, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                    {
                        ready.insert(i, read_chunk(src, chunks[i], &pool));
                    }
                    continue;
                }
                match rx.recv() {
                    Ok((i, r)) => {
                        ready.insert(i, r);
                    }
                    // Every helper is gone (they cannot panic, but if one did, the scope
                    // reports it): read the rest of this piece line by line.
                    Err(_) => break None,
                }
            };
            match read {
                Some(mut lines) => {
                    for (line, pre) in lines.drain(..) {
                        n = n.saturating_add(1);
                        p.line(n, line, pre);
                    }
                    pool.lock().unwrap_or_else(|e| e.into_inner()).push(lines);
                }
                None => {
                    for raw in chunk.lines() {
                        n = n.saturating_add(1);
                        p.line(n, raw.strip_suffix('\r').unwrap_or(raw), None);
                    }
                }
            }
            applied.store(ci + 1, Ordering::Release);
        }
    });
}

/// `text` cut into pieces of about `size` bytes, each ending with a newline (but the last).
fn split_chunks(text: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = match rest.as_bytes().get(size..) {
            Some(tail) => tail
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |p| size + p + 1),
            None => rest.len(),
        };
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    out
}

/// Emptied lists of read lines, for reuse.
type Lines<'a> = std::sync::Mutex<Vec<Vec<(&'a str, Option<Pre<'a>>)>>>;

/// The lines of one piece (without their `\r`), each rule line read, in a list from `pool`.
fn read_chunk<'a>(
    src: &Arc<String>,
    chunk: &'a str,
    pool: &Lines<'a>,
) -> Vec<(&'a str, Option<Pre<'a>>)> {
    let mut out = pool
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_default();
    // Sized once: grown line by line, a piece's results were copied about twice over.
    out.reserve(chunk.as_bytes().iter().filter(|&&b| b == b'\n').count() + 1);
    let mut tokens = Vec::with_capacity(32);
    let mut args = RuleArgs::default();
    for raw in chunk.lines() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let t = line.trim();
        let pre = (t.starts_with("-A ") && line.len() <= super::MAX_LINE)
            .then(|| read_append(src, t, &mut tokens, &mut args));
        out.push((line, pre));
    }
    out
}
