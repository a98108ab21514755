//! One node as the model sees it: the snapshot plus what is derived from it once (parsed rule
//! sets, the host context the netfilter engine needs, a complete local table).

use ipnet::IpNet;
use netdoctor_model::{
    Address, Backend, Family, Link, NodeSnapshot, Route, RouteKind, RoutingRule, Source,
    TABLE_LOCAL, TABLE_MAIN,
};
use netdoctor_netfilter::{HostContext, Policy, Ruleset};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::OnceLock;

/// One IPv4 rule set of a node and the backend it was saved from.
#[derive(Debug)]
pub struct NodeRuleset {
    pub backend: Backend,
    pub rules: Ruleset,
    /// The set holds at least one rule or a non-ACCEPT policy (an empty backend changes nothing).
    pub active: bool,
}

/// Reads a node's snapshot again, for its rules: a trace over hundreds of nodes keeps only
/// the rules of the nodes on the path (a large cluster's dump is tens of MiB per node), so the
/// caller may leave the rules out of the snapshots it gives and hand this instead.
pub type RulesLoader = Box<dyn Fn() -> Result<NodeSnapshot, String> + Send + Sync>;

struct Loader(RulesLoader);

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RulesLoader")
    }
}

/// A node ready to be traced through.
#[derive(Debug)]
pub struct NodeModel {
    /// The name hops use.
    pub name: String,
    pub snap: NodeSnapshot,
    parsed: OnceLock<ParsedRules>,
    loader: Option<Loader>,
    pub ctx: HostContext,
    /// Routes by table, most specific first, with the local table derived from the addresses
    /// when the snapshot lacks it.
    pub tables: BTreeMap<u32, Vec<Route>>,
    pub policy: Vec<RoutingRule>,
}

/// A node's rule sets, parsed.
#[derive(Debug)]
pub struct ParsedRules {
    pub rulesets: Vec<NodeRuleset>,
    /// Set when the rules were not collected: every hook is then unknown.
    pub missing: Option<String>,
    /// Rule lines that did not parse.
    pub notes: Vec<String>,
}

impl NodeModel {
    pub fn new(name: String, snap: NodeSnapshot) -> NodeModel {
        let ctx = HostContext::from_snapshot(&snap);
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
        // The model routes IPv4.
        let mut policy: Vec<RoutingRule> = snap
            .rules
            .iter()
            .flatten()
            .filter(|r| r.family == Family::Ipv4)
            .cloned()
            .collect();
        if policy.is_empty() {
            let rule = |priority, table| RoutingRule {
                family: Family::Ipv4,
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
            policy = vec![
                rule(0, TABLE_LOCAL),
                rule(32766, TABLE_MAIN),
                rule(32767, 253),
            ];
        }
        policy.sort_by_key(|r| r.priority);
        NodeModel {
            name,
            snap,
            parsed: OnceLock::new(),
            loader: None,
            ctx,
            tables,
            policy,
        }
    }

    /// The node's rule sets, parsed on first use: a trace touches only the nodes on its path.
    pub fn rules(&self) -> &ParsedRules {
        self.parsed.get_or_init(|| self.parse_rules())
    }

    /// The rule sets when some trace has parsed them already.
    pub fn parsed_rules(&self) -> Option<&ParsedRules> {
        self.parsed.get()
    }

    /// Read this node's rules (iptables dumps, nft ruleset) from `loader` when a trace first
    /// needs them, instead of from the snapshot given to [`NodeModel::new`].
    pub fn set_rules_loader(&mut self, loader: RulesLoader) {
        self.loader = Some(Loader(loader));
    }

    fn parse_rules(&self) -> ParsedRules {
        let reread;
        let snap = match &self.loader {
            None => &self.snap,
            Some(Loader(load)) => match load() {
                Ok(s) => {
                    reread = s;
                    &reread
                }
                Err(e) => {
                    return ParsedRules {
                        rulesets: Vec::new(),
                        missing: Some(format!(
                            "the rules of {} could not be read again: {e}",
                            self.name
                        )),
                        notes: Vec::new(),
                    }
                }
            },
        };
        let mut notes = Vec::new();
        let mut rulesets = Vec::new();
        for d in snap.iptables.iter().filter(|d| d.family == Family::Ipv4) {
            let (rules, errors) = netdoctor_netfilter::parse_dump(d);
            for e in errors.iter().take(5) {
                notes.push(format!("{}: {e}", self.name));
            }
            let active = rules.tables.iter().any(|t| {
                t.chains
                    .iter()
                    .any(|c| !c.rules.is_empty() || matches!(c.policy, Some(Policy::Drop)))
            });
            rulesets.push(NodeRuleset {
                backend: d.backend,
                rules,
                active,
            });
        }
        if rulesets.is_empty() {
            // nftables rules: `nft -j list ruleset`, or its text as people paste it.
            let parsed = match (&snap.nft_json, &snap.nft_text) {
                (Some(t), _) => Some(netdoctor_netfilter::parse_nft_json(
                    &t.value,
                    &t.source.to_string(),
                )),
                (None, Some(t)) => Some(netdoctor_netfilter::parse_nft_text(
                    &t.value,
                    &t.source.to_string(),
                )),
                (None, None) => None,
            };
            if let Some((rules, errors)) = parsed {
                for e in errors.iter().take(5) {
                    notes.push(format!("{}: {e}", self.name));
                }
                rulesets.push(NodeRuleset {
                    backend: Backend::Nft,
                    rules,
                    active: true,
                });
            }
        }
        let rules_missing = if rulesets.is_empty() {
            // No dump at all is missing data, not an empty firewall: a collector that ran
            // iptables-save on a host without rules still records an (empty) dump.
            Some(
                snap.not_collected
                    .iter()
                    .find(|n| n.part.starts_with("iptables") || n.part.starts_with("nft"))
                    .map(|n| format!("{} not collected: {}", n.part, n.reason))
                    .unwrap_or_else(|| "the snapshot holds no iptables or nft rules".into()),
            )
        } else {
            None
        };
        ParsedRules {
            rulesets,
            missing: rules_missing,
            notes,
        }
    }

    /// A sysctl as a number.
    pub fn sysctl(&self, key: &str) -> Option<i64> {
        self.snap.sysctl(key)?.value.trim().parse().ok()
    }

    /// The per-interface sysctl key (`flannel.1` is written `flannel/1`).
    pub fn if_key(ifname: &str, what: &str) -> String {
        format!("net.ipv4.conf.{}.{what}", ifname.replace('.', "/"))
    }

    pub fn link(&self, name: &str) -> Option<&Link> {
        self.snap.link(name)
    }

    /// The link's kind; for a pasted `ip addr` or `ifconfig`, which do not show kinds, the
    /// bridges container runtimes and CNIs always create under these names count as bridges.
    pub fn link_kind(&self, name: &str) -> Option<&str> {
        let l = self.link(name)?;
        match l.kind.as_deref() {
            Some(k) => Some(k),
            None if matches!(name, "cni0" | "cbr0" | "docker0" | "kube-bridge") => Some("bridge"),
            None => None,
        }
    }

    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        self.snap.addresses.iter().flatten()
    }

