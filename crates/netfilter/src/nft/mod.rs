//! Reading `nft -j list ruleset` (libnftables JSON, `libnftables-json(5)`) into the same
//! [`Ruleset`] the iptables parser produces, so one evaluator serves both backends.
//!
//! Common expressions become ordinary matches and targets; `numgen random mod N vmap {...}`
//! (kube-proxy's nftables mode) becomes N `statistic` choices; verdict maps become a
//! [`Target::Vmap`]. Anything else becomes an opaque match or an unmodelled target, which
//! evaluates to *unknown* naming the rule. Rules written through iptables-nft show up as `xt`
//! expressions without their options: for those, `iptables-nft-save` is the faithful source,
//! and the parse says so.

use crate::error::{ErrorKind, ParseError};
use crate::packet::Hook;
use crate::parse::values as v;
use crate::rule::*;
use render::render_rule;
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;

mod matches;
mod render;
mod text;
mod vmap;

pub use text::{looks_like_nft_text, parse_nft_text, parse_nft_text_threads};

use matches::translate_match;

pub(crate) use vmap::eval_vmap;
pub use vmap::{ElemValue, KeyField, Vmap, VmapVerdict};

/// Parse `nft -j list ruleset` output.
pub fn parse_nft_json(text: &str, file: &str) -> (Ruleset, Vec<ParseError>) {
    let doc: Value = match serde_json::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            let rs = Ruleset {
                source: file.to_string(),
                origin: Origin::NftJson,
                ..Ruleset::default()
            };
            let mut pe = ParseError::new(file, 0, ErrorKind::NotADump, format!("not JSON: {e}"));
            pe.line = u32::try_from(e.line()).unwrap_or(0);
            return (rs, vec![pe]);
        }
    };
    parse_nft_doc(doc, file, Origin::NftJson)
}

/// Named sets and maps, by (family, table, name).
type Sets = HashMap<(String, String, String), Value>;

/// The rule set of a libnftables JSON document (`{"nftables": [...]}`).
fn parse_nft_doc(mut doc: Value, file: &str, origin: Origin) -> (Ruleset, Vec<ParseError>) {
    let mut rs = Ruleset {
        source: file.to_string(),
        origin,
        ..Ruleset::default()
    };
    let err = |msg: String| ParseError::new(file, 0, ErrorKind::Malformed, msg);
    let Some(items) = doc.get_mut("nftables").and_then(Value::as_array_mut) else {
        return (
            rs,
            vec![err(
                "no \"nftables\" array: not `nft -j list ruleset` output".into(),
            )],
        );
    };
    let sets = skeleton(items, &mut rs);
    let mut rules = RuleSink::new(file);
    for it in items.iter() {
        let Some(r) = it.get("rule") else { continue };
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
        let exprs: &[Value] = r
            .get("expr")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        // A rule read from `nft list ruleset` text keeps its line; one from JSON is rendered.
        let comment = r.get("comment").and_then(Value::as_str);
        let text = match r.get("_text").and_then(Value::as_str) {
            Some(t) => t.to_string(),
            None => {
                let mut text = render_rule(exprs);
                if let Some(c) = comment {
                    text.push_str(&format!(" comment \"{c}\""));
                }
                text
            }
        };
        let handle = r.get("handle").and_then(Value::as_u64).unwrap_or(0) as u32;
        rules.add(
            &mut rs,
            &sets,
            (s("family"), s("table"), s("chain")),
            exprs,
            handle,
            &text,
            comment,
        );
    }
    let errors = rules.finish(&rs);
    (rs, errors)
}

