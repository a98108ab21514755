//! `netdoctor explain iptables|nft FILE --packet "…"`: what the rules do to one packet.
//!
//! The netfilter crate evaluates a packet at one hook; this module decides which hooks it
//! crosses (PREROUTING, then INPUT for the node's own addresses or FORWARD and POSTROUTING for
//! anything else; OUTPUT then POSTROUTING for a packet the node sends) and turns every
//! outcome into the contract's `netdoctor.packet/v1`.

use crate::args::{ExplainFormat, PacketHook};
use anyhow::{bail, Context as _, Result};
use ipnet::IpNet;
use netdoctor_netfilter::{
    Action, Evaluator, Hook, HostContext, NatKind, Outcome, Packet, Ruleset, Verdict,
};
use serde::Serialize;
use std::fmt::Write as _;
use std::net::IpAddr;

/// kube-proxy's mark for "masquerade this connection" (`--masquerade-bit`, default 14).
const KUBE_MASQ_MARK: u32 = 0x4000;

/// The packet the user described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PacketSpec {
    pub proto: String,
    pub src: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    pub dst: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
}

/// Read `"tcp 10.0.0.2:40000 -> 172.30.0.41:80"`. The protocol may be left out (tcp when a
/// port is given, icmp otherwise); IPv6 addresses take a port as `[fd00::1]:80`.
pub fn parse_packet(s: &str) -> Result<PacketSpec> {
    let usage =
        "expected \"PROTO SRC[:SPORT] -> DST[:DPORT]\", e.g. \"tcp 10.0.0.2 -> 10.96.0.10:53\"";
    let Some((left, right)) = s.split_once("->") else {
        bail!("--packet {s:?}: no `->` between source and destination; {usage}");
    };
    let mut words: Vec<&str> = left.split_whitespace().collect();
    let (proto, src) = match words.len() {
        1 => (None, words.remove(0)),
        2 => (Some(words[0].to_ascii_lowercase()), words[1]),
        _ => bail!("--packet {s:?}: {usage}"),
    };
    let dst = right.trim();
    if dst.is_empty() || dst.contains(char::is_whitespace) {
        bail!("--packet {s:?}: {usage}");
    }
    let (src, sport) = addr_port(src).with_context(|| format!("--packet {s:?}: source"))?;
    let (dst, dport) = addr_port(dst).with_context(|| format!("--packet {s:?}: destination"))?;
    if src.is_ipv4() != dst.is_ipv4() {
        bail!("--packet {s:?}: source and destination are of different address families");
    }
    let proto = proto.unwrap_or_else(|| if dport.is_some() { "tcp" } else { "icmp" }.into());
    let proto = match proto.as_str() {
        "tcp" | "udp" | "sctp" => proto,
        "icmp" | "icmpv6" | "ipv6-icmp" => {
            if sport.is_some() || dport.is_some() {
                bail!("--packet {s:?}: an ICMP packet has no ports");
            }
            if dst.is_ipv6() { "icmpv6" } else { "icmp" }.to_string()
        }
        other => bail!("--packet {s:?}: protocol {other:?} is not one of tcp, udp, sctp, icmp"),
    };
    if proto != "icmp" && proto != "icmpv6" && dport.is_none() {
        bail!("--packet {s:?}: a {proto} packet needs a destination port (DST:PORT)");
    }
    Ok(PacketSpec {
        proto,
        src,
        sport,
        dst,
        dport,
    })
}

fn addr_port(s: &str) -> Result<(IpAddr, Option<u16>)> {
    let port = |p: &str| -> Result<u16> {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .with_context(|| format!("{p:?} is not a port (1-65535)"))
    };
    if let Some(rest) = s.strip_prefix('[') {
        let Some((a, tail)) = rest.split_once(']') else {
            bail!("{s:?}: `[` without `]`");
        };
        let addr: IpAddr = a
            .parse()
            .with_context(|| format!("{a:?} is not an address"))?;
        return match tail.strip_prefix(':') {
            Some(p) => Ok((addr, Some(port(p)?))),
            None if tail.is_empty() => Ok((addr, None)),
            None => bail!("{s:?}: unexpected {tail:?} after the address"),
        };
    }
    if let Ok(addr) = s.parse::<IpAddr>() {
        return Ok((addr, None));
    }
    let Some((a, p)) = s.rsplit_once(':') else {
        bail!("{s:?} is not an address");
    };
    let addr: std::net::Ipv4Addr = a
        .parse()
        .with_context(|| format!("{a:?} is not an address (IPv6 with a port: [ADDR]:PORT)"))?;
    Ok((IpAddr::V4(addr), Some(port(p)?)))
}

