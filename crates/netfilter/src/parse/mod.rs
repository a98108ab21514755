//! Reading `iptables-save` / `ip6tables-save` output (legacy and nft variants), `iptables-restore`
//! input (kube-proxy's full and partial syncs), and `iptables -S` listings, including the dirty
//! copies people paste: prompts, truncated lines, listings mixed in.

mod args;
mod lex;
mod modules;
mod pre;
mod target;
pub(crate) mod values;

use crate::error::{ErrorKind, ParseError};
use crate::rule::*;
use args::RuleArgs;
use netdoctor_model::{Family, IptablesDump};
use pre::Pre;
use std::sync::Arc;

/// Longest line read as a rule. A rule with every match iptables has and a 256-byte comment
/// is a few KiB; a longer line is not one rule, and splitting it into a million tokens would
/// cost twenty times its size in memory.
pub(crate) const MAX_LINE: usize = 64 << 10;

/// Parse an `iptables-save` dump. `file` names the input in errors (`file:line: message`).
///
/// Never fails as a whole: lines that cannot be read are returned as errors and everything
/// else is kept. Rules outside any `*table` section (pasted fragments) are put in a table
/// inferred from their chains and targets, and an [`ErrorKind::Assumption`] error says so.
///
/// The rule set keeps one copy of `text` and every rule's text, comment and chain names point
/// into it; [`parse_iptables_save_shared`] avoids even that copy.
pub fn parse_iptables_save(text: &str, file: &str) -> (Ruleset, Vec<ParseError>) {
    let threads = default_threads(text.len());
    parse_with_family(Arc::new(text.to_string()), file, None, threads)
}

/// [`parse_iptables_save`] on a text the caller hands over: the rule set shares it rather
/// than copying it (a 100k-rule dump is 15 MiB).
pub fn parse_iptables_save_shared(text: Arc<String>, file: &str) -> (Ruleset, Vec<ParseError>) {
    let threads = default_threads(text.len());
    parse_with_family(text, file, None, threads)
}

/// [`parse_iptables_save_shared`] with `threads` threads reading rule lines (1: all on the
/// calling thread), whatever the dump's size. The result does not depend on it.
pub fn parse_iptables_save_threads(
    text: Arc<String>,
    file: &str,
    threads: usize,
) -> (Ruleset, Vec<ParseError>) {
    parse_with_family(text, file, None, threads)
}

/// Threads for reading a dump or listing of `len` bytes: the machine's cores (at most 8) from
/// 1 MiB on; below that, threads cost more than they save.
pub(crate) fn default_threads(len: usize) -> usize {
    if len < 1 << 20 {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
    }
}

/// Parse a dump as the snapshot holds it; its family decides between IPv4 and IPv6 tables.
/// The rule set shares the snapshot's text.
pub fn parse_dump(dump: &IptablesDump) -> (Ruleset, Vec<ParseError>) {
    let name = dump.source.to_string();
    parse_with_family(
        Arc::clone(&dump.text),
        &name,
        Some(dump.family),
        default_threads(dump.text.len()),
    )
}

fn parse_with_family(
    src: Arc<String>,
    file: &str,
    family: Option<Family>,
    threads: usize,
) -> (Ruleset, Vec<ParseError>) {
    let text: &str = src.as_str();
    let mut p = Parser {
        src: Arc::clone(&src),
        rs: Ruleset {
            source: file.to_string(),
            ..Ruleset::default()
        },
        errors: Vec::new(),
        file: file.to_string(),
        current: None,
        cmd_table: None,
        orphans: Vec::new(),
        junk: None,
        listing: None,
        section_start: 0,
        tokens: Vec::with_capacity(32),
        args: RuleArgs::default(),
        last_chain: None,
        targets: [None; 2],
        pending: Vec::new(),
    };
    pre::read_lines(&mut p, &src, text, threads);
    p.flush_pending();
    p.flush_orphans();
    p.flush_pending();
    p.flush_junk();
    p.flush_listing();
    if let Some(t) = p.current {
        let name = p.rs.tables[t].name.clone();
        let line = p.section_start;
        p.errors.push(ParseError::new(
            file,
            line,
            ErrorKind::Truncated,
            format!("table {name} has no COMMIT: the dump ends inside it"),
        ));
    }
    let ipv6 = match family {
        Some(Family::Ipv6) => true,
        Some(Family::Ipv4) => false,
        None => detect_ipv6(&p.rs),
    };
    for t in &mut p.rs.tables {
        t.family = if ipv6 {
            TableFamily::Ip6
        } else {
            TableFamily::Ip
        };
        set_base_chains(t);
    }
    p.errors.sort_by_key(|e| e.line);
    (p.rs, p.errors)
}