/// The tables, sets and chains (with their hooks and policies) of a document's items: all
/// but the rules. The sets and maps are moved out of `items` (a map of 10k Services is large).
fn skeleton(items: &mut [Value], rs: &mut Ruleset) -> Sets {
    let mut sets: Sets = HashMap::new();
    let key = |o: &Value| -> (String, String, String) {
        let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        (s("family"), s("table"), s("name"))
    };
    for it in items.iter_mut() {
        if let Some(t) = it.get("table") {
            let fam = t.get("family").and_then(Value::as_str).unwrap_or("");
            let name = t.get("name").and_then(Value::as_str).unwrap_or("");
            rs.tables.push(Table::new(name, family(fam), 0));
            if let Some(last) = rs.tables.last_mut() {
                last.committed = true;
            }
        } else if let Some(kind) = ["set", "map"].into_iter().find(|k| it.get(k).is_some()) {
            if let Some(s) = it.get_mut(kind) {
                sets.insert(key(s), s.take());
            }
        }
    }
    for it in items.iter() {
        if let Some(c) = it.get("chain") {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
            let Some(ti) = table_idx(rs, s("family"), s("table")) else {
                continue;
            };
            let ch = rs.tables[ti].chain_mut_or_insert(s("name"));
            ch.declared_at = Some(c.get("handle").and_then(Value::as_u64).unwrap_or(0) as u32);
            if let (Some(h), Some(prio)) = (
                c.get("hook")
                    .and_then(Value::as_str)
                    .and_then(Hook::from_name),
                c.get("prio").and_then(Value::as_i64),
            ) {
                let kind = match c.get("type").and_then(Value::as_str) {
                    Some("nat") => ChainKind::Nat,
                    Some("route") => ChainKind::Route,
                    _ => ChainKind::Filter,
                };
                ch.base = Some(BaseChain {
                    hook: h,
                    priority: prio as i32,
                    kind,
                });
                ch.policy = Some(match c.get("policy").and_then(Value::as_str) {
                    Some("drop") => Policy::Drop,
                    _ => Policy::Accept,
                });
            }
        }
    }
    sets
}

/// One rule of chain `(family, table, _)` in the model: one per `numgen` branch, with its
/// comment.
fn translate_rule(
    sets: &Sets,
    (fam, table, _): (&str, &str, &str),
    exprs: &[Value],
    handle: u32,
    text: &str,
    comment: Option<&str>,
) -> Vec<Rule> {
    let ctx = Ctx { sets, fam, table };
    let mut rules = translate(&ctx, exprs, handle, text);
    if let Some(c) = comment {
        let c = Text::new(c);
        for rule in &mut rules {
            rule.comment = Some(c.clone());
        }
    }
    rules
}

fn table_idx(rs: &Ruleset, fam: &str, name: &str) -> Option<usize> {
    rs.tables
        .iter()
        .position(|t| t.name == name && t.family == family(fam))
}

/// Where the rules of a document go, one at a time, and what is said about them.
struct RuleSink<'f> {
    file: &'f str,
    errors: Vec<ParseError>,
    /// iptables-nft rules (opaque `xt` expressions) per table.
    xt_rules: HashMap<usize, usize>,
    /// The chain the last rule went to, (table, chain index): rules come chain by chain.
    last: Option<(usize, usize)>,
}

impl<'f> RuleSink<'f> {
    fn new(file: &'f str) -> Self {
        RuleSink {
            file,
            errors: Vec::new(),
            xt_rules: HashMap::new(),
            last: None,
        }
    }

    /// Translate one rule of chain `(family, table, chain)` and append it there.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        rs: &mut Ruleset,
        sets: &Sets,
        chain: (&str, &str, &str),
        exprs: &[Value],
        handle: u32,
        text: &str,
        comment: Option<&str>,
    ) {
        let rules = translate_rule(sets, chain, exprs, handle, text, comment);
        let xt = exprs.iter().any(|e| e.get("xt").is_some());
        self.insert(rs, chain, rules, xt);
    }

    /// Append `rules` (translated by [`translate_rule`]) to chain `(family, table, chain)`;
    /// `xt`: they were made by iptables-nft.
    fn insert(
        &mut self,
        rs: &mut Ruleset,
        (fam, tname, cname): (&str, &str, &str),
        rules: Vec<Rule>,
        xt: bool,
    ) {
        let Some(ti) = table_idx(rs, fam, tname) else {
            self.errors.push(ParseError::new(
                self.file,
                0,
                ErrorKind::Malformed,
                format!("rule in unknown table {fam} {tname}"),
            ));
            return;
        };
        if xt {
            *self.xt_rules.entry(ti).or_default() += 1;
        }
        let table = &mut rs.tables[ti];
        let ci = match self.last {
            Some((t, c)) if t == ti && table.chains[c].name == cname => c,
            _ => table.chain_index_or_insert(&Text::new(cname)),
        };
        self.last = Some((ti, ci));
        table.chains[ci].rules.extend(rules);
    }

    fn finish(mut self, rs: &Ruleset) -> Vec<ParseError> {
        for (ti, n) in self.xt_rules {
            let t = &rs.tables[ti];
            self.errors.push(ParseError::new(
                self.file,
                0,
                ErrorKind::Assumption,
                format!(
                    "table {} holds {n} rule(s) made by iptables-nft (opaque xt expressions): nft -j does not show their options; read `iptables-nft-save` for them",
                    t.name
                ),
            ));
        }
        self.errors
    }
}

