//! [`NodeSnapshot`]: everything netdoctor knows about one node, from any source.

use crate::{
    Address, BgpPeer, BridgePort, ConntrackStats, FdbEntry, IpSet, IpvsService, Link, LinkStats,
    Neighbour, Offload, ProbeResult, Route, RoutingRule, Source, Sourced,
};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Schema tag written into every snapshot. Bump the suffix on an incompatible change.
pub const SNAPSHOT_SCHEMA: &str = "netdoctor.snapshot/v1";

/// One node's network state. Every part is optional: `None` means the part was not collected
/// (and `not_collected` usually says why), an empty collection means it was collected and empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeSnapshot {
    pub schema: String,
    /// The node's hostname, as the source reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// `uname -r`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
    /// RFC 3339 time of collection, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<String>,

    /// Runtime sysctl values, keyed by the dotted name (`net.ipv4.conf.eth0.rp_filter`). An
    /// interface name that contains a dot is written with `/` in its place, as sysctl(8) does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<BTreeMap<String, Sourced<String>>>,
    /// Whether `/proc/sys/net/bridge` exists, i.e. br_netfilter is active (loaded or built in).
    /// `None` when the source cannot tell (a partial `sysctl` paste).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_nf_present: Option<Sourced<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modules: Option<Modules>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Link>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<Address>>,
    /// Routes of every table that was collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<Route>>,
    /// True when `routes` covers every table (`ip route show table all`, a netlink dump); false
    /// for `ip route` / `route -n`, which show the main table only.
    #[serde(default)]
    pub routes_all_tables: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<RoutingRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbours: Option<Vec<Neighbour>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fdb: Option<Vec<FdbEntry>>,
    /// Bridge ports with their hairpin mode, when collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_ports: Option<Vec<BridgePort>>,

    /// Raw rule dumps, one per backend and family. The netfilter crate parses them.
    #[serde(default)]
    pub iptables: Vec<IptablesDump>,
    /// `nft -j list ruleset` output, raw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nft_json: Option<Sourced<String>>,
    /// `nft list ruleset` output, raw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nft_text: Option<Sourced<String>>,
    /// `iptables -L -n -v` style listings (not dumps; best effort).
    #[serde(default)]
    pub iptables_listings: Vec<Sourced<String>>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<Conntrack>,
    /// Whether the `conntrack` binary is installed (kube-proxy needs it to flush UDP entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack_tool: Option<Sourced<bool>>,
    /// `iptables --version` output, e.g. `iptables v1.8.9 (nf_tables)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iptables_version: Option<Sourced<String>>,
    /// Versions of the kernel and the tools, by component (`kernel`, `iptables`, `kubelet`,
    /// `kube-proxy`, `kubectl`, `docker`, `containerd`, `flannel`, `calico`, `systemd`, ...):
    /// the version as printed (`v1.8.4`, `5.4.0-42-generic`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub versions: BTreeMap<String, Sourced<String>>,
    /// `conntrack -S`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack_stats: Option<ConntrackStats>,
    /// Device counters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_stats: Vec<LinkStats>,
    /// Device offload features.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offloads: Vec<Offload>,
    /// IPVS services (kube-proxy's ipvs mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipvs: Option<Vec<IpvsService>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipsets: Option<Vec<IpSet>>,
    /// The CNI's BGP peers and their state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp_peers: Option<Vec<BgpPeer>>,
    /// Probes someone ran and pasted (ping, curl, nslookup/dig, nc, iperf3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeResult>,

    /// Node configuration files: sysctl.conf and sysctl.d, modules-load.d, CNI config,
    /// `/run/flannel/subnet.env`, `/etc/docker/daemon.json`. Paths are as on the node (absolute).
    #[serde(default)]
    pub files: Vec<ConfigFile>,
    /// Whether the boot-time sysctl / modules-load directories were read (so an absent file
    /// really is absent). False for a bundle without `root/`.
    #[serde(default)]
    pub files_collected: bool,

    /// Kernel, journal and component logs.
    #[serde(default)]
    pub logs: Vec<LogFile>,

    /// What the user or the node's own files say about the cluster.
    #[serde(default)]
    pub hints: ClusterHints,

    /// Cluster objects that came with the evidence (a bundle's `kube/`: kubectl JSON or YAML),
    /// raw; the `kube` crate reads them into the cluster view.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_objects: Vec<Sourced<String>>,

    /// Parts that could not be collected, and why.
    #[serde(default)]
    pub not_collected: Vec<NotCollected>,
    /// Parts collected only in part (a cut paste, one device, a filtered listing): what they
    /// show is there, but what they do not show may be there too. A check never concludes
    /// that something is missing from a partial part.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partial: Vec<NotCollected>,
    /// Which input was read as what (for a bundle: each file).
    #[serde(default)]
    pub inputs: Vec<InputSummary>,
    /// Lines that could not be parsed. Never silently dropped: they are reported.
    #[serde(default)]
    pub problems: Vec<ParseProblem>,
}

