//! Match modules (`-m NAME --option value ...`) and the options of the protocol modules that
//! `-p` loads implicitly.

use super::args::{module_proto, neg, no_value, one, raw_args, values_text, Opt, RuleArgs};
use super::values as v;
use crate::packet::{CtDir, CtStateSet};
use crate::rule::*;
use std::sync::Arc;

fn opaque(out: &mut RuleArgs, name: &str, opts: &[Opt], why: &str) {
    // The negations stay inside `args`: the module is decided as a whole or not at all.
    let args = raw_args(opts);
    out.matches
        .push(Match::new(MatchKind::Opaque(Box::new(OpaqueMatch {
            module: name.to_string(),
            args,
            why: why.to_string(),
        }))));
}

fn unknown_opt(module: &str, o: &Opt) -> String {
    format!("unknown option {} of match {module}", o.name)
}

/// Parse the options of match module `name`.
pub(super) fn parse_module(
    name: &str,
    opts: &[Opt],
    proto_seen: Option<u8>,
    src: &Arc<String>,
    out: &mut RuleArgs,
) -> Result<(), String> {
    let before = (out.matches.len(), out.comment.is_some());
    match name {
        "comment" => {
            for o in opts {
                match o.name {
                    "--comment" => {
                        let text = Text::slice_of(src, one(o)?);
                        if out.comment.is_none() {
                            out.comment = Some(text);
                        } else {
                            out.matches.push(Match::new(MatchKind::Comment { text }));
                        }
                    }
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
                        out.matches.push(neg(
                            o,
                            MatchKind::Port {
                                side,
                                proto: p,
                                ranges: Box::new([v::port_range(one(o)?)?]),
                            },
                        ));
                    }
                    "--tcp-flags" if name == "tcp" => {
                        let [mask, comp] = o.values else {
                            return Err("--tcp-flags needs a mask and a comparison".into());
                        };
                        let (mask, comp) = (&*mask.text, &*comp.text);
                        out.matches.push(neg(
                            o,
                            MatchKind::TcpFlags {
                                mask: v::tcp_flags(mask)?,
                                comp: v::tcp_flags(comp)?,
                            },
                        ));
                    }
                    "--syn" if name == "tcp" => {
                        no_value(o)?;
                        out.matches.push(neg(
                            o,
                            MatchKind::TcpFlags {
                                mask: 0x17,
                                comp: 0x02,
                            },
                        ));
                    }
                    "--tcp-option" | "--chunk-types" | "--dccp-types" | "--dccp-option" => {
                        opaque(
                            out,
                            name,
                            std::slice::from_ref(o),
                            "TCP options / chunk types are not part of the packet description",
                        );
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
                out.matches.push(neg(
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
                        out.matches.push(neg(
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
                        out.matches.push(neg(o, kind));
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
                    "--src-type" | "--dst-type" => out.matches.push(neg(
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
                        net: Box::new(v::addr_mask(one(o)?)?),
                    },
                    ("conntrack", "--ctorigdst") => MatchKind::CtAddr {
                        which: CtTuple::OrigDst,
                        net: Box::new(v::addr_mask(one(o)?)?),
                    },
                    ("conntrack", "--ctreplsrc") => MatchKind::CtAddr {
                        which: CtTuple::ReplSrc,
                        net: Box::new(v::addr_mask(one(o)?)?),
                    },
                    ("conntrack", "--ctrepldst") => MatchKind::CtAddr {
                        which: CtTuple::ReplDst,
                        net: Box::new(v::addr_mask(one(o)?)?),
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
                        opaque(
                            out,
                            name,
                            std::slice::from_ref(o),
                            "conntrack expiry is not part of the packet description",
                        );
                        continue;
                    }
                    _ => return Err(unknown_opt(name, o)),
                };
                out.matches.push(neg(o, kind));
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
                    "--mode" => mode = Some(one(o)?),
                    "--probability" => {
                        let p: f64 = one(o)?
                            .parse()
                            .map_err(|_| format!("bad probability {:?}", values_text(o)))?;
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
            let s = match (mode, prob, every) {
                (Some("random"), Some(p), _) => Statistic::Random { probability: p },
                (Some("nth"), _, Some(e)) if e > 0 => Statistic::Nth { every: e, packet },
                _ => {
                    return Err(
                        "statistic needs --mode random --probability P or --mode nth --every N"
                            .into(),
                    )
                }
            };
            out.matches.push(Match {
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
            out.matches.push(Match {
                negated,
                kind: MatchKind::Recent(Box::new(Recent {
                    name: rname,
                    cmd,
                    side,
                    seconds,
                    hitcount,
                })),
            });
        }
        "set" => {
            for o in opts {
                match o.name {
                    "--match-set" | "--set" => {
                        let [sname, dirs] = o.values else {
                            return Err("--match-set needs a set name and src/dst flags".into());
                        };
                        let (sname, dirs) = (&*sname.text, &*dirs.text);
                        let dirs = dirs
                            .split(',')
                            .map(|d| match d {
                                "src" => Ok(Side::Src),
                                "dst" => Ok(Side::Dst),
                                _ => Err(format!("bad set flag {d:?}")),
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        out.matches.push(neg(
                            o,
                            MatchKind::Set(Box::new(SetMatch {
                                name: sname.to_string(),
                                dirs,
                            })),
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
                        opaque(
                            out,
                            name,
                            std::slice::from_ref(o),
                            "ipset counter options are not modelled",
                        );
                    }
                    _ => return Err(unknown_opt(name, o)),
                }
            }
        }
        "physdev" => {
            for o in opts {
                let opt = match o.name {
                    "--physdev-in" => PhysdevOpt::In(IfaceName::new(one(o)?)),
                    "--physdev-out" => PhysdevOpt::Out(IfaceName::new(one(o)?)),
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
                out.matches.push(neg(o, MatchKind::Physdev(opt)));
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
                out.matches.push(neg(
                    o,
                    MatchKind::IpRange(Box::new(IpRange { side, from, to })),
                ));
            }
        }
        "pkttype" => {
            for o in opts {
                match o.name {
                    "--pkt-type" => out.matches.push(neg(
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
                    "--length" => out.matches.push(neg(
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
                    "--nfacct-name" => out.matches.push(Match::new(MatchKind::Nfacct {
                        name: one(o)?.to_string(),
                    })),
                    _ => return Err(unknown_opt(name, o)),
                }
            }
        }
        "limit" | "hashlimit" => opaque(
            out,
            name,
            opts,
            "rate limits depend on the traffic's history",
        ),
        "owner" => opaque(
            out,
            name,
            opts,
            "the owning socket is not part of the packet description",
        ),
        "socket" => opaque(
            out,
            name,
            opts,
            "whether a local socket exists is not known",
        ),
        "rpfilter" => opaque(
            out,
            name,
            opts,
            "reverse-path lookups need the routing table",
        ),
        "string" => opaque(
            out,
            name,
            opts,
            "the payload is not part of the packet description",
        ),
        "u32" => opaque(
            out,
            name,
            opts,
            "raw header bytes are not part of the packet description",
        ),
        "devgroup" => opaque(out, name, opts, "interface groups are not known"),
        _ => opaque(
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