fn family(f: &str) -> TableFamily {
    match f {
        "ip" => TableFamily::Ip,
        "ip6" => TableFamily::Ip6,
        "inet" => TableFamily::Inet,
        _ => TableFamily::Other,
    }
}

struct Ctx<'a> {
    sets: &'a Sets,
    fam: &'a str,
    table: &'a str,
}

impl Ctx<'_> {
    /// The elements of `@name`.
    fn set_elems(&self, name: &str) -> Option<Vec<Value>> {
        let s = self.sets.get(&(
            self.fam.to_string(),
            self.table.to_string(),
            name.to_string(),
        ))?;
        Some(
            s.get("elem")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        )
    }
}

fn opaque(e: &Value, why: &str) -> Match {
    Match::new(MatchKind::Opaque(Box::new(OpaqueMatch {
        module: "nft".into(),
        args: vec![e.to_string()],
        why: why.into(),
    })))
}

/// Translate one rule's expressions; a `numgen` vmap becomes several rules.
fn translate(ctx: &Ctx, exprs: &[Value], handle: u32, text: &str) -> Vec<Rule> {
    let mut matches = Vec::new();
    let mut targets: Vec<(Target, bool)> = Vec::new();
    let mut numgen: Option<Vec<(Target, bool)>> = None;
    for e in exprs {
        if let Some(m) = e.get("match") {
            matches.push(translate_match(ctx, m).unwrap_or_else(|why| opaque(e, &why)));
            continue;
        }
        if let Some(x) = e.get("xt") {
            let name = x.get("name").and_then(Value::as_str).unwrap_or("?");
            if x.get("type").and_then(Value::as_str) == Some("target") {
                targets.push((xt_target(name), false));
            } else {
                matches.push(Match::new(MatchKind::Opaque(Box::new(OpaqueMatch {
                    module: name.to_string(),
                    args: vec![],
                    why: "an iptables-nft (xt) match: nft -j does not show its options; read `iptables-nft-save` for this rule".into(),
                }))));
            }
            continue;
        }
        if let Some(vm) = e.get("vmap") {
            if let Some(ng) = vm.get("key").and_then(|k| k.get("numgen")) {
                match numgen_branches(ng, vm.get("data")) {
                    Ok(b) => numgen = Some(b),
                    Err(why) => targets.push((other_target("numgen vmap", &why), false)),
                }
                continue;
            }
            match translate_vmap(ctx, vm) {
                Ok(t) => targets.push((Target::Vmap(Box::new(t)), false)),
                Err(why) => targets.push((other_target("vmap", &why), false)),
            }
            continue;
        }
        if e.get("limit").is_some() || e.get("quota").is_some() {
            matches.push(opaque(
                e,
                "rate limits and quotas depend on the traffic's history",
            ));
            continue;
        }
        match translate_statement(e) {
            Some(t) => targets.push(t),
            None => continue,
        }
    }
    let text = Text::new(text);
    let mk = |matches: Vec<Match>, target: Option<(Target, bool)>, also: Vec<Target>| Rule {
        line: handle,
        text: text.clone(),
        comment: None,
        counters: None,
        matches: matches.into(),
        goto: target.as_ref().is_some_and(|t| t.1),
        target: target.map(|t| t.0),
        also: also.into(),
    };
    if let Some(branches) = numgen {
        // numgen random mod N: each index is equally likely; as a sequence of choices, branch
        // i is taken with probability 1/(N-i) among the rest (kube-proxy's iptables form).
        let n = branches.len();
        return branches
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let mut m = matches.clone();
                if i + 1 < n {
                    m.push(Match::new(MatchKind::Statistic(Statistic::Random {
                        probability: 1.0 / (n - i) as f64,
                    })));
                }
                mk(m, Some(t), Vec::new())
            })
            .collect();
    }
    let last = targets.pop();
    let also = targets.into_iter().map(|t| t.0).collect();
    vec![mk(matches, last, also)]
}

