//! Ports, and what stands for them in other protocols: the protocol modules `-p` loads (`tcp`,
//! `udp`, `udplite`, `sctp`, `dccp`; IPsec's `esp` and `ah` with their SPIs) and `multiport`.

use super::{opaque, unknown_opt, Args};
use crate::parse::args::{module_proto, neg, no_value, one};
use crate::parse::values as v;
use crate::rule::*;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] = &[
    (&["tcp", "udp", "udplite", "sctp", "dccp"], tcp),
    (&["multiport"], multiport),
    (&["esp", "ah"], spi),
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

/// `-m esp --espspi SPI[:SPI]`, `-m ah --ahspi SPI[:SPI]`: the security parameter index IPsec's
/// packets are told apart by, as ports tell TCP's. Weave Net's encrypted overlay marks each
/// peer's ESP packets this way (`-p esp -m esp --espspi 0x...` in mangle `WEAVE-IPSEC-IN`,
/// weaveworks/weave `net/ipsec/ipsec.go`).
///
/// As `xt_esp.c` and `xt_ah.c` do: a packet of another protocol, or a fragment after the first,
/// does not match (whatever `!` says: it negates only the SPI comparison). The SPI itself is not
/// part of a packet description, so for ESP or AH packets the outcome is unknown.
#[derive(Debug)]
struct Spi {
    module: &'static str,
    proto: u8,
    range: (u32, u32),
    invert: bool,
}

impl ModuleMatch for Spi {
    fn module(&self) -> &'static str {
        self.module
    }

    fn options(&self) -> String {
        let (lo, hi) = self.range;
        let bang = if self.invert { "! " } else { "" };
        if lo == hi {
            format!("{bang}--{}spi {lo}", self.module)
        } else {
            format!("{bang}--{}spi {lo}:{hi}", self.module)
        }
    }

    fn decide(&self, pkt: &crate::Packet, _: crate::Hook, _: &crate::HostContext) -> Decision {
        if pkt.proto != self.proto || pkt.fragment {
            return Decision::Match(false);
        }
        if self.range == (0, u32::MAX) {
            return Decision::Match(!self.invert);
        }
        Decision::Unknown(format!(
            "the {} SPI is not part of the packet description",
            self.module.to_ascii_uppercase()
        ))
    }
}

/// `256`, `0xbeef`, `256:511`, `256:` (iptables reads each with base 0, as strtoul does).
fn spi_range(s: &str) -> Result<(u32, u32), String> {
    let one = |t: &str, default: u32| -> Result<u32, String> {
        let t = t.trim();
        if t.is_empty() {
            return Ok(default);
        }
        match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(h) => u32::from_str_radix(h, 16),
            None => t.parse(),
        }
        .map_err(|_| format!("{t:?} is not an SPI"))
    };
    let (lo, hi) = match s.split_once(':') {
        Some((a, b)) => (one(a, 0)?, one(b, u32::MAX)?),
        None => {
            let v = one(s, 0)?;
            (v, v)
        }
    };
    if lo > hi {
        return Err(format!("SPI range {s:?} runs backwards"));
    }
    Ok((lo, hi))
}

/// `-m esp | ah`.
fn spi(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    let (module, proto) = match name {
        "ah" => ("ah", 51),
        _ => ("esp", 50),
    };
    for o in opts {
        if o.name != format!("--{module}spi") {
            return Err(unknown_opt(name, o));
        }
        out.matches.push(Match::new(MatchKind::Module(ModuleRef(
            std::sync::Arc::new(Spi {
                module,
                proto,
                range: spi_range(one(o)?)?,
                invert: o.neg,
            }),
        ))));
    }
    Ok(())
}

#[cfg(test)]
mod spi_tests {
    use super::spi_range;
    use crate::{parse_iptables_save, Evaluator, Hook, HostContext, Packet, Verdict};

    /// Weave Net's rules for an encrypted peer (net/ipsec/ipsec.go), as iptables-save prints
    /// them: the peer's ESP packets with our inbound SPI are marked; its overlay packets
    /// without the mark are dropped.
    const WEAVE: &str = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n\
        :FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
        :WEAVE-IPSEC-IN - [0:0]\n:WEAVE-IPSEC-IN-MARK - [0:0]\n\
        -A INPUT -j WEAVE-IPSEC-IN\n\
        -A WEAVE-IPSEC-IN -s 10.0.0.2/32 -d 10.0.0.1/32 -p esp -m esp --espspi 48879 -j WEAVE-IPSEC-IN-MARK\n\
        -A WEAVE-IPSEC-IN -p ah -m ah ! --ahspi 7:9 -j DROP\n\
        -A WEAVE-IPSEC-IN-MARK -j MARK --set-xmark 0x20000/0x20000\n\
        COMMIT\n";

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().expect("ip")
    }

    fn packet(proto: u8) -> Packet {
        let mut p = Packet::udp(ip("10.0.0.2"), ip("10.0.0.1"), 6784);
        p.proto = proto;
        p.sport = None;
        p.dport = None;
        p
    }

    #[test]
    fn spis_read_as_iptables_reads_them() {
        assert_eq!(spi_range("48879"), Ok((48879, 48879)));
        assert_eq!(spi_range("0xbeef"), Ok((48879, 48879)));
        assert_eq!(spi_range("256:"), Ok((256, u32::MAX)));
        assert_eq!(spi_range(":9"), Ok((0, 9)));
        assert!(spi_range("9:7").is_err());
        assert!(spi_range("spi").is_err());
    }

    #[test]
    fn weave_s_esp_rule_is_read_and_decided_where_it_can_be() {
        let (rs, errors) = parse_iptables_save(WEAVE, "weave");
        assert!(errors.is_empty(), "{errors:?}");
        let chain = rs.tables[0].chain("WEAVE-IPSEC-IN").expect("chain");
        let shown: Vec<String> = chain.rules[0]
            .matches
            .iter()
            .filter_map(|m| match &m.kind {
                crate::MatchKind::Module(m) => Some(format!("{} {}", m.0.module(), m.0.options())),
                _ => None,
            })
            .collect();
        assert_eq!(shown, ["esp --espspi 48879"]);
        let ctx = HostContext::default();
        let eval = Evaluator::new(&rs, &ctx);
        // Overlay traffic is not ESP: the rule does not match, and nothing is unknown.
        let udp = Packet::udp(ip("10.0.0.2"), ip("10.0.0.1"), 6784);
        let e = eval.hook(Hook::Input, &udp);
        assert!(!e.has_unknown(), "{e:?}");
        assert!(
            e.outcomes.iter().all(|o| o.packet.mark & 0x20000 == 0),
            "{e:?}"
        );
        // An ESP packet from the peer: whether it carries our SPI is not known.
        assert!(eval.hook(Hook::Input, &packet(50)).has_unknown());
        // `! --ahspi`: a fragment after the first never matches, negation or not.
        let mut frag = packet(51);
        frag.fragment = true;
        let e = eval.hook(Hook::Input, &frag);
        assert!(!e.has_unknown(), "{e:?}");
        assert!(
            e.outcomes.iter().all(|o| o.verdict == Verdict::Accept),
            "{e:?}"
        );
    }
}