impl PacketSpec {
    fn packet(&self) -> Packet {
        let mut p = match self.proto.as_str() {
            "tcp" => Packet::tcp(self.src, self.dst, self.dport.unwrap_or(0)),
            "udp" => Packet::udp(self.src, self.dst, self.dport.unwrap_or(0)),
            "sctp" => {
                let mut p = Packet::other(self.src, self.dst, netdoctor_netfilter::proto::SCTP);
                p.dport = self.dport;
                p
            }
            _ => Packet::icmp(self.src, self.dst),
        };
        if let Some(sp) = self.sport {
            p = p.sport(sp);
        }
        p
    }
}

/// Where the packet goes and from which addresses the node answers.
pub struct Walk<'a> {
    pub hook: PacketHook,
    pub in_iface: Option<&'a str>,
    pub out_iface: Option<&'a str>,
    pub local: &'a [IpAddr],
    /// Rules on lines after this one were added by [`kube_proxy_completion`].
    pub added_after: Option<u32>,
}

/// One possible fate of the packet (the contract's `outcomes[]`).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PacketOutcome {
    /// `None` when a choice on the path has no known probability.
    pub probability: Option<f64>,
    pub verdict: &'static str,
    /// `IP:PORT` (or `IP`) after DNAT/REDIRECT; `None` when the destination is not rewritten.
    pub dnat: Option<String>,
    pub masquerade: bool,
    /// Every rule that acted on the packet, in order: `TABLE CHAIN N`.
    pub rules: Vec<String>,
    /// The hooks the packet crossed.
    pub hooks: Vec<String>,
    /// REJECT's answer, or why the verdict is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The rules of `rules`, as written (with their lines in the file).
    pub rule_texts: Vec<String>,
}

/// The whole answer (`netdoctor.packet/v1`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PacketReport {
    pub schema: &'static str,
    pub source: String,
    pub packet: PacketSpec,
    pub hook: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_iface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_iface: Option<String>,
    pub local: Vec<IpAddr>,
    pub outcomes: Vec<PacketOutcome>,
    /// What the answer assumed, and what the rule set could not tell.
    pub notes: Vec<String>,
    /// `true` when enumeration stopped at the evaluator's limit.
    pub truncated: bool,
    pub input_problems: Vec<String>,
}

fn host(local: &[IpAddr]) -> HostContext {
    if local.is_empty() {
        return HostContext::default();
    }
    let mut addrs: Vec<(&str, IpNet)> = local
        .iter()
        .map(|a| ("host", IpNet::from(*a)))
        .collect::<Vec<_>>();
    addrs.push(("lo", "127.0.0.1/8".parse().expect("loopback")));
    addrs.push(("lo", "::1/128".parse().expect("loopback")));
    HostContext::with_addresses(addrs)
}

fn is_local(a: IpAddr, local: &[IpAddr]) -> bool {
    a.is_loopback() || local.contains(&a)
}

