//! The arguments of one rule (`-s 10.0.0.0/8 -m tcp --dport 80 -j DNAT ...`): top-level
//! options, match modules and their options, and the target.

use super::lex::Token;
use super::target::parse_target;
use super::values as v;
use crate::packet::{proto, CtDir, CtStateSet};
use crate::rule::*;

/// One module option with its values: `! --dport 80` is `(true, "--dport", ["80"])`.
pub(super) struct Opt<'a> {
    pub neg: bool,
    pub name: &'a str,
    pub values: Vec<&'a str>,
}

/// The parsed arguments of a rule.
pub(super) struct RuleArgs {
    pub matches: Vec<Match>,
    pub target: Option<Target>,
    pub goto: bool,
    pub counters: Option<Counters>,
}

fn is_top_level(t: &Token) -> bool {
    !t.quoted
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
fn collect_opts<'a>(tokens: &'a [Token], mut i: usize) -> Result<(Vec<Opt<'a>>, usize), String> {
    let mut out = Vec::new();
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
        let mut opt = Opt {
            neg,
            name: &o.text,
            values: Vec::new(),
        };
        i = opt_at + 1;
        // Old syntax put the `!` after the option: `--dport ! 80`.
        if let (Some(b), Some(n)) = (tokens.get(i), tokens.get(i + 1)) {
            if b.is_bang() && !n.is_option() && !n.is_bang() {
                opt.neg = !opt.neg;
                i += 1;
            }
        }
        while let Some(t) = tokens.get(i) {
            if t.is_bang() || t.is_option() {
                break;
            }
            opt.values.push(&t.text);
            i += 1;
        }
        out.push(opt);
    }
    Ok((out, i))
}

fn one<'a>(o: &Opt<'a>) -> Result<&'a str, String> {
    match o.values.as_slice() {
        [v] => Ok(*v),
        [] => Err(format!("{} needs a value", o.name)),
        [_, extra @ ..] => Err(format!(
            "unexpected {:?} after {} {}",
            extra.join(" "),
            o.name,
            o.values[0]
        )),
    }
}

fn no_value(o: &Opt) -> Result<(), String> {
    if o.values.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "unexpected {:?} after {}",
            o.values.join(" "),
            o.name
        ))
    }
}

fn neg(o: &Opt, kind: MatchKind) -> Match {
    Match {
        negated: o.neg,
        kind,
    }
}

