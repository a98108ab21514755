//! Which probes to send: from this node's state (its overlay devices, routes and MTUs) and the
//! cluster's objects (the other nodes, their pods, the Services and the cluster DNS), or only to
//! the targets the user names. Nothing else is ever probed.

use ipnet::IpNet;
use netdoctor_datapath::Routing;
use netdoctor_kube::{Cluster, Node};
use netdoctor_model::{Link, NodeSnapshot, ProbeKind, Route};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

/// How many probes, how long, and which.
#[derive(Debug, Clone)]
pub struct Options {
    /// The kinds to run (empty: all).
    pub kinds: Vec<ProbeKind>,
    /// Probe only these (empty: every target the cluster objects name).
    pub only: Vec<Target>,
    /// How long to wait for each answer.
    pub timeout: Duration,
    /// How many times an echo is sent while it meets silence.
    pub attempts: u32,
    /// Pods probed on each other node.
    pub pods_per_node: usize,
    /// At most this many targets of each kind.
    pub max_targets: usize,
    /// The cluster's DNS domain.
    pub cluster_domain: String,
    /// Probes in flight at once.
    pub parallel: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            kinds: Vec::new(),
            only: Vec::new(),
            timeout: Duration::from_secs(1),
            attempts: 2,
            pods_per_node: 1,
            max_targets: 50,
            cluster_domain: "cluster.local".into(),
            parallel: 16,
        }
    }
}

impl Options {
    fn wants(&self, kind: ProbeKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }
}

/// A target the user names with `--to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `node/NAME`: the overlay, MTU and pods of that node.
    Node(String),
    /// `pod/NAMESPACE/NAME`.
    Pod { namespace: String, name: String },
    /// `svc/NAMESPACE/NAME`.
    Service { namespace: String, name: String },
    /// An address: an ICMP echo.
    Addr(Ipv4Addr),
    /// `ADDRESS:PORT`: a TCP connect.
    AddrPort(SocketAddr),
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let two = |rest: &str, what: &str| -> Result<(String, String), String> {
            match rest.split_once('/') {
                Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
                    Ok((ns.to_string(), name.to_string()))
                }
                _ if !rest.is_empty() && !rest.contains('/') => {
                    Ok(("default".to_string(), rest.to_string()))
                }
                _ => Err(format!("{s:?}: expected {what}/NAMESPACE/NAME")),
            }
        };
        if let Some(n) = s.strip_prefix("node/") {
            return if n.is_empty() {
                Err(format!("{s:?}: expected node/NAME"))
            } else {
                Ok(Target::Node(n.to_string()))
            };
        }
        if let Some(rest) = s.strip_prefix("pod/") {
            let (namespace, name) = two(rest, "pod")?;
            return Ok(Target::Pod { namespace, name });
        }
        if let Some(rest) = s
            .strip_prefix("svc/")
            .or_else(|| s.strip_prefix("service/"))
        {
            let (namespace, name) = two(rest, "svc")?;
            return Ok(Target::Service { namespace, name });
        }
        if let Ok(a) = s.parse::<Ipv4Addr>() {
            return Ok(Target::Addr(a));
        }
        match s.parse::<SocketAddr>() {
            Ok(sa) if sa.is_ipv4() => Ok(Target::AddrPort(sa)),
            _ => Err(format!(
                "{s:?}: expected node/NAME, pod/NAMESPACE/NAME, svc/NAMESPACE/NAME, an IPv4 address or ADDRESS:PORT"
            )),
        }
    }
}

/// An overlay endpoint on another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vtep {
    pub address: Ipv4Addr,
    /// The overlay device the route sends it through (`flannel.1`).
    pub device: String,
    /// `VXLAN UDP 8472 to 10.0.0.12`.
    pub transport: String,
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Echo {
        dst: Ipv4Addr,
    },
    Overlay {
        underlay: Ipv4Addr,
        vtep: Option<Vtep>,
        bgp: bool,
    },
    Connect {
        dst: SocketAddr,
    },
    Mtu {
        dst: Ipv4Addr,
        device: String,
        claimed: u32,
    },
    Dns {
        server: SocketAddr,
        name: String,
    },
}

