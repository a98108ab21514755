//! Deciding one match against a packet.

use crate::packet::{proto, CtDir, CtState, CtStateSet, Hook, HostContext, Packet};
use crate::rule::*;
use std::net::IpAddr;

/// The result of one match.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tri {
    True,
    False,
    /// Cannot be decided: why.
    Unknown(String),
    /// A choice, not a fact: matches with this probability (`None`: unknowable).
    Choice {
        what: String,
        p: Option<f64>,
    },
}

impl Tri {
    fn from(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }

    fn negate(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Choice { what, p } => Tri::Choice {
                what: format!("not ({what})"),
                p: p.map(|p| 1.0 - p),
            },
            u => u,
        }
    }
}

pub(crate) fn eval_match(m: &Match, pkt: &Packet, hook: Hook, ctx: &HostContext) -> Tri {
    let r = eval_kind(&m.kind, pkt, hook, ctx);
    if m.negated {
        r.negate()
    } else {
        r
    }
}

fn iface(name: &IfaceName, actual: &Option<String>, present: bool, what: &str) -> Tri {
    if !present {
        // The kernel compares against an empty name at hooks without that interface.
        return Tri::from(name.matches(""));
    }
    match actual {
        Some(a) => Tri::from(name.matches(a)),
        None => Tri::Unknown(format!("the packet's {what} interface is not given")),
    }
}

fn ports_of(pkt: &Packet, side: PortSide) -> Result<Vec<u16>, String> {
    let get =
        |p: Option<u16>, w: &str| p.ok_or_else(|| format!("the packet's {w} port is not given"));
    Ok(match side {
        PortSide::Src => vec![get(pkt.sport, "source")?],
        PortSide::Dst => vec![get(pkt.dport, "destination")?],
        PortSide::Either => {
            // Either port matching suffices; an unknown one matters only if the known one fails.
            let mut v = Vec::new();
            if let Some(p) = pkt.dport {
                v.push(p);
            }
            if let Some(p) = pkt.sport {
                v.push(p);
            }
            if pkt.sport.is_none() || pkt.dport.is_none() {
                v.push(u16::MAX); // marker handled by the caller
            }
            v
        }
    })
}

fn has_ports(p: u8) -> bool {
    matches!(p, proto::TCP | proto::UDP | proto::SCTP | 136 | 33)
}