/// Parse a rule's arguments (everything after `-A CHAIN`).
pub(super) fn parse_rule_args(tokens: &[Token]) -> Result<RuleArgs, String> {
    let mut out = RuleArgs {
        matches: Vec::with_capacity(8),
        target: None,
        goto: false,
        counters: None,
    };
    let mut proto_seen: Option<u8> = None;
    let mut modules: Vec<String> = Vec::new();
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
                    name: IfaceName(value(at + 1)?.to_string()),
                }));
                i = at + 2;
            }
            "-o" | "--out-interface" => {
                out.matches.push(m(MatchKind::OutIface {
                    name: IfaceName(value(at + 1)?.to_string()),
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
                let name = value(at + 1)?.to_string();
                let (opts, next) = collect_opts(tokens, at + 2)?;
                out.matches.extend(parse_module(&name, &opts, proto_seen)?);
                modules.push(name);
                i = next;
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                if negated {
                    return Err("`!` before the target".into());
                }
                if out.target.is_some() {
                    return Err("two targets in one rule".into());
                }
                let name = value(at + 1)?.to_string();
                let (opts, next) = collect_opts(tokens, at + 2)?;
                out.goto = matches!(&*opt.text, "-g" | "--goto");
                out.target = Some(parse_target(&name, &opts)?);
                i = next;
            }
            other if opt.is_option() => {
                // An option of a protocol module given after `-p` (implicitly loaded), or of a
                // module loaded earlier: kube-proxy writes `-m tcp -p tcp -d X --dport 80`.
                let (opts, next) = collect_opts(tokens, i)?;
                let Some(first) = opts.first() else {
                    return Err(format!("unexpected argument {other:?}"));
                };
                let module = modules
                    .iter()
                    .rev()
                    .find(|m| is_proto_module(m))
                    .cloned()
                    .or_else(|| proto_seen.and_then(proto_module_name).map(str::to_string));
                let Some(module) = module else {
                    return Err(format!("option {} outside any match module", first.name));
                };
                out.matches
                    .extend(parse_module(&module, &opts, proto_seen)?);
                i = next;
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok(out)
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

fn module_proto(m: &str) -> Option<u8> {
    Some(match m {
        "tcp" => proto::TCP,
        "udp" => proto::UDP,
        "udplite" => 136,
        "sctp" => proto::SCTP,
        "dccp" => 33,
        _ => return None,
    })
}

fn opaque(name: &str, opts: &[Opt], why: &str) -> Vec<Match> {
    // The negations stay inside `args`: the module is decided as a whole or not at all.
    let mut args = Vec::new();
    for o in opts {
        if o.neg {
            args.push("!".to_string());
        }
        args.push(o.name.to_string());
        args.extend(o.values.iter().map(|v| v.to_string()));
    }
    vec![Match::new(MatchKind::Opaque(Box::new(OpaqueMatch {
        module: name.to_string(),
        args,
        why: why.to_string(),
    })))]
}

fn unknown_opt(module: &str, o: &Opt) -> String {
    format!("unknown option {} of match {module}", o.name)
}

/// Parse the options of match module `name`.
pub(super) fn parse_module(
    name: &str,
    opts: &[Opt],
    proto_seen: Option<u8>,
) -> Result<Vec<Match>, String> {
    let mut out = Vec::new();
    match name {
        "comment" => {
            for o in opts {
                match o.name {
                    "--comment" => out.push(Match::new(MatchKind::Comment(one(o)?.into()))),
                    _ => return Err(unknown_opt(name, o)),
                }
            }
        }
        "tcp" | "udp" | "udplite" | "sctp" | "dccp" => {
            let p = module_proto(name);
            for o in opts {
                match o.name {
                    "--dport" | "--destination-port" | "--sport" | "--source-port" => {
                        let side = if matches!(o.name, "--dport" | "--destination-port") {
                            PortSide::Dst
                        } else {
                            PortSide::Src
                        };
                        out.push(neg(
                            o,
                            MatchKind::Port {
                                side,
                                proto: p,
                                ranges: vec![v::port_range(one(o)?)?],
                            },
                        ));
                    }
                    "--tcp-flags" if name == "tcp" => {
                        let [mask, comp] = o.values.as_slice() else {
                            return Err("--tcp-flags needs a mask and a comparison".into());
                        };
                        out.push(neg(
                            o,
                            MatchKind::TcpFlags {
                                mask: v::tcp_flags(mask)?,
                                comp: v::tcp_flags(comp)?,
                            },
                        ));
                    }
                    "--syn" if name == "tcp" => {
                        no_value(o)?;
                        out.push(neg(
                            o,
                            MatchKind::TcpFlags {
                                mask: 0x17,
                                comp: 0x02,
                            },
                        ));
                    }
                    "--tcp-option" | "--chunk-types" | "--dccp-types" | "--dccp-option" => {
                        out.extend(opaque(
                            name,
                            std::slice::from_ref(o),
                            "TCP options / chunk types are not part of the packet description",
                        ));
                    }
                    _ => return Err(unknown_opt(name, o)),
                }
            }
        }
        "multiport" => {
            let p = proto_seen.filter(|p| matches!(*p, 6 | 17 | 132 | 136 | 33));
            for o in opts {
                let side = match o.name {
                    "--dports" | "--destination-ports" => PortSide::Dst,
                    "--sports" | "--source-ports" => PortSide::Src,
                    "--ports" => PortSide::Either,
                    _ => return Err(unknown_opt(name, o)),
                };
                out.push(neg(
                    o,
                    MatchKind::Port {
                        side,
                        proto: p,
                        ranges: v::port_list(one(o)?)?,
                    },
                ));
            }
        }
        "icmp" | "icmp6" | "icmpv6" => {
            let v6 = name != "icmp";
            for o in opts {
                match o.name {
                    "--icmp-type" | "--icmpv6-type" => {
                        let (t, c) = v::icmp_type(one(o)?, v6)?;
                        out.push(neg(
                            o,
                            MatchKind::Icmp {
                                v6,
                                icmp_type: t,
                                code: c,
                            },
                        ));
                    }
                    _ => return Err(unknown_opt(name, o)),
                }
            }
        }
        "mark" | "connmark" => {
            for o in opts {
                match o.name {
                    "--mark" => {
                        let (value, mask) = v::value_mask(one(o)?)?;
                        let kind = if name == "mark" {
                            MatchKind::Mark { value, mask }
                        } else {
                            MatchKind::ConnMark { value, mask }
                        };
                        out.push(neg(o, kind));
                    }
                    _ => return Err(unknown_opt(name, o)),
                }
            }
        }
        "addrtype" => {
            let mut limit = None;
            for o in opts {
                match o.name {
                    "--limit-iface-in" => limit = Some(LimitIface::In),
                    "--limit-iface-out" => limit = Some(LimitIface::Out),
                    _ => {}
                }
            }
            for o in opts {
                match o.name {
                    "--src-type" | "--dst-type" => out.push(neg(
                        o,
                        MatchKind::AddrType {
                            side: if o.name == "--src-type" {
                                Side::Src
                            } else {
                                Side::Dst
                            },
                            types: v::addr_types(one(o)?)?,
                            limit_iface: limit,
                        },
                    )),
                    "--limit-iface-in" | "--limit-iface-out" => no_value(o)?,
                    _ => return Err(unknown_opt(name, o)),
                }
            }
        }
        "conntrack" | "state" => {
            for o in opts {
                let kind = match (name, o.name) {
                    ("state", "--state") | ("conntrack", "--ctstate") => MatchKind::CtState {
                        states: CtStateSet::parse(one(o)?)?,
                    },
                    ("conntrack", "--ctorigsrc") => MatchKind::CtAddr {
                        which: CtTuple::OrigSrc,
                        net: v::addr_mask(one(o)?)?,
                    },
                    ("conntrack", "--ctorigdst") => MatchKind::CtAddr {
                        which: CtTuple::OrigDst,
                        net: v::addr_mask(one(o)?)?,
                    },
                    ("conntrack", "--ctreplsrc") => MatchKind::CtAddr {
                        which: CtTuple::ReplSrc,
                        net: v::addr_mask(one(o)?)?,
                    },
                    ("conntrack", "--ctrepldst") => MatchKind::CtAddr {
                        which: CtTuple::ReplDst,
                        net: v::addr_mask(one(o)?)?,
                    },
                    ("conntrack", "--ctorigsrcport") => MatchKind::CtPort {
                        which: CtTuple::OrigSrc,
                        range: v::port_range(one(o)?)?,
                    },
                    ("conntrack", "--ctorigdstport") => MatchKind::CtPort {
                        which: CtTuple::OrigDst,
                        range: v::port_range(one(o)?)?,
                    },
                    ("conntrack", "--ctreplsrcport") => MatchKind::CtPort {
                        which: CtTuple::ReplSrc,
                        range: v::port_range(one(o)?)?,
                    },
                    ("conntrack", "--ctrepldstport") => MatchKind::CtPort {
                        which: CtTuple::ReplDst,
                        range: v::port_range(one(o)?)?,
                    },
                    ("conntrack", "--ctdir") => MatchKind::CtDir {
                        dir: match one(o)?.to_ascii_uppercase().as_str() {
                            "ORIGINAL" => CtDir::Original,
                            "REPLY" => CtDir::Reply,
                            d => return Err(format!("bad --ctdir {d:?}")),
                        },
                    },
                    ("conntrack", "--ctproto") => MatchKind::CtProto {
                        proto: v::protocol(one(o)?)?,
                    },
                    ("conntrack", "--ctstatus") => MatchKind::CtStatus {
                        status: one(o)?.split(',').map(str::to_string).collect(),
                    },
                    ("conntrack", "--ctexpire") => {
                        out.extend(opaque(
                            name,
                            std::slice::from_ref(o),
                            "conntrack expiry is not part of the packet description",
                        ));
                        continue;
                    }
                    _ => return Err(unknown_opt(name, o)),
                };
                out.push(neg(o, kind));
            }
        }
        "statistic" => {
            let mut mode = None;
            let mut prob = None;
            let mut every = None;
            let mut packet = 0;
            let mut negated = false;
            for o in opts {
                negated |= o.neg;
                match o.name {
                    "--mode" => mode = Some(one(o)?.to_string()),
                    "--probability" => {
                        let p: f64 = one(o)?
                            .parse()
                            .map_err(|_| format!("bad probability {:?}", o.values))?;
                        if !(0.0..=1.0).contains(&p) {
                            return Err(format!("probability {p} out of 0..1"));
                        }
                        prob = Some(p);
                    }
                    "--every" => every = Some(v::number(one(o)?)?),
                    "--packet" => packet = v::number(one(o)?)?,
                    _ => return Err(unknown_opt(name, o)),
                }
            }
            let s = match (mode.as_deref(), prob, every) {
                (Some("random"), Some(p), _) => Statistic::Random { probability: p },
                (Some("nth"), _, Some(e)) if e > 0 => Statistic::Nth { every: e, packet },
                _ => {
                    return Err(
                        "statistic needs --mode random --probability P or --mode nth --every N"
                            .into(),
                    )
                }
            };
            out.push(Match {
                negated,
                kind: MatchKind::Statistic(s),
            });
        }
        "recent" => {
            let mut rname = "DEFAULT".to_string();
            let mut cmd = None;
            let mut side = Side::Src;
            let mut seconds = None;
            let mut hitcount = None;
            let mut negated = false;
            for o in opts {
                match o.name {
                    "--name" => rname = one(o)?.to_string(),
                    "--set" => {
                        negated |= o.neg;
                        cmd = Some(RecentCmd::Set)
                    }
                    "--rcheck" => {
                        negated |= o.neg;
                        cmd = Some(RecentCmd::Rcheck)
                    }
                    "--update" => {
                        negated |= o.neg;
                        cmd = Some(RecentCmd::Update)
                    }
                    "--remove" => {
                        negated |= o.neg;
                        cmd = Some(RecentCmd::Remove)
                    }
                    "--rsource" => side = Side::Src,
                    "--rdest" => side = Side::Dst,
                    "--seconds" => seconds = Some(v::number(one(o)?)?),
                    "--hitcount" => hitcount = Some(v::number(one(o)?)?),
                    "--mask" | "--reap" | "--rttl" => {}
                    _ => return Err(unknown_opt(name, o)),
                }
            }
            let cmd = cmd.ok_or("recent needs --set, --rcheck, --update or --remove")?;
            out.push(Match {
                negated,
                kind: MatchKind::Recent {
                    name: rname.into(),
                    cmd,
                    side,
                    seconds,
                    hitcount,
                },
            });
        }
        "set" => {
            for o in opts {
                match o.name {
                    "--match-set" | "--set" => {
                        let [sname, dirs] = o.values.as_slice() else {
                            return Err("--match-set needs a set name and src/dst flags".into());
                        };
                        let dirs = dirs
                            .split(',')
                            .map(|d| match d {
                                "src" => Ok(Side::Src),
                                "dst" => Ok(Side::Dst),
                                _ => Err(format!("bad set flag {d:?}")),
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        out.push(neg(
                            o,
                            MatchKind::Set {
                                name: sname.to_string(),
                                dirs,
                            },
                        ));
                    }
                    "--return-nomatch"
                    | "--update-counters"
                    | "--update-subcounters"
                    | "--packets-eq"
                    | "--packets-lt"
                    | "--packets-gt"
                    | "--bytes-eq"
                    | "--bytes-lt"
                    | "--bytes-gt"
                    | "! --update-counters" => {
                        out.extend(opaque(
                            name,
                            std::slice::from_ref(o),
                            "ipset counter options are not modelled",
                        ));
                    }
                    _ => return Err(unknown_opt(name, o)),
                }
            }
        }
        "physdev" => {
            for o in opts {
                let opt = match o.name {
                    "--physdev-in" => PhysdevOpt::In(IfaceName(one(o)?.to_string())),
                    "--physdev-out" => PhysdevOpt::Out(IfaceName(one(o)?.to_string())),
                    "--physdev-is-in" => {
                        no_value(o)?;
                        PhysdevOpt::IsIn
                    }
                    "--physdev-is-out" => {
                        no_value(o)?;
                        PhysdevOpt::IsOut
                    }
                    "--physdev-is-bridged" => {
                        no_value(o)?;
                        PhysdevOpt::IsBridged
                    }
                    _ => return Err(unknown_opt(name, o)),
                };
                out.push(neg(o, MatchKind::Physdev(opt)));
            }
        }
        "iprange" => {
            for o in opts {
                let side = match o.name {
                    "--src-range" => Side::Src,
                    "--dst-range" => Side::Dst,
                    _ => return Err(unknown_opt(name, o)),
                };
                let r = one(o)?;
                let (a, b) = r.split_once('-').unwrap_or((r, r));
                let from = a.parse().map_err(|_| format!("bad address range {r:?}"))?;
                let to = b.parse().map_err(|_| format!("bad address range {r:?}"))?;
                out.push(neg(o, MatchKind::IpRange { side, from, to }));
            }
        }
        "pkttype" => {
            for o in opts {
                match o.name {
                    "--pkt-type" => out.push(neg(
                        o,
                        MatchKind::PktType {
                            kind: one(o)?.to_ascii_lowercase(),
                        },
                    )),
                    _ => return Err(unknown_opt(name, o)),
                }
            }
        }
        "length" => {
            for o in opts {
                match o.name {
                    "--length" => out.push(neg(
                        o,
                        MatchKind::Length {
                            range: v::port_range(one(o)?)?,
                        },
                    )),
                    _ => return Err(unknown_opt(name, o)),
                }
            }
        }
        "nfacct" => {
            for o in opts {
                match o.name {
                    "--nfacct-name" => out.push(Match::new(MatchKind::Nfacct {
                        name: one(o)?.to_string(),
                    })),
                    _ => return Err(unknown_opt(name, o)),
                }
            }
        }
        "limit" | "hashlimit" => out.extend(opaque(
            name,
            opts,
            "rate limits depend on the traffic's history",
        )),
        "owner" => out.extend(opaque(
            name,
            opts,
            "the owning socket is not part of the packet description",
        )),
        "socket" => out.extend(opaque(
            name,
            opts,
            "whether a local socket exists is not known",
        )),
        "rpfilter" => out.extend(opaque(
            name,
            opts,
            "reverse-path lookups need the routing table",
        )),
        "string" => out.extend(opaque(
            name,
            opts,
            "the payload is not part of the packet description",
        )),
        "u32" => out.extend(opaque(
            name,
            opts,
            "raw header bytes are not part of the packet description",
        )),
        "devgroup" => out.extend(opaque(name, opts, "interface groups are not known")),
        _ => out.extend(opaque(
            name,
            opts,
            &format!("match module {name} is not modelled"),
        )),
    }
    // Options given without any value to a module that needs none still produce a match.
    if out.is_empty() && !opts.is_empty() {
        return Err(format!("match {name}: nothing understood in its options"));
    }
    Ok(out)
}
