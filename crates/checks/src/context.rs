//! What every check sees: the snapshot, the cluster facts resolved from flags, `cluster.json` and
//! the node's own files, and the boot-time configuration computed from those files.

use ipnet::IpNet;
use netdoctor_bootconf::{boot_modules, dropin_name, BootModule, BootSysctl, Order};
use netdoctor_kube::{Cluster, Node};
use netdoctor_model::{
    Address, ClusterHints, Input, Link, NodeSnapshot, Route, RouteKind, Source, Sourced, TABLE_MAIN,
};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

pub use netdoctor_datapath::tunnel_overhead;
use netdoctor_datapath::{rules::NodeRules, Routing};

/// Facts the user gives on the command line. They win over everything the snapshot says.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub node_name: Option<String>,
    pub cluster_cidr: Option<IpNet>,
    pub service_cidr: Option<IpNet>,
    pub pod_cidr: Option<IpNet>,
    pub cni: Option<String>,
    pub backend: Option<String>,
    /// The cluster's objects (`--kube-objects`, or the live API). Shared, so that one read
    /// serves every node's checks.
    pub cluster: Option<Arc<Cluster>>,
}

/// The input of every check.
pub struct Context<'a> {
    pub snap: &'a NodeSnapshot,
    /// Cluster facts, each with where it came from: flags, then the snapshot's hints (a bundle's
    /// `cluster.json`), then `/run/flannel/subnet.env`.
    pub hints: ClusterHints,
    /// What systemd-sysctl applies at boot, when the node's files were collected.
    pub boot: Option<BootSysctl>,
    /// What `sysctl --system` applies (it also reads `/etc/sysctl.conf`, last).
    pub boot_procps: Option<BootSysctl>,
    /// Modules loaded at boot by modules-load.d, when the node's files were collected.
    pub boot_modules: Option<BTreeMap<String, BootModule>>,
    /// The address flannel's `subnet.env` gives the node's bridge (`FLANNEL_SUBNET=10.244.1.1/24`).
    pub flannel_subnet: Option<Sourced<(IpAddr, u8)>>,
    /// The cluster's objects, when given.
    pub cluster: Option<Arc<Cluster>>,
    /// The name of this node's Node object, identified per the contract (`--node-name`, the
    /// hostname, or the Node owning one of this node's addresses).
    pub kube_node: Option<String>,
    /// The node's routing and rule sets, built when a check first asks.
    routing: OnceLock<Routing>,
    rules: OnceLock<NodeRules>,
}

impl<'a> Context<'a> {
    pub fn new(snap: &'a NodeSnapshot, opts: &Options) -> Self {
        let mut hints = snap.hints.clone();
        let flag = |name: &str| Source::live(format!("--{name}"));
        if let Some(v) = &opts.node_name {
            hints.node_name = Some(Sourced::new(v.clone(), flag("node-name")));
        }
        if let Some(v) = opts.cluster_cidr {
            hints.cluster_cidr = Some(Sourced::new(v.trunc(), flag("cluster-cidr")));
        }
        if let Some(v) = opts.service_cidr {
            hints.service_cidr = Some(Sourced::new(v.trunc(), flag("service-cidr")));
        }
        if let Some(v) = opts.pod_cidr {
            hints.pod_cidr = Some(Sourced::new(v.trunc(), flag("pod-cidr")));
        }
        if let Some(v) = &opts.cni {
            hints.cni = Some(Sourced::new(v.to_lowercase(), flag("cni")));
        }
        if let Some(v) = &opts.backend {
            hints.backend = Some(Sourced::new(v.to_lowercase(), flag("backend")));
        }
        let kube_node = opts
            .cluster
            .as_deref()
            .and_then(|c| from_cluster(c, snap, &mut hints));
        let flannel_subnet = subnet_env(snap, &mut hints);
        let have_files = snap.files_collected || !snap.files.is_empty();
        Context {
            snap,
            hints,
            boot: have_files.then(|| BootSysctl::evaluate(&snap.files, Order::Systemd)),
            boot_procps: have_files.then(|| BootSysctl::evaluate(&snap.files, Order::Procps)),
            boot_modules: have_files.then(|| boot_modules(&snap.files)),
            flannel_subnet,
            cluster: opts.cluster.clone(),
            kube_node,
            routing: OnceLock::new(),
            rules: OnceLock::new(),
        }
    }

    /// The node's nftables rules (`nft -j list ruleset`, or its text as pasted), their read
    /// problems, and where they came from; rule lines count in the file the text sits in.
    pub fn nft_rules(
        &self,
    ) -> Option<(
        netdoctor_netfilter::Ruleset,
        Vec<netdoctor_netfilter::ParseError>,
        String,
    )> {
        netdoctor_datapath::rules::nft_rules(self.snap)
    }

    /// The node's policy routing and tables, as `trace` sees them.
    pub fn routing(&self) -> &Routing {
        self.routing
            .get_or_init(|| Routing::from_snapshot(self.snap))
    }

