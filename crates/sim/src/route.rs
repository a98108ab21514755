//! Policy routing and the FIB lookup: rules in priority order, then the longest prefix of each
//! table they name, as `fib_lookup` does.

use crate::node::NodeModel;
use netdoctor_model::{Route, RouteKind, RoutingRule};
use std::net::IpAddr;

/// What a lookup is about.
#[derive(Debug, Clone, Copy)]
pub struct Flow<'a> {
    pub src: Option<IpAddr>,
    pub dst: IpAddr,
    /// Input device; `None` for locally generated packets (rules match them as `iif lo`).
    pub iif: Option<&'a str>,
    pub mark: u32,
}

/// The result of a lookup.
#[derive(Debug, Clone)]
pub enum Lookup<'a> {
    Route {
        route: &'a Route,
        rule: &'a RoutingRule,
    },
    /// A rule's own action (`blackhole`, `unreachable`, `prohibit`).
    RuleAction(&'a RoutingRule),
    NoRoute,
}

fn rule_matches(r: &RoutingRule, f: &Flow) -> bool {
    let mut m = true;
    if let Some(from) = &r.from {
        m &= f.src.is_some_and(|s| from.contains(&s));
    }
    if let Some(to) = &r.to {
        m &= to.contains(&f.dst);
    }
    if let Some(iif) = &r.iif {
        m &= f.iif.unwrap_or("lo") == iif;
    }
    if r.oif.is_some() {
        // Our lookups never fix the output device in advance.
        m = false;
    }
    if let Some((v, mask)) = r.fwmark {
        m &= f.mark & mask == v;
    }
    if r.not {
        !m
    } else {
        m
    }
}

/// Look `flow` up through the node's rules and tables.
pub fn lookup<'a>(node: &'a NodeModel, flow: &Flow) -> Lookup<'a> {
    for rule in &node.policy {
        if !rule_matches(rule, flow) {
            continue;
        }
        match rule.action.as_str() {
            "lookup" | "table" | "" => {}
            "blackhole" | "unreachable" | "prohibit" => return Lookup::RuleAction(rule),
            _ => continue,
        }
        let Some(t) = rule.table else { continue };
        let Some(routes) = node.tables.get(&t) else {
            continue;
        };
        // Sorted most specific first, so the first hit is the longest prefix.
        let hit = routes.iter().find(|r| {
            r.dst.contains(&flow.dst)
                && !matches!(r.kind, RouteKind::Broadcast | RouteKind::Multicast)
                && !matches!(r.dev.as_deref().and_then(|d| node.link(d)), Some(l) if l.is_down())
        });
        match hit {
            Some(r) if r.kind == RouteKind::Throw => continue,
            Some(r) => return Lookup::Route { route: r, rule },
            None => continue,
        }
    }
    Lookup::NoRoute
}

/// The table's name as `ip route` prints it.
pub fn table_name(t: u32) -> String {
    match t {
        255 => "local".into(),
        254 => "main".into(),
        253 => "default".into(),
        n => n.to_string(),
    }
}

/// The source address `node` gives a packet it sends to `dst`: the route's `src`, else the
/// first address of the route's device (the kernel's choice for locally made packets).
pub fn source_for(node: &NodeModel, dst: IpAddr) -> Option<IpAddr> {
    let flow = Flow {
        src: None,
        dst,
        iif: None,
        mark: 0,
    };
    match lookup(node, &flow) {
        Lookup::Route { route, .. } => route.prefsrc.or_else(|| {
            route
                .dev
                .as_deref()
                .and_then(|d| node.ctx.primary_address(d, dst.is_ipv6()))
        }),
        _ => None,
    }
}

/// A route in `ip route` words.
pub fn describe(r: &Route) -> String {
    let mut s = r.ip_route_words();
    if let Some(p) = r.prefsrc {
        s.push_str(&format!(" src {p}"));
    }
    s.push_str(&format!(" (table {})", table_name(r.table)));
    s
}

/// Reverse-path filtering (`fib_validate_source`): `Err` says why the source is refused.
/// `mode` is the effective value, max(all, interface).
pub fn rp_filter(
    node: &NodeModel,
    src: IpAddr,
    dst: IpAddr,
    iif: &str,
    mark: u32,
    mode: i64,
) -> Result<String, String> {
    if mode == 0 {
        return Ok("off".into());
    }
    let back = lookup(
        node,
        &Flow {
            src: Some(dst),
            dst: src,
            iif: None,
            mark,
        },
    );
    let (dev, what) = match &back {
        Lookup::Route { route, .. }
            if matches!(route.kind, RouteKind::Unicast | RouteKind::Local) =>
        {
            (route.dev.clone(), describe(route))
        }
        Lookup::Route { route, .. } => (None, describe(route)),
        _ => (None, "no route".into()),
    };
    match (mode, dev) {
        (_, None) => Err(format!("no usable route back to {src} ({what})")),
        (1, Some(d)) if d != iif => Err(format!(
            "strict: the route back to {src} leaves by {d} ({what}), not by {iif} where the packet came in"
        )),
        (_, Some(_)) => Ok(format!("{} ok: route back is {what}", if mode == 1 { "strict" } else { "loose" })),
    }
}
