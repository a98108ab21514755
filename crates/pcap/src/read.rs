//! One capture file into packets: pcap (any byte order, micro- or nanosecond) and pcapng (every
//! section and interface), Ethernet, Linux cooked (SLL, SLL2: `tcpdump -i any`) and raw IP; one
//! level of VXLAN is opened (UDP 4789 or 8472) and the inner packet is the one followed.

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::data::{get_packetdata, PacketData};
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, PcapBlockOwned};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// Ports VXLAN is found on: IANA's and the Linux default flannel uses.
pub const VXLAN_PORTS: [u16; 2] = [4789, 8472];

/// A packet's identity across capture points: what NAT and routing leave alone (the IPv4
/// identification, TCP sequence numbers and flags, the payload), not addresses or ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub proto: u8,
    pub ip_id: u32,
    pub l4: u64,
}

/// Addresses and ports as seen at one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tuple {
    pub proto: u8,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
}

impl Tuple {
    pub fn reversed(&self) -> Tuple {
        Tuple {
            proto: self.proto,
            src: self.dst,
            sport: self.dport,
            dst: self.src,
            dport: self.sport,
        }
    }
}

impl std::fmt::Display for Tuple {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.proto {
            6 => "tcp",
            17 => "udp",
            1 => "icmp",
            58 => "icmpv6",
            132 => "sctp",
            _ => "ip",
        };
        let ep = |a: IpAddr, p: u16| match (a, p) {
            (_, 0) => a.to_string(),
            (IpAddr::V6(a), p) => format!("[{a}]:{p}"),
            (a, p) => format!("{a}:{p}"),
        };
        write!(
            f,
            "{name} {} -> {}",
            ep(self.src, self.sport),
            ep(self.dst, self.dport)
        )
    }
}

/// An ICMP error about another packet, with the tuple of the packet it quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpError {
    pub from: IpAddr,
    pub what: String,
    /// The quoted packet as the sender of the error saw it.
    pub about: Tuple,
    /// `fragmentation needed` / `packet too big`: the MTU the sender named.
    pub mtu: Option<u32>,
}

/// One packet at one point.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Position in its file (0-based), the order the point saw packets in.
    pub index: usize,
    pub tuple: Tuple,
    pub key: Key,
    pub tcp_flags: u8,
    /// Carried inside VXLAN at this point.
    pub encapsulated: bool,
    pub icmp_error: Option<IcmpError>,
    /// What the protocol says of the direction: `Some(false)` for an opening (a SYN, an echo
    /// request), `Some(true)` for an answer (a SYN-ACK, an echo reply), else `None`.
    pub answer: Option<bool>,
}

pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// Why a capture could not be read (part of it may have been).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{file}: not a pcap or pcapng capture (first bytes {magic})")]
    NotACapture { file: String, magic: String },
}

/// What a file held: its packets and what could not be read in it.
#[derive(Debug, Default)]
pub struct Capture {
    pub packets: Vec<Packet>,
    /// `file: packet N: reason` for each record left out, at most 100, then a count.
    pub problems: Vec<String>,
    /// Records that were not IP (ARP, LLDP, ...): not an error.
    pub not_ip: usize,
}

const MAX_PROBLEMS: usize = 100;

impl Capture {
    fn problem(&mut self, file: &str, n: usize, why: impl std::fmt::Display) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(format!("{file}: record {n}: {why}"));
        } else if self.problems.len() == MAX_PROBLEMS {
            self.problems.push(format!(
                "{file}: more records could not be read (not listed)"
            ));
        }
    }
}