fn other_target(name: &str, why: &str) -> Target {
    Target::Other(Box::new(Extension {
        name: name.to_string(),
        args: vec![why.to_string()],
    }))
}

fn xt_target(name: &str) -> Target {
    Target::Other(Box::new(Extension {
        name: format!("xt {name}"),
        args: vec!["an iptables-nft (xt) target: nft -j does not show its options; read `iptables-nft-save` for this rule".into()],
    }))
}

fn numgen_branches(ng: &Value, data: Option<&Value>) -> Result<Vec<(Target, bool)>, String> {
    if ng.get("mode").and_then(Value::as_str) != Some("random") {
        return Err("numgen inc is a counter, not modelled".into());
    }
    if ng.get("offset").and_then(Value::as_u64).unwrap_or(0) != 0 {
        return Err("numgen with an offset".into());
    }
    let n = ng
        .get("mod")
        .and_then(Value::as_u64)
        .ok_or("numgen without mod")? as usize;
    let elems = data
        .and_then(|d| d.get("set"))
        .and_then(Value::as_array)
        .ok_or("numgen vmap without an inline map")?;
    let mut out: Vec<Option<(Target, bool)>> = vec![None; n];
    for el in elems {
        let pair = el.as_array().ok_or("bad map element")?;
        let idx = pair
            .first()
            .and_then(Value::as_u64)
            .ok_or("bad numgen index")? as usize;
        let verdict = pair.get(1).and_then(verdict_of).ok_or("bad map verdict")?;
        if idx < n {
            out[idx] = Some(verdict_target(verdict));
        }
    }
    out.into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| "numgen map does not cover every index".into())
}

fn verdict_target(v: VmapVerdict) -> (Target, bool) {
    match v {
        VmapVerdict::Accept => (Target::Accept, false),
        VmapVerdict::Drop => (Target::Drop, false),
        VmapVerdict::Return => (Target::Return, false),
        VmapVerdict::Continue => (
            Target::Continue(Box::new(Extension {
                name: "continue".into(),
                args: vec![],
            })),
            false,
        ),
        VmapVerdict::Jump(c) => (Target::Chain { name: c.into() }, false),
        VmapVerdict::Goto(c) => (Target::Chain { name: c.into() }, true),
    }
}