impl Default for NodeSnapshot {
    fn default() -> Self {
        NodeSnapshot {
            schema: SNAPSHOT_SCHEMA.to_string(),
            hostname: None,
            kernel_release: None,
            collected_at: None,
            sysctls: None,
            bridge_nf_present: None,
            modules: None,
            links: None,
            addresses: None,
            routes: None,
            routes_all_tables: false,
            rules: None,
            neighbours: None,
            fdb: None,
            bridge_ports: None,
            iptables: Vec::new(),
            nft_json: None,
            nft_text: None,
            iptables_listings: Vec::new(),
            conntrack: None,
            conntrack_tool: None,
            iptables_version: None,
            versions: BTreeMap::new(),
            conntrack_stats: None,
            link_stats: Vec::new(),
            offloads: Vec::new(),
            ipvs: None,
            ipsets: None,
            bgp_peers: None,
            probes: Vec::new(),
            files: Vec::new(),
            files_collected: false,
            logs: Vec::new(),
            hints: ClusterHints::default(),
            cluster_objects: Vec::new(),
            not_collected: Vec::new(),
            partial: Vec::new(),
            inputs: Vec::new(),
            problems: Vec::new(),
        }
    }
}

impl NodeSnapshot {
    /// A runtime sysctl value by dotted name.
    pub fn sysctl(&self, key: &str) -> Option<&Sourced<String>> {
        self.sysctls.as_ref()?.get(key)
    }

    /// The link called `name`.
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.as_ref()?.iter().find(|l| l.name == name)
    }

    /// Why `part` (`routes`, `links`, `addresses`, `fdb`, `neighbours`, `sysctls`, `modules`,
    /// `rules`) is known only in part, if it is.
    pub fn partial(&self, part: &str) -> Option<&str> {
        self.partial
            .iter()
            .find(|p| p.part == part)
            .map(|p| p.reason.as_str())
    }

    /// A configuration file by its path on the node.
    pub fn file(&self, path: &str) -> Option<&ConfigFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// Loaded and built-in kernel modules.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Modules {
    /// Loadable modules currently loaded (`/proc/modules`, `lsmod`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loaded: Option<BTreeMap<String, Source>>,
    /// Modules compiled into the kernel (`modules.builtin`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<Vec<String>>,
    /// Names under `/sys/module` (loaded or built in with parameters), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sys_module: Option<Vec<String>>,
}

/// Which iptables backend a dump belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Legacy,
    Nft,
    /// A pasted dump that does not say.
    Unknown,
}

/// Address family of a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    /// For serde defaults.
    pub fn ipv4() -> Family {
        Family::Ipv4
    }
}

/// One `iptables-save` output, raw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IptablesDump {
    pub backend: Backend,
    pub family: Family,
    /// Shared, not copied, by the rule sets parsed from it (a large cluster's dump is tens of
    /// MiB, and a `trace` holds one per node).
    pub text: Arc<String>,
    pub source: Source,
}

/// `nf_conntrack_count` and `nf_conntrack_max`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Conntrack {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Sourced<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Sourced<u64>>,
}

/// A node configuration file, whole. Kept verbatim so that `fix` can preserve every line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfigFile {
    /// Absolute path on the node: `/usr/lib/sysctl.d/00-system.conf`.
    pub path: String,
    /// For a symlink, its target as read (`/dev/null` masks a vendor file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symlink_target: Option<String>,
    /// The content; empty for a symlink to `/dev/null`.
    pub content: String,
    /// Where it was read: the real path on the collecting machine or a bundle path.
    pub source: Source,
}

/// A log, or the part of one that was kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LogFile {
    /// The name quoted in evidence (`dmesg.txt`, `journal`, `dmesg`).
    pub name: String,
    /// (1-based line number in the original, text). Lines may be a subset.
    pub lines: Vec<(u32, String)>,
}

/// What is known about the cluster this node belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClusterHints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<Sourced<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Sourced<String>>")]
    pub cluster_cidr: Option<Sourced<IpNet>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Sourced<String>>")]
    pub service_cidr: Option<Sourced<IpNet>>,
    /// This node's own pod CIDR (from `subnet.env`, the Node object, or the user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Sourced<String>>")]
    pub pod_cidr: Option<Sourced<IpNet>>,
    /// `flannel`, `calico`, `cilium`, `weave`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni: Option<Sourced<String>>,
    /// `vxlan`, `host-gw`, `ipip`, `wireguard`, `bgp`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Sourced<String>>,
    /// Overlay MTU the CNI was configured with (flannel `FLANNEL_MTU`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<Sourced<u32>>,
    /// The cluster DNS Service's address the kubelet gives pods (`--cluster-dns`,
    /// `clusterDNS`): a Service IP, so it belongs in the service range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_dns: Option<Sourced<std::net::IpAddr>>,
}

/// A part of the snapshot that is missing, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NotCollected {
    /// `sysctls`, `routes`, `iptables-legacy`, ...
    pub part: String,
    pub reason: String,
}

/// How one input was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InputSummary {
    pub source: String,
    /// `ip route`, `sysctl -a`, `iptables-save`, `not recognised`, ...
    pub read_as: String,
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ParseProblem {
    pub source: Source,
    pub message: String,
}
