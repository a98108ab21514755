//! `iptables -L [-n] [-v] [--line-numbers] [-t TABLE] [CHAIN]` listings, the form people paste
//! most, read into a [`Ruleset`] the evaluator can run packets through.
//!
//! A listing is not a dump, and the reader says what it does not know:
//! - Without `-v` the in/out interface columns are not printed: a rule that looks unconditional
//!   may be limited to an interface. [`ListingInfo::verbose`] says which; callers lower their
//!   confidence in a verdict that rests on such a rule.
//! - A listing of one chain shows only that chain. A chain it jumps to that is not listed is
//!   unknown (the evaluator returns `unknown` there), except kube-proxy's filter chains, whose
//!   content is fixed by kube-proxy's source (`pkg/proxy/iptables/proxier.go`: KUBE-FORWARD
//!   accepts only marked or established traffic; KUBE-SERVICES, KUBE-EXTERNAL-SERVICES and
//!   KUBE-NODEPORTS in the filter table only reject or drop Service addresses and ports). Those
//!   are assumed and listed in [`ListingInfo::assumed`].
//! - Words after the standard columns that are not understood become an opaque match, which
//!   evaluates to unknown. Host names (a listing without `-n`) do too.
//!
//! Line numbers of rules are the listing's own.

use crate::error::ParseError;
use crate::parse::parse_iptables_save;
use crate::rule::Ruleset;

/// What a listing showed, and what the reader had to assume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingInfo {
    /// Interface columns were printed (`-v`).
    pub verbose: bool,
    /// `table/chain` of every chain the listing showed.
    pub chains: Vec<String>,
    /// kube-proxy filter chains that were jumped to but not listed, given their standard rules.
    pub assumed: Vec<String>,
}

/// Read a listing; see the module documentation. `file` names it in errors.
pub fn parse_listing(text: &str, file: &str) -> (Ruleset, Vec<ParseError>, ListingInfo) {
    let mut gen = Generated::default();
    let mut info = ListingInfo::default();
    let mut cols = Columns::default();
    let mut table: Option<String> = None;
    let mut chain: Option<String> = None;
    let lines: Vec<&str> = text.split('\n').collect();
    let first_table = guess_table(&lines);
    for (i, raw) in lines.iter().enumerate() {
        let no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let t = raw.trim_end_matches('\r').trim();
        if let Some(tbl) = command_table(t) {
            if table.is_some() {
                gen.end_table(&mut info, table.as_deref(), no);
            }
            gen.push(&format!("*{tbl}"), no);
            table = Some(tbl);
            chain = None;
            continue;
        }
        if t.is_empty() {
            continue;
        }
        if t.starts_with("Warning: iptables-legacy tables present") {
            gen.push("# Warning: iptables-legacy tables present", no);
            continue;
        }
        if let Some((name, decl)) = chain_header(t) {
            if table.is_none() {
                let tbl = first_table.clone();
                gen.push(&format!("*{tbl}"), no);
                table = Some(tbl);
            }
            info.chains
                .push(format!("{}/{name}", table.as_deref().unwrap_or("filter")));
            gen.push(&decl, no);
            chain = Some(name);
            continue;
        }
        if let Some(c) = Columns::from_header(t) {
            cols = c;
            info.verbose |= cols.verbose;
            continue;
        }
        let Some(ch) = &chain else {
            // Prose, prompts of other commands: not part of the listing.
            continue;
        };
        match rule(t, &cols, ch) {
            Some(r) => gen.push(&r, no),
            None => gen.push(&format!("-A {ch} -m listing --text {}", quote(t)), no),
        }
    }
    if table.is_some() {
        // The last line that has text (a trailing newline opens no line).
        let last = u32::try_from(text.lines().count().max(1)).unwrap_or(u32::MAX);
        gen.end_table(&mut info, table.as_deref(), last);
    }
    let (mut rs, mut errors) = parse_iptables_save(&gen.text, file);
    // Back to the listing's own line numbers.
    let map = |n: u32| gen.lines.get(n as usize - 1).copied().unwrap_or(n);
    for t in &mut rs.tables {
        t.line = map(t.line.max(1));
        for c in &mut t.chains {
            c.declared_at = c.declared_at.map(map);
            c.first_reference = c.first_reference.map(map);
            for r in &mut c.rules {
                r.line = map(r.line);
            }
        }
    }
    for e in &mut errors {
        e.remap_lines(map);
    }
    (rs, errors, info)
}

/// Generated iptables-save text and, for each of its lines, the listing's line.
#[derive(Default)]
struct Generated {
    text: String,
    lines: Vec<u32>,
}

