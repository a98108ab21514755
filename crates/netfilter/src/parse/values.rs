//! Values inside rule arguments: addresses, ports, marks, protocols, ICMP types.

use crate::rule::{AddrMask, AddrType, NatRange, Nets, PortRange};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `10.0.0.0/8`, `10.0.0.1` (a host), `1.2.0.4/255.255.0.255`, `fd00::/64`; comma lists.
pub fn addr_list(s: &str) -> Result<Nets, String> {
    if s.as_bytes().contains(&b',') {
        Ok(Nets::List(list(s, addr_mask)?))
    } else {
        Ok(addr_mask(s)?.into())
    }
}

/// A comma list; the one-element case (nearly every rule) allocates exactly once.
fn list<T>(s: &str, one: impl Fn(&str) -> Result<T, String>) -> Result<Box<[T]>, String> {
    if s.contains(',') {
        s.split(',').map(one).collect()
    } else {
        Ok(Box::new([one(s)?]))
    }
}

/// `A.B.C.D[:PORT]` with one address and one port: the address and the port's text.
fn simple_nat(s: &str) -> Option<(IpAddr, Option<&str>)> {
    let b = s.as_bytes();
    if !b.first()?.is_ascii_digit() || b.iter().any(|&c| c == b'-' || c == b'[') {
        return None;
    }
    let (a, p) = match b.iter().position(|&c| c == b':') {
        Some(i) => (s.get(..i)?, Some(s.get(i + 1..)?)),
        None => (s, None),
    };
    if p.is_some_and(|p| p.is_empty() || p.as_bytes().contains(&b':')) {
        return None;
    }
    match ip(a)? {
        v4 @ IpAddr::V4(_) => Some((v4, p)),
        IpAddr::V6(_) => None,
    }
}

/// An IP address; dotted-quad IPv4 (nearly every address in a dump) without the generality
/// of `IpAddr::from_str`, which is a tenth of a large dump's parse. Same rules: four decimal
/// octets up to 255, no leading zeros.
pub fn ip(s: &str) -> Option<IpAddr> {
    let b = s.as_bytes();
    let mut octets = [0u8; 4];
    let (mut k, mut i) = (0, 0);
    while k < 4 {
        let start = i;
        let mut v: u32 = 0;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 3 {
            v = v * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || v > 255 || (len > 1 && b[start] == b'0') {
            return s.parse().ok();
        }
        octets[k] = v as u8;
        k += 1;
        if k < 4 {
            if i >= b.len() || b[i] != b'.' {
                return s.parse().ok();
            }
            i += 1;
        }
    }
    if i == b.len() {
        Some(IpAddr::V4(Ipv4Addr::from(octets)))
    } else {
        s.parse().ok()
    }
}

pub fn addr_mask(s: &str) -> Result<AddrMask, String> {
    let (a, m) = match s.as_bytes().iter().position(|&b| b == b'/') {
        Some(p) => (&s[..p], Some(&s[p + 1..])),
        None => (s, None),
    };
    let addr: IpAddr = ip(a).ok_or_else(|| format!("bad address {s:?}"))?;
    let mask = match m {
        None => full_mask(addr, None),
        Some(m) => {
            if let Ok(p) = m.parse::<u8>() {
                let max = if addr.is_ipv6() { 128 } else { 32 };
                if p > max {
                    return Err(format!("bad prefix length in {s:?}"));
                }
                full_mask(addr, Some(p))
            } else {
                let mask: IpAddr = m.parse().map_err(|_| format!("bad mask in {s:?}"))?;
                if mask.is_ipv6() != addr.is_ipv6() {
                    return Err(format!("mask of the wrong family in {s:?}"));
                }
                mask
            }
        }
    };
    Ok(AddrMask { addr, mask })
}

fn full_mask(addr: IpAddr, prefix: Option<u8>) -> IpAddr {
    match addr {
        IpAddr::V4(_) => {
            let p = u32::from(prefix.unwrap_or(32));
            let m = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            IpAddr::V4(Ipv4Addr::from(m))
        }
        IpAddr::V6(_) => {
            let p = u32::from(prefix.unwrap_or(128));
            let m = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            IpAddr::V6(Ipv6Addr::from(m))
        }
    }
}

/// A port number or a service name that iptables-save can print.
pub fn port(s: &str) -> Result<u16, String> {
    if let Ok(p) = s.parse::<u16>() {
        return Ok(p);
    }
    // iptables-save prints numbers; `iptables -S` and hand-written files may use names.
    Ok(match s {
        "ssh" => 22,
        "domain" => 53,
        "http" => 80,
        "https" => 443,
        "bootps" => 67,
        "bootpc" => 68,
        "ntp" => 123,
        "bgp" => 179,
        "smtp" => 25,
        "ftp" => 21,
        "telnet" => 23,
        "snmp" => 161,
        _ => return Err(format!("bad port {s:?}")),
    })
}

/// `80`, `1000:2000`, `:1023`, `1024:`, and the `-` form of NAT targets.
pub fn port_range(s: &str) -> Result<PortRange, String> {
    let sep = if s.contains(':') { ':' } else { '-' };
    match s.split_once(sep) {
        Some((a, b)) => {
            let lo = if a.is_empty() { 0 } else { port(a)? };
            let hi = if b.is_empty() { u16::MAX } else { port(b)? };
            if lo > hi {
                return Err(format!("empty port range {s:?}"));
            }
            Ok(PortRange { lo, hi })
        }
        None => {
            let p = port(s)?;
            Ok(PortRange { lo: p, hi: p })
        }
    }
}

/// Multiport lists: `80,443,30000:32767`.
pub fn port_list(s: &str) -> Result<Box<[PortRange]>, String> {
    list(s, port_range)
}

/// A number in decimal or `0x` hex.
pub fn number(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse::<u32>(),
    };
    r.map_err(|_| format!("bad number {s:?}"))
}