/// Follow `spec` through `rs` and say what can become of it.
pub fn evaluate(rs: &Ruleset, spec: &PacketSpec, walk: &Walk<'_>) -> PacketReport {
    let ctx = host(walk.local);
    let ev = Evaluator::new(rs, &ctx);
    let mut pkt = spec.packet();
    let mut notes = Vec::new();
    if walk.local.is_empty() {
        notes.push(
            "no --local given: only 127.0.0.0/8 and ::1 count as this node's own addresses, so \
             `addrtype LOCAL` and `fib daddr type local` matches are unknown and every other \
             destination is routed onward (FORWARD)"
                .to_string(),
        );
    }
    let first = match walk.hook {
        PacketHook::Prerouting => {
            if let Some(i) = walk.in_iface {
                pkt = pkt.in_iface(i);
            }
            Hook::Prerouting
        }
        PacketHook::Output => {
            if let Some(o) = walk.out_iface {
                pkt = pkt.out_iface(o);
            }
            Hook::Output
        }
    };
    let mut truncated = false;
    let start = ev.hook(first, &pkt);
    truncated |= start.truncated;
    let mut outcomes = Vec::new();
    for o in start.outcomes {
        let hooks = vec![first];
        if !o.verdict.is_accept() {
            outcomes.push((o, hooks));
            continue;
        }
        // The routing decision after the nat table: the (rewritten) destination decides.
        let to_local = is_local(o.packet.dst, walk.local);
        let mut next = o.packet.clone();
        let rest: &[Hook] = match (walk.hook, to_local) {
            (PacketHook::Prerouting, true) => &[Hook::Input],
            (PacketHook::Prerouting, false) => {
                if let Some(out) = walk.out_iface {
                    next = next.out_iface(out);
                }
                &[Hook::Forward, Hook::Postrouting]
            }
            (PacketHook::Output, true) => {
                next = next.out_iface("lo");
                &[Hook::Postrouting, Hook::Input]
            }
            (PacketHook::Output, false) => &[Hook::Postrouting],
        };
        let mut current = vec![(o, hooks)];
        for &h in rest {
            let mut after = Vec::new();
            for (o, mut hooks) in current {
                if !o.verdict.is_accept() {
                    after.push((o, hooks));
                    continue;
                }
                let mut p = if hooks.len() == 1 {
                    next.clone()
                } else {
                    o.packet.clone()
                };
                if h == Hook::Input && walk.hook == PacketHook::Output {
                    // Sent to itself: the packet comes back in on lo.
                    p.out_iface = None;
                    p = p.in_iface("lo");
                }
                hooks.push(h);
                let ev2 = ev.hook(h, &p);
                truncated |= ev2.truncated;
                for n in ev2.outcomes {
                    after.push((join(&o, n), hooks.clone()));
                }
            }
            current = after;
        }
        outcomes.extend(current);
    }
    if outcomes.iter().any(|(o, _)| o.verdict.is_unknown()) {
        notes.push(
            "an `unknown` verdict names the rule the model could not decide and why; the rules \
             before it are certain"
                .into(),
        );
    }
    PacketReport {
        schema: "netdoctor.packet/v1",
        source: rs.source.clone(),
        packet: spec.clone(),
        hook: match walk.hook {
            PacketHook::Prerouting => "prerouting",
            PacketHook::Output => "output",
        },
        in_iface: walk.in_iface.map(str::to_string),
        out_iface: walk.out_iface.map(str::to_string),
        local: walk.local.to_vec(),
        outcomes: outcomes
            .iter()
            .map(|(o, h)| outcome(o, h, walk.added_after))
            .collect(),
        notes,
        truncated,
        input_problems: Vec::new(),
    }
}

/// `b` continues `a` at a later hook.
fn join(a: &Outcome, mut b: Outcome) -> Outcome {
    b.probability = b.probability.zip(a.probability).map(|(x, y)| x * y);
    let mut trace = a.trace.clone();
    trace.append(&mut b.trace);
    b.trace = trace;
    let mut choices = a.choices.clone();
    choices.append(&mut b.choices);
    b.choices = choices;
    let mut nat = a.nat.clone();
    nat.append(&mut b.nat);
    b.nat = nat;
    b
}

fn outcome(o: &Outcome, hooks: &[Hook], added_after: Option<u32>) -> PacketOutcome {
    let where_ = |line: u32| match added_after {
        Some(n) if line > n => "added".to_string(),
        _ => format!("line {line}"),
    };
    let (verdict, detail) = match &o.verdict {
        Verdict::Accept => ("accept", None),
        Verdict::Drop => ("drop", None),
        Verdict::Reject { with } => ("reject", Some(format!("rejected with {with}"))),
        Verdict::Queue { num } => (
            "unknown",
            Some(format!("handed to user space (queue {num})")),
        ),
        Verdict::Unknown { at, reason } => (
            "unknown",
            Some(match at {
                Some(r) => format!("{}/{} rule {}: {reason}", r.table, r.chain, r.index),
                None => reason.clone(),
            }),
        ),
    };
    let mut rules = Vec::new();
    let mut rule_texts = Vec::new();
    for s in &o.trace {
        let Some(r) = &s.rule else { continue };
        if matches!(&s.action, Action::Choice(c) if !c.taken) {
            continue;
        }
        let id = format!("{} {} {}", r.table, r.chain, r.index);
        if rules.last() != Some(&id) {
            rules.push(id);
            rule_texts.push(format!("{}: {}", where_(r.line), r.text));
        }
    }
    // The rule the model could not decide ends the list.
    if let Verdict::Unknown { at: Some(r), .. } = &o.verdict {
        let id = format!("{} {} {}", r.table, r.chain, r.index);
        if rules.last() != Some(&id) {
            rules.push(id);
            rule_texts.push(format!("{}: {}", where_(r.line), r.text));
        }
    }
    let dnat = o.dnat_target().map(|(a, p)| match (a, p) {
        (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, Some(p)) => format!("{a}:{p}"),
        (a, None) => a.to_string(),
    });
    let translated = o
        .nat
        .iter()
        .any(|n| matches!(n.kind, NatKind::Masquerade | NatKind::Snat));
    // A packet that never reached POSTROUTING (a drop, or delivered locally) is not
    // masqueraded, whatever its mark.
    let reached_postrouting = hooks.contains(&Hook::Postrouting);
    let masquerade = translated
        || (reached_postrouting && o.verdict.is_unknown() && o.packet.mark & KUBE_MASQ_MARK != 0);
    PacketOutcome {
        probability: o.probability,
        verdict,
        dnat,
        masquerade,
        rules,
        hooks: hooks.iter().map(|h| h.chain_name().to_string()).collect(),
        detail,
        rule_texts,
    }
}

