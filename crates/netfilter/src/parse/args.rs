//! The arguments of one rule (`-s 10.0.0.0/8 -m tcp --dport 80 -j DNAT ...`): top-level
//! options, the option groups of match modules and targets, and the target.
//!
//! Built for the 100k-rule dumps of large clusters: option groups are slices of the line's
//! tokens (no copies), the results go into a [`RuleArgs`] that the parser reuses from rule to
//! rule, and names and comments become [`Text`]s that point into the dump.

use super::lex::Token;
use super::modules::parse_module;
use super::target::parse_target;
use super::values as v;
use crate::packet::proto;
use crate::rule::*;
use smallvec::SmallVec;
use std::sync::Arc;

/// One module option with its values: `! --dport 80` is `(true, "--dport", ["80"])`.
pub(super) struct Opt<'t, 'a> {
    pub neg: bool,
    pub name: &'t str,
    /// The values: the tokens after the option, up to the next option.
    pub values: &'t [Token<'a>],
}

/// The option groups of one `-m NAME` or `-j NAME` (four cover nearly every real rule).
pub(super) type Opts<'t, 'a> = SmallVec<[Opt<'t, 'a>; 4]>;

/// What a rule's arguments produce. The parser keeps one and reuses it for every rule, so
/// `matches` keeps its capacity.
#[derive(Default)]
pub(super) struct RuleArgs {
    pub matches: Vec<Match>,
    pub comment: Option<Text>,
    pub target: Option<Target>,
    pub goto: bool,
    pub counters: Option<Counters>,
}

impl RuleArgs {
    fn clear(&mut self) {
        self.matches.clear();
        self.comment = None;
        self.target = None;
        self.goto = false;
        self.counters = None;
    }
}

/// The values of an option as written, for messages.
pub(super) fn values_text(o: &Opt) -> String {
    let v: Vec<&str> = o.values.iter().map(|t| &*t.text).collect();
    v.join(" ")
}

/// The option groups as written (`!`, names, values), for matches and targets kept opaque.
pub(super) fn raw_args(opts: &[Opt]) -> Vec<String> {
    let mut args = Vec::new();
    for o in opts {
        if o.neg {
            args.push("!".to_string());
        }
        args.push(o.name.to_string());
        args.extend(o.values.iter().map(|v| v.text.to_string()));
    }
    args
}

pub(super) fn one<'t>(o: &Opt<'t, '_>) -> Result<&'t str, String> {
    match o.values {
        [v] => Ok(&v.text),
        [] => Err(format!("{} needs a value", o.name)),
        [first, extra @ ..] => {
            let extra: Vec<&str> = extra.iter().map(|t| &*t.text).collect();
            Err(format!(
                "unexpected {:?} after {} {}",
                extra.join(" "),
                o.name,
                first.text
            ))
        }
    }
}

pub(super) fn no_value(o: &Opt) -> Result<(), String> {
    if o.values.is_empty() {
        Ok(())
    } else {
        Err(format!("unexpected {:?} after {}", values_text(o), o.name))
    }
}

pub(super) fn neg(o: &Opt, kind: MatchKind) -> Match {
    Match {
        negated: o.neg,
        kind,
    }
}

fn is_top_level(t: &Token) -> bool {
    !t.quoted
        && t.text.starts_with('-')
        && matches!(
            &*t.text,
            "-s" | "--source"
                | "--src"
                | "-d"
                | "--destination"
                | "--dst"
                | "-i"
                | "--in-interface"
                | "-o"
                | "--out-interface"
                | "-p"
                | "--protocol"
                | "-f"
                | "--fragment"
                | "-m"
                | "--match"
                | "-j"
                | "--jump"
                | "-g"
                | "--goto"
                | "-c"
                | "--set-counters"
                | "-4"
                | "-6"
                | "--ipv4"
                | "--ipv6"
        )
}

/// Collect the option groups that follow a `-m NAME` or `-j NAME`, up to the next top-level
/// option. Returns the groups and the index after them.
fn collect_opts<'t, 'a>(
    tokens: &'t [Token<'a>],
    mut i: usize,
    out: &mut Opts<'t, 'a>,
) -> Result<usize, String> {
    out.clear();
    while let Some(t) = tokens.get(i) {
        let (neg, opt_at) = if t.is_bang() {
            match tokens.get(i + 1) {
                Some(n) if is_top_level(n) => break,
                Some(n) if n.is_option() => (true, i + 1),
                _ => return Err("`!` not followed by an option".into()),
            }
        } else {
            (false, i)
        };
        let o = &tokens[opt_at];
        if is_top_level(o) || !o.is_option() {
            if neg {
                return Err("`!` not followed by an option".into());
            }
            break;
        }
        let mut neg = neg;
        i = opt_at + 1;
        // Old syntax put the `!` after the option: `--dport ! 80`.
        if let (Some(b), Some(n)) = (tokens.get(i), tokens.get(i + 1)) {
            if b.is_bang() && !n.is_option() && !n.is_bang() {
                neg = !neg;
                i += 1;
            }
        }
        let first = i;
        while let Some(t) = tokens.get(i) {
            if t.is_bang() || t.is_option() {
                break;
            }
            i += 1;
        }
        out.push(Opt {
            neg,
            name: &o.text,
            values: &tokens[first..i],
        });
    }
    Ok(i)
}

