//! One node as the model sees it: the snapshot plus what is derived from it once (parsed rule
//! sets, the host context the netfilter engine needs, a complete local table).

pub use netdoctor_datapath::devices::BridgeNf;
use netdoctor_datapath::{devices, rules, NodeRules, Routing};
use netdoctor_model::{Address, Link, NodeSnapshot};
use netdoctor_netfilter::HostContext;
use std::net::IpAddr;
use std::sync::OnceLock;

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
    parsed: OnceLock<NodeRules>,
    loader: Option<Loader>,
    pub ctx: HostContext,
    /// The tables and policy rules, as the checks see them too.
    pub routing: Routing,
}

impl NodeModel {
    pub fn new(name: String, snap: NodeSnapshot) -> NodeModel {
        NodeModel {
            name,
            ctx: HostContext::from_snapshot(&snap),
            routing: Routing::from_snapshot(&snap),
            snap,
            parsed: OnceLock::new(),
            loader: None,
        }
    }

    /// The node's rule sets, parsed on first use: a trace touches only the nodes on its path.
    pub fn rules(&self) -> &NodeRules {
        self.parsed.get_or_init(|| self.parse_rules())
    }

    /// The rule sets when some trace has parsed them already.
    pub fn parsed_rules(&self) -> Option<&NodeRules> {
        self.parsed.get()
    }

    /// Read this node's rules (iptables dumps, nft ruleset) from `loader` when a trace first
    /// needs them, instead of from the snapshot given to [`NodeModel::new`].
    pub fn set_rules_loader(&mut self, loader: RulesLoader) {
        self.loader = Some(Loader(loader));
    }

    fn parse_rules(&self) -> NodeRules {
        let gathered = match &self.loader {
            None => rules::gather(&self.snap),
            Some(Loader(load)) => match load() {
                Ok(s) => rules::gather(&s),
                Err(e) => NodeRules {
                    missing: Some(format!(
                        "the rules of {} could not be read again: {e}",
                        self.name
                    )),
                    ..NodeRules::default()
                },
            },
        };
        NodeRules {
            notes: gathered
                .notes
                .iter()
                .map(|n| format!("{}: {n}", self.name))
                .collect(),
            ..gathered
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
        devices::link_kind(self.link(name)?)
    }

    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        self.snap.addresses.iter().flatten()
    }

    /// The address record when `ip` is one of the node's own addresses.
    pub fn own_address(&self, ip: IpAddr) -> Option<&Address> {
        self.addresses().find(|a| a.addr == ip)
    }

    /// The MTU of a device.
    pub fn mtu(&self, dev: &str) -> Option<u32> {
        self.link(dev)?.mtu
    }

    /// The VXLAN device that receives UDP packets to `port`.
    pub fn vxlan_for_port(&self, port: u16) -> Option<&Link> {
        devices::vxlan_for_port(&self.snap, port)
    }

    /// br_netfilter is active and bridged IPv4 traffic goes through iptables. `Err` names what
    /// is missing from the snapshot.
    pub fn bridge_nf(&self) -> Result<BridgeNf, netdoctor_datapath::devices::BridgeNfUnknown> {
        devices::bridge_nf(&self.snap)
    }
}