pub fn render(report: &PacketReport, format: ExplainFormat) -> Result<String> {
    Ok(match format {
        ExplainFormat::Json => serde_json::to_string_pretty(report)? + "\n",
        ExplainFormat::Text => render_text(report),
        ExplainFormat::Markdown => render_markdown(report),
    })
}

fn describe(spec: &PacketSpec) -> String {
    let ep = |a: IpAddr, p: Option<u16>| match (a, p) {
        (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, Some(p)) => format!("{a}:{p}"),
        (a, None) => a.to_string(),
    };
    format!(
        "{} {} -> {}",
        spec.proto,
        ep(spec.src, spec.sport),
        ep(spec.dst, spec.dport)
    )
}

fn chance(p: Option<f64>) -> String {
    match p {
        Some(p) if (p - 1.0).abs() < 1e-9 => "always".into(),
        Some(p) => format!("{:.1}%", p * 100.0),
        None => "unknown chance".into(),
    }
}

fn summary(o: &PacketOutcome) -> String {
    let mut s = o.verdict.to_uppercase();
    if let Some(d) = &o.dnat {
        let _ = write!(s, ", DNAT to {d}");
    }
    if o.masquerade {
        s.push_str(", leaves masqueraded");
    }
    s
}

fn render_text(r: &PacketReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} entering at {} ({}): {} outcome(s)",
        describe(&r.packet),
        r.hook.to_uppercase(),
        r.source,
        r.outcomes.len()
    );
    for (i, o) in r.outcomes.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n{}. {} ({}; via {})",
            i + 1,
            summary(o),
            chance(o.probability),
            o.hooks.join(" > ")
        );
        if let Some(d) = &o.detail {
            let _ = writeln!(out, "   {d}");
        }
        for (id, text) in o.rules.iter().zip(&o.rule_texts) {
            let _ = writeln!(out, "   {id:<40} {text}");
        }
        if o.rules.is_empty() {
            let _ = writeln!(out, "   no rule acted on it (chain policies only)");
        }
    }
    if r.truncated {
        let _ = writeln!(
            out,
            "\nOnly the first outcomes are listed: the limit was reached."
        );
    }
    for n in &r.notes {
        let _ = writeln!(out, "\nNote: {n}");
    }
    if !r.input_problems.is_empty() {
        let _ = writeln!(
            out,
            "\nLines that could not be read ({}):",
            r.input_problems.len()
        );
        for p in &r.input_problems {
            let _ = writeln!(out, "  {p}");
        }
    }
    out
}

fn render_markdown(r: &PacketReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## `{}` entering at {}\n\nRules: `{}`\n",
        describe(&r.packet),
        r.hook.to_uppercase(),
        r.source
    );
    let _ = writeln!(out, "| # | chance | verdict | DNAT | masquerade | hooks |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for (i, o) in r.outcomes.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            i + 1,
            chance(o.probability),
            o.verdict,
            o.dnat.as_deref().unwrap_or("-"),
            if o.masquerade { "yes" } else { "no" },
            o.hooks.join(" > ")
        );
    }
    for (i, o) in r.outcomes.iter().enumerate() {
        let _ = writeln!(out, "\n### {}. {}\n", i + 1, summary(o));
        if let Some(d) = &o.detail {
            let _ = writeln!(out, "{}\n", d.replace('|', "\\|"));
        }
        for (id, text) in o.rules.iter().zip(&o.rule_texts) {
            let _ = writeln!(out, "1. `{id}`: `{}`", text.replace('`', "'"));
        }
    }
    if !r.notes.is_empty() {
        let _ = writeln!(out, "\n### Notes\n");
        for n in &r.notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    if !r.input_problems.is_empty() {
        let _ = writeln!(out, "\n### Lines that could not be read\n");
        for p in &r.input_problems {
            let _ = writeln!(out, "- `{}`", p.replace('`', "'"));
        }
    }
    out
}

