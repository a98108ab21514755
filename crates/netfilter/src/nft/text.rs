//! Reading `nft list ruleset` text (and `nft list table|chain`, and the pieces people paste)
//! into the same rule set as the JSON reader: each line becomes the libnftables JSON object
//! `nft -j` would have printed for it, and the JSON translation does the rest. A rule's `line`
//! is its line in the text.
//!
//! Selectors and statements netdoctor models (addresses, ports, protocols, interfaces,
//! conntrack state, verdicts, NAT, marks, counters, logs, comments) are read; anything else in
//! a rule becomes an opaque match, so the rule evaluates to *unknown* instead of being
//! misread. A chain pasted without its table is put in an assumed `inet` table, and a
//! listing cut before its closing braces is read as far as it goes; both are reported.

use super::{skeleton, translate_rule, Origin, RuleSink};
use crate::error::{ErrorKind, ParseError};
use crate::rule::Ruleset;
use serde_json::{json, Map, Value};

/// Parse `nft list ruleset` text.
/// An object of `key => value` pairs. Unlike `json!`, which serialises every interpolated
/// expression again (a deep copy of a `Value`), this moves them.
macro_rules! obj {
    ($($k:expr => $v:expr),* $(,)?) => {{
        let mut m = Map::new();
        $( m.insert(String::from($k), Value::from($v)); )*
        Value::Object(m)
    }};
}

pub fn parse_nft_text(text: &str, file: &str) -> (Ruleset, Vec<ParseError>) {
    parse_nft_text_threads(text, file, crate::parse::default_threads(text.len()))
}

/// [`parse_nft_text`] with `threads` threads translating the rules (1: all on the caller's).
pub fn parse_nft_text_threads(
    text: &str,
    file: &str,
    threads: usize,
) -> (Ruleset, Vec<ParseError>) {
    let mut r = Reader {
        file,
        items: Vec::new(),
        rules: Vec::new(),
        chains: Vec::new(),
        errors: Vec::new(),
        table: None,
        chain: None,
        skip_depth: 0,
        set: None,
        assumed: false,
    };
    for (i, raw) in text.lines().enumerate() {
        let no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        r.line(no, raw);
    }
    if let Some(set) = r.set.take() {
        r.items.push(obj! { set.kind => set.value });
    }
    // Tables, sets and chains first; then each rule, translated as it is read from its line
    // and its expressions dropped at once (a whole document of them cost more to build and
    // free than to translate).
    let mut rs = Ruleset {
        source: file.to_string(),
        origin: Origin::NftText,
        ..Ruleset::default()
    };
    let sets = skeleton(&mut r.items, &mut rs);
    let mut sink = RuleSink::new(file);
    let pending = std::mem::take(&mut r.rules);
    let translated = translate_all(&pending, &r.chains, &sets, threads);
    for (p, (rules, xt, unread)) in pending.iter().zip(translated) {
        if let Some(u) = unread {
            r.error(
                p.no,
                ErrorKind::Assumption,
                format!("`{u}` is not modelled: the rule's effect is unknown where it matters"),
            );
        }
        let (fam, table, chain) = &r.chains[p.chain];
        sink.insert(&mut rs, (fam, table, chain), rules, xt);
    }
    let last = u32::try_from(text.lines().count().max(1)).unwrap_or(u32::MAX);
    let open_chain = r.chain.clone().map(|c| (r.table_names(), c));
    let mut cut = None;
    if r.table.is_some() || r.chain.is_some() {
        r.errors.push(ParseError::new(
            file,
            last,
            ErrorKind::Truncated,
            "the listing ends inside a table or chain (cut?): what came before is read",
        ));
        cut = Some(format!("{file} is cut at line {last}"));
    } else if r.assumed {
        cut = Some(format!(
            "{file} holds chains without their table: a fragment"
        ));
    }
    let mut errors = sink.finish(&rs);
    rs.cut = cut;
    // The chain the cut fell in: a packet reaching its end meets rules nobody saw.
    if let Some(((fam, table), chain)) = open_chain {
        let fam = super::family(&fam);
        if let Some(c) = rs
            .tables
            .iter_mut()
            .find(|t| t.name == table && t.family == fam)
            .and_then(|t| t.chains.iter_mut().find(|c| c.name == chain.as_str()))
        {
            let at = c.rules.len();
            c.unreadable.push((at, last));
        }
    }
    r.errors.append(&mut errors);
    r.errors.sort_by_key(|e| e.line);
    (rs, r.errors)
}

