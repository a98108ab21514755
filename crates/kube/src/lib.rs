//! The cluster view: Nodes, Pods, Services and EndpointSlices (or old Endpoints) read from the
//! JSON `kubectl get -o json` prints, and the facts netdoctor derives from them: each node's pod
//! CIDRs, addresses, flannel and Calico annotations, CNI and backend; each service's endpoints;
//! and which node or pod owns an address.
//!
//! This crate is pure: it parses text and answers lookups. It must not know how the JSON was
//! obtained (a file, a directory, the live API through `netdoctor-kubeapi`), nor anything about
//! a node's kernel state or the checks that use it. Real-world objects are dirty (annotations
//! that are not valid JSON, addresses that do not parse): such a field becomes a [`Problem`]
//! and everything else is kept.

mod load;
mod node;
mod objects;

pub use load::KubeError;
pub use node::{CalicoInfo, FlannelInfo, Node, NodeAddress, PodCidr, PodCidrOrigin};
pub use objects::{Endpoint, EndpointPort, ObjectRef, Pod, Service, ServicePort, TargetPort};

use ipnet::IpNet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Something in the input that could not be used, with where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `nodes.json: Node n1` or `nodes.json:3:7`.
    pub source: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// An object of a kind this crate does not read (kept so the user sees it was skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    pub kind: String,
    pub name: String,
    pub source: String,
}

/// Everything read about the cluster.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    /// Services, each with its endpoints resolved from EndpointSlices (or Endpoints).
    pub services: Vec<Service>,
    /// Fields or objects that could not be read.
    pub problems: Vec<Problem>,
    /// Objects of other kinds.
    pub ignored: Vec<Ignored>,
    /// The files (or other inputs) read, in order.
    pub sources: Vec<String>,
}

/// How an address belongs to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// One of the node's own addresses (`status.addresses`, flannel's public-ip, Calico's
    /// IPv4Address).
    NodeAddress,
    /// Inside one of the node's pod CIDRs (this one).
    PodCidr(IpNet),
}

impl Cluster {
    /// Read kubectl JSON from a file or a directory of files (`*.json`, not recursive).
    pub fn load(path: &Path) -> Result<Cluster, KubeError> {
        load::load_path(path)
    }

    /// Read several files or directories into one view.
    pub fn load_all(paths: &[PathBuf]) -> Result<Cluster, KubeError> {
        let mut r = load::Reader::default();
        for p in paths {
            r.add_path(p)?;
        }
        Ok(r.finish())
    }

    /// Read documents already in memory: `(name used in evidence, JSON text)`. A text may hold
    /// several JSON values one after another.
    pub fn from_documents(docs: &[(String, String)]) -> Result<Cluster, KubeError> {
        let mut r = load::Reader::default();
        for (name, text) in docs {
            r.add_text(name, text)?;
        }
        Ok(r.finish())
    }

    /// Read the cluster objects that came with evidence (a bundle's `kube/`, a pasted
    /// `kubectl get -o json`): `(name, text)`, JSON when the text starts like JSON, else YAML. A document that cannot be read is a
    /// problem of the view, never the end of it.
    pub fn from_evidence(docs: &[(String, String)]) -> Cluster {
        let mut r = load::Reader::default();
        for (name, text) in docs {
            let yaml = name.ends_with(".yaml")
                || name.ends_with(".yml")
                || !text.trim_start().starts_with(['{', '[']);
            let read = if yaml {
                r.add_yaml(name, name, text)
            } else {
                r.add_text(name, text)
            };
            if let Err(e) = read {
                r.problem(name, format!("not read: {e}"));
            }
        }
        r.finish()
    }

    /// Read parsed JSON values (a `List` or single objects): the live API path.
    pub fn from_values(values: Vec<(String, serde_json::Value)>) -> Cluster {
        let mut r = load::Reader::default();
        for (name, v) in values {
            r.add_value(&name, v);
        }
        r.finish()
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The node holding `addr` as one of its own addresses.
    pub fn node_by_addr(&self, addr: IpAddr) -> Option<&Node> {
        self.nodes.iter().find(|n| n.has_address(addr))
    }

    /// Which node owns `addr`: as a node address first, then by pod CIDR (longest prefix).
    pub fn owner_of(&self, addr: IpAddr) -> Option<(&Node, Ownership)> {
        if let Some(n) = self.node_by_addr(addr) {
            return Some((n, Ownership::NodeAddress));
        }
        self.nodes
            .iter()
            .flat_map(|n| n.pod_cidrs.iter().map(move |c| (n, c.cidr)))
            .filter(|(_, c)| c.contains(&addr))
            .max_by_key(|(_, c)| c.prefix_len())
            .map(|(n, c)| (n, Ownership::PodCidr(c)))
    }

    /// This node, per the contract: the name given (`--node-name`), else the hostname, else the
    /// Node that owns one of `local_addrs`. A hint that names no Node gives `None` (the user said
    /// which node this is; guessing another would be wrong).
    pub fn identify(
        &self,
        hint: Option<&str>,
        hostname: Option<&str>,
        local_addrs: &[IpAddr],
    ) -> Option<&Node> {
        if let Some(h) = hint {
            return self.node(h);
        }
        if let Some(h) = hostname {
            let short = h.split('.').next().unwrap_or(h);
            if let Some(n) = self.node(h).or_else(|| self.node(short)).or_else(|| {
                self.nodes.iter().find(|n| {
                    n.addresses
                        .iter()
                        .any(|a| a.kind == "Hostname" && (a.address == h || a.address == short))
                })
            }) {
                return Some(n);
            }
        }
        local_addrs
            .iter()
            .filter(|a| !a.is_loopback())
            .find_map(|a| self.node_by_addr(*a))
    }

    pub fn pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        self.pods
            .iter()
            .find(|p| p.namespace == namespace && p.name == name)
    }

    /// The pod with `ip`. A pod network pod wins over hostNetwork pods (which share the node's IP).
    pub fn pod_by_ip(&self, ip: IpAddr) -> Option<&Pod> {
        let mut with = self.pods.iter().filter(|p| p.ips.contains(&ip));
        let all: Vec<&Pod> = with.by_ref().collect();
        all.iter()
            .find(|p| !p.host_network)
            .or_else(|| all.first())
            .copied()
    }

    /// Pods scheduled on `node`.
    pub fn pods_on<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Pod> + 'a {
        self.pods
            .iter()
            .filter(move |p| p.node_name.as_deref() == Some(node))
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
    }

    /// The service with `ip` as one of its ClusterIPs.
    pub fn service_by_ip(&self, ip: IpAddr) -> Option<&Service> {
        self.services.iter().find(|s| s.cluster_ips.contains(&ip))
    }

    /// The CNI most nodes announce (`flannel`, `calico`), if any.
    pub fn cni(&self) -> Option<&str> {
        majority(self.nodes.iter().filter_map(|n| n.cni.as_deref()))
    }

    /// The backend most nodes announce (`vxlan`, `host-gw`, `ipip`, ...).
    pub fn backend(&self) -> Option<&str> {
        majority(self.nodes.iter().filter_map(|n| n.backend.as_deref()))
    }
}

fn majority<'a>(it: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for v in it {
        match counts.iter_mut().find(|(k, _)| *k == v) {
            Some((_, c)) => *c += 1,
            None => counts.push((v, 1)),
        }
    }
    counts.into_iter().max_by_key(|(_, c)| *c).map(|(k, _)| k)
}

#[cfg(test)]
mod tests;
