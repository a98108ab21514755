//! The few cluster objects a trace needs (pod addresses, service ports, node addresses and pod
//! CIDRs), taken from the `kube` crate's cluster view ([`ClusterObjects::from_kube`]): one
//! reader of kubectl JSON and YAML for every command.

use ipnet::IpNet;
use std::net::IpAddr;

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

    /// The pod (not host-network) holding `ip`.
    pub fn pod_by_ip(&self, ip: IpAddr) -> Option<&PodObject> {
        self.pods.iter().find(|p| p.ip == ip && !p.host_network)
    }
}