/// Whether `text` looks like `nft list` output: a `table FAMILY NAME {` line, or a chain
/// with a `type ... hook ...` line.
pub fn looks_like_nft_text(text: &str) -> bool {
    text.lines().take(400).any(|l| {
        let t = l.trim();
        ((t.starts_with("table ") || t.starts_with("chain ")) && t.ends_with('{'))
            || (t.starts_with("type ") && t.contains(" hook ") && t.contains("priority"))
    })
}

struct Table {
    family: String,
    name: String,
}

struct SetDef {
    kind: String,
    value: Map<String, Value>,
    /// Collecting `elements = { ... }` across lines.
    elements: Option<String>,
}

/// A rule's translation: the rules it makes, whether iptables-nft made it, and the first
/// piece not modelled.
type Translated = (Vec<crate::rule::Rule>, bool, Option<String>);

/// Every pending rule translated, in order, on `threads` threads (each a contiguous run).
fn translate_all(
    pending: &[PendingRule],
    chains: &[(String, String, String)],
    sets: &super::Sets,
    threads: usize,
) -> Vec<Translated> {
    let one = |p: &PendingRule| -> Translated {
        let (exprs, comment, unread) = rule_exprs(p.text);
        let (fam, table, chain) = &chains[p.chain];
        let rules = translate_rule(
            sets,
            (fam, table, chain),
            &exprs,
            p.no,
            p.text,
            comment.as_deref(),
        );
        let xt = exprs.iter().any(|e| e.get("xt").is_some());
        (rules, xt, unread)
    };
    if threads <= 1 || pending.len() < threads {
        return pending.iter().map(one).collect();
    }
    let size = pending.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = pending
            .chunks(size)
            .map(|chunk| scope.spawn(move || chunk.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// A rule line, read once the tables, sets and chains are known.
struct PendingRule<'a> {
    no: u32,
    text: &'a str,
    /// Its chain, in [`Reader::chains`].
    chain: usize,
}

struct Reader<'a> {
    file: &'a str,
    /// Tables, sets and chains, as `nft -j` prints them.
    items: Vec<Value>,
    rules: Vec<PendingRule<'a>>,
    /// Every chain opened, as (family, table, name).
    chains: Vec<(String, String, String)>,
    errors: Vec<ParseError>,
    table: Option<Table>,
    chain: Option<String>,
    /// Inside a block netdoctor does not read (flowtable, ct helper, ...): its brace depth.
    skip_depth: u32,
    set: Option<SetDef>,
    /// A table was assumed for a chain pasted without one.
    assumed: bool,
}

impl<'a> Reader<'a> {
    fn error(&mut self, no: u32, kind: ErrorKind, msg: impl Into<String>) {
        self.errors.push(ParseError::new(self.file, no, kind, msg));
    }

    fn line(&mut self, no: u32, raw: &'a str) {
        // `# handle 12` (nft -a) and other trailing comments; quotes are respected.
        let t = strip_comment(raw).trim();
        if t.is_empty() {
            return;
        }
        if self.skip_depth > 0 {
            self.skip_depth += t.matches('{').count() as u32;
            self.skip_depth = self
                .skip_depth
                .saturating_sub(t.matches('}').count() as u32);
            return;
        }
        if self.set.is_some() {
            self.set_line(t);
            return;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        match words.as_slice() {
            ["}"] => {
                if self.chain.take().is_none() && self.table.take().is_none() {
                    self.error(no, ErrorKind::Malformed, "a `}` closes nothing");
                }
            }
            ["table", fam, name, "{"] | ["table", fam, name, "{", "}"] => {
                self.table = Some(Table {
                    family: fam.to_string(),
                    name: name.to_string(),
                });
                self.chain = None;
                self.items
                    .push(json!({"table": {"family": fam, "name": name, "handle": no}}));
                if words.len() == 5 {
                    self.table = None;
                }
            }
            ["table", name, "{"] => {
                // The default family is ip.
                self.table = Some(Table {
                    family: "ip".into(),
                    name: name.to_string(),
                });
                self.items
                    .push(json!({"table": {"family": "ip", "name": name, "handle": no}}));
            }
            ["chain", name, "{"] | ["chain", name, "{", "}"] => {
                let name = name.trim_matches('"').to_string();
                self.ensure_table(no);
                let (fam, table) = self.table_names();
                self.items.push(json!({"chain": {
                    "family": fam, "table": table, "name": name, "handle": no
                }}));
                if words.len() == 3 {
                    self.chains.push((fam, table, name.clone()));
                    self.chain = Some(name);
                }
            }
            ["set" | "map", name, "{", ..] => {
                self.ensure_table(no);
                let (fam, table) = self.table_names();
                let mut value = Map::new();
                value.insert("family".into(), json!(fam));
                value.insert("table".into(), json!(table));
                value.insert("name".into(), json!(name));
                let mut def = SetDef {
                    kind: words[0].to_string(),
                    value,
                    elements: None,
                };
                let rest = t.split_once('{').map_or("", |(_, r)| r);
                let closed = set_body(&mut def, rest);
                if closed {
                    self.items.push(obj! { def.kind => def.value });
                } else {
                    self.set = Some(def);
                }
            }
            [kw, ..] if BLOCKS.contains(kw) && t.ends_with('{') => {
                self.skip_depth = 1;
            }
            ["type", ..] if t.contains(" hook ") => self.chain_type(no, t),
            ["policy", p] => self.chain_policy(no, p.trim_end_matches(';')),
            ["flags", ..] | ["devices", ..] if self.chain.is_some() => {}
            // A chain's or table's own comment: nft prints a rule's comment after its
            // statements, so a line that starts with one belongs to the block.
            ["comment", ..] if self.chain.is_some() || self.table.is_some() => {}
            _ => {
                if self.chain.is_none() {
                    self.error(
                        no,
                        ErrorKind::NotADump,
                        format!("not nft syntax outside a chain: {}", shorten(t)),
                    );
                    return;
                }
                self.rule(no, t);
            }
        }
    }

    fn ensure_table(&mut self, no: u32) {
        if self.table.is_none() {
            self.table = Some(Table {
                family: "inet".into(),
                name: "pasted".into(),
            });
            self.items
                .push(json!({"table": {"family": "inet", "name": "pasted", "handle": no}}));
            if !self.assumed {
                self.assumed = true;
                self.error(
                    no,
                    ErrorKind::Assumption,
                    "a chain without its `table` line: read into an assumed table inet pasted",
                );
            }
        }
    }

    fn table_names(&self) -> (String, String) {
        self.table
            .as_ref()
            .map_or(("inet".into(), "pasted".into()), |t| {
                (t.family.clone(), t.name.clone())
            })
    }

    /// `type filter hook forward priority filter; policy drop;`
    fn chain_type(&mut self, no: u32, t: &str) {
        let Some(chain) = self.chain.clone() else {
            self.error(no, ErrorKind::Malformed, "a chain type outside a chain");
            return;
        };
        let (fam, _) = self.table_names();
        let mut kind = "filter";
        let mut hook = None;
        let mut prio: Option<i64> = None;
        let mut policy = None;
        for part in t.split(';') {
            let w: Vec<&str> = part.split_whitespace().collect();
            let mut i = 0;
            while i < w.len() {
                match w[i] {
                    "type" if i + 1 < w.len() => {
                        kind = match w[i + 1] {
                            "nat" => "nat",
                            "route" => "route",
                            _ => "filter",
                        };
                        i += 2;
                    }
                    "hook" if i + 1 < w.len() => {
                        hook = Some(w[i + 1].to_string());
                        i += 2;
                    }
                    "priority" => {
                        prio = priority(&w[i + 1..], &fam);
                        i = w.len();
                    }
                    "policy" if i + 1 < w.len() => {
                        policy = Some(w[i + 1].to_string());
                        i += 2;
                    }
                    _ => i += 1,
                }
            }
        }
        let Some(hook) = hook else { return };
        let Some(prio) = prio else {
            self.error(
                no,
                ErrorKind::Malformed,
                format!("chain {chain}: priority not understood: {}", shorten(t)),
            );
            return;
        };
        if let Some(c) = self.last_chain_mut(&chain) {
            c.insert("type".into(), json!(kind));
            c.insert("hook".into(), json!(hook));
            c.insert("prio".into(), json!(prio));
            if let Some(p) = policy {
                c.insert("policy".into(), json!(p));
            }
        }
    }

    fn chain_policy(&mut self, _no: u32, p: &str) {
        if let Some(chain) = self.chain.clone() {
            if let Some(c) = self.last_chain_mut(&chain) {
                c.insert("policy".into(), json!(p));
            }
        }
    }

    fn last_chain_mut(&mut self, name: &str) -> Option<&mut Map<String, Value>> {
        self.items.iter_mut().rev().find_map(|it| {
            let c = it.get_mut("chain")?.as_object_mut()?;
            (c.get("name").and_then(Value::as_str) == Some(name)).then_some(c)
        })
    }

    fn set_line(&mut self, t: &str) {
        let Some(mut def) = self.set.take() else {
            return;
        };
        if set_body(&mut def, t) {
            self.items.push(obj! { def.kind => def.value });
        } else {
            self.set = Some(def);
        }
    }

    fn rule(&mut self, no: u32, t: &'a str) {
        if self.chain.is_none() {
            return;
        }
        let chain = self.chains.len().saturating_sub(1);
        self.rules.push(PendingRule { no, text: t, chain });
    }
}

/// Blocks of a table that hold no rules netdoctor evaluates.
const BLOCKS: &[&str] = &[
    "flowtable",
    "ct",
    "counter",
    "quota",
    "limit",
    "secmark",
    "synproxy",
];

/// The body of a set or map (after its `{`): `type`, `flags`, `elements = { ... }`. True when
/// the definition's closing brace was reached.
fn set_body(def: &mut SetDef, text: &str) -> bool {
    let mut rest = text.trim();
    if let Some(e) = def.elements.as_mut() {
        // Continuing `elements = { a, b,` on a further line.
        match rest.split_once('}') {
            Some((inside, after)) => {
                e.push(' ');
                e.push_str(inside);
                let elems = e.clone();
                def.elements = None;
                def.value
                    .insert("elem".into(), Value::Array(elements(&elems)));
                rest = after.trim();
            }
            None => {
                e.push(' ');
                e.push_str(rest);
                return false;
            }
        }
    }
    for stmt in rest.split(';') {
        let s = stmt.trim();
        if let Some(after) = s.strip_prefix("elements") {
            let body = after.trim_start().trim_start_matches('=').trim_start();
            let body = body.strip_prefix('{').unwrap_or(body);
            match body.split_once('}') {
                Some((inside, _)) => {
                    def.value
                        .insert("elem".into(), Value::Array(elements(inside)));
                }
                None => {
                    def.elements = Some(body.to_string());
                    return false;
                }
            }
        } else if let Some(ty) = s.strip_prefix("type ") {
            // `ipv4_addr . inet_proto . inet_service : verdict`
            let (key, data) = match ty.split_once(" : ") {
                Some((k, d)) => (k, Some(d.trim())),
                None => (ty, None),
            };
            let parts: Vec<&str> = key.split(" . ").map(str::trim).collect();
            let ty = if parts.len() > 1 {
                json!(parts)
            } else {
                json!(key.trim())
            };
            def.value.insert("type".into(), ty);
            if let Some(d) = data {
                def.value.insert("map".into(), json!(d));
            }
        }
    }
    // The set ends with a `}` of its own (after any `elements = { }`).
    let braces_open = rest.matches('{').count();
    let braces_close = rest.matches('}').count();
    braces_close > braces_open || rest == "}" || rest.ends_with("}") && braces_open == 0
}

/// `a, b, 10.0.0.0/8, 1-5` as JSON elements; concatenations (`10.0.0.1 . tcp . 80`) as
/// `{"concat": [...]}`, an element's `comment "..."` kept, and a map's `KEY : VERDICT` as the
/// `[key, verdict]` pair `nft -j` prints.
fn elements(s: &str) -> Vec<Value> {
    split_top(s, ',')
        .into_iter()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(element)
        .collect()
}

fn element(e: &str) -> Value {
    let (key, data) = match e.split_once(" : ") {
        Some((k, d)) => (k.trim(), Some(d.trim())),
        None => (e.trim(), None),
    };
    let (key, comment) = match key.split_once(" comment ") {
        Some((k, c)) => (k.trim(), Some(c.trim().trim_matches('"'))),
        None => (key, None),
    };
    let mut k = concat_value(key);
    if let Some(c) = comment {
        k = obj! { "elem" => obj! { "val" => k, "comment" => c } };
    }
    match data.map(verdict) {
        Some(Some(v)) => Value::Array(vec![k, v]),
        Some(None) => Value::Array(vec![k, value(data.unwrap_or_default())]),
        None => k,
    }
}

/// `a . b . c` as a concatenation, or one value.
fn concat_value(s: &str) -> Value {
    let parts: Vec<&str> = s.split(" . ").map(str::trim).collect();
    if parts.len() > 1 {
        obj! { "concat" => parts.into_iter().map(value).collect::<Vec<_>>() }
    } else {
        value(s)
    }
}

/// `goto X`, `jump X`, `accept`, `drop`, `return`, `continue`.
fn verdict(s: &str) -> Option<Value> {
    let w: Vec<&str> = s.split_whitespace().collect();
    Some(match w.as_slice() {
        [v @ ("goto" | "jump"), t] => json!({ *v: {"target": t.trim_matches('"')} }),
        [v @ ("accept" | "drop" | "return" | "continue")] => json!({ *v: null }),
        _ => return None,
    })
}

/// Split at `sep` outside braces and quotes.
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '{' if !quoted => depth += 1,
            '}' if !quoted => depth -= 1,
            c if c == sep && !quoted && depth == 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// `# ...` outside quotes removed.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn shorten(t: &str) -> String {
    if t.len() > 120 {
        format!("{}…", &t[..t.floor_char_boundary(120)])
    } else {
        t.to_string()
    }
}

/// `priority filter`, `priority -100`, `priority dstnat - 10`.
fn priority(words: &[&str], family: &str) -> Option<i64> {
    let joined = words.join(" ");
    let joined = joined.trim_end_matches(';').trim();
    let (base, delta) = match joined.split_once(['+', '-']) {
        Some((b, d)) if !b.trim().is_empty() => {
            let sign = if joined[b.len()..].starts_with('-') {
                -1
            } else {
                1
            };
            (b.trim(), sign * d.trim().parse::<i64>().ok()?)
        }
        _ => (joined, 0),
    };
    if let Ok(n) = base.parse::<i64>() {
        return Some(n + delta);
    }
    // nft(8), "CHAINS": standard priority names and values (bridge differs).
    let v = match (base, family) {
        ("raw", _) => -300,
        ("mangle", _) => -150,
        ("dstnat", "bridge") => -300,
        ("dstnat", _) => -100,
        ("filter", "bridge") => -200,
        ("filter", _) => 0,
        ("security", _) => 50,
        ("srcnat", "bridge") => 300,
        ("srcnat", _) => 100,
        ("out", _) => 100,
        _ => return None,
    };
    Some(v + delta)
}

/// Tokens of a rule: words, `"quoted strings"`, and `{ ... }` groups as one token.
fn tokens(t: &str) -> Vec<&str> {
    // Each token is a span of `t` (quotes and braces kept in it): slices, no copies.
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut depth = 0i32;
    let mut quoted = false;
    for (i, c) in t.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '{' if !quoted => depth += 1,
            '}' if !quoted => depth -= 1,
            c if c.is_whitespace() && !quoted && depth == 0 => {
                if let Some(s) = start.take() {
                    out.push(&t[s..i]);
                }
                continue;
            }
            _ => {}
        }
        start.get_or_insert(i);
    }
    if let Some(s) = start {
        out.push(&t[s..]);
    }
    out
}