/// Read `bytes` (a whole capture file) named `file` in messages.
pub fn read(bytes: &[u8], file: &str) -> Result<Capture, ReadError> {
    let mut cap = Capture::default();
    let magic = bytes.get(..4).unwrap_or(bytes);
    let pcapng = magic == [0x0a, 0x0d, 0x0d, 0x0a];
    let legacy = matches!(
        magic,
        [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
    );
    let not = || ReadError::NotACapture {
        file: file.to_string(),
        magic: magic
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" "),
    };
    if legacy {
        let Ok(slice) = pcap_parser::pcap::LegacyPcapSlice::from_slice(bytes) else {
            return Err(not());
        };
        let linktype = slice.header.network;
        for (n, block) in slice.enumerate() {
            match block {
                Ok(PcapBlockOwned::Legacy(b)) => {
                    frame(&mut cap, file, n, b.data, linktype, b.caplen as usize)
                }
                Ok(_) => {}
                Err(e) => {
                    cap.problem(
                        file,
                        n,
                        format!("cut short or damaged ({e:?}); the rest of the file is not read"),
                    );
                    break;
                }
            }
        }
    } else if pcapng {
        let Ok(slice) = pcap_parser::pcapng::PcapNGSlice::from_slice(bytes) else {
            return Err(not());
        };
        let mut interfaces: Vec<Linktype> = Vec::new();
        let mut n = 0;
        for block in slice {
            match block {
                Ok(PcapBlockOwned::NG(Block::SectionHeader(_))) => interfaces.clear(),
                Ok(PcapBlockOwned::NG(Block::InterfaceDescription(idb))) => {
                    interfaces.push(idb.linktype)
                }
                Ok(PcapBlockOwned::NG(Block::EnhancedPacket(epb))) => {
                    match interfaces.get(epb.if_id as usize) {
                        Some(lt) => frame(&mut cap, file, n, epb.data, *lt, epb.caplen as usize),
                        None => cap.problem(
                            file,
                            n,
                            format!("interface {} was not described", epb.if_id),
                        ),
                    }
                    n += 1;
                }
                Ok(PcapBlockOwned::NG(Block::SimplePacket(spb))) => {
                    match interfaces.first() {
                        Some(lt) => frame(&mut cap, file, n, spb.data, *lt, spb.data.len()),
                        None => cap.problem(file, n, "no interface described"),
                    }
                    n += 1;
                }
                Ok(_) => {}
                Err(e) => {
                    cap.problem(
                        file,
                        n,
                        format!("cut short or damaged ({e:?}); the rest of the file is not read"),
                    );
                    break;
                }
            }
        }
    } else {
        return Err(not());
    }
    Ok(cap)
}