impl Generated {
    fn push(&mut self, line: &str, listing_line: u32) {
        self.text.push_str(line);
        self.text.push('\n');
        self.lines.push(listing_line);
    }

    /// Close a table: kube-proxy's standard filter chains it jumps to but did not list, then
    /// COMMIT.
    fn end_table(&mut self, info: &mut ListingInfo, table: Option<&str>, no: u32) {
        if table == Some("filter") {
            let listed = |c: &str| info.chains.iter().any(|x| x == &format!("filter/{c}"));
            for (chain, rules) in KUBE_FILTER_CHAINS {
                let jump = format!(" -j {chain}");
                let referenced = self.text.lines().any(|l| {
                    l.contains("-A ")
                        && l.match_indices(&jump).any(|(at, _)| {
                            l[at + jump.len()..].starts_with(' ') || at + jump.len() == l.len()
                        })
                });
                if referenced && !listed(chain) {
                    self.push(&format!(":{chain} - [0:0]"), no);
                    for r in *rules {
                        self.push(&format!("-A {chain} {r}"), no);
                    }
                    info.assumed.push(format!("filter/{chain}"));
                }
            }
        }
        self.push("COMMIT", no);
    }
}

/// kube-proxy's filter chains as its iptables proxier writes them (their Service-specific
/// rules match only Service IPs and ports, so for other traffic they are these).
const KUBE_FILTER_CHAINS: &[(&str, &[&str])] = &[
    (
        "KUBE-FORWARD",
        &[
            "-m conntrack --ctstate INVALID -j DROP",
            "-m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT",
            "-m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ],
    ),
    ("KUBE-SERVICES", &[]),
    ("KUBE-EXTERNAL-SERVICES", &[]),
    ("KUBE-NODEPORTS", &[]),
    ("KUBE-PROXY-FIREWALL", &[]),
    ("KUBE-PROXY-CANARY", &[]),
    ("KUBE-KUBELET-CANARY", &[]),
    (
        "KUBE-FIREWALL",
        &["-m comment --comment \"kubernetes firewall for dropping marked packets\" -m mark --mark 0x8000/0x8000 -j DROP"],
    ),
];

/// The table a pasted `iptables [-t T] -L ...` command line names.
fn command_table(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| {
        matches!(
            *w,
            "iptables" | "ip6tables" | "iptables-legacy" | "iptables-nft"
        )
    })?;
    let args = &words[at + 1..];
    let lists = args
        .iter()
        .any(|a| *a == "--list" || (a.starts_with('-') && !a.starts_with("--") && a.contains('L')));
    if !lists {
        return None;
    }
    let table = args
        .windows(2)
        .find(|w| w[0] == "-t" || w[0] == "--table")
        .map_or("filter", |w| w[1]);
    Some(table.to_string())
}

/// The table of a listing without a command line, from the chains it shows.
fn guess_table(lines: &[&str]) -> String {
    let nat = lines.iter().any(|l| {
        l.starts_with("Chain PREROUTING") && !lines.iter().any(|x| x.starts_with("Chain FORWARD"))
            || l.starts_with("Chain POSTROUTING")
            || l.starts_with("Chain KUBE-SEP-")
    });
    if nat { "nat" } else { "filter" }.to_string()
}

/// `Chain FORWARD (policy DROP 0 packets, 0 bytes)` → `:FORWARD DROP [0:0]`;
/// `Chain KUBE-FORWARD (1 references)` → `:KUBE-FORWARD - [0:0]`.
fn chain_header(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix("Chain ")?;
    let (name, tail) = rest.split_once(' ')?;
    let tail = tail.trim();
    if let Some(p) = tail.strip_prefix("(policy ") {
        let mut w = p.trim_end_matches(')').split_whitespace();
        let policy = w.next()?.to_string();
        let packets = w.next().and_then(count).unwrap_or(0);
        let bytes = w.nth(1).and_then(count).unwrap_or(0);
        return Some((
            name.to_string(),
            format!(":{name} {policy} [{packets}:{bytes}]"),
        ));
    }
    tail.contains("reference")
        .then(|| (name.to_string(), format!(":{name} - [0:0]")))
}

