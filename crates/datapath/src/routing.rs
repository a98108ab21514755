//! Policy routing and the FIB lookup: rules in priority order, then the longest prefix of each
//! table they name, as `fib_lookup` does. The checks and the trace look routes up here, so a
//! check's "packets to X take route R" is the route the trace follows.

use ipnet::IpNet;
use netdoctor_model::{
    Family, NodeSnapshot, Route, RouteKind, RoutingRule, Source, TABLE_LOCAL, TABLE_MAIN,
};
use netdoctor_netfilter::HostContext;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// The `default` table (rule 32767).
pub const TABLE_DEFAULT: u32 = 253;

/// A node's routing: its tables and its policy rules.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// Routes by table, most specific first (then lowest metric), with the local table derived
    /// from the addresses when the snapshot lacks it.
    pub tables: BTreeMap<u32, Vec<Route>>,
    /// IPv4 policy rules by priority; the kernel's three default rules when none were collected.
    pub policy: Vec<RoutingRule>,
    /// IPv6 policy rules, the same way.
    pub policy6: Vec<RoutingRule>,
    /// Links that are down: their routes are skipped, as the kernel skips dead next hops.
    down: BTreeSet<String>,
}

/// What a lookup is about.
#[derive(Debug, Clone, Copy)]
pub struct Flow<'a> {
    pub src: Option<IpAddr>,
    pub dst: IpAddr,
    /// Input device; `None` for locally generated packets (rules match them as `iif lo`).
    pub iif: Option<&'a str>,
    pub mark: u32,
}

impl Flow<'_> {
    /// A packet this node sends itself, to `dst`.
    pub fn local(dst: IpAddr) -> Flow<'static> {
        Flow {
            src: None,
            dst,
            iif: None,
            mark: 0,
        }
    }
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

fn default_rules(family: Family) -> Vec<RoutingRule> {
    let rule = |priority, table| RoutingRule {
        family,
        priority,
        not: false,
        from: None,
        to: None,
        iif: None,
        oif: None,
        fwmark: None,
        table: Some(table),
        action: "lookup".into(),
        source: Source::live("the kernel's default rules"),
    };
    vec![
        rule(0, TABLE_LOCAL),
        rule(32766, TABLE_MAIN),
        rule(32767, TABLE_DEFAULT),
    ]
}

fn policy_of(snap: &NodeSnapshot, family: Family) -> Vec<RoutingRule> {
    let mut policy: Vec<RoutingRule> = snap
        .rules
        .iter()
        .flatten()
        .filter(|r| r.family == family)
        .cloned()
        .collect();
    if policy.is_empty() {
        policy = default_rules(family);
    }
    policy.sort_by_key(|r| r.priority);
    policy
}

