//! Targets (`-j NAME OPTIONS`).

use super::args::{no_value as flag, one, raw_args, Opt};
use super::values as v;
use crate::rule::*;
use std::sync::Arc;

fn extension(name: &str, opts: &[Opt]) -> Box<Extension> {
    Box::new(Extension {
        name: name.to_string(),
        args: raw_args(opts),
    })
}

fn bad(name: &str, o: &Opt) -> String {
    format!("unknown option {} of target {name}", o.name)
}

fn no_negation(opts: &[Opt]) -> Result<(), String> {
    match opts.iter().find(|o| o.neg) {
        Some(o) => Err(format!("`!` before target option {}", o.name)),
        None => Ok(()),
    }
}

/// Targets that change nothing the evaluator models and never decide the packet's fate.
const CONTINUING: &[&str] = &[
    "LOG",
    "NFLOG",
    "ULOG",
    "TRACE",
    "CHECKSUM",
    "TCPMSS",
    "CLASSIFY",
    "DSCP",
    "TOS",
    "TTL",
    "HL",
    "AUDIT",
    "SET",
    "IDLETIMER",
    "LED",
    "SECMARK",
    "CONNSECMARK",
    "TCPOPTSTRIP",
    "RATEEST",
    "ECN",
    "TEE",
];

/// Parse `-j NAME` with its options. Names that are not built-in targets are user chains;
/// their name points into `src`, the dump, when it was cut from it.
pub(super) fn parse_target(name: &str, opts: &[Opt], src: &Arc<String>) -> Result<Target, String> {
    no_negation(opts)?;
    let simple = |t: Target| -> Result<Target, String> {
        match opts.first() {
            Some(o) => Err(bad(name, o)),
            None => Ok(t),
        }
    };
    match name {
        "ACCEPT" => simple(Target::Accept),
        "DROP" => simple(Target::Drop),
        "RETURN" => simple(Target::Return),
        "QUEUE" => simple(Target::Queue),
        "NOTRACK" => simple(Target::Notrack),
        "REJECT" => {
            let mut with = None;
            for o in opts {
                match o.name {
                    "--reject-with" => with = Some(Text::slice_of(src, one(o)?)),
                    _ => return Err(bad(name, o)),
                }
            }
            Ok(Target::Reject {
                with: with.unwrap_or_else(|| Text::new("icmp-port-unreachable")),
            })
        }
        "NFQUEUE" => {
            let mut num = 0;
            let mut bypass = false;
            for o in opts {
                match o.name {
                    "--queue-num" => num = v::number(one(o)?)? as u16,
                    "--queue-balance" => {
                        let r = v::port_range(one(o)?)?;
                        num = r.lo;
                    }
                    "--queue-bypass" => {
                        flag(o)?;
                        bypass = true
                    }
                    "--queue-cpu-fanout" | "--fail-open" => flag(o)?,
                    _ => return Err(bad(name, o)),
                }
            }
            Ok(Target::Nfqueue { num, bypass })
        }
        "DNAT" | "SNAT" => {
            let mut to: smallvec::SmallVec<[NatRange; 1]> = smallvec::SmallVec::new();
            let (mut random, mut random_fully, mut persistent) = (false, false, false);
            let want = if name == "DNAT" {
                "--to-destination"
            } else {
                "--to-source"
            };
            for o in opts {
                match o.name {
                    n if n == want || n == "--to" => to.push(v::nat_range(one(o)?)?),
                    "--random" => {
                        flag(o)?;
                        random = true
                    }
                    "--random-fully" => {
                        flag(o)?;
                        random_fully = true
                    }
                    "--persistent" => {
                        flag(o)?;
                        persistent = true
                    }
                    _ => return Err(bad(name, o)),
                }
            }
            if to.is_empty() {
                return Err(format!("{name} without {want}"));
            }
            let to: Box<[NatRange]> = to.as_slice().into();
            Ok(if name == "DNAT" {
                Target::Dnat {
                    to,
                    random,
                    persistent,
                }
            } else {
                Target::Snat {
                    to,
                    random,
                    random_fully,
                    persistent,
                }
            })
        }
        "MASQUERADE" | "REDIRECT" => {
            let mut ports = None;
            let (mut random, mut random_fully) = (false, false);
            for o in opts {
                match o.name {
                    "--to-ports" | "--to-port" => ports = Some(v::port_range(one(o)?)?),
                    "--random" => {
                        flag(o)?;
                        random = true
                    }
                    "--random-fully" if name == "MASQUERADE" => {
                        flag(o)?;
                        random_fully = true
                    }
                    _ => return Err(bad(name, o)),
                }
            }
            Ok(if name == "MASQUERADE" {
                Target::Masquerade {
                    ports,
                    random,
                    random_fully,
                }
            } else {
                Target::Redirect { ports, random }
            })
        }
        "MARK" => {
            let mut op = None;
            for o in opts {
                let m = match o.name {
                    "--set-xmark" => {
                        let (val, mask) = v::value_mask(one(o)?)?;
                        MarkOp {
                            zero: mask,
                            xor: val,
                        }
                    }
                    "--set-mark" => {
                        let (val, mask) = v::value_mask(one(o)?)?;
                        MarkOp {
                            zero: mask | val,
                            xor: val,
                        }
                    }
                    "--or-mark" => {
                        let val = v::number(one(o)?)?;
                        MarkOp {
                            zero: val,
                            xor: val,
                        }
                    }
                    "--and-mark" => MarkOp {
                        zero: !v::number(one(o)?)?,
                        xor: 0,
                    },
                    "--xor-mark" => MarkOp {
                        zero: 0,
                        xor: v::number(one(o)?)?,
                    },
                    _ => return Err(bad(name, o)),
                };
                if op.replace(m).is_some() {
                    return Err("MARK with two operations".into());
                }
            }
            op.map(Target::Mark)
                .ok_or_else(|| "MARK without an operation".to_string())
        }
        "CONNMARK" => {
            let mut op = None;
            let (mut nfmask, mut ctmask) = (u32::MAX, u32::MAX);
            for o in opts {
                match o.name {
                    "--nfmask" => nfmask = v::number(one(o)?)?,
                    "--ctmask" => ctmask = v::number(one(o)?)?,
                    "--mask" => {
                        let m = v::number(one(o)?)?;
                        nfmask = m;
                        ctmask = m;
                    }
                    _ => {}
                }
            }
            for o in opts {
                let c = match o.name {
                    "--set-xmark" => {
                        let (val, mask) = v::value_mask(one(o)?)?;
                        ConnMarkOp::Set(MarkOp {
                            zero: mask,
                            xor: val,
                        })
                    }
                    "--set-mark" => {
                        let (val, mask) = v::value_mask(one(o)?)?;
                        ConnMarkOp::Set(MarkOp {
                            zero: mask | val,
                            xor: val,
                        })
                    }
                    "--or-mark" => {
                        let val = v::number(one(o)?)?;
                        ConnMarkOp::Set(MarkOp {
                            zero: val,
                            xor: val,
                        })
                    }
                    "--and-mark" => ConnMarkOp::Set(MarkOp {
                        zero: !v::number(one(o)?)?,
                        xor: 0,
                    }),
                    "--xor-mark" => ConnMarkOp::Set(MarkOp {
                        zero: 0,
                        xor: v::number(one(o)?)?,
                    }),
                    "--save-mark" => {
                        flag(o)?;
                        ConnMarkOp::Save { nfmask, ctmask }
                    }
                    "--restore-mark" => {
                        flag(o)?;
                        ConnMarkOp::Restore { nfmask, ctmask }
                    }
                    "--nfmask" | "--ctmask" | "--mask" => continue,
                    _ => return Err(bad(name, o)),
                };
                if op.replace(c).is_some() {
                    return Err("CONNMARK with two operations".into());
                }
            }
            op.map(Target::Connmark)
                .ok_or_else(|| "CONNMARK without an operation".to_string())
        }
        "CT" => {
            if opts.iter().any(|o| o.name == "--notrack") {
                if let Some(o) = opts.iter().find(|o| o.name != "--notrack") {
                    return Err(bad(name, o));
                }
                return Ok(Target::Notrack);
            }
            Ok(Target::Ct {
                args: raw_args(opts).into_boxed_slice(),
            })
        }
        n if CONTINUING.contains(&n) => Ok(Target::Continue(extension(n, opts))),
        n if is_extension_name(n) => Ok(Target::Other(extension(n, opts))),
        // A name with options is an extension we do not know; without, a user chain.
        n if !opts.is_empty() => Ok(Target::Other(extension(n, opts))),
        n => Ok(Target::Chain {
            name: Text::slice_of(src, n),
        }),
    }
}

/// Extension targets we know exist but do not model. Any other upper-case name with options is
/// treated the same way; without options, a name is a user chain.
fn is_extension_name(n: &str) -> bool {
    matches!(
        n,
        "NETMAP" | "TPROXY" | "SYNPROXY" | "HMARK" | "CLUSTERIP" | "NFLOG_X" | "JOOL" | "ARPREPLY"
    )
}