/// `VALUE[/MASK]`; the mask defaults to all ones.
pub fn value_mask(s: &str) -> Result<(u32, u32), String> {
    match s.split_once('/') {
        Some((v, m)) => Ok((number(v)?, number(m)?)),
        None => Ok((number(s)?, u32::MAX)),
    }
}

/// A protocol name or number as `-p` takes it. `all` is 0.
pub fn protocol(s: &str) -> Result<u8, String> {
    match s {
        "tcp" => return Ok(6),
        "udp" => return Ok(17),
        _ => {}
    }
    if let Ok(n) = s.parse::<u8>() {
        return Ok(n);
    }
    // The names iptables prints come from /etc/protocols (or its built-in table).
    Ok(match s.to_ascii_lowercase().as_str() {
        "all" => 0,
        "icmp" => 1,
        "igmp" => 2,
        "ipencap" | "ip-encap" => 4,
        "tcp" => 6,
        "egp" => 8,
        "udp" => 17,
        "ipv6" => 41,
        "ipv6-route" => 43,
        "ipv6-frag" => 44,
        "rsvp" => 46,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "icmpv6" | "ipv6-icmp" | "icmp6" => 58,
        "ipv6-nonxt" => 59,
        "ipv6-opts" => 60,
        "ospf" | "ospfigp" => 89,
        "ipip" => 94,
        "pim" => 103,
        "vrrp" => 112,
        "l2tp" => 115,
        "sctp" => 132,
        "mh" | "ipv6-mh" => 135,
        "udplite" => 136,
        "dccp" => 33,
        _ => return Err(format!("unknown protocol {s:?}")),
    })
}