fn detect_ipv6(rs: &Ruleset) -> bool {
    if let Some(g) = &rs.generated_by {
        if g.contains("ip6tables") {
            return true;
        }
    }
    // The first address or ICMP match decides: one dump never mixes the families.
    rs.tables
        .iter()
        .flat_map(|t| &t.chains)
        .flat_map(|c| &c.rules)
        .flat_map(|r| r.matches.iter())
        .find_map(|m| match &m.kind {
            MatchKind::Source { nets } | MatchKind::Dest { nets } => {
                nets.iter().next().map(|n| n.addr.is_ipv6())
            }
            MatchKind::Icmp { v6, .. } => Some(*v6),
            _ => None,
        })
        .unwrap_or(false)
}

/// Built-in chains of the iptables tables, with the priority of the table at that hook
/// (`include/uapi/linux/netfilter_ipv4.h`: raw -300, mangle -150, nat DNAT -100, filter 0,
/// security 50, nat SNAT 100).
pub(crate) fn builtin_base(table: &str, chain: &str) -> Option<BaseChain> {
    use crate::packet::Hook::*;
    let hook = crate::packet::Hook::from_name(chain)?;
    let (priority, kind) = match (table, hook) {
        ("raw", Prerouting | Output) => (-300, ChainKind::Filter),
        ("mangle", _) => (-150, ChainKind::Route),
        ("nat", Prerouting | Output) => (-100, ChainKind::Nat),
        ("nat", Postrouting | Input) => (100, ChainKind::Nat),
        ("filter", Input | Forward | Output) => (0, ChainKind::Filter),
        ("security", Input | Forward | Output) => (50, ChainKind::Filter),
        _ => return None,
    };
    Some(BaseChain {
        hook,
        priority,
        kind,
    })
}

fn set_base_chains(t: &mut Table) {
    let name = t.name.clone();
    for c in &mut t.chains {
        c.base = builtin_base(&name, &c.name);
        // Large dumps: growth slack of 40k small chains adds up.
        c.rules.shrink_to_fit();
    }
}

struct Parser<'a> {
    /// The dump; rule texts, comments and chain names are slices of it.
    src: Arc<String>,
    rs: Ruleset,
    errors: Vec<ParseError>,
    file: String,
    /// Index of the table whose section is open.
    current: Option<usize>,
    /// The table named by a pasted `iptables -t nat -S` command line.
    cmd_table: Option<String>,
    /// Rule and chain lines seen outside any `*table` section.
    orphans: Vec<(u32, &'a str)>,
    /// A run of lines that are not dump syntax: (first, last, first line's text).
    junk: Option<(u32, u32, String)>,
    /// A run of `iptables -L` listing lines: (first, last).
    listing: Option<(u32, u32)>,
    /// Line of the open section's `*table` header.
    section_start: u32,
    /// The tokens of the current line (reused: no allocation per line).
    tokens: Vec<lex::Token<'a>>,
    /// What the current rule's arguments gave (reused).
    args: RuleArgs,
    /// `(table, chain)` of the previous rule: a dump appends a chain's rules one after the
    /// other, so this saves a lookup per rule.
    last_chain: Option<(usize, usize)>,
    /// `(table, chain)` of two jump targets already seen: the last one hit again (kube-proxy
    /// jumps to KUBE-MARK-MASQ from 40k of a large dump's rules) and the last one looked up.
    targets: [Option<(usize, usize)>; 2],
    /// Rules appended to `last_chain` and not yet moved into it. A dump lists a chain's rules
    /// one after the other; collecting them first gives each chain a vector of exactly its
    /// size (growing 40k small vectors by doubling wasted a fifth of the memory).
    pending: Vec<Rule>,
}

fn looks_truncated(line: &str) -> bool {
    // One scan for the common part first: this runs on every line of a 100k-rule dump.
    line.contains("...")
        && (line.contains("[...")
            || line.contains("... truncated")
            || line.trim_end().ends_with("..."))
}