    /// Every IPv4 rule set of the node, as `trace` sees them.
    pub fn rules(&self) -> &NodeRules {
        self.rules
            .get_or_init(|| netdoctor_datapath::rules::gather(self.snap))
    }

    /// Which kinds of evidence this diagnosis has (for the reasoning steps).
    pub fn available_inputs(&self) -> Vec<Input> {
        let s = self.snap;
        let mut v = Vec::new();
        let mut add = |yes: bool, i: Input| {
            if yes {
                v.push(i)
            }
        };
        add(s.sysctls.is_some(), Input::Sysctls);
        add(
            s.modules.is_some() || s.bridge_nf_present.is_some(),
            Input::Modules,
        );
        add(s.links.is_some(), Input::Links);
        add(s.addresses.is_some(), Input::Addresses);
        add(s.routes.is_some(), Input::Routes);
        add(s.fdb.is_some() || s.neighbours.is_some(), Input::Fdb);
        add(
            !s.iptables.is_empty() || s.nft_json.is_some() || s.nft_text.is_some(),
            Input::Rules,
        );
        add(s.conntrack.is_some(), Input::Conntrack);
        add(!s.logs.is_empty(), Input::Logs);
        add(s.files_collected, Input::NodeFiles);
        add(self.cluster.is_some(), Input::ClusterObjects);
        add(
            s.kernel_release.is_some() || s.iptables_version.is_some(),
            Input::Versions,
        );
        add(
            self.hints.cluster_cidr.is_some() || self.hints.cni.is_some(),
            Input::Context,
        );
        v
    }

    /// The cluster's objects, when given.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_deref()
    }

    /// This node's Node object.
    pub fn kube_node(&self) -> Option<&Node> {
        self.cluster()?.node(self.kube_node.as_deref()?)
    }

    /// The node's name per the contract: `--node-name`, then what the inputs say, then the
    /// hostname.
    pub fn node_name(&self) -> String {
        self.hints
            .node_name
            .as_ref()
            .map(|s| s.value.clone())
            .or_else(|| self.snap.hostname.clone())
            .unwrap_or_else(|| "unknown".to_string())
    }

    /// A runtime sysctl value.
    pub fn sysctl(&self, key: &str) -> Option<&'a Sourced<String>> {
        self.snap.sysctl(key)
    }

    /// Every runtime sysctl, when collected.
    pub fn sysctls_all(&self) -> Option<&'a BTreeMap<String, Sourced<String>>> {
        self.snap.sysctls.as_ref()
    }

    /// `key = value (where)` for evidence.
    pub fn sysctl_evidence(&self, key: &str) -> Option<String> {
        self.sysctl(key)
            .map(|s| format!("{key} = {} (runtime, {})", s.value, s.source))
    }

    /// The CNI in use: given, or recognised from its devices.
    pub fn cni(&self) -> Option<String> {
        if let Some(c) = &self.hints.cni {
            return Some(c.value.clone());
        }
        let links = self.snap.links.as_ref()?;
        let has = |p: fn(&str) -> bool| links.iter().any(|l| p(&l.name));
        if has(|n| n.starts_with("flannel")) {
            Some("flannel".into())
        } else if has(|n| n.starts_with("cali") || n == "vxlan.calico") {
            Some("calico".into())
        } else if has(|n| n.starts_with("cilium_")) {
            Some("cilium".into())
        } else if has(|n| n == "weave") {
            Some("weave".into())
        } else {
            None
        }
    }

    /// Whether the cluster has IPv6 pod or service ranges (dual-stack or IPv6-only).
    pub fn ipv6_cluster(&self) -> bool {
        [
            &self.hints.cluster_cidr,
            &self.hints.service_cidr,
            &self.hints.pod_cidr,
        ]
        .into_iter()
        .flatten()
        .any(|c| matches!(c.value, IpNet::V6(_)))
    }

    pub fn links(&self) -> &[Link] {
        self.snap.links.as_deref().unwrap_or(&[])
    }

    pub fn addresses(&self) -> &[Address] {
        self.snap.addresses.as_deref().unwrap_or(&[])
    }

    pub fn routes(&self) -> &[Route] {
        self.snap.routes.as_deref().unwrap_or(&[])
    }

    /// Devices of the default route(s) in the main table: the node's uplink.
    pub fn default_route_devs(&self) -> Vec<&str> {
        self.routes()
            .iter()
            .filter(|r| r.table == TABLE_MAIN && r.dst.prefix_len() == 0)
            .filter_map(|r| r.dev.as_deref())
            .collect()
    }

    /// The route a packet this node sends to `addr` takes, through the policy rules and every
    /// table they name (the local table first), as the kernel looks it up.
    pub fn route_to(&self, addr: IpAddr) -> Option<&Route> {
        self.routing().route_to(addr)
    }

    /// The evidence line for a link (`flannel.1 mtu 1450 (ip-link.txt:8)`).
    pub fn link_evidence(l: &Link) -> String {
        let mut s = l.name.clone();
        if let Some(k) = &l.kind {
            s.push_str(&format!(" ({k})"));
        }
        if let Some(m) = l.mtu {
            s.push_str(&format!(" mtu {m}"));
        }
        format!("{s} [{}]", l.source)
    }

    /// The evidence line for an address.
    pub fn address_evidence(a: &Address) -> String {
        format!(
            "{} holds {}/{} [{}]",
            a.ifname, a.addr, a.prefix_len, a.source
        )
    }

    /// Persistent-fix lines that set `key = value` at boot so that it wins over every file the
    /// node has (by the precedence `bootconf` computes), never touching vendor files.
    pub fn persistent_sysctl(&self, key: &str, value: &str) -> Vec<String> {
        let name = dropin_name(&self.snap.files);
        let path = format!("/etc/sysctl.d/{name}");
        let mut out = vec![
            format!("echo '{key} = {value}' >> {path}   # sorts after every sysctl file on the node, so it wins at boot"),
            "sysctl --system   # apply now, the way boot will".to_string(),
        ];
        if !self.snap.files_collected {
            out.push(format!(
                "(the node's sysctl files were not read; check that no file sorting after {name} sets {key})"
            ));
        }
        if let Some(p) = &self.boot_procps {
            if let Some(a) = p.value(key) {
                if a.file == "/etc/sysctl.conf" && a.value != value {
                    out.push(format!(
                        "also change {} (sets {key} = {}): `sysctl --system` reads /etc/sysctl.conf last",
                        a.location(),
                        a.value
                    ));
                }
            }
        }
        out
    }
}