/// Well-known service names nft prints for ports (`/etc/services`).
fn service_port(name: &str) -> Option<u64> {
    Some(match name {
        "ssh" => 22,
        "domain" => 53,
        "http" => 80,
        "https" => 443,
        "bgp" => 179,
        "otv" => 8472,
        "vxlan" => 4789,
        "ntp" => 123,
        "bootps" => 67,
        "bootpc" => 68,
        "kerberos" => 88,
        "ldap" => 389,
        "etcd-client" | "etcd" => 2379,
        "etcd-server" => 2380,
        _ => return None,
    })
}

/// One value: a number, a prefix, a range, a set `{ ... }`, a named set `@x`, a string.
fn value(tok: &str) -> Value {
    let tok = tok.trim().trim_end_matches(',');
    if let Some(inner) = tok.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        return obj! { "set" => elements(inner) };
    }
    if tok.starts_with('@') {
        return json!(tok);
    }
    if let Some(s) = tok.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return json!(s);
    }
    if let Ok(n) = tok.parse::<u64>() {
        return json!(n);
    }
    if let Some(n) = tok
        .strip_prefix("0x")
        .and_then(|h| u64::from_str_radix(h, 16).ok())
    {
        return json!(n);
    }
    if let Some(p) = service_port(tok) {
        return json!(p);
    }
    if let Some((a, l)) = tok.split_once('/') {
        if let Ok(l) = l.parse::<u64>() {
            return json!({"prefix": {"addr": a, "len": l}});
        }
    }
    if let Some((a, b)) = tok.split_once('-') {
        if let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) {
            return json!({"range": [a, b]});
        }
        if a.parse::<std::net::IpAddr>().is_ok() && b.parse::<std::net::IpAddr>().is_ok() {
            return json!({"range": [a, b]});
        }
    }
    if tok.contains(',') {
        return Value::Array(tok.split(',').map(|p| json!(p.trim())).collect());
    }
    json!(tok)
}