/// An ICMP type (`echo-request`, `8`, `3/4`, `any`) as `(type, code)`.
pub fn icmp_type(s: &str, v6: bool) -> Result<(Option<u8>, Option<u8>), String> {
    if s == "any" {
        return Ok((None, None));
    }
    if let Some((t, c)) = s.split_once('/') {
        let t = t
            .parse::<u8>()
            .map_err(|_| format!("bad ICMP type {s:?}"))?;
        let c = c
            .parse::<u8>()
            .map_err(|_| format!("bad ICMP code {s:?}"))?;
        return Ok((Some(t), Some(c)));
    }
    if let Ok(t) = s.parse::<u8>() {
        return Ok((Some(t), None));
    }
    let (t, c) = if v6 {
        match s {
            "destination-unreachable" => (1, None),
            "no-route" => (1, Some(0)),
            "communication-prohibited" => (1, Some(1)),
            "address-unreachable" => (1, Some(3)),
            "port-unreachable" => (1, Some(4)),
            "packet-too-big" => (2, None),
            "time-exceeded" | "ttl-exceeded" => (3, None),
            "parameter-problem" => (4, None),
            "echo-request" | "ping" => (128, None),
            "echo-reply" | "pong" => (129, None),
            "router-solicitation" => (133, None),
            "router-advertisement" => (134, None),
            "neighbour-solicitation" | "neighbor-solicitation" => (135, None),
            "neighbour-advertisement" | "neighbor-advertisement" => (136, None),
            "redirect" => (137, None),
            _ => return Err(format!("unknown ICMPv6 type {s:?}")),
        }
    } else {
        match s {
            "echo-reply" | "pong" => (0, None),
            "destination-unreachable" => (3, None),
            "network-unreachable" => (3, Some(0)),
            "host-unreachable" => (3, Some(1)),
            "protocol-unreachable" => (3, Some(2)),
            "port-unreachable" => (3, Some(3)),
            "fragmentation-needed" => (3, Some(4)),
            "source-route-failed" => (3, Some(5)),
            "network-unknown" => (3, Some(6)),
            "host-unknown" => (3, Some(7)),
            "network-prohibited" => (3, Some(9)),
            "host-prohibited" => (3, Some(10)),
            "TOS-network-unreachable" => (3, Some(11)),
            "TOS-host-unreachable" => (3, Some(12)),
            "communication-prohibited" => (3, Some(13)),
            "host-precedence-violation" => (3, Some(14)),
            "precedence-cutoff" => (3, Some(15)),
            "source-quench" => (4, None),
            "redirect" => (5, None),
            "echo-request" | "ping" => (8, None),
            "router-advertisement" => (9, None),
            "router-solicitation" => (10, None),
            "time-exceeded" | "ttl-exceeded" => (11, None),
            "ttl-zero-during-transit" => (11, Some(0)),
            "ttl-zero-during-reassembly" => (11, Some(1)),
            "parameter-problem" => (12, None),
            "ip-header-bad" => (12, Some(0)),
            "required-option-missing" => (12, Some(1)),
            "timestamp-request" => (13, None),
            "timestamp-reply" => (14, None),
            "address-mask-request" => (17, None),
            "address-mask-reply" => (18, None),
            _ => return Err(format!("unknown ICMP type {s:?}")),
        }
    };
    Ok((Some(t), c))
}

/// TCP flag names (`SYN,RST,ACK,FIN`, `ALL`, `NONE`).
pub fn tcp_flags(s: &str) -> Result<u8, String> {
    let mut v = 0u8;
    for f in s.split(',') {
        v |= match f.to_ascii_uppercase().as_str() {
            "FIN" => 0x01,
            "SYN" => 0x02,
            "RST" => 0x04,
            "PSH" => 0x08,
            "ACK" => 0x10,
            "URG" => 0x20,
            "ECE" => 0x40,
            "CWR" => 0x80,
            "ALL" => 0xff,
            "NONE" => 0,
            other => return Err(format!("unknown TCP flag {other:?}")),
        };
    }
    Ok(v)
}

/// Address type names of the `addrtype` match.
pub fn addr_types(s: &str) -> Result<Box<[AddrType]>, String> {
    const NAMES: [(&str, AddrType); 12] = [
        ("UNSPEC", AddrType::Unspec),
        ("UNICAST", AddrType::Unicast),
        ("LOCAL", AddrType::Local),
        ("BROADCAST", AddrType::Broadcast),
        ("ANYCAST", AddrType::Anycast),
        ("MULTICAST", AddrType::Multicast),
        ("BLACKHOLE", AddrType::Blackhole),
        ("UNREACHABLE", AddrType::Unreachable),
        ("PROHIBIT", AddrType::Prohibit),
        ("THROW", AddrType::Throw),
        ("NAT", AddrType::Nat),
        ("XRESOLVE", AddrType::Xresolve),
    ];
    list(s, |t| {
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(t))
            .map(|&(_, a)| a)
            .ok_or_else(|| format!("unknown address type {:?}", t.to_ascii_uppercase()))
    })
}

/// NAT ranges: `10.0.0.1`, `10.0.0.1:80`, `10.0.0.1-10.0.0.9:1000-2000`, `[fd00::1]:80`,
/// `:80`.
pub fn nat_range(s: &str) -> Result<NatRange, String> {
    // Fast path: `A.B.C.D:PORT` or `A.B.C.D`, kube-proxy's DNAT (30k of them in a large dump).
    if let Some((addr, port_s)) = simple_nat(s) {
        let ports = match port_s {
            Some(p) => {
                let p = port(p)?;
                Some(PortRange { lo: p, hi: p })
            }
            None => None,
        };
        return Ok(NatRange {
            addr_lo: Some(addr),
            addr_hi: Some(addr),
            ports,
        });
    }
    nat_range_general(s)
}