/// Parse a rule's arguments (everything after `-A CHAIN`) into `out` (cleared first). `src`
/// is the dump the tokens were cut from; names and comments point into it.
pub(super) fn parse_rule_args(
    tokens: &[Token],
    src: &Arc<String>,
    out: &mut RuleArgs,
) -> Result<(), String> {
    out.clear();
    let mut proto_seen: Option<u8> = None;
    // The last protocol module loaded with `-m`: its options may follow other matches.
    let mut proto_module: Option<&str> = None;
    let mut opts = Opts::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let mut negated = false;
        let (opt, at) = if t.is_bang() {
            negated = true;
            match tokens.get(i + 1) {
                Some(n) => (n, i + 1),
                None => return Err("rule ends with `!`".into()),
            }
        } else {
            (t, i)
        };
        if opt.quoted {
            return Err(format!("unexpected argument {:?}", opt.text));
        }
        let value = |k: usize| -> Result<&str, String> {
            tokens
                .get(k)
                .filter(|t| t.quoted || !t.is_option())
                .map(|t| &*t.text)
                .ok_or_else(|| format!("{} needs a value", opt.text))
        };
        let m = |kind| Match { negated, kind };
        match &*opt.text {
            "-s" | "--source" | "--src" => {
                out.matches.push(m(MatchKind::Source {
                    nets: v::addr_list(value(at + 1)?)?,
                }));
                i = at + 2;
            }
            "-d" | "--destination" | "--dst" => {
                out.matches.push(m(MatchKind::Dest {
                    nets: v::addr_list(value(at + 1)?)?,
                }));
                i = at + 2;
            }
            "-i" | "--in-interface" => {
                out.matches.push(m(MatchKind::InIface {
                    name: IfaceName::new(value(at + 1)?),
                }));
                i = at + 2;
            }
            "-o" | "--out-interface" => {
                out.matches.push(m(MatchKind::OutIface {
                    name: IfaceName::new(value(at + 1)?),
                }));
                i = at + 2;
            }
            "-p" | "--protocol" => {
                let p = v::protocol(value(at + 1)?)?;
                if !negated {
                    proto_seen = Some(p);
                }
                if p != 0 || negated {
                    out.matches.push(m(MatchKind::Protocol { proto: p }));
                }
                i = at + 2;
            }
            "-f" | "--fragment" => {
                out.matches.push(m(MatchKind::Fragment));
                i = at + 1;
            }
            "-4" | "-6" | "--ipv4" | "--ipv6" => i = at + 1,
            "-c" | "--set-counters" => {
                let p = value(at + 1)?;
                let b = value(at + 2)?;
                out.counters = Some(Counters {
                    packets: p.parse().map_err(|_| format!("bad counter {p:?}"))?,
                    bytes: b.parse().map_err(|_| format!("bad counter {b:?}"))?,
                });
                i = at + 3;
            }
            "-m" | "--match" => {
                if negated {
                    return Err("`!` before -m".into());
                }
                let name = value(at + 1)?;
                let next = collect_opts(tokens, at + 2, &mut opts)?;
                parse_module(name, &opts, proto_seen, src, out)?;
                if is_proto_module(name) {
                    proto_module = Some(name);
                }
                i = next;
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                if negated {
                    return Err("`!` before the target".into());
                }
                if out.target.is_some() {
                    return Err("two targets in one rule".into());
                }
                let name = value(at + 1)?;
                let next = collect_opts(tokens, at + 2, &mut opts)?;
                out.goto = matches!(&*opt.text, "-g" | "--goto");
                out.target = Some(parse_target(name, &opts, src)?);
                i = next;
            }
            other if opt.is_option() => {
                // An option of a protocol module given after `-p` (implicitly loaded), or of a
                // module loaded earlier: kube-proxy writes `-m tcp -p tcp -d X --dport 80`.
                let next = collect_opts(tokens, i, &mut opts)?;
                let Some(first) = opts.first() else {
                    return Err(format!("unexpected argument {other:?}"));
                };
                let Some(module) = proto_module.or_else(|| proto_seen.and_then(proto_module_name))
                else {
                    return Err(format!("option {} outside any match module", first.name));
                };
                parse_module(module, &opts, proto_seen, src, out)?;
                i = next;
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok(())
}

fn is_proto_module(m: &str) -> bool {
    matches!(
        m,
        "tcp" | "udp" | "udplite" | "sctp" | "dccp" | "icmp" | "icmp6" | "icmpv6"
    )
}

fn proto_module_name(p: u8) -> Option<&'static str> {
    Some(match p {
        proto::TCP => "tcp",
        proto::UDP => "udp",
        136 => "udplite",
        proto::SCTP => "sctp",
        33 => "dccp",
        proto::ICMP => "icmp",
        proto::ICMPV6 => "icmp6",
        _ => return None,
    })
}

pub(super) fn module_proto(m: &str) -> Option<u8> {
    Some(match m {
        "tcp" => proto::TCP,
        "udp" => proto::UDP,
        "udplite" => 136,
        "sctp" => proto::SCTP,
        "dccp" => 33,
        _ => return None,
    })
}
