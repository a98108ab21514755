//! `ip route`, `ip route show table all` and `ip -6 route` text, and `ip -j route` JSON.

use crate::text::{self, Line};
use netdoctor_model::{ParseProblem, Route, RouteKind, Source, TABLE_LOCAL, TABLE_MAIN};
use serde_json::Value;

/// Attributes that take one value and that the model does not keep.
const SKIP_WITH_VALUE: &[&str] = &[
    "pref",
    "expires",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "window",
    "cwnd",
    "initcwnd",
    "initrwnd",
    "ssthresh",
    "realms",
    "realm",
    "rto_min",
    "hoplimit",
    "features",
    "quickack",
    "congctl",
    "fastopen_no_cookie",
    "tos",
    "dsfield",
    "nhid",
    "weight",
    "error",
    "iif",
    "uid",
    "from",
    "encap",
    "age",
    "users",
    "used",
    "ttl-propagate",
];

/// Flags `ip route` prints that the model does not keep.
const SKIP_FLAGS: &[&str] = &[
    "linkdown",
    "dead",
    "pervasive",
    "offload",
    "trap",
    "notify",
    "rt_offload",
    "rt_trap",
    "lock",
    "cache",
    "ipid",
    "unresolved",
    "rt_offload_failed",
];

/// Parse `ip route` output, text or `-j` JSON.
pub fn parse_ip_route(text: &str, file: &str) -> (Vec<Route>, Vec<ParseProblem>) {
    if crate::ipjson::looks_like_json(text) {
        return parse_ip_route_json(text, file, 1);
    }
    parse_ip_route_lines(&text::numbered(text), file)
}

