//! Ports: the protocol modules `-p` loads (`tcp`, `udp`, `udplite`, `sctp`, `dccp`) and `multiport`.

use super::{opaque, unknown_opt, Args};
use crate::parse::args::{module_proto, neg, no_value, one};
use crate::parse::values as v;
use crate::rule::*;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] = &[
    (&["tcp", "udp", "udplite", "sctp", "dccp"], tcp),
    (&["multiport"], multiport),
];

/// `-m tcp | udp | udplite | sctp | dccp`.
fn tcp(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
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
    Ok(())
}

/// `-m multiport`.
fn multiport(
    Args {
        name,
        opts,
        proto_seen,
        out,
        ..
    }: Args,
) -> Result<(), String> {
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
    Ok(())
}