fn verdict_of(v: &Value) -> Option<VmapVerdict> {
    let o = v.as_object()?;
    let (k, val) = o.iter().next()?;
    let target = || {
        val.get("target")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Some(match k.as_str() {
        "accept" => VmapVerdict::Accept,
        "drop" => VmapVerdict::Drop,
        "continue" => VmapVerdict::Continue,
        "return" => VmapVerdict::Return,
        "jump" => VmapVerdict::Jump(target()?),
        "goto" => VmapVerdict::Goto(target()?),
        _ => return None,
    })
}

fn key_field(e: &Value) -> Option<KeyField> {
    if let Some(p) = e.get("payload") {
        let proto = p.get("protocol").and_then(Value::as_str)?;
        let field = p.get("field").and_then(Value::as_str)?;
        return Some(match (proto, field) {
            ("ip" | "ip6", "saddr") => KeyField::Saddr,
            ("ip" | "ip6", "daddr") => KeyField::Daddr,
            ("th" | "tcp" | "udp" | "sctp", "dport") => KeyField::Dport,
            ("th" | "tcp" | "udp" | "sctp", "sport") => KeyField::Sport,
            _ => return None,
        });
    }
    let m = e.get("meta")?.get("key").and_then(Value::as_str)?;
    Some(match m {
        "l4proto" => KeyField::L4proto,
        "iifname" => KeyField::Iifname,
        "oifname" => KeyField::Oifname,
        "mark" => KeyField::Mark,
        _ => return None,
    })
}

fn elem_value(v: &Value) -> Option<ElemValue> {
    match v {
        Value::Number(n) => Some(ElemValue::Number(u32::try_from(n.as_u64()?).ok()?)),
        Value::String(s) => Some(match v::addr_mask(s) {
            Ok(a) => ElemValue::Addr(a),
            Err(_) => ElemValue::Name(s.clone()),
        }),
        Value::Object(o) => {
            if let Some(p) = o.get("prefix") {
                let a = p.get("addr").and_then(Value::as_str)?;
                let l = p.get("len").and_then(Value::as_u64)?;
                return v::addr_mask(&format!("{a}/{l}")).ok().map(ElemValue::Addr);
            }
            if let Some(r) = o.get("range").and_then(Value::as_array) {
                return match (r.first()?, r.get(1)?) {
                    (Value::Number(a), Value::Number(b)) => Some(ElemValue::NumberRange(
                        a.as_u64()? as u32,
                        b.as_u64()? as u32,
                    )),
                    (Value::String(a), Value::String(b)) => {
                        Some(ElemValue::AddrRange(a.parse().ok()?, b.parse().ok()?))
                    }
                    _ => None,
                };
            }
            if let Some(e) = o.get("elem") {
                return elem_value(e.get("val")?);
            }
            None
        }
        _ => None,
    }
}

fn translate_vmap(ctx: &Ctx, vm: &Value) -> Result<Vmap, String> {
    let k = vm.get("key").ok_or("vmap without key")?;
    let key: Vec<KeyField> = match k.get("concat").and_then(Value::as_array) {
        Some(parts) => parts.iter().map(key_field).collect::<Option<_>>(),
        None => key_field(k).map(|f| vec![f]),
    }
    .ok_or_else(|| format!("vmap key {k} is not modelled"))?;
    let data = vm.get("data").ok_or("vmap without data")?;
    let elems = match data {
        Value::String(s) if s.starts_with('@') => ctx
            .set_elems(&s[1..])
            .ok_or_else(|| format!("map {s} is not in the ruleset"))?,
        _ => data
            .get("set")
            .and_then(Value::as_array)
            .cloned()
            .ok_or("vmap data not understood")?,
    };
    let mut entries = Vec::new();
    for el in &elems {
        let pair = el.as_array().ok_or("bad map element")?;
        let (kv, verdict) = (
            pair.first().ok_or("bad map element")?,
            pair.get(1).ok_or("bad map element")?,
        );
        let kv = kv.get("elem").and_then(|e| e.get("val")).unwrap_or(kv);
        let vals: Vec<ElemValue> = match kv.get("concat").and_then(Value::as_array) {
            Some(parts) => parts.iter().map(elem_value).collect::<Option<_>>(),
            None => elem_value(kv).map(|x| vec![x]),
        }
        .ok_or_else(|| format!("map element {kv} not understood"))?;
        let verdict =
            verdict_of(verdict).ok_or_else(|| format!("map verdict {verdict} not understood"))?;
        entries.push((vals, verdict));
    }
    Ok(Vmap { key, entries })
}

/// A statement; `None` for ones that do nothing the evaluator models and need no trace
/// (`counter`).
fn translate_statement(e: &Value) -> Option<(Target, bool)> {
    let o = e.as_object()?;
    let (k, val) = o.iter().next()?;
    let target_name = || {
        val.get("target")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    Some(match k.as_str() {
        "counter" => return None,
        "accept" => (Target::Accept, false),
        "drop" => (Target::Drop, false),
        "return" => (Target::Return, false),
        "continue" => (
            Target::Continue(Box::new(Extension {
                name: "continue".into(),
                args: vec![],
            })),
            false,
        ),
        "jump" => (
            Target::Chain {
                name: target_name().into(),
            },
            false,
        ),
        "goto" => (
            Target::Chain {
                name: target_name().into(),
            },
            true,
        ),
        "reject" => {
            let ty = val.get("type").and_then(Value::as_str).unwrap_or("icmp");
            let ex = val
                .get("expr")
                .and_then(Value::as_str)
                .unwrap_or("port-unreachable");
            let with = if ty == "tcp reset" {
                "tcp-reset".to_string()
            } else {
                format!("{}-{ex}", if ty == "icmpv6" { "icmp6" } else { ty })
            };
            (Target::Reject { with: with.into() }, false)
        }
        "dnat" | "snat" => match nat_range(val) {
            Some(r) if k == "dnat" => (
                Target::Dnat {
                    to: Box::new([r]),
                    random: false,
                    persistent: false,
                },
                false,
            ),
            Some(r) => (
                Target::Snat {
                    to: Box::new([r]),
                    random: false,
                    random_fully: false,
                    persistent: false,
                },
                false,
            ),
            None => (other_target(k, &format!("{k} {val} not understood")), false),
        },
        "masquerade" | "redirect" => {
            let ports = val.get("port").and_then(port_of);
            if k == "masquerade" {
                let flags = val.get("flags").map(|f| f.to_string()).unwrap_or_default();
                (
                    Target::Masquerade {
                        ports,
                        random: flags.contains("\"random\""),
                        random_fully: flags.contains("fully-random"),
                    },
                    false,
                )
            } else {
                (
                    Target::Redirect {
                        ports,
                        random: false,
                    },
                    false,
                )
            }
        }
        "mangle" => (
            mangle(val).unwrap_or_else(|| other_target("mangle", &val.to_string())),
            false,
        ),
        "notrack" => (Target::Notrack, false),
        "log" => (
            Target::Continue(Box::new(Extension {
                name: "log".into(),
                args: vec![],
            })),
            false,
        ),
        other => (other_target(other, "nft statement not modelled"), false),
    })
}

fn port_of(v: &Value) -> Option<PortRange> {
    match v {
        Value::Number(n) => {
            let p = u16::try_from(n.as_u64()?).ok()?;
            Some(PortRange { lo: p, hi: p })
        }
        Value::Object(o) => {
            let r = o.get("range")?.as_array()?;
            Some(PortRange {
                lo: u16::try_from(r.first()?.as_u64()?).ok()?,
                hi: u16::try_from(r.get(1)?.as_u64()?).ok()?,
            })
        }
        _ => None,
    }
}

fn nat_range(val: &Value) -> Option<NatRange> {
    let (lo, hi) = match val.get("addr") {
        Some(Value::String(a)) => {
            let a: IpAddr = a.parse().ok()?;
            (Some(a), Some(a))
        }
        Some(Value::Object(o)) => {
            let r = o.get("range")?.as_array()?;
            (
                r.first()?.as_str()?.parse().ok(),
                r.get(1)?.as_str()?.parse().ok(),
            )
        }
        None => (None, None),
        _ => return None,
    };
    Some(NatRange {
        addr_lo: lo,
        addr_hi: hi,
        ports: val.get("port").and_then(port_of),
    })
}

/// `meta mark set ...` / `ct mark set ...`.
fn mangle(val: &Value) -> Option<Target> {
    let key = val.get("key")?;
    let is_meta = key
        .get("meta")
        .and_then(|m| m.get("key"))
        .and_then(Value::as_str)
        == Some("mark");
    let is_ct = key
        .get("ct")
        .and_then(|m| m.get("key"))
        .and_then(Value::as_str)
        == Some("mark");
    let value = val.get("value")?;
    if is_meta
        && value
            .get("ct")
            .and_then(|c| c.get("key"))
            .and_then(Value::as_str)
            == Some("mark")
    {
        return Some(Target::Connmark(ConnMarkOp::Restore {
            nfmask: u32::MAX,
            ctmask: u32::MAX,
        }));
    }
    if is_ct
        && value
            .get("meta")
            .and_then(|c| c.get("key"))
            .and_then(Value::as_str)
            == Some("mark")
    {
        return Some(Target::Connmark(ConnMarkOp::Save {
            nfmask: u32::MAX,
            ctmask: u32::MAX,
        }));
    }
    let op = match value {
        Value::Number(n) => MarkOp {
            zero: u32::MAX,
            xor: u32::try_from(n.as_u64()?).ok()?,
        },
        Value::Object(o) => {
            let (opk, args) = o.iter().next()?;
            let n = u32::try_from(args.as_array()?.get(1)?.as_u64()?).ok()?;
            match opk.as_str() {
                "|" => MarkOp { zero: n, xor: n },
                "&" => MarkOp { zero: !n, xor: 0 },
                "^" => MarkOp { zero: 0, xor: n },
                _ => return None,
            }
        }
        _ => return None,
    };
    if is_meta {
        Some(Target::Mark(op))
    } else if is_ct {
        Some(Target::Connmark(ConnMarkOp::Set(op)))
    } else {
        None
    }
}