impl Action {
    /// What is sent, in words a person can repeat by hand.
    pub fn sent(&self) -> String {
        match self {
            Action::Echo { dst } => format!("ICMP echo, 84 bytes, to {dst} (ping -c 2 {dst})"),
            Action::Overlay {
                underlay,
                vtep: Some(v),
                ..
            } => format!(
                "ICMP echo to {underlay} (the underlay), then to {} through {} ({}) (ping -c 2 {})",
                v.address, v.device, v.transport, v.address
            ),
            Action::Overlay {
                underlay,
                bgp: true,
                ..
            } => format!("ICMP echo to {underlay}, then a TCP connect to {underlay}:179 (BGP)"),
            Action::Overlay { underlay, .. } => format!("ICMP echo to {underlay}"),
            Action::Connect { dst } => format!("TCP connect to {dst} (nc -zv -w 1 {} {})", dst.ip(), dst.port()),
            Action::Mtu {
                dst,
                device,
                claimed,
            } => format!(
                "ICMP echoes with DF set to {dst}, up to {claimed} bytes ({device}'s MTU), bisected (ping -M do -s {} {dst})",
                claimed.saturating_sub(28)
            ),
            Action::Dns { server, name } => {
                format!("DNS query A {name} to {server} (dig @{} {name})", server.ip())
            }
        }
    }
}

/// One probe to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub kind: ProbeKind,
    /// The target in words.
    pub to: String,
    /// The node the target lives on.
    pub node: Option<String>,
    pub action: Action,
    /// Send it from this pod network namespace (its path, and the pod's address there) rather
    /// than from the node: a pod's packet is forwarded by the node, the node's own is not.
    pub from_netns: Option<(std::path::PathBuf, Ipv4Addr)>,
    /// What the user named to get it (for `--to` filtering).
    pod: Option<(String, String)>,
    service: Option<(String, String)>,
}

impl Planned {
    fn new(kind: ProbeKind, to: String, node: Option<&str>, action: Action) -> Planned {
        Planned {
            kind,
            to,
            node: node.map(str::to_string),
            action,
            from_netns: None,
            pod: None,
            service: None,
        }
    }
}

/// What the plan needs of this node.
pub struct NodeView<'a> {
    /// This node's Node object, when the cluster objects have it.
    pub me: Option<&'a Node>,
    pub snapshot: &'a NodeSnapshot,
}

impl NodeView<'_> {
    fn links(&self) -> &[Link] {
        self.snapshot.links.as_deref().unwrap_or(&[])
    }

    fn link(&self, name: &str) -> Option<&Link> {
        self.snapshot.link(name)
    }

    /// The route the node's own packets to `dst` take, through its policy rules and tables.
    fn route(&self, dst: Ipv4Addr) -> Option<Route> {
        Routing::from_snapshot(self.snapshot)
            .route_to(IpAddr::V4(dst))
            .cloned()
    }

    fn is_overlay(&self, dev: &str) -> bool {
        self.link(dev).is_some_and(|l| {
            matches!(
                l.kind.as_deref(),
                Some("vxlan" | "ipip" | "wireguard" | "geneve")
            )
        })
    }

    fn transport(&self, dev: &str, underlay: Ipv4Addr) -> String {
        let Some(l) = self.link(dev) else {
            return format!("via {dev}");
        };
        match l.kind.as_deref() {
            Some("vxlan") => {
                let port = l.vxlan.as_ref().and_then(|v| v.dstport);
                match port {
                    Some(p) => format!("VXLAN UDP {p} to {underlay}"),
                    None => format!("VXLAN to {underlay}"),
                }
            }
            Some("ipip") => format!("IPIP (IP protocol 4) to {underlay}"),
            Some("wireguard") => format!("WireGuard to {underlay}"),
            Some(k) => format!("{k} to {underlay}"),
            None => format!("via {dev}"),
        }
    }

    /// The first flannel-style VXLAN device, for a remote node whose route is missing.
    fn overlay_device(&self) -> Option<&Link> {
        self.links()
            .iter()
            .find(|l| l.kind.as_deref() == Some("vxlan") && l.name.starts_with("flannel"))
    }

    fn mtu_of(&self, dev: &str) -> Option<u32> {
        self.link(dev).and_then(|l| l.mtu)
    }

    /// This node's own IPv4 address for NodePorts.
    fn node_ip(&self) -> Option<Ipv4Addr> {
        self.me.and_then(|n| match n.internal_ip() {
            Some(IpAddr::V4(a)) => Some(a),
            _ => None,
        })
    }
}