    /// The address record when `ip` is one of the node's own addresses.
    pub fn own_address(&self, ip: IpAddr) -> Option<&Address> {
        self.addresses().find(|a| a.addr == ip)
    }

    /// A bridge whose connected subnet holds `ip`, when `ip` is not the node's own: where a pod
    /// with that address sits.
    pub fn bridge_for(&self, ip: IpAddr) -> Option<&Address> {
        if self.own_address(ip).is_some() {
            return None;
        }
        self.addresses().find(|a| {
            self.link_kind(&a.ifname) == Some("bridge")
                && a.network()
                    .is_some_and(|n| n.contains(&ip) && n.prefix_len() < 31)
        })
    }

    /// The routed veth (Calico's `cali*`, no bridge) a `/32` route sends `ip` to: where a pod
    /// with that address sits.
    pub fn routed_veth_for(&self, ip: IpAddr) -> Option<&str> {
        if self.own_address(ip).is_some() {
            return None;
        }
        self.tables.get(&TABLE_MAIN)?.iter().find_map(|r| {
            let host = r.dst.prefix_len() == if ip.is_ipv4() { 32 } else { 128 };
            let dev = r.dev.as_deref()?;
            let l = self.link(dev)?;
            (host
                && r.dst.contains(&ip)
                && r.gateway.is_none()
                && l.kind.as_deref() == Some("veth")
                && l.master.is_none()
                && !self.addresses().any(|a| a.ifname == dev))
            .then_some(dev)
        })
    }

    /// The subnets of the node's bridges: its pod CIDR as the CNI wired it.
    pub fn bridge_subnets(&self) -> Vec<IpNet> {
        self.addresses()
            .filter(|a| self.link_kind(&a.ifname) == Some("bridge"))
            .filter_map(Address::network)
            .filter(|n| n.prefix_len() < 31)
            .collect()
    }

    /// The bridge port a pod's address sits behind, from the neighbour entry and the FDB.
    pub fn bridge_port(&self, bridge: &str, ip: IpAddr) -> Option<String> {
        let mac = self
            .snap
            .neighbours
            .iter()
            .flatten()
            .find(|n| n.addr == ip && n.dev == bridge)?
            .lladdr
            .clone()?;
        self.snap
            .fdb
            .iter()
            .flatten()
            .find(|f| f.mac.eq_ignore_ascii_case(&mac) && f.master.as_deref() == Some(bridge))
            .map(|f| f.dev.clone())
    }

    /// The MTU of a device.
    pub fn mtu(&self, dev: &str) -> Option<u32> {
        self.link(dev)?.mtu
    }

    /// The UDP port a VXLAN device listens on (the kernel's default is 8472).
    pub fn vxlan_for_port(&self, port: u16) -> Option<&Link> {
        self.snap.links.iter().flatten().find(|l| {
            l.kind.as_deref() == Some("vxlan")
                && l.vxlan.as_ref().and_then(|v| v.dstport).unwrap_or(8472) == port
        })
    }

    /// br_netfilter is active and bridged IPv4 traffic goes through iptables. `Err` names what
    /// is missing from the snapshot.
    pub fn bridge_nf(&self) -> Result<BridgeNf, String> {
        let present = match &self.snap.bridge_nf_present {
            Some(p) => p.value,
            None => self
                .snap
                .sysctl("net.bridge.bridge-nf-call-iptables")
                .is_some(),
        };
        if !present {
            return Ok(BridgeNf::ModuleMissing);
        }
        match self.sysctl("net.bridge.bridge-nf-call-iptables") {
            Some(0) => Ok(BridgeNf::Off),
            Some(_) => Ok(BridgeNf::On),
            None if self.snap.sysctls.is_some() => Ok(BridgeNf::On),
            None => Err("sysctls were not collected".into()),
        }
    }
}

/// Whether bridged traffic traverses iptables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeNf {
    On,
    Off,
    ModuleMissing,
}
