//! net-tools `route -n` / `route` / `netstat -rn` (IPv4) and `route -n -A inet6` tables.
//!
//! Flags: `U` up, `G` via a gateway, `H` host route, `!` reject (an unreachable route). A route
//! that is up, has no gateway and whose interface is `*` is how net-tools shows a blackhole
//! (Calico's IPAM block routes, see the calico#281 and kubeasz#774 fixtures).

use crate::text::{self, Line};
use netdoctor_model::{ParseProblem, Route, RouteKind, Source, TABLE_MAIN};
use std::net::IpAddr;

/// Parse a `route -n` table.
pub fn parse_route_n(text: &str, file: &str) -> (Vec<Route>, Vec<ParseProblem>) {
    parse_route_n_lines(&text::numbered(text), file)
}

/// Column positions from the header line (`route -n`, `-ne`, `-ee` and `netstat -rn` differ).
#[derive(Debug, Clone, Copy)]
struct Columns {
    dst: usize,
    gw: usize,
    mask: Option<usize>,
    flags: usize,
    metric: Option<usize>,
    iface: usize,
    count: usize,
}

const V4_DEFAULT: Columns = Columns {
    dst: 0,
    gw: 1,
    mask: Some(2),
    flags: 3,
    metric: Some(4),
    iface: 7,
    count: 8,
};

/// Parse numbered lines of a `route -n` table.
pub fn parse_route_n_lines(lines: &[Line<'_>], file: &str) -> (Vec<Route>, Vec<ParseProblem>) {
    let mut routes = Vec::new();
    let mut problems = Vec::new();
    let mut cols = V4_DEFAULT;
    for line in lines {
        let t = text::without_comment(line.text.trim());
        if text::skip(line, file, "route -n", &mut problems) || t.starts_with("Kernel IP") {
            continue;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        if words[0] == "Destination" {
            cols = header(&words);
            continue;
        }
        // Lines joined by a bad paste hold a multiple of the column count.
        let chunks: Vec<&[&str]> =
            if words.len() > cols.count && words.len().checked_rem(cols.count) == Some(0) {
                words.chunks(cols.count).collect()
            } else {
                vec![&words[..]]
            };
        for chunk in chunks {
            match parse_row(chunk, cols, Source::at(file, line.no)) {
                Ok(r) => routes.push(r),
                Err(why) => problems.push(text::unreadable(file, line, "route -n", &why)),
            }
        }
    }
    (routes, problems)
}

fn header(words: &[&str]) -> Columns {
    // "Next Hop" is two words in the IPv6 header: count positions on the joined names.
    let names: Vec<String> = words
        .join(" ")
        .replace("Next Hop", "NextHop")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let pos = |alts: &[&str]| names.iter().position(|n| alts.contains(&n.as_str()));
    Columns {
        dst: 0,
        gw: pos(&["Gateway", "NextHop"]).unwrap_or(1),
        mask: pos(&["Genmask"]),
        flags: pos(&["Flags", "Flag"]).unwrap_or(3),
        metric: pos(&["Metric", "Met"]),
        iface: pos(&["Iface", "If"]).unwrap_or(names.len().saturating_sub(1)),
        count: names.len(),
    }
}

fn parse_row(w: &[&str], c: Columns, source: Source) -> Result<Route, String> {
    if w.len() != c.count {
        return Err(format!("{} columns, expected {}", w.len(), c.count));
    }
    // A header that lacks a column leaves its default position, which may be past the end.
    let col = |i: usize| w.get(i).copied().ok_or("the header lacks a needed column");
    let flags = col(c.flags)?;
    if !flags.chars().all(|f| "UGHRDMACL!efn".contains(f)) {
        return Err(format!("bad flags {flags:?}"));
    }
    let mask = match c.mask {
        Some(m) => Some(col(m)?),
        None => None,
    };
    let dst = destination(col(c.dst)?, mask)?;
    let gateway = gateway(col(c.gw)?)?;
    let iface = col(c.iface)?;
    let kind = if flags.contains('!') {
        RouteKind::Unreachable
    } else if iface == "*" && !flags.contains('G') {
        RouteKind::Blackhole
    } else {
        RouteKind::Unicast
    };
    let metric = match c.metric {
        Some(m) => {
            let v = col(m)?;
            Some(v.parse().map_err(|_| format!("bad metric {v:?}"))?)
        }
        None => None,
    };
    Ok(Route {
        table: TABLE_MAIN,
        kind,
        dst,
        gateway,
        dev: Some(iface.to_string()).filter(|i| i != "*" && i != "-"),
        prefsrc: None,
        scope: None,
        protocol: None,
        metric,
        onlink: false,
        mtu: None,
        source,
    })
}

fn destination(dst: &str, mask: Option<&str>) -> Result<ipnet::IpNet, String> {
    let addr: IpAddr = match dst {
        "default" => IpAddr::from([0, 0, 0, 0]),
        // Names net-tools prints from /etc/networks.
        "link-local" => IpAddr::from([169, 254, 0, 0]),
        "loopback" => IpAddr::from([127, 0, 0, 0]),
        d if d.contains('/') => {
            // IPv6 table: `fe80::/64`; `::/0` is the default.
            return d.parse().map_err(|_| format!("bad destination {d:?}"));
        }
        d => d
            .parse()
            .map_err(|_| format!("destination {d:?} is a name that cannot be resolved here"))?,
    };
    let prefix = match mask {
        Some(m) => text::mask_to_prefix(m).ok_or_else(|| format!("bad netmask {m:?}"))?,
        None => return Err("no netmask".into()),
    };
    ipnet::IpNet::new(addr, prefix)
        .map(|n| n.trunc())
        .map_err(|_| format!("bad prefix /{prefix}"))
}

fn gateway(gw: &str) -> Result<Option<IpAddr>, String> {
    match gw {
        "0.0.0.0" | "*" | "::" => Ok(None),
        g => match g.parse::<IpAddr>() {
            Ok(a) => Ok(Some(a)),
            // A hostname (`gateway`, `_gateway`) that non-numeric `route` printed: the route is
            // real, its gateway address is not known.
            Err(_)
                if g.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
            {
                Ok(None)
            }
            Err(_) => Err(format!("bad gateway {g:?}")),
        },
    }
}

#[cfg(test)]
#[path = "routen_tests.rs"]
mod tests;