fn v4(a: Option<IpAddr>) -> Option<Ipv4Addr> {
    match a {
        Some(IpAddr::V4(a)) => Some(a),
        _ => None,
    }
}

/// The probes to send, and what could not be planned (with why).
pub fn plan(
    view: &NodeView,
    cluster: Option<&Cluster>,
    opts: &Options,
) -> (Vec<Planned>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let me = view.me.map(|n| n.name.as_str());
    if let Some(c) = cluster {
        let others: Vec<&Node> = c
            .nodes
            .iter()
            .filter(|n| Some(n.name.as_str()) != me)
            .filter(|n| {
                opts.only.is_empty()
                    || opts
                        .only
                        .iter()
                        .any(|t| matches!(t, Target::Node(x) if *x == n.name))
                    || opts.only.iter().any(|t| matches!(t, Target::Pod { .. }))
            })
            .collect();
        if me.is_none() {
            skipped.push("this node is not among the cluster's Nodes (pass --node-name): every Node is probed as another node".into());
        }
        for n in others.iter().take(opts.max_targets) {
            node_probes(view, n, opts, &mut out, &mut skipped);
        }
        if opts.wants(ProbeKind::Pod) {
            pod_probes(c, me, &others, opts, &mut out);
        }
        if opts.wants(ProbeKind::Service) {
            service_probes(view, c, opts, &mut out, &mut skipped);
        }
    } else if opts.only.is_empty() {
        skipped.push("no cluster objects (pass --kube-objects or --kubeconfig, or name targets with --to): nothing to probe but what --to names".into());
    }
    if opts.wants(ProbeKind::Dns) {
        dns_probe(view, cluster, opts, &mut out, &mut skipped);
    }
    // Only what the user named.
    if !opts.only.is_empty() {
        out.retain(|p| {
            opts.only.iter().any(|t| match t {
                Target::Node(n) => {
                    p.node.as_deref() == Some(n) && p.pod.is_none() && p.service.is_none()
                }
                Target::Pod { namespace, name } => {
                    p.pod.as_ref() == Some(&(namespace.clone(), name.clone()))
                }
                Target::Service { namespace, name } => {
                    p.service.as_ref() == Some(&(namespace.clone(), name.clone()))
                }
                Target::Addr(_) | Target::AddrPort(_) => false,
            })
        });
        for t in &opts.only {
            match t {
                Target::Addr(a) => {
                    let (kind, node) = describe(cluster, IpAddr::V4(*a));
                    out.push(Planned::new(
                        kind,
                        a.to_string(),
                        node.as_deref(),
                        Action::Echo { dst: *a },
                    ));
                }
                Target::AddrPort(sa) => out.push(Planned::new(
                    ProbeKind::Service,
                    sa.to_string(),
                    None,
                    Action::Connect { dst: *sa },
                )),
                Target::Node(n) if cluster.and_then(|c| c.node(n)).is_none() => {
                    skipped.push(format!("node/{n}: no such Node in the cluster objects"))
                }
                Target::Pod { namespace, name }
                    if cluster.and_then(|c| c.pod(namespace, name)).is_none() =>
                {
                    skipped.push(format!(
                        "pod/{namespace}/{name}: no such Pod in the cluster objects"
                    ))
                }
                Target::Service { namespace, name }
                    if cluster.and_then(|c| c.service(namespace, name)).is_none() =>
                {
                    skipped.push(format!(
                        "svc/{namespace}/{name}: no such Service in the cluster objects"
                    ))
                }
                _ => {}
            }
        }
    }
    (out, skipped)
}