fn is_op(t: &str) -> bool {
    matches!(t, "==" | "!=" | "<" | ">" | "<=" | ">=" | "eq" | "ne")
}

/// A rule's expressions in libnftables JSON, its comment, and the first piece not modelled.
fn rule_exprs(t: &str) -> (Vec<Value>, Option<String>, Option<String>) {
    let toks = tokens(t);
    let mut exprs = Vec::new();
    let mut comment = None;
    let mut unread: Option<String> = None;
    let mut i = 0;
    let tok = |i: usize| toks.get(i).copied().unwrap_or("");
    // A match: selector `left`, then an optional operator, then a value.
    let push_match = |exprs: &mut Vec<Value>, left: Value, i: &mut usize| {
        let mut op = "==";
        if is_op(tok(*i)) {
            op = match tok(*i) {
                "eq" => "==",
                "ne" => "!=",
                o => o,
            };
            *i += 1;
        }
        let right = value(tok(*i));
        *i += 1;
        let op = if op == "==" && (right.is_array() || right.get("set").is_some()) {
            "in"
        } else {
            op
        };
        exprs.push(obj! { "match" => obj! { "op" => op, "left" => left, "right" => right } });
    };
    while i < toks.len() {
        let w = tok(i);
        match w {
            "counter" => {
                i += 1;
                let mut c = Map::new();
                while matches!(tok(i), "packets" | "bytes") {
                    c.insert(tok(i).into(), value(tok(i + 1)));
                    i += 2;
                }
                exprs.push(obj! { "counter" => c });
            }
            "accept" | "drop" | "return" | "continue" | "notrack" => {
                exprs.push(json!({ w: null }));
                i += 1;
            }
            "jump" | "goto" => {
                exprs.push(json!({ w: {"target": tok(i + 1).trim_matches('"')} }));
                i += 2;
            }
            "reject" => {
                i += 1;
                let mut r = Map::new();
                if tok(i) == "with" {
                    let ty = tok(i + 1);
                    if ty == "tcp" && tok(i + 2) == "reset" {
                        r.insert("type".into(), json!("tcp reset"));
                        i += 3;
                    } else {
                        r.insert("type".into(), json!(ty));
                        let mut j = i + 2;
                        if tok(j) == "type" {
                            j += 1;
                        }
                        r.insert("expr".into(), json!(tok(j)));
                        i = j + 1;
                    }
                }
                exprs.push(
                    obj! { "reject" => if r.is_empty() { Value::Null } else { Value::Object(r) } },
                );
            }
            "masquerade" | "redirect" => {
                i += 1;
                let mut m = Map::new();
                let mut flags = Vec::new();
                loop {
                    match tok(i) {
                        "random" | "fully-random" | "persistent" => {
                            flags.push(json!(tok(i)));
                            i += 1;
                        }
                        "to" => {
                            let p = tok(i + 1).trim_start_matches(':');
                            m.insert("port".into(), value(p));
                            i += 2;
                        }
                        _ => break,
                    }
                }
                if !flags.is_empty() {
                    m.insert("flags".into(), Value::Array(flags));
                }
                exprs.push(obj! { w => if m.is_empty() { Value::Null } else { Value::Object(m) } });
            }
            "snat" | "dnat" => {
                // `dnat to 10.0.0.1:80`, `dnat ip to ...`, `snat to 1.2.3.4`.
                let mut j = i + 1;
                if matches!(tok(j), "ip" | "ip6") {
                    j += 1;
                }
                if tok(j) != "to" {
                    unread.get_or_insert_with(|| toks[i..].join(" "));
                    exprs.push(json!({"match": {"op": "==", "left": {"text": toks[i..].join(" ")}, "right": ""}}));
                    break;
                }
                let target = tok(j + 1);
                let (addr, port) = split_addr_port(target);
                let mut n = Map::new();
                if !addr.is_empty() {
                    n.insert("addr".into(), nat_addr(addr));
                }
                if let Some(p) = port {
                    n.insert("port".into(), value(p));
                }
                exprs.push(obj! { w => n });
                i = j + 2;
            }
            "log" => {
                i += 1;
                let mut l = Map::new();
                while matches!(tok(i), "prefix" | "level" | "flags" | "group" | "snaplen") {
                    l.insert(tok(i).into(), value(tok(i + 1)));
                    i += 2;
                }
                exprs.push(obj! { "log" => l });
            }
            "comment" => {
                comment = Some(tok(i + 1).trim_matches('"').to_string());
                i += 2;
            }
            "meta" | "ct" if tok(i + 2) == "set" && tok(i + 1) == "mark" => {
                let key = if w == "meta" {
                    json!({"meta": {"key": "mark"}})
                } else {
                    json!({"ct": {"key": "mark"}})
                };
                let v = mark_value(&toks, i + 3);
                exprs.push(obj! { "mangle" => obj! { "key" => key, "value" => v.0 } });
                i = v.1;
            }
            "mark" if tok(i + 1) == "set" => {
                let v = mark_value(&toks, i + 2);
                exprs.push(obj! { "mangle" => obj! { "key" => json!({"meta": {"key": "mark"}}), "value" => v.0 } });
                i = v.1;
            }
            "limit" | "quota" => {
                // Up to the next statement: the rate's words.
                let start = i;
                i += 1;
                while i < toks.len() && !is_statement(tok(i)) {
                    i += 1;
                }
                exprs.push(json!({ w: toks[start..i].join(" ") }));
            }
            "xt" => {
                // iptables-nft compat: `xt match "comment"`, `xt target "MASQUERADE"`.
                let ty = tok(i + 1);
                let name = tok(i + 2).trim_matches('"');
                exprs.push(json!({"xt": {"type": ty, "name": name}}));
                i += 3;
            }
            _ if selector(&toks, i).is_some() => {
                let Some((first, mut j)) = selector(&toks, i) else {
                    break;
                };
                // A concatenation: `ip daddr . meta l4proto . th dport`.
                let mut keys = vec![first];
                while tok(j) == "." {
                    match selector(&toks, j + 1) {
                        Some((k, next)) => {
                            keys.push(k);
                            j = next;
                        }
                        None => break,
                    }
                }
                let mut left = if keys.len() > 1 {
                    obj! { "concat" => keys }
                } else {
                    keys.pop().unwrap_or(Value::Null)
                };
                // A mask: `meta mark & 0x00004000 == 0x00000000`.
                if matches!(tok(j), "&" | "and") {
                    left = obj! { "&" => vec![left, parse_num(tok(j + 1))] };
                    j += 2;
                }
                if tok(j) == "vmap" {
                    let data = tok(j + 1);
                    let data = match data.strip_prefix('{').and_then(|d| d.strip_suffix('}')) {
                        Some(inner) => obj! { "set" => elements(inner) },
                        None => json!(data),
                    };
                    exprs.push(obj! { "vmap" => obj! { "key" => left, "data" => data } });
                    i = j + 2;
                    continue;
                }
                i = j;
                push_match(&mut exprs, left, &mut i);
            }
            _ => {
                // Not modelled: an opaque match up to the next statement, so the rule is
                // never read as more (or less) than it is.
                let start = i;
                i += 1;
                while i < toks.len() && !is_statement(tok(i)) && !is_selector(tok(i)) {
                    i += 1;
                }
                let piece = toks[start..i].join(" ");
                unread.get_or_insert_with(|| piece.clone());
                exprs.push(json!({"match": {"op": "==", "left": {"text": piece}, "right": ""}}));
            }
        }
    }
    (exprs, comment, unread)
}