/// Parse numbered lines of `ip route` text.
pub fn parse_ip_route_lines(lines: &[Line<'_>], file: &str) -> (Vec<Route>, Vec<ParseProblem>) {
    let mut routes: Vec<Route> = Vec::new();
    let mut problems = Vec::new();
    for line in lines {
        let t = text::without_comment(line.text.trim());
        if text::skip(line, file, "ip route", &mut problems) {
            continue;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        match words.first().copied() {
            // `ip route get` prints its cache line under the route: nothing to keep.
            Some("cache") => continue,
            Some("nexthop") => {
                match routes.last_mut() {
                    Some(route) => continue_route(&words, route),
                    None => problems.push(text::unreadable(
                        file,
                        line,
                        "ip route",
                        "a nexthop without its route",
                    )),
                }
                continue;
            }
            // Any other line, indented or not (pastes in code blocks are), is a route.
            _ => {}
        }
        let mut rest: &[&str] = &words;
        while !rest.is_empty() {
            match parse_route(rest, Source::at(file, line.no)) {
                Ok((route, used)) => {
                    routes.push(route);
                    rest = &rest[used..];
                }
                Err(why) => {
                    problems.push(text::unreadable(file, line, "ip route", &why));
                    break;
                }
            }
        }
    }
    (routes, problems)
}

/// `nexthop via A dev X weight 1` lines of a multipath route: the first nexthop fills the route.
fn continue_route(words: &[&str], route: &mut Route) {
    if route.gateway.is_some() || route.dev.is_some() {
        return;
    }
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or("");
        match *w {
            "via" => route.gateway = next.parse().ok(),
            "dev" => route.dev = Some(next.to_string()),
            _ => {}
        }
    }
}

/// One route from the start of `words`; returns it and how many words it used. Stops early at a
/// word that starts another route, which is how lines joined by a bad paste are split.
fn parse_route(words: &[&str], source: Source) -> Result<(Route, usize), String> {
    let mut i = 0;
    let mut kind = RouteKind::Unicast;
    let mut explicit_kind = false;
    if let Some(k) = words.first().and_then(|w| RouteKind::from_keyword(w)) {
        if words.len() > 1 {
            kind = k;
            explicit_kind = true;
            i = 1;
        }
    }
    let dst_word = *words.get(i).ok_or("no destination")?;
    let dst = if dst_word == "default" {
        default_for(words)
    } else {
        text::parse_prefix(dst_word).ok_or_else(|| format!("bad destination {dst_word:?}"))?
    };
    i += 1;
    let mut route = Route {
        table: TABLE_MAIN,
        kind,
        dst,
        gateway: None,
        dev: None,
        prefsrc: None,
        scope: None,
        protocol: None,
        metric: None,
        onlink: false,
        mtu: None,
        source,
    };
    let mut table_given = false;
    while i < words.len() {
        let w = words[i];
        let next = words.get(i + 1).copied();
        let value = || next.ok_or_else(|| format!("{w} without a value"));
        match w {
            "via" => {
                let mut v = value()?;
                // `via inet 10.0.0.1` / `via inet6 fe80::1` when the family differs.
                if matches!(v, "inet" | "inet6") {
                    i += 1;
                    v = words.get(i + 1).copied().ok_or("via without an address")?;
                }
                route.gateway = Some(v.parse().map_err(|_| format!("bad gateway {v:?}"))?);
                i += 2;
            }
            "dev" | "oif" => {
                route.dev = Some(value()?.to_string());
                i += 2;
            }
            "table" => {
                let v = value()?;
                route.table = text::table_id(v).ok_or_else(|| format!("unknown table {v:?}"))?;
                table_given = true;
                i += 2;
            }
            "proto" | "protocol" => {
                route.protocol = Some(value()?.to_string());
                i += 2;
            }
            "scope" => {
                route.scope = Some(value()?.to_string());
                i += 2;
            }
            "src" => {
                let v = value()?;
                route.prefsrc = Some(v.parse().map_err(|_| format!("bad src {v:?}"))?);
                i += 2;
            }
            "metric" | "preference" | "priority" => {
                let v = value()?;
                route.metric = Some(v.parse().map_err(|_| format!("bad metric {v:?}"))?);
                i += 2;
            }
            "mtu" => {
                let mut v = value()?;
                if v == "lock" {
                    i += 1;
                    v = words
                        .get(i + 1)
                        .copied()
                        .ok_or("mtu lock without a value")?;
                }
                route.mtu = Some(v.parse().map_err(|_| format!("bad mtu {v:?}"))?);
                i += 2;
            }
            "onlink" => {
                route.onlink = true;
                i += 1;
            }
            w if SKIP_FLAGS.contains(&w) => i += 1,
            w if SKIP_WITH_VALUE.contains(&w) => i += 2,
            _ if starts_route(&words[i..]) => break,
            other => return Err(format!("unknown attribute {other:?}")),
        }
    }
    // The kernel puts local, broadcast and anycast routes in the local table, and `ip route show
    // table local` does not print `table local`.
    let local_kind = matches!(
        kind,
        RouteKind::Local | RouteKind::Broadcast | RouteKind::Anycast
    );
    if !table_given && explicit_kind && local_kind {
        route.table = TABLE_LOCAL;
    }
    Ok((route, i.min(words.len()).max(1)))
}

fn default_for(words: &[&str]) -> ipnet::IpNet {
    let v6 = words
        .iter()
        .any(|w| w.contains(':') && w.parse::<std::net::Ipv6Addr>().is_ok());
    if v6 {
        ipnet::IpNet::V6(ipnet::Ipv6Net::default())
    } else {
        ipnet::IpNet::V4(ipnet::Ipv4Net::default())
    }
}

fn starts_route(words: &[&str]) -> bool {
    let first = words[0];
    let dst = if RouteKind::from_keyword(first).is_some() {
        words.get(1).copied().unwrap_or("")
    } else {
        first
    };
    (dst == "default" || text::parse_prefix(dst).is_some())
        && words
            .get(if dst == first { 1 } else { 2 })
            .is_some_and(|w| matches!(*w, "via" | "dev" | "proto" | "table" | "scope" | "metric"))
}

/// `ip -j route` output whose first line is `first_line`.
pub fn parse_ip_route_json(
    text: &str,
    file: &str,
    first_line: u32,
) -> (Vec<Route>, Vec<ParseProblem>) {
    let items = match crate::ipjson::parse_json(text, file, first_line) {
        Ok(Value::Array(a)) => a,
        Ok(_) => {
            return (
                Vec::new(),
                vec![text::problem(
                    file,
                    first_line,
                    "JSON is not a list of routes",
                )],
            )
        }
        Err(p) => return (Vec::new(), vec![p]),
    };
    let mut routes = Vec::new();
    let mut problems = Vec::new();
    for item in &items {
        match route_from_json(item, Source::at(file, first_line)) {
            Ok(r) => routes.push(r),
            Err(why) => problems.push(text::problem(
                file,
                first_line,
                format!(
                    "route not read ({why}): {}",
                    text::shorten(&item.to_string(), 100)
                ),
            )),
        }
    }
    (routes, problems)
}

fn route_from_json(item: &Value, source: Source) -> Result<Route, String> {
    let s = |k: &str| item.get(k).and_then(Value::as_str);
    let n = |k: &str| {
        item.get(k)
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
    };
    let kind = match s("type") {
        Some(t) => RouteKind::from_keyword(t).unwrap_or(RouteKind::Other),
        None => RouteKind::Unicast,
    };
    let dst = match s("dst").ok_or("no dst")? {
        "default" => {
            if s("gateway").is_some_and(|g| g.contains(':')) {
                ipnet::IpNet::V6(ipnet::Ipv6Net::default())
            } else {
                ipnet::IpNet::V4(ipnet::Ipv4Net::default())
            }
        }
        d => text::parse_prefix(d).ok_or_else(|| format!("bad dst {d:?}"))?,
    };
    let table = match item.get("table") {
        Some(Value::String(t)) => {
            text::table_id(t).ok_or_else(|| format!("unknown table {t:?}"))?
        }
        Some(Value::Number(t)) => t
            .as_u64()
            .and_then(|t| u32::try_from(t).ok())
            .ok_or("bad table")?,
        _ if matches!(
            kind,
            RouteKind::Local | RouteKind::Broadcast | RouteKind::Anycast
        ) =>
        {
            TABLE_LOCAL
        }
        _ => TABLE_MAIN,
    };
    let flags: Vec<&str> = item
        .get("flags")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mtu = item
        .get("metrics")
        .and_then(Value::as_array)
        .and_then(|m| m.iter().find_map(|x| x.get("mtu")))
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok());
    Ok(Route {
        table,
        kind,
        dst,
        gateway: s("gateway").and_then(|g| g.parse().ok()),
        dev: s("dev").map(str::to_string),
        prefsrc: s("prefsrc").and_then(|g| g.parse().ok()),
        scope: s("scope").map(str::to_string),
        protocol: s("protocol").map(str::to_string),
        metric: n("metric"),
        onlink: flags.contains(&"onlink"),
        mtu,
        source,
    })
}

#[cfg(test)]
#[path = "iproute_tests.rs"]
mod tests;