/// A pasted shell command (`root@node:~# iptables-save`, `$ sudo iptables -t nat -S`).
fn command_echo(line: &str) -> Option<Option<String>> {
    let mut words = line.split_whitespace().peekable();
    let first = *words.peek()?;
    if first.ends_with('#') || first.ends_with('$') || first.ends_with('>') {
        words.next();
    } else if first.contains('#') && first.contains(':') {
        // `root@host:~#iptables-save` without a space is rare; `user@h:~# cmd` is handled above.
        return None;
    }
    let mut cmd = words.next()?;
    if cmd == "sudo" {
        cmd = words.next()?;
    }
    let tool = cmd.rsplit('/').next().unwrap_or(cmd);
    let known = [
        "iptables",
        "ip6tables",
        "iptables-save",
        "ip6tables-save",
        "iptables-legacy",
        "iptables-nft",
        "iptables-legacy-save",
        "iptables-nft-save",
        "ip6tables-legacy-save",
        "ip6tables-nft-save",
    ];
    if !known.contains(&tool) {
        return None;
    }
    let rest: Vec<&str> = words.collect();
    let mut table = None;
    for (i, w) in rest.iter().enumerate() {
        if *w == "-t" || *w == "--table" {
            table = rest.get(i + 1).map(|s| s.to_string());
        }
        if w.starts_with("-t") && w.len() > 2 && !w.starts_with("--") {
            table = Some(w[2..].to_string());
        }
    }
    if tool.contains("save") {
        return Some(None);
    }
    Some(Some(table.unwrap_or_else(|| "filter".to_string())))
}

impl<'a> Parser<'a> {
    fn err(&mut self, line: u32, kind: ErrorKind, msg: impl Into<String>) {
        self.errors
            .push(ParseError::new(&self.file, line, kind, msg));
    }

    /// Read line `n`. `pre` is the line already read by [`pre::read_append`] (on another
    /// thread), if it was.
    fn line(&mut self, n: u32, line: &'a str, pre: Option<Pre<'a>>) {
        if line.len() > MAX_LINE {
            self.flush_pending();
            self.errors.push(ParseError::new(
                &self.file,
                n,
                ErrorKind::Malformed,
                format!(
                    "line of {} bytes not read: longer than any rule (at most {} KiB); a paste that lost its line breaks?",
                    line.len(),
                    MAX_LINE >> 10
                ),
            ));
            return;
        }
        let t = line.trim();
        // Fast path: the rule lines that make up nearly all of a large dump.
        if let (Some(ti), None, None) = (self.current, &self.junk, &self.listing) {
            if t.starts_with("-A ") {
                match pre {
                    Some(pre) => self.apply(ti, n, t, pre),
                    None => self.statement(ti, n, t),
                }
                return;
            }
        }
        self.flush_pending();
        if t.is_empty() {
            self.flush_junk();
            self.flush_listing();
            return;
        }
        if self.listing.is_some()
            && !t.starts_with('#')
            && !t.starts_with('*')
            && !t.starts_with(':')
            && !t.starts_with("-A ")
            && !t.starts_with("COMMIT")
        {
            if let Some(l) = &mut self.listing {
                l.1 = n;
            }
            return;
        }
        self.flush_listing();
        if let Some(c) = t.strip_prefix('#') {
            self.flush_junk();
            self.comment(c.trim());
            return;
        }
        if t.starts_with("Chain ") && (t.contains("(policy") || t.contains("references)")) {
            self.flush_junk();
            self.listing = Some((n, n));
            return;
        }
        if let Some(tbl) = command_echo(t) {
            self.flush_junk();
            self.flush_orphans();
            self.cmd_table = tbl;
            return;
        }
        if let Some(name) = t.strip_prefix('*') {
            self.flush_junk();
            self.flush_orphans();
            self.cmd_table = None;
            self.start_table(n, name.trim());
            return;
        }
        if t == "COMMIT" {
            self.flush_junk();
            match self.current.take() {
                Some(i) => self.rs.tables[i].committed = true,
                None => self.err(n, ErrorKind::Malformed, "COMMIT outside any table"),
            }
            return;
        }
        let is_rule_line = t.starts_with(':')
            || t.starts_with('-')
            || (t.starts_with('[') && t[1..].starts_with(|c: char| c.is_ascii_digit()));
        if !is_rule_line {
            if looks_truncated(t) {
                self.flush_junk();
                self.err(n, ErrorKind::Truncated, format!("truncated: {t:?}"));
            } else {
                match &mut self.junk {
                    Some(j) => j.1 = n,
                    None => self.junk = Some((n, n, t.to_string())),
                }
            }
            return;
        }
        self.flush_junk();
        match self.current {
            Some(ti) => self.statement(ti, n, t),
            None => self.orphans.push((n, t)),
        }
    }