/// A selector (what a match or map looks at) at `i`, in libnftables JSON, and where it ends.
fn selector(toks: &[&str], i: usize) -> Option<(Value, usize)> {
    let t = |k: usize| toks.get(k).copied().unwrap_or("");
    let w = t(i);
    let next = t(i + 1);
    Some(match w {
        "ip" | "ip6" => match next {
            "saddr" | "daddr" => (json!({"payload": {"protocol": w, "field": next}}), i + 2),
            "protocol" | "nexthdr" => (json!({"meta": {"key": "l4proto"}}), i + 2),
            _ => return None,
        },
        "tcp" | "udp" | "th" | "sctp" if matches!(next, "dport" | "sport") => {
            (json!({"payload": {"protocol": w, "field": next}}), i + 2)
        }
        "meta"
            if matches!(
                next,
                "l4proto" | "iifname" | "oifname" | "mark" | "nfproto" | "pkttype" | "iif" | "oif"
            ) && t(i + 2) != "set" =>
        {
            (json!({"meta": {"key": next}}), i + 2)
        }
        "iifname" | "oifname" | "l4proto" | "iif" | "oif" => (json!({"meta": {"key": w}}), i + 1),
        "mark" if next != "set" => (json!({"meta": {"key": "mark"}}), i + 1),
        "ct" if matches!(next, "state" | "status" | "direction" | "mark") && t(i + 2) != "set" => {
            (json!({"ct": {"key": next}}), i + 2)
        }
        "fib" if matches!(next, "daddr" | "saddr") && t(i + 2) == "type" => {
            (json!({"fib": {"result": "type", "flags": [next]}}), i + 3)
        }
        "numgen" if next == "random" && t(i + 2) == "mod" => {
            let m: u64 = t(i + 3).parse().ok()?;
            (
                json!({"numgen": {"mode": "random", "mod": m, "offset": 0}}),
                i + 4,
            )
        }
        _ => return None,
    })
}

