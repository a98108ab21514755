//! Links and addresses from rtnetlink, in the words `ip -d link` and `ip addr` use.

use super::netlink::{Dump, NetlinkError, RtSocket};
use netdoctor_model::{Address, Link, ParseProblem, Source, VxlanInfo};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkInfo, LinkMessage,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::collections::HashMap;
use std::net::IpAddr;

pub(crate) const LINK_SOURCE: &str = "netlink RTM_GETLINK";
pub(crate) const ADDR_SOURCE: &str = "netlink RTM_GETADDR";

/// Interface index to name, for every field the kernel reports as an ifindex.
#[derive(Debug, Default)]
pub(crate) struct IfNames(HashMap<u32, String>);

impl IfNames {
    pub fn name(&self, index: u32) -> Option<String> {
        self.0.get(&index).cloned()
    }

    /// The name, or `if<N>` as iproute2 prints an index it cannot resolve.
    pub fn name_or_index(&self, index: u32) -> String {
        self.name(index).unwrap_or_else(|| format!("if{index}"))
    }
}

/// Undecodable messages of a dump become parse problems quoting the dump.
pub(crate) fn note_undecodable(dump: &Dump, what: &str, problems: &mut Vec<ParseProblem>) {
    for m in &dump.undecodable {
        problems.push(ParseProblem {
            source: Source::live(what),
            message: format!("netlink message skipped: {m}"),
        });
    }
}

pub(crate) fn dump_links(
    socket: &mut RtSocket,
    problems: &mut Vec<ParseProblem>,
) -> Result<(Vec<Link>, IfNames), NetlinkError> {
    let dump = socket.dump(&RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
    note_undecodable(&dump, LINK_SOURCE, problems);
    let messages: Vec<LinkMessage> = dump
        .messages
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(l),
            _ => None,
        })
        .collect();
    // Masters, peers and VXLAN underlays name other links: collect every name first.
    let mut names = IfNames::default();
    for m in &messages {
        if let Some(name) = m.attributes.iter().find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.clone()),
            _ => None,
        }) {
            names.0.insert(m.header.index, name);
        }
    }
    let links = messages.iter().map(|m| link_from(m, &names)).collect();
    Ok((links, names))
}

