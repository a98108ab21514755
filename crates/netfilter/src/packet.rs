//! What the evaluator is asked about: a [`Packet`] at a [`Hook`], on a host described by a
//! [`HostContext`].

use ipnet::IpNet;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// IP protocol numbers used by name.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const GRE: u8 = 47;
    pub const ESP: u8 = 50;
    pub const ICMPV6: u8 = 58;
    pub const SCTP: u8 = 132;
}

/// A netfilter hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

impl Hook {
    /// The built-in chain name (`PREROUTING`, ...).
    pub fn chain_name(self) -> &'static str {
        match self {
            Hook::Prerouting => "PREROUTING",
            Hook::Input => "INPUT",
            Hook::Forward => "FORWARD",
            Hook::Output => "OUTPUT",
            Hook::Postrouting => "POSTROUTING",
        }
    }

    /// From a built-in chain name or an nft hook name (`prerouting`).
    pub fn from_name(s: &str) -> Option<Hook> {
        Some(match s.to_ascii_uppercase().as_str() {
            "PREROUTING" => Hook::Prerouting,
            "INPUT" => Hook::Input,
            "FORWARD" => Hook::Forward,
            "OUTPUT" => Hook::Output,
            "POSTROUTING" => Hook::Postrouting,
            _ => return None,
        })
    }

    /// The packet has an input interface at this hook.
    pub fn has_in_iface(self) -> bool {
        matches!(self, Hook::Prerouting | Hook::Input | Hook::Forward)
    }

    /// The packet has an output interface at this hook.
    pub fn has_out_iface(self) -> bool {
        matches!(self, Hook::Forward | Hook::Output | Hook::Postrouting)
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.chain_name())
    }
}

/// The conntrack state of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CtState {
    New,
    Established,
    Related,
    Invalid,
    Untracked,
}

/// A set of conntrack states as `--ctstate` lists them. `SNAT` and `DNAT` are the conntrack
/// match's virtual states (the connection's reply tuple differs from its original one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CtStateSet(pub u8);

impl CtStateSet {
    pub const NEW: u8 = 1;
    pub const ESTABLISHED: u8 = 2;
    pub const RELATED: u8 = 4;
    pub const INVALID: u8 = 8;
    pub const UNTRACKED: u8 = 16;
    pub const SNAT: u8 = 32;
    pub const DNAT: u8 = 64;

    /// Parse `RELATED,ESTABLISHED,DNAT`.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let mut bits = 0;
        for part in s.split(',') {
            bits |= match part.trim().to_ascii_uppercase().as_str() {
                "NEW" => Self::NEW,
                "ESTABLISHED" => Self::ESTABLISHED,
                "RELATED" => Self::RELATED,
                "INVALID" => Self::INVALID,
                "UNTRACKED" => Self::UNTRACKED,
                "SNAT" => Self::SNAT,
                "DNAT" => Self::DNAT,
                other => return Err(format!("unknown conntrack state {other:?}")),
            };
        }
        Ok(CtStateSet(bits))
    }

    pub fn contains(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// Conntrack direction of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CtDir {
    Original,
    Reply,
}

/// What conntrack knows about the packet's connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CtInfo {
    pub state: CtState,
    pub dir: CtDir,
    /// The connection mark.
    pub mark: u32,
    /// The connection's original destination (before DNAT), once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orig_dst: Option<(IpAddr, Option<u16>)>,
    /// The connection's original source (before SNAT), once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orig_src: Option<(IpAddr, Option<u16>)>,
    /// The connection is destination-NATed (virtual state `DNAT`).
    pub dnat: bool,
    /// The connection is source-NATed (virtual state `SNAT`).
    pub snat: bool,
}

