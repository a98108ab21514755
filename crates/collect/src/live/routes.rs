//! Routes of every table and policy rules from rtnetlink, as `ip route show table all` and
//! `ip rule` report them.

use super::links::{note_undecodable, scope_name, IfNames};
use super::netlink::{NetlinkError, RtSocket};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use netdoctor_model::{Family, ParseProblem, Route, RouteKind, RoutingRule, Source};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteMetric, RouteNextHopFlags,
    RouteType, RouteVia,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleFlags, RuleMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::net::IpAddr;

pub(crate) const ROUTE_SOURCE: &str = "netlink RTM_GETROUTE";
pub(crate) const RULE_SOURCE: &str = "netlink RTM_GETRULE";

/// Every route of every table, IPv4 then IPv6. An unfiltered dump covers all tables; the
/// request names one family so that multicast-routing (`ipmr`) entries are not mixed in.
pub(crate) fn dump_routes(
    socket: &mut RtSocket,
    names: &IfNames,
    problems: &mut Vec<ParseProblem>,
) -> Result<Vec<Route>, NetlinkError> {
    let mut out = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut req = RouteMessage::default();
        req.header.address_family = family;
        let dump = socket.dump(&RouteNetlinkMessage::GetRoute(req))?;
        note_undecodable(&dump, ROUTE_SOURCE, problems);
        for m in dump.messages {
            if let RouteNetlinkMessage::NewRoute(r) = m {
                routes_from(&r, names, &mut out);
            }
        }
    }
    Ok(out)
}

/// One model route per next hop: a multipath route becomes one entry per path, all with the
/// same destination and table.
fn routes_from(m: &RouteMessage, names: &IfNames, out: &mut Vec<Route>) {
    let h = &m.header;
    let v6 = h.address_family == AddressFamily::Inet6;
    let mut table = u32::from(h.table);
    let mut dst = None;
    let mut base = Route {
        table: 0,
        kind: route_kind(h.kind),
        dst: unspecified(v6),
        gateway: None,
        dev: None,
        prefsrc: None,
        scope: Some(scope_name(u8::from(h.scope))),
        protocol: Some(protocol_name(u8::from(h.protocol))),
        metric: None,
        onlink: h.flags.contains(RouteFlags::Onlink),
        mtu: None,
        source: Source::live(ROUTE_SOURCE),
    };
    let mut hops = Vec::new();
    for attr in &m.attributes {
        match attr {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(a) => dst = route_ip(a),
            RouteAttribute::Gateway(a) => base.gateway = route_ip(a),
            RouteAttribute::Via(v) => base.gateway = via_ip(v),
            RouteAttribute::Oif(i) => base.dev = Some(names.name_or_index(*i)),
            RouteAttribute::PrefSource(a) => base.prefsrc = route_ip(a),
            RouteAttribute::Priority(p) => base.metric = Some(*p),
            RouteAttribute::Metrics(ms) => {
                for metric in ms {
                    if let RouteMetric::Mtu(v) = metric {
                        base.mtu = Some(*v);
                    }
                }
            }
            RouteAttribute::MultiPath(nh) => hops = nh.clone(),
            _ => {}
        }
    }
    base.table = table;
    if let Some(ip) = dst {
        // A prefix length the kernel sent is always valid for its family; fall back to the
        // host route rather than drop the entry if it were not.
        base.dst = IpNet::new(ip, h.destination_prefix_length)
            .unwrap_or_else(|_| IpNet::from(ip))
            .trunc();
    }
    if hops.is_empty() {
        out.push(base);
        return;
    }
    for hop in hops {
        let mut r = base.clone();
        r.dev = Some(names.name_or_index(hop.interface_index));
        r.onlink = hop.flags.contains(RouteNextHopFlags::Onlink);
        r.gateway = None;
        for attr in &hop.attributes {
            match attr {
                RouteAttribute::Gateway(a) => r.gateway = route_ip(a),
                RouteAttribute::Via(v) => r.gateway = via_ip(v),
                _ => {}
            }
        }
        out.push(r);
    }
}

fn unspecified(v6: bool) -> IpNet {
    if v6 {
        IpNet::V6(Ipv6Net::default())
    } else {
        IpNet::V4(Ipv4Net::default())
    }
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        RouteAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        _ => None,
    }
}

/// RTA_VIA: an IPv4 route with an IPv6 next hop (RFC 5549).
fn via_ip(v: &RouteVia) -> Option<IpAddr> {
    match v {
        RouteVia::Inet(ip) => Some(IpAddr::V4(*ip)),
        RouteVia::Inet6(ip) => Some(IpAddr::V6(*ip)),
        _ => None,
    }
}