fn link_from(m: &LinkMessage, names: &IfNames) -> Link {
    let index = m.header.index;
    let mut link = Link {
        index: Some(index),
        name: names.name_or_index(index),
        kind: None,
        mtu: None,
        flags: link_flag_names(m.header.flags.bits()),
        operstate: None,
        mac: None,
        master: None,
        peer_index: None,
        parent: None,
        vxlan: None,
        source: Source::live(LINK_SOURCE),
    };
    let mut link_attr = None;
    let mut other_netns = false;
    for attr in &m.attributes {
        match attr {
            LinkAttribute::Mtu(v) => link.mtu = Some(*v),
            LinkAttribute::OperState(s) => link.operstate = Some(s.to_string()),
            LinkAttribute::Address(bytes) => link.mac = hardware_address(bytes),
            LinkAttribute::Controller(i) => link.master = Some(names.name_or_index(*i)),
            LinkAttribute::Link(i) => link_attr = Some(*i),
            LinkAttribute::LinkNetNsId(_) => other_netns = true,
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(k) => link.kind = Some(kind_name(k)),
                        LinkInfo::Data(InfoData::Vxlan(v)) => link.vxlan = Some(vxlan(v, names)),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    // IFLA_LINK is what `ip link` prints after `@`: a peer in another namespace is only an
    // index there (`@if5`); an ifindex of 0 (`tunl0@NONE`) means no parent.
    if let Some(i) = link_attr.filter(|&i| i != 0 && i != index) {
        link.peer_index = Some(i);
        if !other_netns {
            link.parent = names.name(i);
        }
    }
    link
}

fn kind_name(k: &InfoKind) -> String {
    match k {
        InfoKind::Other(s) => s.clone(),
        k => k.to_string(),
    }
}

fn vxlan(attrs: &[InfoVxlan], names: &IfNames) -> VxlanInfo {
    let mut v = VxlanInfo::default();
    for a in attrs {
        match a {
            InfoVxlan::Id(id) => v.id = Some(*id),
            InfoVxlan::Local(ip) => v.local = Some(IpAddr::V4(*ip)),
            InfoVxlan::Local6(ip) => v.local = Some(IpAddr::V6(*ip)),
            InfoVxlan::Link(i) if *i != 0 => v.dev = Some(names.name_or_index(*i)),
            InfoVxlan::Port(p) => v.dstport = Some(*p),
            InfoVxlan::Learning(l) => v.learning = Some(*l),
            _ => {}
        }
    }
    v
}

/// Flag names in the order `ip link` prints them (iproute2 `print_link_flags`). Like iproute2,
/// `NO-CARRIER` stands first for a device that is UP but not RUNNING.
pub(crate) fn link_flag_names(bits: u32) -> Vec<String> {
    const UP: u32 = 1 << 0;
    const RUNNING: u32 = 1 << 6;
    const NAMED: &[(u32, &str)] = &[
        (1 << 3, "LOOPBACK"),
        (1 << 1, "BROADCAST"),
        (1 << 4, "POINTOPOINT"),
        (1 << 12, "MULTICAST"),
        (1 << 7, "NOARP"),
        (1 << 9, "ALLMULTI"),
        (1 << 8, "PROMISC"),
        (1 << 10, "MASTER"),
        (1 << 11, "SLAVE"),
        (1 << 2, "DEBUG"),
        (1 << 15, "DYNAMIC"),
        (1 << 14, "AUTOMEDIA"),
        (1 << 13, "PORTSEL"),
        (1 << 5, "NOTRAILERS"),
        (UP, "UP"),
        (1 << 16, "LOWER_UP"),
        (1 << 17, "DORMANT"),
        (1 << 18, "ECHO"),
    ];
    let mut out = Vec::new();
    if bits & UP != 0 && bits & RUNNING == 0 {
        out.push("NO-CARRIER".to_string());
    }
    out.extend(
        NAMED
            .iter()
            .filter(|(bit, _)| bits & bit != 0)
            .map(|(_, name)| name.to_string()),
    );
    out
}

/// A link-layer address as `ip link` prints it. Tunnels report their IP endpoint here
/// (4 or 16 bytes), which is not a MAC.
fn hardware_address(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        0 | 4 | 16 => None,
        _ => Some(colon_hex(bytes)),
    }
}

pub(crate) fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub(crate) fn dump_addresses(
    socket: &mut RtSocket,
    names: &IfNames,
    problems: &mut Vec<ParseProblem>,
) -> Result<Vec<Address>, NetlinkError> {
    let mut out = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut req = AddressMessage::default();
        req.header.family = family;
        let dump = socket.dump(&RouteNetlinkMessage::GetAddress(req))?;
        note_undecodable(&dump, ADDR_SOURCE, problems);
        for m in dump.messages {
            if let RouteNetlinkMessage::NewAddress(a) = m {
                out.extend(address_from(&a, names));
            }
        }
    }
    Ok(out)
}

fn address_from(m: &AddressMessage, names: &IfNames) -> Option<Address> {
    let mut local = None;
    let mut address = None;
    for attr in &m.attributes {
        match attr {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            _ => {}
        }
    }
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS differs from it only on a
    // point-to-point link, where it is the peer (iproute2 prints `peer`). IPv6 sends only
    // IFA_ADDRESS.
    let (addr, peer) = match (local, address) {
        (Some(l), Some(a)) if l != a => (l, Some(a)),
        (Some(l), _) => (l, None),
        (None, Some(a)) => (a, None),
        (None, None) => return None,
    };
    Some(Address {
        ifname: names.name_or_index(m.header.index),
        addr,
        prefix_len: m.header.prefix_len,
        scope: Some(scope_name(u8::from(m.header.scope))),
        peer,
        source: Source::live(ADDR_SOURCE),
    })
}

/// Scope names of iproute2 (`rt_scopes`).
pub(crate) fn scope_name(scope: u8) -> String {
    match scope {
        0 => "global".into(),
        200 => "site".into(),
        253 => "link".into(),
        254 => "host".into(),
        255 => "nowhere".into(),
        n => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_in_ip_link_order_with_no_carrier() {
        // UP | BROADCAST | MULTICAST, no RUNNING, no LOWER_UP: a bridge without ports.
        let bits = 1 | (1 << 1) | (1 << 12);
        assert_eq!(
            link_flag_names(bits),
            ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"]
        );
        let lo = 1 | (1 << 3) | (1 << 6) | (1 << 16);
        assert_eq!(link_flag_names(lo), ["LOOPBACK", "UP", "LOWER_UP"]);
    }

    #[test]
    fn tunnel_endpoints_are_not_macs() {
        assert_eq!(hardware_address(&[0, 0, 0, 0]), None);
        assert_eq!(
            hardware_address(&[0x02, 0x42, 0xac, 0x11, 0, 2]).as_deref(),
            Some("02:42:ac:11:00:02")
        );
    }
}
