//! The nodes of a trace side by side: which node holds an address on the underlay, which pod
//! CIDR an address belongs to, and what a name like `pod/ns/name` stands for.

use crate::node::NodeModel;
use crate::objects::ClusterObjects;
use ipnet::IpNet;
use netdoctor_datapath::devices;
use netdoctor_model::NodeSnapshot;
use std::net::IpAddr;

/// Where a packet starts or ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A pod behind the bridge `bridge` of node `node` (or, for a routed pod, its host-side
    /// veth).
    Pod { node: usize, bridge: String },
    /// The node's own network stack.
    Host { node: usize },
}

/// A source address that is neither a node's nor inside one of their pod bridges.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ip} is neither an address of the {nodes} node(s) given nor inside one of their bridges' subnets")]
pub struct PlaceError {
    pub ip: IpAddr,
    pub nodes: usize,
}

/// Why a name given to `trace` does not resolve to an address (each carries the name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}: naming a pod, service or node needs the cluster objects (--kube-objects)")]
    NeedsObjects(String),
    #[error("{0}: no such node")]
    NoSuchNode(String),
    #[error("{0}: no such pod with an address")]
    NoSuchPod(String),
    #[error("{0}: no such service")]
    NoSuchService(String),
    #[error("{0}: the service has no cluster IP")]
    NoClusterIp(String),
    #[error("{0}: the service has no port {1}")]
    NoSuchPort(String, String),
    #[error("{0}: the service has no port")]
    NoPort(String),
    #[error("{0}: expected an IP, IP:PORT, pod/NS/NAME, svc/NS/NAME[:PORT] or node/NAME")]
    Syntax(String),
}

/// Every node given to a trace, and the cluster objects when known.
#[derive(Debug)]
pub struct Cluster {
    pub nodes: Vec<NodeModel>,
    pub objects: Option<ClusterObjects>,
}

/// Link kinds that are not a shared L2 segment between nodes: an address on one of them is
/// not reachable from another node by ARP.
fn is_segment_link(kind: Option<&str>, name: &str) -> bool {
    name != "lo"
        && !matches!(
            kind,
            Some("bridge" | "vxlan" | "ipip" | "dummy" | "wireguard" | "gre" | "sit" | "tun")
        )
}

impl Cluster {
    /// Nodes are named after the Node object owning one of their addresses, else the name the
    /// snapshot gives; duplicates get their position appended.
    pub fn new(snapshots: Vec<NodeSnapshot>, objects: Option<ClusterObjects>) -> Cluster {
        let mut names: Vec<String> = Vec::new();
        for (i, s) in snapshots.iter().enumerate() {
            let from_objects = objects.as_ref().and_then(|o| {
                o.nodes
                    .iter()
                    .find(|n| {
                        n.addresses
                            .iter()
                            .any(|a| s.addresses.iter().flatten().any(|x| x.addr == *a))
                    })
                    .map(|n| n.name.clone())
            });
            let mut name = from_objects
                .or_else(|| s.hints.node_name.as_ref().map(|n| n.value.clone()))
                .or_else(|| s.hostname.clone())
                .unwrap_or_else(|| format!("node{i}"));
            if names.contains(&name) {
                name = format!("{name}#{i}");
            }
            names.push(name);
        }
        let nodes = snapshots
            .into_iter()
            .zip(names)
            .map(|(s, n)| NodeModel::new(n, s))
            .collect();
        Cluster { nodes, objects }
    }

    /// The node (other than `except`) holding `ip` on an interface that sits on a shared
    /// segment, and that interface.
    pub fn underlay_owner(&self, ip: IpAddr, except: usize) -> Option<(usize, String)> {
        self.nodes.iter().enumerate().find_map(|(i, n)| {
            if i == except {
                return None;
            }
            n.addresses()
                .find(|a| a.addr == ip && is_segment_link(n.link_kind(&a.ifname), &a.ifname))
                .map(|a| (i, a.ifname.clone()))
        })
    }

    /// The pod CIDRs known for node `i`: its Node object's, its `subnet.env`, its bridges.
    pub fn pod_cidrs(&self, i: usize) -> Vec<IpNet> {
        let n = &self.nodes[i];
        let mut v = devices::bridge_subnets(&n.snap);
        if let Some(p) = &n.snap.hints.pod_cidr {
            v.push(p.value);
        }
        if let Some(o) = &self.objects {
            if let Some(no) = o.nodes.iter().find(|x| x.name == n.name) {
                v.extend(no.pod_cidrs.iter().copied());
            }
        }
        v.sort();
        v.dedup();
        v
    }