/// kube-proxy's jumps from the built-in chains into its own, in the order it writes them
/// (`iptablesJumpChains` in kubernetes `pkg/proxy/iptables/proxier.go`; `KUBE-FIREWALL` is
/// kubelet's). `(table, built-in chain, extra match, comment, target)`.
const KUBE_JUMPS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "filter",
        "INPUT",
        "-m conntrack --ctstate NEW",
        "kubernetes load balancer firewall",
        "KUBE-PROXY-FIREWALL",
    ),
    (
        "filter",
        "INPUT",
        "",
        "kubernetes health check service ports",
        "KUBE-NODEPORTS",
    ),
    (
        "filter",
        "INPUT",
        "-m conntrack --ctstate NEW",
        "kubernetes externally-visible service portals",
        "KUBE-EXTERNAL-SERVICES",
    ),
    ("filter", "INPUT", "", "", "KUBE-FIREWALL"),
    (
        "filter",
        "FORWARD",
        "-m conntrack --ctstate NEW",
        "kubernetes load balancer firewall",
        "KUBE-PROXY-FIREWALL",
    ),
    (
        "filter",
        "FORWARD",
        "",
        "kubernetes forwarding rules",
        "KUBE-FORWARD",
    ),
    (
        "filter",
        "FORWARD",
        "-m conntrack --ctstate NEW",
        "kubernetes service portals",
        "KUBE-SERVICES",
    ),
    (
        "filter",
        "FORWARD",
        "-m conntrack --ctstate NEW",
        "kubernetes externally-visible service portals",
        "KUBE-EXTERNAL-SERVICES",
    ),
    (
        "filter",
        "OUTPUT",
        "-m conntrack --ctstate NEW",
        "kubernetes load balancer firewall",
        "KUBE-PROXY-FIREWALL",
    ),
    (
        "filter",
        "OUTPUT",
        "-m conntrack --ctstate NEW",
        "kubernetes service portals",
        "KUBE-SERVICES",
    ),
    ("filter", "OUTPUT", "", "", "KUBE-FIREWALL"),
    (
        "nat",
        "PREROUTING",
        "",
        "kubernetes service portals",
        "KUBE-SERVICES",
    ),
    (
        "nat",
        "OUTPUT",
        "",
        "kubernetes service portals",
        "KUBE-SERVICES",
    ),
    (
        "nat",
        "POSTROUTING",
        "",
        "kubernetes postrouting rules",
        "KUBE-POSTROUTING",
    ),
];

/// The built-in chains of the tables kube-proxy writes.
const BUILTINS: &[(&str, &[&str])] = &[
    ("filter", &["INPUT", "FORWARD", "OUTPUT"]),
    ("nat", &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]),
    (
        "mangle",
        &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    ),
];