/// A packet, as far as netfilter looks at it.
///
/// Build one with [`Packet::tcp`], [`Packet::udp`] or [`Packet::icmp`] and the builder
/// methods. Unknown fields stay `None`; a rule that needs one gives an unknown outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number ([`proto`]).
    pub proto: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    /// TCP flags byte (FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32); a new TCP packet is a SYN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    /// Input interface (PREROUTING, INPUT, FORWARD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_iface: Option<String>,
    /// Output interface (FORWARD, OUTPUT, POSTROUTING).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_iface: Option<String>,
    /// The packet mark (skb->mark).
    pub mark: u32,
    pub ct: CtInfo,
    /// The packet crosses a bridge with br_netfilter (physdev `--physdev-is-bridged`).
    pub bridged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physdev_in: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physdev_out: Option<String>,
    /// IP total length, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u16>,
    /// A non-first fragment (`-f`).
    pub fragment: bool,
}

impl Packet {
    fn base(src: IpAddr, dst: IpAddr, proto: u8) -> Self {
        Packet {
            src,
            dst,
            proto,
            sport: None,
            dport: None,
            tcp_flags: None,
            icmp_type: None,
            icmp_code: None,
            in_iface: None,
            out_iface: None,
            mark: 0,
            ct: CtInfo {
                state: CtState::New,
                dir: CtDir::Original,
                mark: 0,
                orig_dst: None,
                orig_src: None,
                dnat: false,
                snat: false,
            },
            bridged: false,
            physdev_in: None,
            physdev_out: None,
            length: None,
            fragment: false,
        }
    }

    /// A new TCP connection's SYN to `dst:dport`. The source port is unknown until
    /// [`Packet::sport`] sets it.
    pub fn tcp(src: IpAddr, dst: IpAddr, dport: u16) -> Self {
        let mut p = Packet::base(src, dst, proto::TCP);
        p.dport = Some(dport);
        p.tcp_flags = Some(0x02);
        p
    }

    /// A UDP datagram to `dst:dport` opening a new flow.
    pub fn udp(src: IpAddr, dst: IpAddr, dport: u16) -> Self {
        let mut p = Packet::base(src, dst, proto::UDP);
        p.dport = Some(dport);
        p
    }

    /// An ICMP (or ICMPv6) echo request.
    pub fn icmp(src: IpAddr, dst: IpAddr) -> Self {
        let v6 = dst.is_ipv6();
        let mut p = Packet::base(src, dst, if v6 { proto::ICMPV6 } else { proto::ICMP });
        p.icmp_type = Some(if v6 { 128 } else { 8 });
        p.icmp_code = Some(0);
        p
    }

    /// Any other protocol (IPIP is 4).
    pub fn other(src: IpAddr, dst: IpAddr, proto: u8) -> Self {
        Packet::base(src, dst, proto)
    }

    pub fn sport(mut self, port: u16) -> Self {
        self.sport = Some(port);
        self
    }

    pub fn in_iface(mut self, name: &str) -> Self {
        self.in_iface = Some(name.to_string());
        self
    }

    pub fn out_iface(mut self, name: &str) -> Self {
        self.out_iface = Some(name.to_string());
        self
    }

    pub fn mark(mut self, mark: u32) -> Self {
        self.mark = mark;
        self
    }

    /// Set the conntrack state. `ESTABLISHED` and `RELATED` also make a TCP packet an ACK.
    pub fn ct_state(mut self, state: CtState) -> Self {
        self.ct.state = state;
        if self.proto == proto::TCP && matches!(state, CtState::Established | CtState::Related) {
            self.tcp_flags = Some(0x10);
        }
        self
    }

    pub fn ct_dir(mut self, dir: CtDir) -> Self {
        self.ct.dir = dir;
        self
    }

    /// A packet crossing a bridge, seen by br_netfilter.
    pub fn bridged(mut self, physdev_in: Option<&str>, physdev_out: Option<&str>) -> Self {
        self.bridged = true;
        self.physdev_in = physdev_in.map(str::to_string);
        self.physdev_out = physdev_out.map(str::to_string);
        self
    }

    pub fn is_ipv6(&self) -> bool {
        self.dst.is_ipv6()
    }
}

impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.proto {
            proto::TCP => "tcp".to_string(),
            proto::UDP => "udp".to_string(),
            proto::ICMP | proto::ICMPV6 => "icmp".to_string(),
            n => format!("proto {n}"),
        };
        write!(f, "{name} {}", self.src)?;
        if let Some(p) = self.sport {
            write!(f, ":{p}")?;
        }
        write!(f, " -> {}", self.dst)?;
        if let Some(p) = self.dport {
            write!(f, ":{p}")?;
        }
        if let Some(i) = &self.in_iface {
            write!(f, " in {i}")?;
        }
        if let Some(o) = &self.out_iface {
            write!(f, " out {o}")?;
        }
        if self.mark != 0 {
            write!(f, " mark {:#x}", self.mark)?;
        }
        Ok(())
    }
}

/// An address on one of the host's interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostAddr {
    pub ifname: String,
    pub addr: IpAddr,
    pub prefix_len: u8,
}

/// The contents of an ipset, as far as known.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct IpSetContents {
    /// Members as networks (`hash:ip`, `hash:net`); ports of `hash:ip,port` sets are not
    /// modelled and make a lookup unknown.
    pub nets: Vec<IpNet>,
    /// The set type holds more than addresses (ports, interfaces): lookups are unknown.
    pub has_non_address_members: bool,
}

/// What the evaluator needs to know about the host beyond the rules.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostContext {
    /// Interface addresses; `None` when not known, which makes `addrtype` and MASQUERADE
    /// unknown.
    pub addresses: Option<Vec<HostAddr>>,
    /// Local-table routes (`ip route show table local`), when known: `(type, prefix, dev)`.
    /// When absent, the local table is derived from [`HostContext::addresses`] the way the
    /// kernel fills it (a `local` route per address, a `broadcast` route per subnet broadcast,
    /// `127.0.0.0/8` on `lo`).
    pub local_routes: Option<Vec<(crate::rule::AddrType, IpNet, String)>>,
    /// Known ipset contents by name; a set not listed makes a `--match-set` unknown.
    pub ipsets: BTreeMap<String, IpSetContents>,
    /// Known `recent` lists (address members) by name; a list not given makes `--rcheck` a
    /// choice with both outcomes.
    pub recent: BTreeMap<String, Vec<IpAddr>>,
}

impl HostContext {
    /// A host with these addresses (`("eth0", "192.168.0.2/24")`).
    pub fn with_addresses<'a>(addrs: impl IntoIterator<Item = (&'a str, IpNet)>) -> Self {
        HostContext {
            addresses: Some(
                addrs
                    .into_iter()
                    .map(|(i, n)| HostAddr {
                        ifname: i.to_string(),
                        addr: n.addr(),
                        prefix_len: n.prefix_len(),
                    })
                    .collect(),
            ),
            ..HostContext::default()
        }
    }

    /// The context a snapshot gives: its addresses and, when it has them, its local-table
    /// routes.
    pub fn from_snapshot(snap: &netdoctor_model::NodeSnapshot) -> Self {
        let addresses = snap.addresses.as_ref().map(|v| {
            v.iter()
                .map(|a| HostAddr {
                    ifname: a.ifname.clone(),
                    addr: a.addr,
                    prefix_len: a.prefix_len,
                })
                .collect()
        });
        let local_routes = if snap.routes_all_tables {
            snap.routes.as_ref().map(|routes| {
                routes
                    .iter()
                    .filter(|r| r.table == netdoctor_model::TABLE_LOCAL)
                    .filter_map(|r| {
                        use netdoctor_model::RouteKind as K;
                        let t = match r.kind {
                            K::Local => crate::rule::AddrType::Local,
                            K::Broadcast => crate::rule::AddrType::Broadcast,
                            K::Anycast => crate::rule::AddrType::Anycast,
                            K::Multicast => crate::rule::AddrType::Multicast,
                            _ => return None,
                        };
                        Some((t, r.dst, r.dev.clone().unwrap_or_default()))
                    })
                    .collect()
            })
        } else {
            None
        };
        HostContext {
            addresses,
            local_routes,
            ..HostContext::default()
        }
    }

    /// The primary (first) address of `ifname` of the packet's family: what MASQUERADE uses.
    pub fn primary_address(&self, ifname: &str, ipv6: bool) -> Option<IpAddr> {
        self.addresses
            .as_ref()?
            .iter()
            .find(|a| a.ifname == ifname && a.addr.is_ipv6() == ipv6)
            .map(|a| a.addr)
    }
}