/// What kind of target an address is, for an address the user names.
fn describe(cluster: Option<&Cluster>, a: IpAddr) -> (ProbeKind, Option<String>) {
    let Some(c) = cluster else {
        return (ProbeKind::Pod, None);
    };
    if let Some(p) = c.pod_by_ip(a).filter(|p| !p.host_network) {
        return (ProbeKind::Pod, p.node_name.clone());
    }
    if c.service_by_ip(a).is_some() {
        return (ProbeKind::Service, None);
    }
    match c.owner_of(a) {
        Some((n, netdoctor_kube::Ownership::NodeAddress)) => {
            (ProbeKind::Overlay, Some(n.name.clone()))
        }
        Some((n, _)) => (ProbeKind::Pod, Some(n.name.clone())),
        None => (ProbeKind::Pod, None),
    }
}

fn node_probes(
    view: &NodeView,
    n: &Node,
    opts: &Options,
    out: &mut Vec<Planned>,
    skipped: &mut Vec<String>,
) {
    let Some(underlay) = v4(n.underlay_ip()) else {
        skipped.push(format!(
            "node {}: no IPv4 node address in its Node object",
            n.name
        ));
        return;
    };
    // The VTEP: the gateway of this node's route to the other node's pod subnet when that route
    // goes through an overlay device; flannel's convention when the route is missing.
    let pod_net = n.pod_cidr_v4().and_then(|c| match c {
        IpNet::V4(c) => Some(c),
        IpNet::V6(_) => None,
    });
    let vtep = pod_net.and_then(|net| {
        let route = view.route(net.network());
        match route {
            Some(r) if r.dev.as_deref().is_some_and(|d| view.is_overlay(d)) => {
                let dev = r.dev.clone().unwrap_or_default();
                let address = v4(r.gateway).unwrap_or(net.network());
                Some(Vtep {
                    address,
                    transport: view.transport(&dev, underlay),
                    device: dev,
                })
            }
            // A specific route by another device: host-gw, or direct routing.
            Some(r) if r.dst.prefix_len() > 0 => None,
            // Only the default route (or none): flannel's VTEP, by flannel's convention.
            other => view.overlay_device().map(|l| Vtep {
                address: net.network(),
                device: l.name.clone(),
                transport: format!(
                    "{}; this node has no route to {net}, so the kernel {}",
                    view.transport(&l.name, underlay),
                    if other.is_some() {
                        "sends it by its default route"
                    } else {
                        "cannot send it"
                    }
                ),
            }),
        }
    });
    let bgp = vtep.is_none()
        && (n.calico.is_some() || n.backend.as_deref() == Some("bgp"))
        && !matches!(n.backend.as_deref(), Some("vxlan" | "host-gw"));
    let to = |what: String| format!("node {} {what}", n.name);
    if opts.wants(ProbeKind::Overlay) {
        let what = match &vtep {
            Some(v) => format!("VTEP {}", v.address),
            None if bgp => format!("BGP {underlay}:179"),
            None => format!("{underlay}"),
        };
        out.push(Planned::new(
            ProbeKind::Overlay,
            to(what),
            Some(&n.name),
            Action::Overlay {
                underlay,
                vtep: vtep.clone(),
                bgp,
            },
        ));
    }
    if opts.wants(ProbeKind::Mtu) {
        match view.route(underlay).and_then(|r| r.dev.clone()) {
            Some(dev) => match view.mtu_of(&dev) {
                Some(claimed) => out.push(Planned::new(
                    ProbeKind::Mtu,
                    to(format!("{underlay} (underlay, {dev})")),
                    Some(&n.name),
                    Action::Mtu {
                        dst: underlay,
                        device: dev,
                        claimed,
                    },
                )),
                None => skipped.push(format!(
                    "mtu to node {}: the MTU of {dev} is not known",
                    n.name
                )),
            },
            None => skipped.push(format!("mtu to node {}: no route to {underlay}", n.name)),
        }
        if let Some(v) = &vtep {
            if let Some(claimed) = view.mtu_of(&v.device) {
                out.push(Planned::new(
                    ProbeKind::Mtu,
                    to(format!("VTEP {} (overlay, {})", v.address, v.device)),
                    Some(&n.name),
                    Action::Mtu {
                        dst: v.address,
                        device: v.device.clone(),
                        claimed,
                    },
                ));
            }
        }
    }
}