fn route_kind(t: RouteType) -> RouteKind {
    match t {
        RouteType::Unicast => RouteKind::Unicast,
        RouteType::Local => RouteKind::Local,
        RouteType::Broadcast => RouteKind::Broadcast,
        RouteType::Anycast => RouteKind::Anycast,
        RouteType::Multicast => RouteKind::Multicast,
        RouteType::BlackHole => RouteKind::Blackhole,
        RouteType::Unreachable => RouteKind::Unreachable,
        RouteType::Prohibit => RouteKind::Prohibit,
        RouteType::Throw => RouteKind::Throw,
        RouteType::Nat => RouteKind::Nat,
        _ => RouteKind::Other,
    }
}

/// Protocol names of iproute2 (`/usr/share/iproute2/rt_protos`); others print as numbers.
pub(crate) fn protocol_name(p: u8) -> String {
    let name = match p {
        0 => "unspec",
        1 => "redirect",
        2 => "kernel",
        3 => "boot",
        4 => "static",
        8 => "gated",
        9 => "ra",
        10 => "mrt",
        11 => "zebra",
        12 => "bird",
        13 => "dnrouted",
        14 => "xorp",
        15 => "ntk",
        16 => "dhcp",
        18 => "keepalived",
        42 => "babel",
        99 => "openr",
        186 => "bgp",
        187 => "isis",
        188 => "ospf",
        189 => "rip",
        192 => "eigrp",
        n => return n.to_string(),
    };
    name.to_string()
}

/// Policy rules of both families, as `ip rule` and `ip -6 rule` list them.
pub(crate) fn dump_rules(
    socket: &mut RtSocket,
    problems: &mut Vec<ParseProblem>,
) -> Result<Vec<RoutingRule>, NetlinkError> {
    let mut rules = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut req = RuleMessage::default();
        req.header.family = family;
        let dump = socket.dump(&RouteNetlinkMessage::GetRule(req))?;
        note_undecodable(&dump, RULE_SOURCE, problems);
        rules.extend(dump.messages.iter().filter_map(|m| match m {
            RouteNetlinkMessage::NewRule(r) => Some(rule_from(r)),
            _ => None,
        }));
    }
    Ok(rules)
}

fn rule_from(m: &RuleMessage) -> RoutingRule {
    let h = &m.header;
    let mut rule = RoutingRule {
        family: if h.family == AddressFamily::Inet6 {
            Family::Ipv6
        } else {
            Family::Ipv4
        },
        // FRA_PRIORITY is absent for priority 0 (the `lookup local` rule).
        priority: 0,
        not: h.flags.contains(RuleFlags::Invert),
        from: None,
        to: None,
        iif: None,
        oif: None,
        fwmark: None,
        table: None,
        action: String::new(),
        source: Source::live(RULE_SOURCE),
    };
    let mut table = u32::from(h.table);
    let mut mark = None;
    let mut mask = None;
    for attr in &m.attributes {
        match attr {
            RuleAttribute::Priority(p) => rule.priority = *p,
            RuleAttribute::Source(ip) => rule.from = IpNet::new(*ip, h.src_len).ok(),
            RuleAttribute::Destination(ip) => rule.to = IpNet::new(*ip, h.dst_len).ok(),
            RuleAttribute::Iifname(n) => rule.iif = Some(n.clone()),
            RuleAttribute::Oifname(n) => rule.oif = Some(n.clone()),
            RuleAttribute::FwMark(v) => mark = Some(*v),
            RuleAttribute::FwMask(v) => mask = Some(*v),
            RuleAttribute::Table(t) => table = *t,
            _ => {}
        }
    }
    // `ip rule` shows a mark without a mask as `fwmark V`, meaning an exact match.
    if let Some(v) = mark {
        rule.fwmark = Some((v, mask.unwrap_or(u32::MAX)));
    }
    rule.action = match h.action {
        RuleAction::ToTable => {
            rule.table = Some(table);
            "lookup".into()
        }
        RuleAction::Goto => "goto".into(),
        RuleAction::Nop => "nop".into(),
        RuleAction::Blackhole => "blackhole".into(),
        RuleAction::Unreachable => "unreachable".into(),
        RuleAction::Prohibit => "prohibit".into(),
        other => format!("action {}", u8::from(other)),
    };
    rule
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_destination_per_family() {
        assert_eq!(unspecified(false).to_string(), "0.0.0.0/0");
        assert_eq!(unspecified(true).to_string(), "::/0");
    }

    #[test]
    fn protocol_names_match_iproute2() {
        assert_eq!(protocol_name(2), "kernel");
        assert_eq!(protocol_name(4), "static");
        assert_eq!(protocol_name(77), "77");
    }
}
