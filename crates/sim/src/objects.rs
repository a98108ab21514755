//! The few cluster objects a trace needs (pod addresses, service ports, node addresses and pod
//! CIDRs): taken from the `kube` crate's cluster view ([`ClusterObjects::from_kube`]), or read
//! directly from kubectl JSON ([`ClusterObjects::read`], for tests and callers without it).

use ipnet::IpNet;
use serde_json::Value;
use std::net::IpAddr;
use std::path::Path;

/// A pod with an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodObject {
    pub namespace: String,
    pub name: String,
    pub ip: IpAddr,
    pub node: Option<String>,
    pub host_network: bool,
}

/// One port of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: String,
    pub node_port: Option<u16>,
}

/// A service with a cluster IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceObject {
    pub namespace: String,
    pub name: String,
    pub cluster_ip: Option<IpAddr>,
    pub ports: Vec<ServicePort>,
}

/// A node: its addresses and pod CIDRs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeObject {
    pub name: String,
    pub addresses: Vec<IpAddr>,
    pub pod_cidrs: Vec<IpNet>,
}

/// Pods, services and nodes of a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterObjects {
    pub pods: Vec<PodObject>,
    pub services: Vec<ServiceObject>,
    pub nodes: Vec<NodeObject>,
}

impl ClusterObjects {
    /// Read a kubectl JSON file (`kind: List` or a single object) or every `*.json` file of a
    /// directory.
    pub fn read(path: &Path) -> Result<ClusterObjects, String> {
        let mut out = ClusterObjects::default();
        let mut files = Vec::new();
        if path.is_dir() {
            let rd = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
            for entry in rd {
                let entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
                let p = entry.path();
                if p.extension().is_some_and(|x| x == "json") {
                    files.push(p);
                }
            }
            files.sort();
        } else {
            files.push(path.to_path_buf());
        }
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| format!("{}:{}: not kubectl JSON: {e}", f.display(), e.line()))?;
            out.add(&v);
        }
        Ok(out)
    }

    /// Read kubectl JSON (a file or a directory) through the `kube` crate's cluster view. The
    /// second value lists what the view could not read (`file:line: why`).
    pub fn load(path: &Path) -> Result<(ClusterObjects, Vec<String>), String> {
        let view = netdoctor_kube::Cluster::load(path).map_err(|e| e.to_string())?;
        let problems = view.problems.iter().map(|p| p.to_string()).collect();
        Ok((ClusterObjects::from_kube(&view), problems))
    }

    /// The objects of the `kube` crate's cluster view.
    pub fn from_kube(c: &netdoctor_kube::Cluster) -> ClusterObjects {
        let pods = c
            .pods
            .iter()
            .flat_map(|p| {
                p.ips.iter().map(move |ip| PodObject {
                    namespace: p.namespace.clone(),
                    name: p.name.clone(),
                    ip: *ip,
                    node: p.node_name.clone(),
                    host_network: p.host_network,
                })
            })
            .collect();
        let services = c
            .services
            .iter()
            .map(|s| ServiceObject {
                namespace: s.namespace.clone(),
                name: s.name.clone(),
                cluster_ip: s
                    .cluster_ips
                    .iter()
                    .find(|a| a.is_ipv4())
                    .or(s.cluster_ips.first())
                    .copied(),
                ports: s
                    .ports
                    .iter()
                    .map(|p| ServicePort {
                        name: p.name.clone(),
                        port: p.port,
                        protocol: p.protocol.clone(),
                        node_port: p.node_port,
                    })
                    .collect(),
            })
            .collect();
        let nodes = c
            .nodes
            .iter()
            .map(|n| NodeObject {
                name: n.name.clone(),
                addresses: n.ips(),
                pod_cidrs: n.pod_cidrs.iter().map(|p| p.cidr).collect(),
            })
            .collect();
        ClusterObjects {
            pods,
            services,
            nodes,
        }
    }

    /// Add one object or list.
    pub fn add(&mut self, v: &Value) {
        if let Some(items) = v.get("items").and_then(Value::as_array) {
            for i in items {
                self.add(i);
            }
            return;
        }
        let s = |v: &Value, path: &[&str]| -> Option<String> {
            let mut cur = v;
            for p in path {
                cur = cur.get(p)?;
            }
            cur.as_str().map(str::to_string)
        };
        let ns = s(v, &["metadata", "namespace"]).unwrap_or_else(|| "default".into());
        let name = s(v, &["metadata", "name"]).unwrap_or_default();
        match v.get("kind").and_then(Value::as_str) {
            Some("Pod") => {
                let ip = s(v, &["status", "podIP"]).and_then(|x| x.parse().ok());
                if let Some(ip) = ip {
                    self.pods.push(PodObject {
                        namespace: ns,
                        name,
                        ip,
                        node: s(v, &["spec", "nodeName"]),
                        host_network: v
                            .pointer("/spec/hostNetwork")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    });
                }
            }
            Some("Service") => {
                let ports = v
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .map(|ps| {
                        ps.iter()
                            .filter_map(|p| {
                                Some(ServicePort {
                                    name: p.get("name").and_then(Value::as_str).map(str::to_string),
                                    port: u16::try_from(p.get("port")?.as_u64()?).ok()?,
                                    protocol: p
                                        .get("protocol")
                                        .and_then(Value::as_str)
                                        .unwrap_or("TCP")
                                        .to_string(),
                                    node_port: p
                                        .get("nodePort")
                                        .and_then(Value::as_u64)
                                        .and_then(|n| u16::try_from(n).ok()),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                self.services.push(ServiceObject {
                    namespace: ns,
                    name,
                    cluster_ip: s(v, &["spec", "clusterIP"]).and_then(|x| x.parse().ok()),
                    ports,
                });
            }
            Some("Node") => {
                let addresses = v
                    .pointer("/status/addresses")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.get("address")?.as_str()?.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default();
                let mut pod_cidrs: Vec<IpNet> = v
                    .pointer("/spec/podCIDRs")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|x| x.as_str()?.parse().ok()).collect())
                    .unwrap_or_default();
                if let Some(c) = s(v, &["spec", "podCIDR"]).and_then(|x| x.parse().ok()) {
                    if !pod_cidrs.contains(&c) {
                        pod_cidrs.push(c);
                    }
                }
                self.nodes.push(NodeObject {
                    name,
                    addresses,
                    pod_cidrs,
                });
            }
            _ => {}
        }
    }

    /// The pod (not host-network) holding `ip`.
    pub fn pod_by_ip(&self, ip: IpAddr) -> Option<&PodObject> {
        self.pods.iter().find(|p| p.ip == ip && !p.host_network)
    }
}