fn pod_probes(
    c: &Cluster,
    me: Option<&str>,
    others: &[&Node],
    opts: &Options,
    out: &mut Vec<Planned>,
) {
    let mut count = 0;
    for n in others {
        let pods = c
            .pods_on(&n.name)
            .filter(|p| !p.host_network && p.phase.as_deref().is_none_or(|ph| ph == "Running"))
            .filter(|p| Some(p.node_name.as_deref().unwrap_or_default()) != me)
            .filter_map(|p| p.ips.iter().find_map(|a| v4(Some(*a))).map(|a| (p, a)));
        let named_only = opts.only.iter().any(|t| matches!(t, Target::Pod { .. }));
        let limit = if named_only {
            usize::MAX
        } else {
            opts.pods_per_node
        };
        for (p, a) in pods.take(limit) {
            if count >= opts.max_targets && !named_only {
                return;
            }
            count += 1;
            let mut planned = Planned::new(
                ProbeKind::Pod,
                format!("pod {}/{} {a}", p.namespace, p.name),
                Some(&n.name),
                Action::Echo { dst: a },
            );
            planned.pod = Some((p.namespace.clone(), p.name.clone()));
            out.push(planned);
        }
    }
}

fn service_probes(
    view: &NodeView,
    c: &Cluster,
    opts: &Options,
    out: &mut Vec<Planned>,
    skipped: &mut Vec<String>,
) {
    let node_ip = view.node_ip();
    let mut count = 0;
    for s in &c.services {
        if count >= opts.max_targets {
            skipped.push(format!(
                "services beyond the first {} (raise --max-targets)",
                opts.max_targets
            ));
            break;
        }
        let Some(ip) = s.cluster_ips.iter().find_map(|a| v4(Some(*a))) else {
            continue;
        };
        let Some(port) = s
            .ports
            .iter()
            .find(|p| p.protocol.eq_ignore_ascii_case("TCP"))
        else {
            continue;
        };
        count += 1;
        let mut planned = Planned::new(
            ProbeKind::Service,
            format!("svc {} {ip}:{}", s.key(), port.port),
            None,
            Action::Connect {
                dst: SocketAddr::from((ip, port.port)),
            },
        );
        planned.service = Some((s.namespace.clone(), s.name.clone()));
        out.push(planned.clone());
        if let (Some(np), Some(me)) = (port.node_port, node_ip) {
            planned.to = format!("svc {} NodePort {me}:{np}", s.key());
            planned.action = Action::Connect {
                dst: SocketAddr::from((me, np)),
            };
            out.push(planned);
        }
    }
}

fn dns_probe(
    view: &NodeView,
    cluster: Option<&Cluster>,
    opts: &Options,
    out: &mut Vec<Planned>,
    skipped: &mut Vec<String>,
) {
    let from_objects = cluster.and_then(|c| {
        c.services
            .iter()
            .filter(|s| s.namespace == "kube-system")
            .find(|s| {
                s.name == "kube-dns"
                    || s.selector.get("k8s-app").map(String::as_str) == Some("kube-dns")
            })
            .and_then(|s| {
                let ip = s.cluster_ips.iter().find_map(|a| v4(Some(*a)))?;
                let port = s
                    .ports
                    .iter()
                    .find(|p| p.protocol.eq_ignore_ascii_case("UDP"))
                    .map_or(53, |p| p.port);
                Some((ip, port, Some((s.namespace.clone(), s.name.clone()))))
            })
    });
    let from_kubelet =
        || v4(view.snapshot.hints.cluster_dns.as_ref().map(|d| d.value)).map(|a| (a, 53, None));
    let Some((ip, port, svc)) = from_objects.or_else(from_kubelet) else {
        skipped.push("dns: no cluster DNS Service (kube-system/kube-dns) in the cluster objects and no clusterDNS in the kubelet's configuration".into());
        return;
    };
    let name = format!(
        "kubernetes.default.svc.{}",
        opts.cluster_domain.trim_end_matches('.')
    );
    let mut planned = Planned::new(
        ProbeKind::Dns,
        format!("cluster DNS {ip}:{port}"),
        None,
        Action::Dns {
            server: SocketAddr::from((ip, port)),
            name,
        },
    );
    planned.service = svc;
    out.push(planned);
}

#[cfg(test)]
mod tests;