    /// The node whose pod CIDR holds `ip`, and that CIDR.
    pub fn pod_cidr_of(&self, ip: IpAddr) -> Option<(usize, IpNet)> {
        (0..self.nodes.len()).find_map(|i| {
            self.pod_cidrs(i)
                .into_iter()
                .find(|c| c.contains(&ip))
                .map(|c| (i, c))
        })
    }

    /// Where a packet from `ip` starts.
    pub fn place_of(&self, ip: IpAddr) -> Result<Place, PlaceError> {
        if let Some(i) = self.nodes.iter().position(|n| n.own_address(ip).is_some()) {
            return Ok(Place::Host { node: i });
        }
        let on_bridge: Vec<(usize, String)> = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                devices::bridge_for(&n.snap, ip)
                    .map(|a| a.ifname.clone())
                    .or_else(|| {
                        devices::routed_veth_for(&n.snap, &n.routing, ip).map(str::to_string)
                    })
                    .map(|d| (i, d))
            })
            .collect();
        let pod_node = self
            .objects
            .as_ref()
            .and_then(|o| o.pod_by_ip(ip))
            .and_then(|p| p.node.clone());
        let pick = match (on_bridge.len(), pod_node) {
            (0, _) => None,
            (1, _) => on_bridge.into_iter().next(),
            (_, Some(pn)) => on_bridge
                .into_iter()
                .find(|(i, _)| self.nodes[*i].name == pn),
            (_, None) => None,
        };
        pick.map(|(node, bridge)| Place::Pod { node, bridge })
            .ok_or(PlaceError {
                ip,
                nodes: self.nodes.len(),
            })
    }

    /// Resolve `IP`, `IP:PORT`, `pod/ns/name`, `svc/ns/name[:port]` or `node/name` to an
    /// address and an optional port.
    pub fn resolve(&self, spec: &str) -> Result<(IpAddr, Option<u16>), ResolveError> {
        if let Ok(ip) = spec.parse::<IpAddr>() {
            return Ok((ip, None));
        }
        if let Ok(sa) = spec.parse::<std::net::SocketAddr>() {
            return Ok((sa.ip(), Some(sa.port())));
        }
        let spec_s = || spec.to_string();
        let need = || ResolveError::NeedsObjects(spec_s());
        let parts: Vec<&str> = spec.splitn(3, '/').collect();
        match parts.as_slice() {
            ["node", name] => {
                if let Some(i) = self.nodes.iter().position(|n| n.name == *name) {
                    let n = &self.nodes[i];
                    if let Some(a) = n.addresses().find(|a| {
                        a.addr.is_ipv4() && is_segment_link(n.link_kind(&a.ifname), &a.ifname)
                    }) {
                        return Ok((a.addr, None));
                    }
                }
                let o = self.objects.as_ref().ok_or_else(need)?;
                o.nodes
                    .iter()
                    .find(|n| n.name == *name)
                    .and_then(|n| n.addresses.first().copied())
                    .map(|a| (a, None))
                    .ok_or_else(|| ResolveError::NoSuchNode(spec_s()))
            }
            ["pod", ns, name] => {
                let o = self.objects.as_ref().ok_or_else(need)?;
                o.pods
                    .iter()
                    .find(|p| p.namespace == *ns && p.name == *name)
                    .map(|p| (p.ip, None))
                    .ok_or_else(|| ResolveError::NoSuchPod(spec_s()))
            }
            ["svc" | "service", ns, rest] => {
                let o = self.objects.as_ref().ok_or_else(need)?;
                let (name, port) = match rest.split_once(':') {
                    Some((n, p)) => (n, Some(p)),
                    None => (*rest, None),
                };
                let s = o
                    .services
                    .iter()
                    .find(|s| s.namespace == *ns && s.name == name)
                    .ok_or_else(|| ResolveError::NoSuchService(spec_s()))?;
                let ip = s
                    .cluster_ip
                    .ok_or_else(|| ResolveError::NoClusterIp(spec_s()))?;
                let port = match port {
                    Some(p) => s
                        .ports
                        .iter()
                        .find(|x| x.name.as_deref() == Some(p) || x.port.to_string() == p)
                        .map(|x| x.port)
                        .ok_or_else(|| ResolveError::NoSuchPort(spec_s(), p.to_string()))?,
                    None => s
                        .ports
                        .first()
                        .map(|x| x.port)
                        .ok_or_else(|| ResolveError::NoPort(spec_s()))?,
                };
                Ok((ip, Some(port)))
            }
            _ => Err(ResolveError::Syntax(spec_s())),
        }
    }
}
