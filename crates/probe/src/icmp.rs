//! ICMP echo through a raw socket, with the IP header written here so that the DF bit and the
//! exact size are ours: the kernel fills in the source address, the identification and the
//! checksum, and routes the packet through its real tables, devices and firewall (a ping to a
//! remote VTEP really leaves through the VXLAN device, encapsulated).
//!
//! Every raw ICMP socket sees every ICMP packet the node receives, so answers are matched by the
//! echo identifier and sequence number (and, for errors, by the original header they quote).

use crate::ProbeError;
use etherparse::icmpv4::DestUnreachableHeader;
use etherparse::{
    IcmpEchoHeader, Icmpv4Header, Icmpv4Slice, Icmpv4Type, IpNumber, Ipv4Header, Ipv4HeaderSlice,
};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// IPv4 header (no options) plus ICMP echo header.
pub const HEADERS: usize = 20 + 8;

/// What became of one echo request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Echo {
    Reply {
        rtt: Duration,
    },
    /// No answer before the deadline.
    Silence,
    /// An ICMP "destination unreachable" (other than fragmentation needed) from `from`.
    Unreachable {
        code: u8,
        from: Ipv4Addr,
    },
    /// "Fragmentation needed" from `from` with the MTU it announced, or (`from: None`) the
    /// local stack refused to send a DF packet that large.
    TooBig {
        mtu: Option<u32>,
        from: Option<Ipv4Addr>,
    },
    /// "Time exceeded" (a routing loop, or TTL too small) from `from`.
    TimeExceeded {
        from: Ipv4Addr,
    },
    /// The local stack refused to send it: no route (`ENETUNREACH`), or a rule in OUTPUT drops
    /// it (`EPERM`).
    NotSent {
        reason: &'static str,
    },
}

// Linux errno values the send can fail with.
const EPERM: i32 = 1;
const EINVAL: i32 = 22;
const EMSGSIZE: i32 = 90;
const ENETUNREACH: i32 = 101;
const EHOSTUNREACH: i32 = 113;

static NEXT_ID: AtomicU16 = AtomicU16::new(0);

/// An identifier no other echo of this process uses at the same time.
fn next_id() -> u16 {
    let base = (std::process::id() as u16).wrapping_mul(0x9e37);
    base.wrapping_add(NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// Send one echo request of `total_len` bytes (IP header included) to `dst` and wait up to
/// `timeout` for what comes back.
pub fn echo(
    dst: Ipv4Addr,
    total_len: usize,
    df: bool,
    timeout: Duration,
) -> Result<Echo, ProbeError> {
    let total_len = total_len.clamp(HEADERS, 65_535);
    let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))
        .map_err(|e| ProbeError::Socket("a raw ICMP socket", e))?;
    socket
        .set_header_included_v4(true)
        .map_err(|e| ProbeError::Socket("IP_HDRINCL", e))?;
    let id = next_id();
    let seq = 1;
    let packet = build(dst, total_len, df, id, seq)?;
    let started = Instant::now();
    let deadline = started + timeout;
    let to = SockAddr::from(SocketAddrV4::new(dst, 0));
    if let Err(e) = socket.send_to(&packet, &to) {
        return Ok(match e.raw_os_error() {
            Some(EMSGSIZE) => Echo::TooBig {
                mtu: None,
                from: None,
            },
            Some(ENETUNREACH) => Echo::NotSent {
                reason: "no route to it (ENETUNREACH)",
            },
            Some(EHOSTUNREACH) => Echo::NotSent {
                reason: "no route to the host (EHOSTUNREACH)",
            },
            Some(EPERM) => Echo::NotSent {
                reason: "a rule in the OUTPUT chain drops it (EPERM)",
            },
            Some(EINVAL) => Echo::NotSent {
                reason: "the kernel refused the destination (EINVAL)",
            },
            _ => return Err(ProbeError::Io(e)),
        });
    }
    // Answers queue on the socket from the moment it exists; read them as a plain datagram
    // socket (recv on a raw socket gives the IP packet).
    let sock: UdpSocket = socket.into();
    let mut buf = vec![0u8; 65_536];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(Echo::Silence);
        }
        sock.set_read_timeout(Some(deadline - now))
            .map_err(ProbeError::Io)?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(Echo::Silence)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(ProbeError::Io(e)),
        };
        if let Some(answer) = classify(&buf[..n], dst, id, seq, started.elapsed()) {
            return Ok(answer);
        }
    }
}