fn frame(cap: &mut Capture, file: &str, n: usize, data: &[u8], linktype: Linktype, caplen: usize) {
    let caplen = caplen.min(data.len());
    let sliced = match get_packetdata(data, linktype, caplen) {
        Some(PacketData::L2(l2)) => SlicedPacket::from_ethernet(l2),
        Some(PacketData::L3(ethertype, l3)) => {
            if ethertype == 0x0800 || ethertype == 0x86dd {
                SlicedPacket::from_ip(l3)
            } else {
                cap.not_ip += 1;
                return;
            }
        }
        Some(PacketData::L4(..)) | Some(PacketData::Unsupported(_)) | None => {
            cap.problem(file, n, format!("link type {} is not read", linktype.0));
            return;
        }
    };
    match sliced {
        Ok(p) => match packet(&p, 0) {
            Some(mut pk) => {
                pk.index = cap.packets.len();
                cap.packets.push(pk);
            }
            None => cap.not_ip += 1,
        },
        // A frame cut by a short snap length still has its headers most of the time; one
        // that is not even that is reported.
        Err(e) => cap.problem(file, n, format!("not a readable IP packet: {e}")),
    }
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

fn packet(p: &SlicedPacket<'_>, depth: u8) -> Option<Packet> {
    let (src, dst, ip_id): (IpAddr, IpAddr, u32) = match p.net.as_ref()? {
        NetSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                u32::from(h.identification()),
            )
        }
        NetSlice::Ipv6(v6) => {
            let h = v6.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                // No identification: the flow label is the nearest thing NAT leaves alone.
                h.flow_label().value(),
            )
        }
        NetSlice::Arp(_) => return None,
    };
    let mut out = Packet {
        index: 0,
        tuple: Tuple {
            proto: 0,
            src,
            sport: 0,
            dst,
            dport: 0,
        },
        key: Key {
            proto: 0,
            ip_id,
            l4: 0,
        },
        tcp_flags: 0,
        encapsulated: depth > 0,
        icmp_error: None,
        answer: None,
    };
    match p.transport.as_ref() {
        Some(TransportSlice::Tcp(t)) => {
            let flags = u8::from(t.fin())
                | u8::from(t.syn()) << 1
                | u8::from(t.rst()) << 2
                | u8::from(t.psh()) << 3
                | u8::from(t.ack()) << 4;
            out.tuple.proto = 6;
            out.tuple.sport = t.source_port();
            out.tuple.dport = t.destination_port();
            out.tcp_flags = flags;
            if flags & TCP_SYN != 0 {
                out.answer = Some(flags & TCP_ACK != 0);
            }
            out.key.proto = 6;
            out.key.l4 = (u64::from(t.sequence_number()) << 32
                | u64::from(t.acknowledgment_number()))
                ^ u64::from(flags).rotate_left(17)
                ^ hash(t.payload()).rotate_left(3);
        }
        Some(TransportSlice::Udp(u)) => {
            let dport = u.destination_port();
            if depth == 0 && VXLAN_PORTS.contains(&dport) {
                let payload = u.payload();
                // VXLAN: 8 bytes with the I flag (0x08), then the inner Ethernet frame.
                if payload.len() > 8 && payload[0] & 0x08 != 0 {
                    if let Ok(inner) = SlicedPacket::from_ethernet(&payload[8..]) {
                        if let Some(pk) = packet(&inner, depth + 1) {
                            return Some(pk);
                        }
                    }
                }
            }
            out.tuple.proto = 17;
            out.tuple.sport = u.source_port();
            out.tuple.dport = dport;
            out.key.proto = 17;
            out.key.l4 = hash(u.payload());
        }
        Some(TransportSlice::Icmpv4(i)) => {
            out.tuple.proto = 1;
            out.key.proto = 1;
            let (t, c, b) = (i.type_u8(), i.code_u8(), i.bytes5to8());
            // Echo: the id is NAT's "port"; the sequence and payload are the identity.
            if t == 8 || t == 0 {
                out.answer = Some(t == 0);
                // The id on both sides, so that a reply's tuple is the request's reversed.
                out.tuple.sport = u16::from_be_bytes([b[0], b[1]]);
                out.tuple.dport = out.tuple.sport;
            }
            out.key.l4 = u64::from(t) << 56
                | u64::from(c) << 48
                | u64::from(u16::from_be_bytes([b[2], b[3]])) << 32 ^ hash(i.payload());
            if t == 3 || t == 11 {
                let what = match (t, c) {
                    (3, 4) => "fragmentation needed".to_string(),
                    (3, 3) => "port unreachable".to_string(),
                    (3, 1) => "host unreachable".to_string(),
                    (3, 13) => "administratively prohibited".to_string(),
                    (3, c) => format!("destination unreachable (code {c})"),
                    _ => "TTL exceeded".to_string(),
                };
                let mtu = (t == 3 && c == 4).then(|| u32::from(u16::from_be_bytes([b[2], b[3]])));
                out.icmp_error = quoted(i.payload()).map(|about| IcmpError {
                    from: src,
                    what,
                    about,
                    mtu,
                });
            }
        }
        Some(TransportSlice::Icmpv6(i)) => {
            out.tuple.proto = 58;
            out.key.proto = 58;
            let (t, c, b) = (i.type_u8(), i.code_u8(), i.bytes5to8());
            if t == 128 || t == 129 {
                out.answer = Some(t == 129);
                out.tuple.sport = u16::from_be_bytes([b[0], b[1]]);
                out.tuple.dport = out.tuple.sport;
            }
            out.key.l4 = u64::from(t) << 56 | u64::from(c) << 48 ^ hash(i.payload());
            if matches!(t, 1..=3) {
                let what = match t {
                    1 => "destination unreachable",
                    2 => "packet too big",
                    _ => "hop limit exceeded",
                };
                out.icmp_error = quoted(i.payload()).map(|about| IcmpError {
                    from: src,
                    what: what.to_string(),
                    about,
                    mtu: (t == 2).then(|| u32::from_be_bytes(b)),
                });
            }
        }
        None => {
            // Another protocol (IPIP, ESP, SCTP, GRE): addresses and protocol only.
            if let Some(NetSlice::Ipv4(v4)) = p.net.as_ref() {
                out.tuple.proto = v4.header().protocol().0;
            }
            if let Some(NetSlice::Ipv6(v6)) = p.net.as_ref() {
                out.tuple.proto = v6.header().next_header().0;
            }
            out.key.proto = out.tuple.proto;
        }
    }
    Some(out)
}

/// The tuple of the packet an ICMP error quotes (its IP header and the first 8 bytes after).
fn quoted(b: &[u8]) -> Option<Tuple> {
    let v = b.first()? >> 4;
    let (proto, src, dst, l4): (u8, IpAddr, IpAddr, &[u8]) = match v {
        4 => {
            let ihl = usize::from(b.first()? & 0x0f) * 4;
            let s: [u8; 4] = b.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = b.get(16..20)?.try_into().ok()?;
            (*b.get(9)?, IpAddr::from(s), IpAddr::from(d), b.get(ihl..)?)
        }
        6 => {
            let s: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = b.get(24..40)?.try_into().ok()?;
            (*b.get(6)?, IpAddr::from(s), IpAddr::from(d), b.get(40..)?)
        }
        _ => return None,
    };
    let port = |i: usize| {
        l4.get(i..i + 2)
            .map_or(0, |p| u16::from_be_bytes([p[0], p[1]]))
    };
    let (sport, dport) = match proto {
        6 | 17 | 132 => (port(0), port(2)),
        1 | 58 => (port(4), port(4)),
        _ => (0, 0),
    };
    Some(Tuple {
        proto,
        src,
        sport,
        dst,
        dport,
    })
}