    fn comment(&mut self, c: &str) {
        if let Some(g) = c.strip_prefix("Generated by ") {
            let tool = g.split(" on ").next().unwrap_or(g).trim();
            if self.rs.generated_by.is_none() {
                self.rs.generated_by = Some(tool.to_string());
            }
        } else if c.starts_with("Warning: iptables-legacy tables present") {
            self.rs.legacy_tables_present = true;
        }
    }

    fn flush_junk(&mut self) {
        if let Some((a, b, first)) = self.junk.take() {
            let mut e = ParseError::new(
                &self.file,
                a,
                ErrorKind::NotADump,
                format!(
                    "not iptables-save syntax, not read: {first:?}{}",
                    if b > a { " ..." } else { "" }
                ),
            );
            e.end_line = Some(b);
            self.errors.push(e);
        }
    }

    fn flush_listing(&mut self) {
        if let Some((a, b)) = self.listing.take() {
            let mut e = ParseError::new(
                &self.file,
                a,
                ErrorKind::NotADump,
                "an `iptables -L` listing, not a dump: not read (ask for `iptables-save`)",
            );
            e.end_line = Some(b);
            self.errors.push(e);
        }
    }

    fn table_index(&mut self, name: &str, line: u32) -> usize {
        match self.rs.tables.iter().position(|t| t.name == name) {
            Some(i) => i,
            None => {
                self.rs.tables.push(Table::new(name, TableFamily::Ip, line));
                self.rs.tables.len() - 1
            }
        }
    }

