//! Match modules (`-m NAME --option value ...`) and the options of the protocol modules that
//! `-p` loads implicitly: the table of modules, and one file per family of them.

mod addresses;
mod comment;
mod conntrack;
mod icmp;
mod ipset;
mod marks;
mod opaque;
mod packet;
mod physdev;
mod ports;
mod statistic;

use super::args::{raw_args, Opt, RuleArgs};
use crate::rule::*;
use std::sync::Arc;

pub(super) fn opaque(out: &mut RuleArgs, name: &str, opts: &[Opt], why: &str) {
    // The negations stay inside `args`: the module is decided as a whole or not at all.
    let args = raw_args(opts);
    out.matches
        .push(Match::new(MatchKind::Opaque(Box::new(OpaqueMatch {
            module: name.to_string(),
            args,
            why: why.to_string(),
        }))));
}

pub(super) fn unknown_opt(module: &str, o: &Opt) -> String {
    format!("unknown option {} of match {module}", o.name)
}

/// What a match module's reader is given: the module's name (several modules share one
/// reader), its options, the protocol `-p` gave, the dump's text (comments point into it), and
/// the rule being built.
pub(super) struct Args<'r, 't, 'a> {
    pub name: &'r str,
    pub opts: &'r [Opt<'t, 'a>],
    pub proto_seen: Option<u8>,
    pub src: &'r Arc<String>,
    pub out: &'r mut RuleArgs,
}

/// A match module's reader.
type Reader = for<'r, 't, 'a> fn(Args<'r, 't, 'a>) -> Result<(), String>;

/// Every match module netdoctor reads, by the names iptables knows it under, family by family.
/// A new match of an existing family is one entry in that file's `MODULES` and one function,
/// with its tests, in the same file.
const FAMILIES: &[&[(&[&str], Reader)]] = &[
    addresses::MODULES,
    comment::MODULES,
    conntrack::MODULES,
    icmp::MODULES,
    ipset::MODULES,
    marks::MODULES,
    opaque::MODULES,
    packet::MODULES,
    physdev::MODULES,
    ports::MODULES,
    statistic::MODULES,
];

/// [`FAMILIES`] by module name (a rule line names one or two modules; a large dump has a
/// hundred thousand lines).
static READERS: std::sync::LazyLock<std::collections::HashMap<&'static str, Reader>> =
    std::sync::LazyLock::new(|| {
        FAMILIES
            .iter()
            .flat_map(|f| f.iter())
            .flat_map(|(names, read)| names.iter().map(move |n| (*n, *read)))
            .collect()
    });

/// Parse the options of match module `name`.
pub(super) fn parse_module(
    name: &str,
    opts: &[Opt],
    proto_seen: Option<u8>,
    src: &Arc<String>,
    out: &mut RuleArgs,
) -> Result<(), String> {
    let before = (out.matches.len(), out.comment.is_some());
    match READERS.get(name) {
        Some(read) => read(Args {
            name,
            opts,
            proto_seen,
            src,
            out,
        })?,
        None => opaque(
            out,
            name,
            opts,
            &format!("match module {name} is not modelled"),
        ),
    }
    // Options given without any value to a module that needs none still produce a match.
    if (out.matches.len(), out.comment.is_some()) == before && !opts.is_empty() {
        return Err(format!("match {name}: nothing understood in its options"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_name_has_one_reader() {
        let mut seen = std::collections::HashSet::new();
        for (names, _) in FAMILIES.iter().flat_map(|f| f.iter()) {
            for n in *names {
                assert!(seen.insert(*n), "match module {n} is read by two families");
            }
        }
        assert!(seen.contains("conntrack") && seen.contains("multiport"));
    }
}