fn nat_range_general(s: &str) -> Result<NatRange, String> {
    let (addrs, ports) = if let Some(rest) = s.strip_prefix('[') {
        let (a, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("bad NAT range {s:?}"))?;
        (a, after.strip_prefix(':'))
    } else if s.bytes().filter(|&b| b == b':').count() > 1 {
        // A bare IPv6 address without brackets carries no port.
        (s, None)
    } else {
        match s.split_once(':') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        }
    };
    let (addr_lo, addr_hi) = if addrs.is_empty() {
        (None, None)
    } else {
        let bad = || format!("bad NAT address {s:?}");
        match addrs.split_once('-') {
            Some((a, b)) => (Some(ip(a).ok_or_else(bad)?), Some(ip(b).ok_or_else(bad)?)),
            None => {
                let a = ip(addrs).ok_or_else(bad)?;
                (Some(a), Some(a))
            }
        }
    };
    let ports = match ports {
        Some(p) => Some(port_range(p)?),
        None => None,
    };
    Ok(NatRange {
        addr_lo,
        addr_hi,
        ports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_nat_path_agrees_with_the_general_one() {
        for s in [
            "10.0.0.1:80",
            "10.0.0.1",
            "10.0.0.1:80-90",
            "10.0.0.1-10.0.0.9:1000-2000",
            "[fd00::1]:80",
            ":80",
            "fd00::1",
            "10.0.0.1:",
            "10.0.0.1:99999",
            "1.2.3.4:http",
            "01.2.3.4:80",
            "10.0.0.1:80:90",
        ] {
            let fast = simple_nat(s);
            let general = nat_range_general(s);
            if let Some((a, p)) = fast {
                let fast_range = p
                    .map(|p| port(p).map(|p| PortRange { lo: p, hi: p }))
                    .transpose();
                match (fast_range, &general) {
                    (Ok(ports), Ok(g)) => {
                        assert_eq!(
                            (Some(a), Some(a), ports),
                            (g.addr_lo, g.addr_hi, g.ports),
                            "{s}"
                        )
                    }
                    (Err(_), Err(_)) => {}
                    (f, g) => panic!("{s}: fast {f:?} general {g:?}"),
                }
            }
        }
    }

    #[test]
    fn the_fast_ipv4_reader_agrees_with_std() {
        for s in [
            "10.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3.4 ",
            "1..2.3",
            "1.2.3.",
            "::1",
            "fd00::1",
            "1.2.3.4a",
            "1000.1.1.1",
            "",
            ".",
            "1.2.3.04",
            "192.168.0.010",
        ] {
            assert_eq!(ip(s), s.parse::<IpAddr>().ok(), "{s:?}");
        }
    }

    #[test]
    fn addresses_and_masks() {
        let a = addr_mask("10.0.0.0/8").expect("cidr");
        assert!(a.contains("10.9.9.9".parse().expect("ip")));
        assert!(!a.contains("11.0.0.1".parse().expect("ip")));
        assert_eq!(a.to_string(), "10.0.0.0/8");
        let h = addr_mask("10.0.1.1").expect("host");
        assert!(h.is_host());
        let odd = addr_mask("1.2.0.4/255.255.0.255").expect("mask");
        assert!(odd.contains("1.2.77.4".parse().expect("ip")));
        assert_eq!(odd.prefix_len(), None);
        assert!(addr_mask("10.42.0[...").is_err());
        assert!(addr_mask("10.0.0.0/33").is_err());
    }

    #[test]
    fn nat_ranges() {
        let r = nat_range("10.180.0.1:80").expect("range");
        assert_eq!(r.addr_lo, Some("10.180.0.1".parse().expect("ip")));
        assert_eq!(r.ports, Some(PortRange { lo: 80, hi: 80 }));
        let r6 = nat_range("[fd00::1]:8080").expect("v6");
        assert_eq!(r6.ports.map(|p| p.lo), Some(8080));
        assert!(nat_range("fd00::1").expect("bare v6").ports.is_none());
        assert!(nat_range("1.2.3.4:x").is_err());
    }

    #[test]
    fn marks_ports_icmp() {
        assert_eq!(value_mask("0x4000/0x4000"), Ok((0x4000, 0x4000)));
        assert_eq!(value_mask("0x8000"), Ok((0x8000, u32::MAX)));
        assert_eq!(
            port_range("30000:32767").map(|r| (r.lo, r.hi)),
            Ok((30000, 32767))
        );
        assert_eq!(icmp_type("port-unreachable", false), Ok((Some(3), Some(3))));
        assert_eq!(icmp_type("echo-request", true), Ok((Some(128), None)));
        assert_eq!(protocol("ipencap"), Ok(4));
    }
}