    fn start_table(&mut self, n: u32, name: &str) {
        if let Some(open) = self.current {
            let open_name = self.rs.tables[open].name.clone();
            self.err(
                n,
                ErrorKind::Truncated,
                format!("*{name} starts before COMMIT of *{open_name}: that section is cut short"),
            );
        }
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.err(n, ErrorKind::Malformed, format!("bad table name {name:?}"));
            self.current = None;
            return;
        }
        let i = self.table_index(name, n);
        if self.rs.tables[i].line == 0 {
            self.rs.tables[i].line = n;
        }
        self.section_start = n;
        // Several sections of the same table (restore --noflush input) add up.
        self.rs.tables[i].committed = false;
        self.current = Some(i);
    }

    /// Rules outside any section: put them in the table a pasted `-t` named, else infer it.
    fn flush_orphans(&mut self) {
        if self.orphans.is_empty() {
            return;
        }
        let lines = std::mem::take(&mut self.orphans);
        let first = lines[0].0;
        let last = lines[lines.len() - 1].0;
        let (table, why) = match &self.cmd_table {
            Some(t) => (t.clone(), format!("the pasted command lists table {t}")),
            None => infer_table(&lines),
        };
        let ti = self.table_index(&table, 0);
        if self.rs.tables[ti].line == 0 {
            self.rs.tables[ti].inferred = true;
        }
        let mut e = ParseError::new(
            &self.file,
            first,
            ErrorKind::Assumption,
            format!("rules outside any *table section: read as table {table} ({why})"),
        );
        e.end_line = Some(last);
        self.errors.push(e);
        for (n, text) in lines {
            self.statement(ti, n, text);
        }
        self.rs.tables[ti].committed = true;
    }

    /// Remember that a rule of `chain` at this point could not be read.
    /// Move the collected rules into their chain.
    fn flush_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        if let Some((ti, ci)) = self.last_chain {
            let rules = &mut self.rs.tables[ti].chains[ci].rules;
            rules.reserve_exact(self.pending.len());
            rules.append(&mut self.pending);
        }
        self.pending.clear();
        // A long chain (KUBE-SERVICES) leaves a large buffer behind: give it back rather than
        // keep it to the end of the parse.
        if self.pending.capacity() > 1024 {
            self.pending = Vec::new();
        }
    }

    fn mark_unreadable(&mut self, ti: usize, n: u32, t: &str) {
        self.flush_pending();
        let mut words = t.split_whitespace();
        let mut first = words.next();
        if first.is_some_and(|w| w.starts_with('[')) {
            first = words.next();
        }
        if !matches!(first, Some("-A" | "--append" | "-I" | "--insert")) {
            return;
        }
        let Some(chain) = words.next() else { return };
        if chain.contains('[') {
            return;
        }
        let ci = self.chain_index(ti, chain);
        let ch = &mut self.rs.tables[ti].chains[ci];
        if !ch.is_declared() && ch.first_reference.is_none() {
            ch.first_reference = Some(n);
        }
        let pos = ch.rules.len();
        ch.unreadable.push((pos, n));
    }

    /// Index of chain `name` of table `ti`, created when absent; the name is stored as a
    /// slice of the dump when it is one.
    fn chain_index(&mut self, ti: usize, name: &str) -> usize {
        let src = &self.src;
        self.rs.tables[ti].chain_index_or_insert_with(name, || Text::slice_of(src, name))
    }

    /// A line that could not be read: reported as truncated when it carries a paste's
    /// truncation marker, else with `why`. (Markers are looked for in the tokens, or in the
    /// line only once it failed: scanning every line of a large dump for `...` cost a sixth
    /// of the parse.)
    fn unreadable(&mut self, ti: usize, n: u32, t: &str, kind: ErrorKind, why: String) {
        if looks_truncated(t) {
            self.err(n, ErrorKind::Truncated, format!("truncated rule: {t:?}"));
        } else {
            self.err(n, kind, why);
        }
        self.mark_unreadable(ti, n, t);
    }

    fn statement(&mut self, ti: usize, n: u32, t: &'a str) {
        if let Some(decl) = t.strip_prefix(':') {
            // A declaration has no `.` (`:KUBE-SVC-X - [0:0]`) unless it was cut.
            if t.as_bytes().contains(&b'.') && looks_truncated(t) {
                self.err(n, ErrorKind::Truncated, format!("truncated rule: {t:?}"));
                return;
            }
            self.chain_decl(ti, n, decl);
            return;
        }
        // The token and argument buffers are taken out for the duration, so that `self` stays
        // free to add chains and rules; they go back with their capacity.
        let mut tokens = std::mem::take(&mut self.tokens);
        let mut args = std::mem::take(&mut self.args);
        let pre = pre::read_append(&self.src, t, &mut tokens, &mut args);
        tokens.clear();
        self.tokens = tokens;
        self.args = args;
        self.apply(ti, n, t, pre);
    }

    /// Apply what [`pre::read_append`] gave for line `n`.
    fn apply(&mut self, ti: usize, n: u32, t: &'a str, pre: Pre<'a>) {
        match pre {
            Pre::Append { chain, mut rule } => {
                rule.line = n;
                self.add_rule(ti, n, chain, rule, None);
            }
            Pre::Bad {
                kind,
                msg,
                lost_rule,
            } => {
                self.err(n, kind, msg);
                if lost_rule {
                    self.mark_unreadable(ti, n, t);
                }
            }
            Pre::Other => {
                // Not an append: split again (rare lines) and run the command.
                let Ok((counters, body)) = split_counters(t) else {
                    return;
                };
                let mut tokens = std::mem::take(&mut self.tokens);
                if lex::split_into(body, &mut tokens).is_ok() {
                    self.command(ti, n, t, counters, &tokens);
                }
                tokens.clear();
                self.tokens = tokens;
            }
        }
    }

    fn command(
        &mut self,
        ti: usize,
        n: u32,
        t: &'a str,
        counters: Option<Counters>,
        tokens: &[lex::Token<'a>],
    ) {
        let Some(cmd) = tokens.first() else { return };
        let cmd: &str = &cmd.text;
        if !matches!(cmd, "-A" | "--append") {
            self.flush_pending();
        }
        let chain_arg: Option<&str> = tokens.get(1).map(|t| &*t.text);
        match cmd {
            "-A" | "--append" | "-I" | "--insert" => {
                let Some(chain) = chain_arg else {
                    self.err(n, ErrorKind::Truncated, format!("{cmd} without a chain"));
                    return;
                };
                let mut rest = &tokens[2..];
                let mut pos = None;
                if cmd.starts_with("-I") || cmd == "--insert" {
                    if let Some(p) = rest.first().and_then(|t| t.text.parse::<usize>().ok()) {
                        pos = Some(p.saturating_sub(1));
                        rest = &rest[1..];
                    } else {
                        pos = Some(0);
                    }
                }
                let mut a = std::mem::take(&mut self.args);
                let read = pre::rule(&self.src, t, counters, rest, &mut a);
                self.args = a;
                match read {
                    Ok(mut rule) => {
                        rule.line = n;
                        self.add_rule(ti, n, chain, rule, pos);
                    }
                    Err((kind, msg)) => self.unreadable(ti, n, t, kind, msg),
                }
            }
            "-N" | "--new-chain" => match chain_arg {
                Some(c) => {
                    let ci = self.chain_index(ti, c);
                    let ch = &mut self.rs.tables[ti].chains[ci];
                    ch.declared_at.get_or_insert(n);
                    ch.first_reference = None;
                }
                None => self.err(n, ErrorKind::Truncated, "-N without a chain"),
            },
            "-X" | "--delete-chain" => match chain_arg {
                Some(c) => self.rs.tables[ti].deleted_chains.push((c.to_string(), n)),
                None => self.err(n, ErrorKind::Truncated, "-X without a chain"),
            },
            "-F" | "--flush" => match chain_arg {
                Some(c) => {
                    let ci = self.chain_index(ti, c);
                    self.rs.tables[ti].chains[ci].rules.clear();
                }
                None => {
                    for c in &mut self.rs.tables[ti].chains {
                        c.rules.clear();
                    }
                }
            },
            "-P" | "--policy" => {
                let pol = tokens.get(2).map(|t| &*t.text);
                match (chain_arg, pol) {
                    (Some(c), Some("ACCEPT" | "DROP")) => {
                        let p = if pol == Some("DROP") {
                            Policy::Drop
                        } else {
                            Policy::Accept
                        };
                        let ci = self.chain_index(ti, c);
                        let ch = &mut self.rs.tables[ti].chains[ci];
                        ch.policy = Some(p);
                        ch.declared_at.get_or_insert(n);
                        ch.first_reference = None;
                    }
                    (Some(_), Some(other)) => {
                        self.err(n, ErrorKind::Malformed, format!("bad policy {other:?}"))
                    }
                    _ => self.err(n, ErrorKind::Truncated, "-P without chain and policy"),
                }
            }
            "-Z" | "--zero" => {}
            other => self.err(
                n,
                ErrorKind::Malformed,
                format!("unsupported command {other:?} (only -A, -I, -N, -X, -F, -P are read)"),
            ),
        }
    }

    fn chain_decl(&mut self, ti: usize, n: u32, decl: &'a str) {
        let mut parts = decl.split_whitespace();
        let Some(name) = parts.next() else {
            self.err(n, ErrorKind::Malformed, "chain declaration without a name");
            return;
        };
        let policy = match parts.next() {
            Some("-") => None,
            Some("ACCEPT") => Some(Policy::Accept),
            Some("DROP") => Some(Policy::Drop),
            Some(other) => {
                self.err(
                    n,
                    ErrorKind::Malformed,
                    format!("bad policy {other:?} for chain {name}"),
                );
                return;
            }
            None => {
                self.err(
                    n,
                    ErrorKind::Truncated,
                    format!("declaration of {name} without a policy"),
                );
                return;
            }
        };
        let counters = match parts.next() {
            Some(c) => match parse_counters(c) {
                Some(c) => Some(c),
                None => {
                    self.err(
                        n,
                        ErrorKind::Malformed,
                        format!("bad counters {c:?} for chain {name}"),
                    );
                    None
                }
            },
            None => None,
        };
        let ci = self.chain_index(ti, name);
        let ch = &mut self.rs.tables[ti].chains[ci];
        // `:CHAIN` in restore input flushes the chain.
        ch.rules.clear();
        ch.policy = policy;
        ch.counters = counters;
        ch.declared_at = Some(n);
        ch.first_reference = None;
    }

    /// Note that line `n` jumps to chain `name` of table `ti`: created if new, its first
    /// reference kept if it is not declared.
    fn jump_target(&mut self, ti: usize, n: u32, name: &Text) {
        for k in 0..self.targets.len() {
            if let Some((t, c)) = self.targets[k] {
                if t == ti && self.rs.tables[t].chains[c].name.as_bytes() == name.as_bytes() {
                    // Seen before: created, and its first reference kept, then.
                    self.targets.swap(0, k);
                    return;
                }
            }
        }
        let table = &mut self.rs.tables[ti];
        let ci = table.chain_index_or_insert(name);
        let c = &mut table.chains[ci];
        if !c.is_declared() && c.first_reference.is_none() {
            c.first_reference = Some(n);
        }
        self.targets[1] = Some((ti, ci));
    }

    fn add_rule(&mut self, ti: usize, n: u32, chain: &str, rule: Rule, pos: Option<usize>) {
        if let Some(Target::Chain { name }) = &rule.target {
            self.jump_target(ti, n, name);
        }
        let ci = match self.last_chain {
            Some((lt, lc)) if lt == ti && self.rs.tables[ti].chains[lc].name == chain => lc,
            _ => {
                self.flush_pending();
                self.chain_index(ti, chain)
            }
        };
        self.last_chain = Some((ti, ci));
        let ch = &mut self.rs.tables[ti].chains[ci];
        if !ch.is_declared() && ch.first_reference.is_none() {
            ch.first_reference = Some(n);
        }
        match pos {
            // `-I`: the pending rules were flushed before this command.
            Some(p) if p <= ch.rules.len() => ch.rules.insert(p, rule),
            Some(_) => ch.rules.push(rule),
            None => self.pending.push(rule),
        }
    }
}