impl Routing {
    pub fn from_snapshot(snap: &NodeSnapshot) -> Routing {
        let mut tables: BTreeMap<u32, Vec<Route>> = BTreeMap::new();
        for r in snap.routes.iter().flatten() {
            tables.entry(r.table).or_default().push(r.clone());
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = tables.entry(TABLE_LOCAL) {
            // The kernel adds a local route for every address; derive them when the source
            // showed only the main table.
            let derived: Vec<Route> = snap
                .addresses
                .iter()
                .flatten()
                .filter_map(|a| {
                    Some(Route {
                        table: TABLE_LOCAL,
                        kind: RouteKind::Local,
                        dst: IpNet::new(a.addr, if a.addr.is_ipv4() { 32 } else { 128 }).ok()?,
                        gateway: None,
                        dev: Some(a.ifname.clone()),
                        prefsrc: Some(a.addr),
                        scope: Some("host".into()),
                        protocol: Some("kernel".into()),
                        metric: None,
                        onlink: false,
                        mtu: None,
                        source: Source::live("derived from the interface addresses"),
                    })
                })
                .collect();
            slot.insert(derived);
        }
        for v in tables.values_mut() {
            v.sort_by(|a, b| {
                b.dst
                    .prefix_len()
                    .cmp(&a.dst.prefix_len())
                    .then(a.metric.unwrap_or(0).cmp(&b.metric.unwrap_or(0)))
            });
        }
        let down = snap
            .links
            .iter()
            .flatten()
            .filter(|l| l.is_down())
            .map(|l| l.name.clone())
            .collect();
        Routing {
            tables,
            policy: policy_of(snap, Family::Ipv4),
            policy6: policy_of(snap, Family::Ipv6),
            down,
        }
    }

    /// Look `flow` up through the rules and tables of its family.
    pub fn lookup(&self, flow: &Flow) -> Lookup<'_> {
        let policy = if flow.dst.is_ipv4() {
            &self.policy
        } else {
            &self.policy6
        };
        for rule in policy {
            if !rule_matches(rule, flow) {
                continue;
            }
            match rule.action.as_str() {
                "lookup" | "table" | "" => {}
                "blackhole" | "unreachable" | "prohibit" => return Lookup::RuleAction(rule),
                _ => continue,
            }
            let Some(t) = rule.table else { continue };
            let Some(routes) = self.tables.get(&t) else {
                continue;
            };
            // Sorted most specific first, so the first hit is the longest prefix.
            let hit = routes.iter().find(|r| {
                r.dst.contains(&flow.dst)
                    && !matches!(r.kind, RouteKind::Broadcast | RouteKind::Multicast)
                    && !r.dev.as_ref().is_some_and(|d| self.down.contains(d))
            });
            match hit {
                Some(r) if r.kind == RouteKind::Throw => continue,
                Some(r) => return Lookup::Route { route: r, rule },
                None => continue,
            }
        }
        Lookup::NoRoute
    }

    /// The route a packet this node sends to `dst` takes, when a route decides it.
    pub fn route_to(&self, dst: IpAddr) -> Option<&Route> {
        match self.lookup(&Flow::local(dst)) {
            Lookup::Route { route, .. } => Some(route),
            _ => None,
        }
    }

    /// The main table's routes, most specific first.
    pub fn main(&self) -> &[Route] {
        self.tables.get(&TABLE_MAIN).map_or(&[], Vec::as_slice)
    }

    /// The source address this node gives a packet it sends to `dst`: the route's `src`, else
    /// the first address of the route's device (the kernel's choice for locally made packets).
    pub fn source_for(&self, host: &HostContext, dst: IpAddr) -> Option<IpAddr> {
        let route = self.route_to(dst)?;
        route.prefsrc.or_else(|| {
            route
                .dev
                .as_deref()
                .and_then(|d| host.primary_address(d, dst.is_ipv6()))
        })
    }

    /// Reverse-path filtering (`fib_validate_source`): `Err` says why the source is refused.
    /// `mode` is the effective value, max(all, interface).
    pub fn rp_filter(
        &self,
        src: IpAddr,
        dst: IpAddr,
        iif: &str,
        mark: u32,
        mode: i64,
    ) -> Result<String, String> {
        if mode == 0 {
            return Ok("off".into());
        }
        let back = self.lookup(&Flow {
            src: Some(dst),
            dst: src,
            iif: None,
            mark,
        });
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
            (_, Some(_)) => Ok(format!(
                "{} ok: route back is {what}",
                if mode == 1 { "strict" } else { "loose" }
            )),
        }
    }
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

/// The table's name as `ip route` prints it.
pub fn table_name(t: u32) -> String {
    match t {
        TABLE_LOCAL => "local".into(),
        TABLE_MAIN => "main".into(),
        TABLE_DEFAULT => "default".into(),
        n => n.to_string(),
    }
}

/// A route in `ip route` words, with its table.
pub fn describe(r: &Route) -> String {
    let mut s = r.ip_route_words();
    if let Some(p) = r.prefsrc {
        s.push_str(&format!(" src {p}"));
    }
    s.push_str(&format!(" (table {})", table_name(r.table)));
    s
}