/// The IPv4 header (DF as asked; source, identification and checksum left for the kernel) and
/// an ICMP echo request padded to `total_len`.
fn build(
    dst: Ipv4Addr,
    total_len: usize,
    df: bool,
    id: u16,
    seq: u16,
) -> Result<Vec<u8>, ProbeError> {
    let payload: Vec<u8> = (0..total_len - HEADERS).map(|i| (i % 251) as u8).collect();
    let icmp = Icmpv4Header::with_checksum(
        Icmpv4Type::EchoRequest(IcmpEchoHeader { id, seq }),
        &payload,
    );
    let mut ip = Ipv4Header::new(
        (8 + payload.len()) as u16,
        64,
        IpNumber::ICMP,
        [0, 0, 0, 0],
        dst.octets(),
    )
    .map_err(|e| ProbeError::Packet(e.to_string()))?;
    ip.dont_fragment = df;
    let mut out = Vec::with_capacity(total_len);
    out.extend_from_slice(&ip.to_bytes());
    out.extend_from_slice(&icmp.to_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// What a received packet says about our echo, if it is about it.
fn classify(packet: &[u8], dst: Ipv4Addr, id: u16, seq: u16, rtt: Duration) -> Option<Echo> {
    let ip = Ipv4HeaderSlice::from_slice(packet).ok()?;
    if ip.protocol() != IpNumber::ICMP {
        return None;
    }
    let from = ip.source_addr();
    let icmp = Icmpv4Slice::from_slice(packet.get(usize::from(ip.ihl()) * 4..)?).ok()?;
    match icmp.icmp_type() {
        Icmpv4Type::EchoReply(h) if h.id == id && h.seq == seq && from == dst => {
            Some(Echo::Reply { rtt })
        }
        Icmpv4Type::DestinationUnreachable(u) => quotes_ours(icmp.payload(), dst, id, seq)
            .then_some(match u {
                DestUnreachableHeader::FragmentationNeeded { next_hop_mtu } => Echo::TooBig {
                    mtu: (next_hop_mtu > 0).then_some(u32::from(next_hop_mtu)),
                    from: Some(from),
                },
                other => Echo::Unreachable {
                    code: other.code_u8(),
                    from,
                },
            }),
        Icmpv4Type::TimeExceeded(_) => {
            quotes_ours(icmp.payload(), dst, id, seq).then_some(Echo::TimeExceeded { from })
        }
        _ => None,
    }
}

/// Whether an ICMP error quotes our echo request (its IP header and first 8 bytes).
fn quotes_ours(quoted: &[u8], dst: Ipv4Addr, id: u16, seq: u16) -> bool {
    let Ok(ip) = Ipv4HeaderSlice::from_slice(quoted) else {
        return false;
    };
    let off = usize::from(ip.ihl()) * 4;
    let Some(echo) = quoted.get(off..off + 8) else {
        return false;
    };
    ip.destination_addr() == dst
        && ip.protocol() == IpNumber::ICMP
        && echo[0] == 8
        && u16::from_be_bytes([echo[4], echo[5]]) == id
        && u16::from_be_bytes([echo[6], echo[7]]) == seq
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_to(dst: Ipv4Addr, id: u16, seq: u16) -> Vec<u8> {
        let icmp =
            Icmpv4Header::with_checksum(Icmpv4Type::EchoReply(IcmpEchoHeader { id, seq }), &[]);
        let ip = Ipv4Header::new(8, 64, IpNumber::ICMP, dst.octets(), [10, 0, 0, 1]).expect("ip");
        let mut v = ip.to_bytes().to_vec();
        v.extend_from_slice(&icmp.to_bytes());
        v
    }

    #[test]
    fn a_reply_is_ours_only_with_our_id_sequence_and_source() {
        let dst = Ipv4Addr::new(10, 244, 1, 0);
        let rtt = Duration::from_millis(3);
        assert_eq!(
            classify(&reply_to(dst, 7, 1), dst, 7, 1, rtt),
            Some(Echo::Reply { rtt })
        );
        assert_eq!(classify(&reply_to(dst, 8, 1), dst, 7, 1, rtt), None);
        assert_eq!(classify(&reply_to(dst, 7, 2), dst, 7, 1, rtt), None);
        let other = Ipv4Addr::new(10, 244, 2, 0);
        assert_eq!(classify(&reply_to(other, 7, 1), dst, 7, 1, rtt), None);
        assert_eq!(classify(&[], dst, 7, 1, rtt), None);
        assert_eq!(classify(&[0x45, 0, 0], dst, 7, 1, rtt), None);
    }

    #[test]
    fn fragmentation_needed_quoting_our_request_gives_the_announced_mtu() {
        let dst = Ipv4Addr::new(10, 244, 1, 0);
        let request = build(dst, 1450, true, 42, 1).expect("build");
        let quoted = &request[..28];
        let err = Icmpv4Header::with_checksum(
            Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
                next_hop_mtu: 1350,
            }),
            quoted,
        );
        let ip = Ipv4Header::new(
            (8 + quoted.len()) as u16,
            64,
            IpNumber::ICMP,
            [10, 0, 0, 1],
            [10, 0, 0, 1],
        )
        .expect("ip");
        let mut v = ip.to_bytes().to_vec();
        v.extend_from_slice(&err.to_bytes());
        v.extend_from_slice(quoted);
        assert_eq!(
            classify(&v, dst, 42, 1, Duration::ZERO),
            Some(Echo::TooBig {
                mtu: Some(1350),
                from: Some(Ipv4Addr::new(10, 0, 0, 1))
            })
        );
        // The same error about someone else's echo is not ours.
        assert_eq!(classify(&v, dst, 43, 1, Duration::ZERO), None);
    }

    #[test]
    fn the_request_has_the_size_and_df_bit_asked_for() {
        let dst = Ipv4Addr::new(192, 0, 2, 1);
        let p = build(dst, 1400, true, 1, 1).expect("build");
        assert_eq!(p.len(), 1400);
        let ip = Ipv4HeaderSlice::from_slice(&p).expect("ip");
        assert!(ip.dont_fragment());
        assert_eq!(ip.total_len(), 1400);
        assert!(
            !Ipv4HeaderSlice::from_slice(&build(dst, 100, false, 1, 1).expect("b"))
                .expect("ip")
                .dont_fragment()
        );
        // Smaller than the headers: the headers alone.
        assert_eq!(build(dst, HEADERS, true, 1, 1).expect("b").len(), HEADERS);
    }
}