fn eval_kind(k: &MatchKind, pkt: &Packet, hook: Hook, ctx: &HostContext) -> Tri {
    match k {
        MatchKind::Source { nets } => Tri::from(nets.iter().any(|n| n.contains(pkt.src))),
        MatchKind::Dest { nets } => Tri::from(nets.iter().any(|n| n.contains(pkt.dst))),
        MatchKind::InIface { name } => iface(name, &pkt.in_iface, hook.has_in_iface(), "input"),
        MatchKind::OutIface { name } => iface(name, &pkt.out_iface, hook.has_out_iface(), "output"),
        MatchKind::Protocol { proto: p } => Tri::from(*p == 0 || pkt.proto == *p),
        MatchKind::ProtocolIn { protos } => Tri::from(protos.contains(&pkt.proto)),
        MatchKind::Fragment => Tri::from(pkt.fragment),
        MatchKind::Comment { .. } | MatchKind::Nfacct { .. } => Tri::True,
        MatchKind::Port {
            side,
            proto: p,
            ranges,
        } => {
            match p {
                Some(p) if pkt.proto != *p => return Tri::False,
                None if !has_ports(pkt.proto) => return Tri::False,
                _ => {}
            }
            if pkt.fragment {
                return Tri::False;
            }
            match ports_of(pkt, *side) {
                Err(e) => Tri::Unknown(e),
                Ok(ports) => {
                    let unknown_marker = *side == PortSide::Either && ports.contains(&u16::MAX);
                    let hit = ports
                        .iter()
                        .filter(|&&p| !(unknown_marker && p == u16::MAX))
                        .any(|&p| ranges.iter().any(|r| r.contains(p)));
                    if hit {
                        Tri::True
                    } else if unknown_marker {
                        Tri::Unknown("one of the packet's ports is not given".into())
                    } else {
                        Tri::False
                    }
                }
            }
        }
        MatchKind::TcpFlags { mask, comp } => {
            if pkt.proto != proto::TCP {
                return Tri::False;
            }
            match pkt.tcp_flags {
                Some(f) => Tri::from(f & mask == *comp),
                None => Tri::Unknown("the packet's TCP flags are not given".into()),
            }
        }
        MatchKind::Icmp {
            v6,
            icmp_type,
            code,
        } => {
            let want = if *v6 { proto::ICMPV6 } else { proto::ICMP };
            if pkt.proto != want {
                return Tri::False;
            }
            let Some(t) = icmp_type else { return Tri::True };
            match pkt.icmp_type {
                None => Tri::Unknown("the packet's ICMP type is not given".into()),
                Some(pt) if pt != *t => Tri::False,
                Some(_) => match (code, pkt.icmp_code) {
                    (None, _) => Tri::True,
                    (Some(c), Some(pc)) => Tri::from(*c == pc),
                    (Some(_), None) => Tri::Unknown("the packet's ICMP code is not given".into()),
                },
            }
        }
        MatchKind::Mark { value, mask } => Tri::from(pkt.mark & mask == *value),
        MatchKind::ConnMark { value, mask } => Tri::from(pkt.ct.mark & mask == *value),
        MatchKind::AddrType {
            side,
            types,
            limit_iface,
        } => {
            let addr = if *side == Side::Src { pkt.src } else { pkt.dst };
            let dev = match limit_iface {
                None => None,
                Some(LimitIface::In) => match &pkt.in_iface {
                    Some(i) => Some(i.as_str()),
                    None => {
                        return Tri::Unknown("--limit-iface-in needs the input interface".into())
                    }
                },
                Some(LimitIface::Out) => match &pkt.out_iface {
                    Some(i) => Some(i.as_str()),
                    None => {
                        return Tri::Unknown("--limit-iface-out needs the output interface".into())
                    }
                },
            };
            match addr_type(ctx, addr, dev) {
                Ok(t) => Tri::from(types.contains(&t)),
                Err(e) => Tri::Unknown(e),
            }
        }
        MatchKind::CtState { states } => Tri::from(states.0 & ct_bits(pkt) != 0),
        MatchKind::CtAddr { which, net } => {
            if !tracked(pkt) {
                return Tri::False;
            }
            Tri::from(net.contains(ct_tuple(pkt, *which).0))
        }
        MatchKind::CtPort { which, range } => {
            if !tracked(pkt) {
                return Tri::False;
            }
            match ct_tuple(pkt, *which).1 {
                Some(p) => Tri::from(range.contains(p)),
                None => Tri::Unknown("a conntrack port of the packet is not given".into()),
            }
        }
        MatchKind::CtDir { dir } => Tri::from(tracked(pkt) && pkt.ct.dir == *dir),
        MatchKind::CtProto { proto: p } => Tri::from(tracked(pkt) && pkt.proto == *p),
        MatchKind::CtStatus { status } => Tri::Unknown(format!(
            "conntrack status {} is not part of the packet description",
            status.join(",")
        )),
        MatchKind::Statistic(Statistic::Random { probability }) => Tri::Choice {
            what: format!("statistic random {probability}"),
            p: Some(*probability),
        },
        MatchKind::Statistic(Statistic::Nth { every, packet }) => Tri::Choice {
            what: format!("statistic nth every {every} packet {packet}"),
            p: Some(1.0 / f64::from(*every)),
        },
        MatchKind::Recent(r) => {
            let Recent {
                name,
                cmd,
                side,
                hitcount,
                ..
            } = &**r;
            if *cmd == RecentCmd::Set {
                return Tri::True;
            }
            let addr = if *side == Side::Src { pkt.src } else { pkt.dst };
            match ctx.recent.get(&**name) {
                Some(list) if hitcount.is_none() => Tri::from(list.contains(&addr)),
                _ => Tri::Choice {
                    what: format!("{addr} is in recent list {name}"),
                    p: None,
                },
            }
        }
        MatchKind::Set(set) => match ctx.ipsets.get(&set.name) {
            None => Tri::Unknown(format!("the members of ipset {} are not known", set.name)),
            Some(s) if s.has_non_address_members || set.dirs.len() != 1 => Tri::Unknown(format!(
                "ipset {} holds ports or interfaces, which are not modelled",
                set.name
            )),
            Some(s) => {
                let addr = if set.dirs[0] == Side::Src {
                    pkt.src
                } else {
                    pkt.dst
                };
                Tri::from(s.nets.iter().any(|n| n.contains(&addr)))
            }
        },
        MatchKind::Physdev(opt) => {
            if !pkt.bridged {
                return Tri::from(false);
            }
            match opt {
                PhysdevOpt::In(n) => match &pkt.physdev_in {
                    Some(i) => Tri::from(n.matches(i)),
                    None => Tri::False,
                },
                PhysdevOpt::Out(n) => match &pkt.physdev_out {
                    Some(o) => Tri::from(n.matches(o)),
                    None => Tri::False,
                },
                PhysdevOpt::IsIn => Tri::from(pkt.physdev_in.is_some()),
                PhysdevOpt::IsOut => Tri::from(pkt.physdev_out.is_some()),
                PhysdevOpt::IsBridged => Tri::True,
            }
        }
        MatchKind::IpRange(r) => {
            let a = if r.side == Side::Src {
                pkt.src
            } else {
                pkt.dst
            };
            Tri::from(in_range(a, r.from, r.to))
        }
        MatchKind::PktType { kind } => {
            let t = if is_multicast(pkt.dst) {
                "multicast"
            } else {
                match addr_type(ctx, pkt.dst, None) {
                    Ok(AddrType::Broadcast) => "broadcast",
                    Ok(_) => "unicast",
                    Err(e) => return Tri::Unknown(e),
                }
            };
            Tri::from(kind == t)
        }
        MatchKind::Length { range } => match pkt.length {
            Some(l) => Tri::from(range.contains(l)),
            None => Tri::Unknown("the packet's length is not given".into()),
        },
        MatchKind::Opaque(o) => Tri::Unknown(format!("match {}: {}", o.module, o.why)),
        MatchKind::Module(m) => match m.0.decide(pkt, hook, ctx) {
            Decision::Match(b) => Tri::from(b),
            Decision::Unknown(why) => Tri::Unknown(format!("match {}: {why}", m.0.module())),
        },
    }
}