/// For a dump of kube-proxy's chains without the built-in chains (its restore input, or a
/// listing of its chains only): the lines that add each missing built-in chain (policy ACCEPT)
/// with kube-proxy's standard jumps into the chains the dump has, and a note per table. A
/// built-in chain that the dump does have is left as it is, even without kube-proxy's jump:
/// that is what the node has.
pub fn kube_proxy_completion(rs: &Ruleset) -> Option<(String, Vec<String>)> {
    let mut text = String::new();
    let mut notes = Vec::new();
    for t in &rs.tables {
        let has_kube = t
            .chains
            .iter()
            .any(|c| c.name.as_str().starts_with("KUBE-"));
        let Some((_, builtins)) = BUILTINS.iter().find(|(n, _)| *n == t.name) else {
            continue;
        };
        if !has_kube {
            continue;
        }
        let missing: Vec<&str> = builtins
            .iter()
            .copied()
            .filter(|b| t.chain_index(b).is_none())
            .collect();
        if missing.is_empty() {
            continue;
        }
        let _ = writeln!(text, "*{}", t.name);
        for b in &missing {
            let _ = writeln!(text, ":{b} ACCEPT [0:0]");
        }
        let mut added = Vec::new();
        for (table, builtin, extra, comment, target) in KUBE_JUMPS {
            if *table != t.name || !missing.contains(builtin) || t.chain_index(target).is_none() {
                continue;
            }
            let mut line = format!("-A {builtin}");
            if !extra.is_empty() {
                let _ = write!(line, " {extra}");
            }
            if !comment.is_empty() {
                let _ = write!(line, " -m comment --comment \"{comment}\"");
            }
            let _ = writeln!(text, "{line} -j {target}");
            added.push(format!("{builtin} -> {target}"));
        }
        let _ = writeln!(text, "COMMIT");
        notes.push(format!(
            "table {} has kube-proxy's chains but not its built-in chain(s) {}: they were added \
             with policy ACCEPT and kube-proxy's standard jumps ({}); rules other components \
             put there on a real node are not in this file",
            t.name,
            missing.join(", "),
            if added.is_empty() {
                "none applied".to_string()
            } else {
                added.join(", ")
            }
        ));
    }
    (!notes.is_empty()).then_some((text, notes))
}

/// In kube-proxy's restore input a built-in chain is declared with `-` ("keep the current
/// policy"); kube-proxy never sets one, and a fresh kernel's is ACCEPT. Taken as ACCEPT, and
/// said, for the tables that hold kube-proxy's chains.
pub fn assume_builtin_policies(rs: &mut Ruleset) -> Vec<String> {
    let mut notes = Vec::new();
    for t in &mut rs.tables {
        let has_kube = t
            .chains
            .iter()
            .any(|c| c.name.as_str().starts_with("KUBE-"));
        let Some((_, builtins)) = BUILTINS.iter().find(|(n, _)| *n == t.name) else {
            continue;
        };
        if !has_kube {
            continue;
        }
        let mut set = Vec::new();
        for b in builtins.iter() {
            if let Some(ci) = t.chain_index(b) {
                let c = &mut t.chains[ci];
                if c.policy.is_none() && c.declared_at.is_some() {
                    c.policy = Some(netdoctor_netfilter::Policy::Accept);
                    set.push(*b);
                }
            }
        }
        if !set.is_empty() {
            notes.push(format!(
                "table {}: built-in chain(s) {} declared with `-` (keep the current policy, as \
                 in kube-proxy's restore input): taken as ACCEPT, a fresh node's policy",
                t.name,
                set.join(", ")
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_read_in_every_form() {
        let p = parse_packet("tcp 10.0.0.2:40000 -> 172.30.0.41:80").expect("reads");
        assert_eq!(p.proto, "tcp");
        assert_eq!(p.sport, Some(40000));
        assert_eq!(p.dport, Some(80));
        let p = parse_packet("10.0.0.2->10.96.0.10:53").expect("reads");
        assert_eq!((p.proto.as_str(), p.sport), ("tcp", None));
        let p = parse_packet("UDP [fd00::1]:5353 -> [fd00:10:96::a]:53").expect("reads");
        assert_eq!(p.proto, "udp");
        assert_eq!(p.dst, "fd00:10:96::a".parse::<IpAddr>().expect("address"));
        let p = parse_packet("icmp 10.0.0.2 -> 10.0.0.3").expect("reads");
        assert_eq!((p.proto.as_str(), p.dport), ("icmp", None));
        let p = parse_packet("fd00::1 -> fd00::2").expect("reads");
        assert_eq!(p.proto, "icmpv6");
        for bad in [
            "tcp 10.0.0.2 10.0.0.3:80",
            "tcp 10.0.0.2 -> 10.0.0.3",
            "tcp 10.0.0.2 -> 10.0.0.3:0",
            "tcp 10.0.0.2 -> 10.0.0.3:70000",
            "gre 10.0.0.2 -> 10.0.0.3:80",
            "icmp 10.0.0.2 -> 10.0.0.3:80",
            "tcp 10.0.0.2 -> fd00::1:80",
            "tcp 10.0.0.2 -> [fd00::1:80",
            "tcp a b c -> 10.0.0.3:80",
            "tcp 10.0.0.2 -> 10.0.0.3:80 extra",
            "",
        ] {
            assert!(parse_packet(bad).is_err(), "{bad:?}");
        }
    }
}
