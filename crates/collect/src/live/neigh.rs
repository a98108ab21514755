//! Neighbour (ARP/NDP) entries and the bridge forwarding database from rtnetlink, as
//! `ip neigh` and `bridge fdb` report them.

use super::links::{colon_hex, note_undecodable, IfNames};
use super::netlink::{NetlinkError, RtSocket};
use netdoctor_model::{FdbEntry, Neighbour, ParseProblem, Source};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(crate) const NEIGH_SOURCE: &str = "netlink RTM_GETNEIGH";
pub(crate) const FDB_SOURCE: &str = "netlink RTM_GETNEIGH AF_BRIDGE";

const NUD_INCOMPLETE: u16 = 0x01;
const NUD_REACHABLE: u16 = 0x02;
const NUD_STALE: u16 = 0x04;
const NUD_DELAY: u16 = 0x08;
const NUD_PROBE: u16 = 0x10;
const NUD_FAILED: u16 = 0x20;
const NUD_NOARP: u16 = 0x40;
const NUD_PERMANENT: u16 = 0x80;

fn dump_family(
    socket: &mut RtSocket,
    family: AddressFamily,
    source: &str,
    problems: &mut Vec<ParseProblem>,
) -> Result<Vec<NeighbourMessage>, NetlinkError> {
    let mut req = NeighbourMessage::default();
    req.header.family = family;
    let dump = socket.dump(&RouteNetlinkMessage::GetNeighbour(req))?;
    note_undecodable(&dump, source, problems);
    Ok(dump
        .messages
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewNeighbour(n) => Some(n),
            _ => None,
        })
        .collect())
}

pub(crate) fn dump_neighbours(
    socket: &mut RtSocket,
    names: &IfNames,
    problems: &mut Vec<ParseProblem>,
) -> Result<Vec<Neighbour>, NetlinkError> {
    let mut out = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        for m in dump_family(socket, family, NEIGH_SOURCE, problems)? {
            let mut addr = None;
            let mut lladdr = None;
            for attr in &m.attributes {
                match attr {
                    NeighbourAttribute::Destination(a) => addr = neighbour_ip(a),
                    NeighbourAttribute::LinkLayerAddress(b) if !b.is_empty() => {
                        lladdr = Some(colon_hex(b))
                    }
                    _ => {}
                }
            }
            let Some(addr) = addr else { continue };
            out.push(Neighbour {
                addr,
                dev: names.name_or_index(m.header.ifindex),
                lladdr,
                state: state_names(u16::from(m.header.state)),
                source: Source::live(NEIGH_SOURCE),
            });
        }
    }
    Ok(out)
}

/// NUD state bits as `ip neigh` names them; several can be set at once.
fn state_names(bits: u16) -> Vec<String> {
    const NAMES: &[(u16, &str)] = &[
        (NUD_INCOMPLETE, "INCOMPLETE"),
        (NUD_REACHABLE, "REACHABLE"),
        (NUD_STALE, "STALE"),
        (NUD_DELAY, "DELAY"),
        (NUD_PROBE, "PROBE"),
        (NUD_FAILED, "FAILED"),
        (NUD_NOARP, "NOARP"),
        (NUD_PERMANENT, "PERMANENT"),
    ];
    if bits == 0 {
        return vec!["NONE".into()];
    }
    NAMES
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| n.to_string())
        .collect()
}

fn neighbour_ip(a: &NeighbourAddress) -> Option<IpAddr> {
    match a {
        NeighbourAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        NeighbourAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        // The bridge family does not say which IP family NDA_DST is: its length does.
        NeighbourAddress::Other(b) => match b.len() {
            4 => <[u8; 4]>::try_from(b.as_slice())
                .ok()
                .map(|o| IpAddr::V4(Ipv4Addr::from(o))),
            16 => <[u8; 16]>::try_from(b.as_slice())
                .ok()
                .map(|o| IpAddr::V6(Ipv6Addr::from(o))),
            _ => None,
        },
        _ => None,
    }
}

/// The bridge FDB of every bridge port and of every device that keeps its own (VXLAN
/// devices: `self` entries whose `dst` is the remote VTEP).
pub(crate) fn dump_fdb(
    socket: &mut RtSocket,
    names: &IfNames,
    problems: &mut Vec<ParseProblem>,
) -> Result<Vec<FdbEntry>, NetlinkError> {
    let mut out = Vec::new();
    for m in dump_family(socket, AddressFamily::Bridge, FDB_SOURCE, problems)? {
        let mut entry = FdbEntry {
            mac: String::new(),
            dev: names.name_or_index(m.header.ifindex),
            dst: None,
            master: None,
            vlan: None,
            flags: fdb_flags(m.header.flags, u16::from(m.header.state)),
            source: Source::live(FDB_SOURCE),
        };
        for attr in &m.attributes {
            match attr {
                NeighbourAttribute::LinkLayerAddress(b) => entry.mac = colon_hex(b),
                NeighbourAttribute::Destination(a) => entry.dst = neighbour_ip(a),
                NeighbourAttribute::Controller(i) => entry.master = Some(names.name_or_index(*i)),
                NeighbourAttribute::Vlan(v) => entry.vlan = Some(*v),
                _ => {}
            }
        }
        out.push(entry);
    }
    Ok(out)
}

/// Flag words in the order `bridge fdb` prints them, then the state (`permanent`, `static`
/// for NOARP, `stale`).
fn fdb_flags(flags: NeighbourFlags, state: u16) -> Vec<String> {
    let named = [
        (NeighbourFlags::Own, "self"),
        (NeighbourFlags::Router, "router"),
        (NeighbourFlags::ExtLearned, "extern_learn"),
        (NeighbourFlags::Offloaded, "offload"),
        (NeighbourFlags::Controller, "master"),
        (NeighbourFlags::Sticky, "sticky"),
    ];
    let mut out: Vec<String> = named
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| n.to_string())
        .collect();
    if state & NUD_PERMANENT != 0 {
        out.push("permanent".into());
    } else if state & NUD_NOARP != 0 {
        out.push("static".into());
    } else if state & NUD_STALE != 0 {
        out.push("stale".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_nud_states_are_all_named() {
        assert_eq!(
            state_names(NUD_NOARP | NUD_PERMANENT),
            ["NOARP", "PERMANENT"]
        );
        assert_eq!(state_names(0), ["NONE"]);
    }

    #[test]
    fn fdb_flags_as_bridge_fdb_prints_them() {
        let f = fdb_flags(NeighbourFlags::Own, NUD_PERMANENT);
        assert_eq!(f, ["self", "permanent"]);
        let f = fdb_flags(NeighbourFlags::Controller, NUD_NOARP);
        assert_eq!(f, ["master", "static"]);
    }

    #[test]
    fn bridge_family_destination_by_length() {
        let v4 = NeighbourAddress::Other(vec![192, 0, 2, 7]);
        assert_eq!(neighbour_ip(&v4), Some("192.0.2.7".parse().expect("ip")));
        assert_eq!(neighbour_ip(&NeighbourAddress::Other(vec![1, 2])), None);
    }
}