/// `2294K` → 2294000 (iptables prints K, M, G, T with -v and without -x).
fn count(w: &str) -> Option<u64> {
    let (num, mult) = match w.chars().last()? {
        'K' => (&w[..w.len() - 1], 1_000),
        'M' => (&w[..w.len() - 1], 1_000_000),
        'G' => (&w[..w.len() - 1], 1_000_000_000),
        'T' => (&w[..w.len() - 1], 1_000_000_000_000),
        _ => (w, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// The listing's columns, from its header line.
#[derive(Debug, Clone, Copy, Default)]
struct Columns {
    numbers: bool,
    verbose: bool,
}

impl Columns {
    fn from_header(line: &str) -> Option<Columns> {
        let w: Vec<&str> = line.split_whitespace().collect();
        let t = w.iter().position(|x| *x == "target")?;
        (w.get(t + 1) == Some(&"prot")).then(|| Columns {
            numbers: w.first() == Some(&"num"),
            verbose: w.contains(&"pkts") && w.contains(&"in"),
        })
    }
}

/// One rule line of the listing as an `-A` line.
fn rule(line: &str, cols: &Columns, chain: &str) -> Option<String> {
    let w: Vec<&str> = line.split_whitespace().collect();
    let mut i = 0;
    if cols.numbers {
        w.get(i)?.parse::<u64>().ok()?;
        i += 1;
    }
    let mut counters = None;
    if cols.verbose {
        counters = Some((count(w.get(i)?)?, count(w.get(i + 1)?)?));
        i += 2;
    }
    // An empty target prints as blanks: then the protocol comes first, followed by the opt
    // column (`--`, `-f`, `!f`).
    let is_opt = |x: Option<&&str>| x.is_some_and(|x| matches!(*x, "--" | "-f" | "!f"));
    let target = if is_opt(w.get(i + 1)) {
        None
    } else {
        let t = *w.get(i)?;
        i += 1;
        Some(t)
    };
    let prot = *w.get(i)?;
    if !is_opt(w.get(i + 1)) {
        return None;
    }
    i += 2;
    let mut out = format!("-A {chain}");
    if let Some((p, b)) = counters {
        out = format!("[{p}:{b}] {out}");
    }
    let mut opaque: Vec<String> = Vec::new();
    if cols.verbose {
        for flag in ["-i", "-o"] {
            let dev = *w.get(i)?;
            i += 1;
            if dev != "*" {
                match dev.strip_prefix('!') {
                    Some(d) => out.push_str(&format!(" ! {flag} {d}")),
                    None => out.push_str(&format!(" {flag} {dev}")),
                }
            }
        }
    }
    if prot != "all" && prot != "0" {
        match prot.strip_prefix('!') {
            Some(p) => out.push_str(&format!(" ! -p {p}")),
            None => out.push_str(&format!(" -p {prot}")),
        }
    }
    for flag in ["-s", "-d"] {
        let addr = *w.get(i)?;
        i += 1;
        let (neg, a) = match addr.strip_prefix('!') {
            Some(a) => ("! ", a),
            None => ("", addr),
        };
        if matches!(a, "0.0.0.0/0" | "anywhere" | "::/0") {
            continue;
        }
        if is_address(a) {
            out.push_str(&format!(" {neg}{flag} {a}"));
        } else {
            // A host name (a listing without -n): what it resolves to is not known here.
            opaque.push(format!("{flag} {addr}"));
        }
    }
    let rest = w[i..].join(" ");
    let (opts, target_opts, unread) = extras(&rest, prot);
    out.push_str(&opts);
    if !unread.is_empty() {
        opaque.push(unread);
    }
    if !opaque.is_empty() {
        out.push_str(&format!(" -m listing --text {}", quote(&opaque.join(" "))));
    }
    if let Some(t) = target {
        out.push_str(&format!(" -j {t}{target_opts}"));
    }
    Some(out)
}

fn is_address(a: &str) -> bool {
    let ip = a.split('/').next().unwrap_or(a);
    ip.parse::<std::net::IpAddr>().is_ok()
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "'"))
}

/// The words after the address columns: match options, target options, and what was not
/// understood.
fn extras(rest: &str, prot: &str) -> (String, String, String) {
    let mut opts = String::new();
    let mut target = String::new();
    let mut unread: Vec<&str> = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        if let Some(after) = s.strip_prefix("/*") {
            let Some((comment, tail)) = after.split_once("*/") else {
                unread.push(s);
                break;
            };
            opts.push_str(&format!(" -m comment --comment {}", quote(comment.trim())));
            s = tail.trim_start();
            continue;
        }
        let w: Vec<&str> = s.split_whitespace().collect();
        let (add, tadd, used): (String, String, usize) = match w.as_slice() {
            ["ctstate", "!", v, ..] => (format!(" -m conntrack ! --ctstate {v}"), String::new(), 3),
            ["ctstate", v, ..] => (format!(" -m conntrack --ctstate {v}"), String::new(), 2),
            ["state", v, ..] => (format!(" -m state --state {v}"), String::new(), 2),
            ["mark", "match", "!", v, ..] => (format!(" -m mark ! --mark {v}"), String::new(), 4),
            ["mark", "match", v, ..] => (format!(" -m mark --mark {v}"), String::new(), 3),
            ["ADDRTYPE", "match", ..] => {
                let mut n = 2;
                let mut o = String::from(" -m addrtype");
                while let Some(kind) = w.get(n) {
                    let flag = match *kind {
                        "src-type" => "--src-type",
                        "dst-type" => "--dst-type",
                        _ => break,
                    };
                    let Some(v) = w.get(n + 1) else { break };
                    o.push_str(&format!(" {flag} {v}"));
                    n += 2;
                    if w.get(n) == Some(&"limit-in") || w.get(n) == Some(&"limit-out") {
                        o.push_str(&format!(" --{}", w[n]));
                        n += 1;
                    }
                }
                (o, String::new(), n)
            }
            ["multiport", dir @ ("dports" | "sports" | "ports"), v, ..] => {
                (format!(" -m multiport --{dir} {v}"), String::new(), 3)
            }
            [p @ ("tcp" | "udp" | "sctp"), ..] if *p == prot => {
                let mut n = 1;
                let mut o = format!(" -m {p}");
                while let Some(x) = w.get(n) {
                    let Some((k, v)) = x.split_once(':') else {
                        break;
                    };
                    let flag = match k {
                        "dpt" | "dpts" => "--dport",
                        "spt" | "spts" => "--sport",
                        _ => break,
                    };
                    let Some(port) = port_number(v) else { break };
                    o.push_str(&format!(" {flag} {port}"));
                    n += 1;
                }
                if n == 1 {
                    unread.push(s);
                    break;
                }
                (o, String::new(), n)
            }
            ["match-set", name, dir, ..] => (
                format!(" -m set --match-set {name} {dir}"),
                String::new(),
                3,
            ),
            ["statistic", "mode", "random", "probability", p, ..] => (
                format!(" -m statistic --mode random --probability {p}"),
                String::new(),
                5,
            ),
            ["PHYSDEV", "match", flag, ..] if flag.starts_with("--physdev") => {
                (format!(" -m physdev {flag}"), String::new(), 3)
            }
            ["reject-with", v, ..] => (String::new(), format!(" --reject-with {v}"), 2),
            ["to:", v, ..] => (String::new(), format!(" --to-destination {v}"), 2),
            [x, ..] if x.starts_with("to:") => {
                (String::new(), format!(" --to-destination {}", &x[3..]), 1)
            }
            ["MARK", "or", v, ..] => (String::new(), format!(" --set-xmark {v}/{v}"), 3),
            ["MARK", "xset", v, ..] => (String::new(), format!(" --set-xmark {v}"), 3),
            ["MARK", "set", v, ..] => (String::new(), format!(" --set-mark {v}"), 3),
            ["random-fully", ..] => (String::new(), " --random-fully".into(), 1),
            ["LOG", "flags", _, "level", _, "prefix", ..] => {
                let prefix = s
                    .split_once("prefix")
                    .map(|(_, p)| p.trim().trim_matches('"'))
                    .unwrap_or("");
                target.push_str(&format!(" --log-prefix {}", quote(prefix)));
                break;
            }
            ["LOG", "flags", _, "level", _, ..] => (String::new(), String::new(), 5),
            _ => {
                unread.push(s);
                break;
            }
        };
        opts.push_str(&add);
        target.push_str(&tadd);
        s = skip_words(s, used);
    }
    (opts, target, unread.join(" "))
}

/// The rest of `s` after `n` words.
fn skip_words(s: &str, n: usize) -> &str {
    let mut rest = s.trim_start();
    for _ in 0..n {
        rest = rest
            .split_once(char::is_whitespace)
            .map_or("", |(_, r)| r)
            .trim_start();
    }
    rest
}

/// A port as iptables prints it without -n: a number, a range, or a service name it knows.
fn port_number(v: &str) -> Option<String> {
    if v.split(':')
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    {
        return Some(v.to_string());
    }
    let n = match v {
        "ssh" => 22,
        "domain" => 53,
        "http" | "www" => 80,
        "https" => 443,
        "bgp" => 179,
        "ntp" => 123,
        "bootps" => 67,
        "bootpc" => 68,
        "otv" => 8472,
        "vxlan" => 4789,
        _ => return None,
    };
    Some(n.to_string())
}

#[cfg(test)]
mod tests;