/// Identify this node in the cluster and fill the hints the user did not give from its Node
/// object: the name, the pod CIDR, the CNI and backend its annotations announce.
fn from_cluster(c: &Cluster, snap: &NodeSnapshot, hints: &mut ClusterHints) -> Option<String> {
    let local: Vec<IpAddr> = snap.addresses.iter().flatten().map(|a| a.addr).collect();
    let hint = hints.node_name.as_ref().map(|n| n.value.as_str());
    let node = c.identify(hint, snap.hostname.as_deref(), &local)?;
    let src = Source::live(format!("Node {} [{}]", node.name, node.source));
    if hints.node_name.is_none() {
        hints.node_name = Some(Sourced::new(node.name.clone(), src.clone()));
    }
    if let (None, Some(p)) = (&hints.pod_cidr, node.pod_cidr_v4()) {
        hints.pod_cidr = Some(Sourced::new(p, src.clone()));
    }
    if let (None, Some(cni)) = (&hints.cni, &node.cni) {
        hints.cni = Some(Sourced::new(cni.clone(), src.clone()));
    }
    if let (None, Some(b)) = (&hints.backend, &node.backend) {
        hints.backend = Some(Sourced::new(b.clone(), src));
    }
    Some(node.name.clone())
}

/// Read `/run/flannel/subnet.env` from the node's files, filling hints the user did not give.
fn subnet_env(snap: &NodeSnapshot, hints: &mut ClusterHints) -> Option<Sourced<(IpAddr, u8)>> {
    let file = snap.file("/run/flannel/subnet.env")?;
    let mut bridge = None;
    for (i, line) in file.content.lines().enumerate() {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let src = Source::at(file.source.file.clone(), line_no);
        let Some((k, v)) = line.trim().split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "FLANNEL_NETWORK" => {
                if let (None, Ok(n)) = (&hints.cluster_cidr, v.parse::<IpNet>()) {
                    hints.cluster_cidr = Some(Sourced::new(n.trunc(), src));
                }
            }
            "FLANNEL_SUBNET" => {
                if let Ok(n) = v.parse::<IpNet>() {
                    if hints.pod_cidr.is_none() {
                        hints.pod_cidr = Some(Sourced::new(n.trunc(), src.clone()));
                    }
                    bridge = Some(Sourced::new((n.addr(), n.prefix_len()), src));
                }
            }
            "FLANNEL_MTU" => {
                if let (None, Ok(m)) = (&hints.mtu, v.parse::<u32>()) {
                    hints.mtu = Some(Sourced::new(m, src));
                }
            }
            _ => {}
        }
    }
    if hints.cni.is_none() {
        hints.cni = Some(Sourced::new("flannel".into(), file.source.clone()));
    }
    bridge
}

/// Interfaces that belong to a CNI or container runtime rather than to the host's own network.
pub fn is_cni_device(name: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "cni",
        "cbr0",
        "docker",
        "flannel",
        "cali",
        "tunl",
        "vxlan",
        "cilium_",
        "lxc",
        "weave",
        "kube-",
        "veth",
        "genev_sys",
        "nodelocaldns",
        "wireguard.cali",
        "flannel-wg",
        "br-",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Whether a route is one a CNI or the kernel made for pod traffic rather than a host network.
pub fn is_host_route(r: &Route) -> bool {
    r.table == TABLE_MAIN
        && r.kind == RouteKind::Unicast
        && r.dst.prefix_len() > 0
        && r.dev
            .as_deref()
            .is_some_and(|d| !is_cni_device(d) && d != "lo")
}
