//! Links, addresses, routes, policy rules, neighbours and bridge FDB entries, in the shape the
//! kernel reports them (the same fields `ip -d link`, `ip route show table all` and `bridge fdb`
//! print), whatever tool produced them.

use crate::Source;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Routing table id of the `main` table.
pub const TABLE_MAIN: u32 = 254;
/// Routing table id of the `local` table.
pub const TABLE_LOCAL: u32 = 255;

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Link {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    pub name: String,
    /// The rtnetlink kind: `bridge`, `veth`, `vxlan`, `ipip`, `wireguard`, `dummy`, ... `None` for
    /// a physical device or when the source did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Interface flags as `ip link` prints them: `UP`, `LOWER_UP`, `NO-CARRIER`, `BROADCAST`, ...
    #[serde(default)]
    pub flags: Vec<String>,
    /// Operational state: `UP`, `DOWN`, `UNKNOWN`, `LOWERLAYERDOWN`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operstate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The bridge (or bond) this device is enslaved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// For a veth or other paired device: the peer's ifindex (`@ifN`), possibly in another netns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_index: Option<u32>,
    /// The link's "parent" name after `@` when it names a device in this namespace (`tunl0@NONE`
    /// gives `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vxlan: Option<VxlanInfo>,
    pub source: Source,
}

impl Link {
    /// The administrative `UP` flag is set.
    pub fn is_admin_up(&self) -> bool {
        self.flags.iter().any(|f| f == "UP")
    }

    /// Down as the field notes define it: the `UP` flag is absent. A device whose flags were not
    /// reported at all is not called down. `UNKNOWN` operstate is not down (VXLAN devices and
    /// empty bridges report it while working).
    pub fn is_down(&self) -> bool {
        if self.flags.is_empty() {
            return self.operstate.as_deref() == Some("DOWN");
        }
        !self.is_admin_up()
    }
}

/// VXLAN parameters of a link (`ip -d link show`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VxlanInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<IpAddr>,
    /// The underlay device (`dev eth0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dstport: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning: Option<bool>,
}

/// An IP address on an interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Address {
    pub ifname: String,
    pub addr: IpAddr,
    pub prefix_len: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Peer address of a point-to-point address (`inet A peer B/32`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<IpAddr>,
    pub source: Source,
}

impl Address {
    /// The network this address sits in (`10.244.1.1/24` → `10.244.1.0/24`).
    pub fn network(&self) -> Option<IpNet> {
        IpNet::new(self.addr, self.prefix_len)
            .ok()
            .map(|n| n.trunc())
    }
}

/// The type of a route (`ip route` prints it before the destination; unicast is implied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    Unicast,
    Local,
    Broadcast,
    Anycast,
    Multicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
    Nat,
    Other,
}

impl RouteKind {
    /// Parse the keyword `ip route` uses.
    pub fn from_keyword(s: &str) -> Option<Self> {
        Some(match s {
            "unicast" => RouteKind::Unicast,
            "local" => RouteKind::Local,
            "broadcast" => RouteKind::Broadcast,
            "anycast" => RouteKind::Anycast,
            "multicast" => RouteKind::Multicast,
            "blackhole" => RouteKind::Blackhole,
            "unreachable" => RouteKind::Unreachable,
            "prohibit" => RouteKind::Prohibit,
            "throw" => RouteKind::Throw,
            "nat" => RouteKind::Nat,
            _ => return None,
        })
    }
}

/// A route in any table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Route {
    /// Table id: 254 main, 255 local, 253 default, or a custom id.
    pub table: u32,
    pub kind: RouteKind,
    /// Destination prefix; the default route is `0.0.0.0/0` (or `::/0`).
    #[schemars(with = "String")]
    pub dst: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefsrc: Option<IpAddr>,
    /// `link`, `host`, `global`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `kernel`, `boot`, `static`, `bird`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    #[serde(default)]
    pub onlink: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    pub source: Source,
}

impl Route {
    /// The route in `ip route` words: `[TYPE] DST [via GW] [dev DEV] [onlink]`.
    pub fn ip_route_words(&self) -> String {
        let mut s = String::new();
        if self.kind != RouteKind::Unicast {
            s.push_str(&format!("{:?} ", self.kind).to_lowercase());
        }
        s.push_str(&self.dst.to_string());
        if let Some(g) = self.gateway {
            s.push_str(&format!(" via {g}"));
        }
        if let Some(d) = &self.dev {
            s.push_str(&format!(" dev {d}"));
        }
        if self.onlink {
            s.push_str(" onlink");
        }
        s
    }
}

/// A policy routing rule (`ip rule`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoutingRule {
    /// IPv4 (`ip rule`) or IPv6 (`ip -6 rule`). Snapshots written before the field existed
    /// held IPv4 rules only.
    #[serde(default = "crate::Family::ipv4")]
    pub family: crate::Family,
    pub priority: u32,
    #[serde(default)]
    pub not: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub from: Option<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub to: Option<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iif: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oif: Option<String>,
    /// `fwmark VALUE/MASK`; a missing mask is 0xffffffff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<(u32, u32)>,
    /// Table for `lookup`; `None` for other actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    /// `lookup`, `blackhole`, `unreachable`, `prohibit`, `goto`, `nop`.
    pub action: String,
    pub source: Source,
}

/// A neighbour (ARP / NDP) entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Neighbour {
    pub addr: IpAddr,
    pub dev: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lladdr: Option<String>,
    /// `PERMANENT`, `REACHABLE`, `STALE`, `FAILED`, `INCOMPLETE`, `NOARP`, ...
    #[serde(default)]
    pub state: Vec<String>,
    pub source: Source,
}

/// A bridge forwarding database entry (`bridge fdb show`). For a VXLAN device, `dst` is the
/// remote VTEP's underlay address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FdbEntry {
    pub mac: String,
    pub dev: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// `self`, `master`, `permanent`, `static`, ...
    #[serde(default)]
    pub flags: Vec<String>,
    pub source: Source,
}

/// A port of a bridge (`/sys/class/net/BR/brif/PORT`, `bridge -d link`): what matters for pods
/// is hairpin mode, which lets a pod reach itself through its own Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BridgePort {
    pub bridge: String,
    /// The port's name; `veth*` when a glob was printed without names.
    pub port: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hairpin: Option<bool>,
    pub source: Source,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Snapshots written before rules had a family held IPv4 rules only.
    #[test]
    fn a_rule_without_family_is_ipv4() {
        let old = r#"{"priority": 0, "table": 255, "action": "lookup", "source": {"file": "x"}}"#;
        let r: RoutingRule = serde_json::from_str(old).expect("old rule");
        assert_eq!(r.family, crate::Family::Ipv4);
        let v6 =
            r#"{"family": "ipv6", "priority": 0, "action": "lookup", "source": {"file": "x"}}"#;
        let r: RoutingRule = serde_json::from_str(v6).expect("v6 rule");
        assert_eq!(r.family, crate::Family::Ipv6);
    }
}