fn is_statement(t: &str) -> bool {
    matches!(
        t,
        "counter"
            | "accept"
            | "drop"
            | "return"
            | "continue"
            | "jump"
            | "goto"
            | "reject"
            | "masquerade"
            | "redirect"
            | "snat"
            | "dnat"
            | "log"
            | "comment"
            | "notrack"
    )
}

fn is_selector(t: &str) -> bool {
    matches!(
        t,
        "ip" | "ip6"
            | "tcp"
            | "udp"
            | "th"
            | "meta"
            | "iifname"
            | "oifname"
            | "ct"
            | "mark"
            | "fib"
            | "numgen"
    )
}

/// `mark set 0x4000`, `meta mark set meta mark | 0x4000`, `meta mark set ct mark`.
fn mark_value(toks: &[&str], at: usize) -> (Value, usize) {
    let t = |i: usize| toks.get(i).copied().unwrap_or("");
    if t(at) == "ct" && t(at + 1) == "mark" {
        return (json!({"ct": {"key": "mark"}}), at + 2);
    }
    if (t(at) == "meta" && t(at + 1) == "mark") || t(at) == "mark" {
        let next = if t(at) == "meta" { at + 2 } else { at + 1 };
        let op = t(next);
        if matches!(op, "|" | "&" | "^" | "or" | "and" | "xor") {
            let op = match op {
                "or" => "|",
                "and" => "&",
                "xor" => "^",
                o => o,
            };
            let n = parse_num(t(next + 1));
            return (
                obj! { op => vec![json!({"meta": {"key": "mark"}}), n] },
                next + 2,
            );
        }
        return (json!({"meta": {"key": "mark"}}), next);
    }
    (parse_num(t(at)), at + 1)
}

fn parse_num(s: &str) -> Value {
    let n = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    };
    n.map_or_else(|| json!(s), |n| json!(n))
}

/// `10.0.0.1:80`, `[fd00::1]:80`, `10.0.0.1`, `:80`.
fn split_addr_port(s: &str) -> (&str, Option<&str>) {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((a, p)) = rest.split_once("]:") {
            return (a, Some(p));
        }
        return (rest.trim_end_matches(']'), None);
    }
    match s.rsplit_once(':') {
        Some((a, p)) if !a.contains(':') => (a, Some(p)),
        _ => (s, None),
    }
}

fn nat_addr(a: &str) -> Value {
    match a.split_once('-') {
        Some((lo, hi)) => json!({"range": [lo, hi]}),
        None => json!(a),
    }
}