/// `[12:345] -A ...` → counters and the rest.
fn split_counters(t: &str) -> Result<(Option<Counters>, &str), String> {
    if !t.starts_with('[') {
        return Ok((None, t));
    }
    let end = t
        .find(']')
        .ok_or_else(|| format!("unclosed counters in {t:?}"))?;
    let c = parse_counters(&t[..=end]).ok_or_else(|| format!("bad counters in {t:?}"))?;
    Ok((Some(c), t[end + 1..].trim_start()))
}

fn parse_counters(c: &str) -> Option<Counters> {
    let inner = c.strip_prefix('[')?.strip_suffix(']')?;
    let (p, b) = inner.split_once(':')?;
    Some(Counters {
        packets: p.parse().ok()?,
        bytes: b.parse().ok()?,
    })
}

/// Which table rules pasted without a `*table` header belong to. The nat-only targets and
/// kube-proxy's nat chains decide; otherwise filter, the default table of `iptables`.
fn infer_table(lines: &[(u32, &str)]) -> (String, String) {
    const NAT_TARGETS: &[&str] = &["DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP"];
    const NAT_CHAIN_PREFIXES: &[&str] = &[
        "KUBE-SVC-",
        "KUBE-SEP-",
        "KUBE-XLB-",
        "KUBE-EXT-",
        "KUBE-FW-",
        "KUBE-MARK-MASQ",
        "KUBE-MARK-DROP",
        "KUBE-POSTROUTING",
        "CNI-HOSTPORT-DNAT",
        "CNI-DN-",
    ];
    for (n, l) in lines {
        let words: Vec<&str> = l.split_whitespace().collect();
        for w in words.windows(2) {
            if (w[0] == "-j" || w[0] == "-g") && NAT_TARGETS.contains(&w[1]) {
                return ("nat".into(), format!("line {n} uses target {}", w[1]));
            }
            if (w[0] == "-j" || w[0] == "-g" || w[0] == "-A" || w[0].starts_with(':'))
                && NAT_CHAIN_PREFIXES.iter().any(|p| w[1].starts_with(p))
            {
                return ("nat".into(), format!("line {n} uses nat chain {}", w[1]));
            }
        }
        if let Some(c) = words.first().and_then(|w| w.strip_prefix(':')) {
            if NAT_CHAIN_PREFIXES.iter().any(|p| c.starts_with(p)) {
                return ("nat".into(), format!("line {n} declares nat chain {c}"));
            }
        }
        if words.len() > 1 && words[0] == "-A" && matches!(words[1], "PREROUTING" | "POSTROUTING") {
            return ("nat".into(), format!("line {n} appends to {}", words[1]));
        }
    }
    (
        "filter".into(),
        "no nat target or chain seen; filter is iptables' default".into(),
    )
}