fn tracked(pkt: &Packet) -> bool {
    !matches!(pkt.ct.state, CtState::Untracked | CtState::Invalid)
}

fn ct_bits(pkt: &Packet) -> u8 {
    let mut b = match pkt.ct.state {
        CtState::New => CtStateSet::NEW,
        CtState::Established => CtStateSet::ESTABLISHED,
        CtState::Related => CtStateSet::RELATED,
        CtState::Invalid => CtStateSet::INVALID,
        CtState::Untracked => CtStateSet::UNTRACKED,
    };
    if tracked(pkt) {
        if pkt.ct.dnat {
            b |= CtStateSet::DNAT;
        }
        if pkt.ct.snat {
            b |= CtStateSet::SNAT;
        }
    }
    b
}

/// A conntrack tuple address of the packet's connection, from what the packet carries.
fn ct_tuple(pkt: &Packet, which: CtTuple) -> (IpAddr, Option<u16>) {
    let orig = pkt.ct.dir == CtDir::Original;
    let cur_src = (pkt.src, pkt.sport);
    let cur_dst = (pkt.dst, pkt.dport);
    match which {
        CtTuple::OrigSrc => pkt
            .ct
            .orig_src
            .unwrap_or(if orig { cur_src } else { cur_dst }),
        CtTuple::OrigDst => pkt
            .ct
            .orig_dst
            .unwrap_or(if orig { cur_dst } else { cur_src }),
        CtTuple::ReplSrc => {
            if orig {
                cur_dst
            } else {
                cur_src
            }
        }
        CtTuple::ReplDst => {
            if orig {
                cur_src
            } else {
                cur_dst
            }
        }
    }
}

fn in_range(a: IpAddr, from: IpAddr, to: IpAddr) -> bool {
    match (a, from, to) {
        (IpAddr::V4(a), IpAddr::V4(f), IpAddr::V4(t)) => f <= a && a <= t,
        (IpAddr::V6(a), IpAddr::V6(f), IpAddr::V6(t)) => f <= a && a <= t,
        _ => false,
    }
}

fn is_multicast(a: IpAddr) -> bool {
    a.is_multicast()
}

/// The route type of `addr` as `addrtype` sees it: the kernel looks it up in the local routing
/// table (`__inet_dev_addr_type`: zeronet and 255.255.255.255 are BROADCAST, multicast is
/// MULTICAST, a hit in the local table gives that route's type, anything else is UNICAST).
/// With `dev`, only local-table routes on that device count.
pub(crate) fn addr_type(
    ctx: &HostContext,
    addr: IpAddr,
    dev: Option<&str>,
) -> Result<AddrType, String> {
    match addr {
        IpAddr::V4(v4) => {
            if v4.octets()[0] == 0 || v4.is_broadcast() {
                return Ok(AddrType::Broadcast);
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_unspecified() {
                return Ok(AddrType::Unspec);
            }
        }
    }
    if addr.is_multicast() {
        return Ok(AddrType::Multicast);
    }
    let dev_ok = |d: &str| dev.is_none_or(|want| want == d);
    if let Some(routes) = &ctx.local_routes {
        let best = routes
            .iter()
            .filter(|(_, net, d)| net.contains(&addr) && dev_ok(d))
            .max_by_key(|(_, net, _)| net.prefix_len());
        return Ok(best.map(|(t, _, _)| *t).unwrap_or(AddrType::Unicast));
    }
    let Some(addrs) = &ctx.addresses else {
        return Err("the host's addresses are not known (addrtype needs them)".into());
    };
    // The local table as the kernel fills it from the addresses.
    let lo_ok = dev_ok("lo");
    match addr {
        IpAddr::V4(v4) if v4.is_loopback() && lo_ok => return Ok(AddrType::Local),
        IpAddr::V6(v6) if v6.is_loopback() && lo_ok => return Ok(AddrType::Local),
        _ => {}
    }
    if addrs.iter().any(|a| a.addr == addr && dev_ok(&a.ifname)) {
        return Ok(AddrType::Local);
    }
    for a in addrs {
        if let (IpAddr::V4(host), IpAddr::V4(target)) = (a.addr, addr) {
            if a.prefix_len < 31 && dev_ok(&a.ifname) {
                let mask = if a.prefix_len == 0 {
                    0
                } else {
                    u32::MAX << (32 - a.prefix_len)
                };
                if u32::from(host) | !mask == u32::from(target) {
                    return Ok(AddrType::Broadcast);
                }
            }
        }
    }
    Ok(AddrType::Unicast)
}
