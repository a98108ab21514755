//! A Node and what its spec, status and CNI annotations say about its place in the overlay.

use crate::Problem;
use ipnet::IpNet;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// flannel's annotations (`flannel.alpha.coreos.com/...`), written by flanneld on each node.
pub const FLANNEL_PREFIX: &str = "flannel.alpha.coreos.com/";

/// Where a pod CIDR came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodCidrOrigin {
    /// `spec.podCIDR` / `spec.podCIDRs` (the node IPAM controller's allocation).
    Spec,
    /// A Calico IPAM block affine to the node (`BlockAffinity` objects).
    CalicoBlock,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodCidr {
    pub cidr: IpNet,
    pub origin: PodCidrOrigin,
    /// The value as written (`10.200.254.1/24` is truncated to `10.200.254.0/24` in `cidr`).
    pub raw: String,
}

/// One entry of `status.addresses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddress {
    /// `InternalIP`, `ExternalIP`, `Hostname`, ...
    pub kind: String,
    /// As written.
    pub address: String,
    /// Parsed, when it is an IP.
    pub ip: Option<IpAddr>,
}

/// What flanneld announced for the node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlannelInfo {
    /// `vxlan`, `host-gw`, `wireguard`, `udp`, ...
    pub backend_type: Option<String>,
    /// The raw `backend-data` annotation.
    pub backend_data: Option<String>,
    /// `VtepMAC` from backend-data: the MAC of the node's `flannel.1`.
    pub vtep_mac: Option<String>,
    pub vni: Option<u32>,
    /// `public-ip`: the underlay address other nodes send VXLAN packets to (FDB `dst`) or route
    /// via (host-gw).
    pub public_ip: Option<IpAddr>,
    /// `public-ip-overwrite`: the user's override of public-ip.
    pub public_ip_overwrite: Option<IpAddr>,
    /// `node-public-ip` (newer flannel).
    pub node_public_ip: Option<IpAddr>,
    /// `kube-subnet-manager: "true"`.
    pub kube_subnet_manager: bool,
}

impl FlannelInfo {
    /// The underlay address flannel uses for this node: the override wins, as in flanneld.
    pub fn effective_public_ip(&self) -> Option<IpAddr> {
        self.public_ip_overwrite
            .or(self.public_ip)
            .or(self.node_public_ip)
    }
}

/// What calico-node announced for the node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalicoInfo {
    /// `projectcalico.org/IPv4Address`, e.g. `10.0.0.5/24`: address and prefix length.
    pub ipv4_address: Option<(IpAddr, u8)>,
    /// `projectcalico.org/IPv4VXLANTunnelAddr`: the address of `vxlan.calico`.
    pub vxlan_tunnel_addr: Option<IpAddr>,
    /// `projectcalico.org/IPv4IPIPTunnelAddr`: the address of `tunl0`.
    pub ipip_tunnel_addr: Option<IpAddr>,
}

/// A Node object and what is derived from it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    pub name: String,
    /// Where it was read (`nodes.json`).
    pub source: String,
    pub pod_cidrs: Vec<PodCidr>,
    pub addresses: Vec<NodeAddress>,
    pub annotations: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// `flannel` or `calico` when the annotations show it.
    pub cni: Option<String>,
    /// `vxlan`, `host-gw`, `ipip`, `bgp`, ... when the annotations show it.
    pub backend: Option<String>,
    pub flannel: Option<FlannelInfo>,
    pub calico: Option<CalicoInfo>,
    /// The Ready condition.
    pub ready: Option<bool>,
    /// Read from kubectl's text output (`get -o wide`, `describe`), which leaves fields out:
    /// what is absent (a pod CIDR, an address) is unknown, not missing. Says what it was read
    /// from.
    pub partial: Option<String>,
    /// The object says it registered no InternalIP (`INTERNAL-IP <none>`).
    pub no_internal_ip: bool,
}

impl Node {
    /// The first InternalIP.
    pub fn internal_ip(&self) -> Option<IpAddr> {
        self.addresses
            .iter()
            .filter(|a| a.kind == "InternalIP")
            .find_map(|a| a.ip)
    }

    /// The address other nodes reach this one at for overlay traffic: flannel's public-ip,
    /// Calico's IPv4Address, else the InternalIP.
    pub fn underlay_ip(&self) -> Option<IpAddr> {
        self.flannel
            .as_ref()
            .and_then(|f| f.effective_public_ip())
            .or_else(|| {
                self.calico
                    .as_ref()
                    .and_then(|c| c.ipv4_address.map(|(a, _)| a))
            })
            .or_else(|| self.internal_ip())
    }

    /// Every IP this node holds as a node address (status, flannel, Calico).
    pub fn ips(&self) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self.addresses.iter().filter_map(|a| a.ip).collect();
        if let Some(f) = &self.flannel {
            v.extend(
                [f.public_ip, f.public_ip_overwrite, f.node_public_ip]
                    .into_iter()
                    .flatten(),
            );
        }
        if let Some(c) = &self.calico {
            v.extend(c.ipv4_address.map(|(a, _)| a));
        }
        v.sort();
        v.dedup();
        v
    }

    pub fn has_address(&self, ip: IpAddr) -> bool {
        // Called per address per node: no allocation.
        self.addresses.iter().any(|a| a.ip == Some(ip))
            || self.flannel.as_ref().is_some_and(|f| {
                [f.public_ip, f.public_ip_overwrite, f.node_public_ip].contains(&Some(ip))
            })
            || self
                .calico
                .as_ref()
                .is_some_and(|c| c.ipv4_address.map(|(a, _)| a) == Some(ip))
    }

    /// The first IPv4 pod CIDR.
    pub fn pod_cidr_v4(&self) -> Option<IpNet> {
        self.pod_cidrs
            .iter()
            .map(|c| c.cidr)
            .find(|c| matches!(c, IpNet::V4(_)))
    }

    /// flannel's VTEP address for vxlan: the network address of the node's lease (`X.0`), which
    /// flanneld puts on `flannel.1` and other nodes route via.
    pub fn flannel_vtep_ip(&self) -> Option<IpAddr> {
        self.pod_cidr_v4().map(|c| c.network())
    }

    /// Where this node's annotations are quoted from in evidence.
    pub fn annotation_evidence(&self, key: &str) -> Option<String> {
        self.annotations
            .get(key)
            .map(|v| format!("Node {} annotation {key}: {v} [{}]", self.name, self.source))
    }
}

fn str_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let s = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    (k.clone(), s)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn parse_ip(raw: &str) -> Option<IpAddr> {
    raw.trim().parse().ok()
}

/// Read a Node object. Fields that do not parse become problems; the node is kept.
pub(crate) fn read_node(v: &Value, source: &str, problems: &mut Vec<Problem>) -> Option<Node> {
    let name = v.pointer("/metadata/name")?.as_str()?.to_string();
    let where_ = format!("{source}: Node {name}");
    let mut problem = |m: String| {
        problems.push(Problem {
            source: where_.clone(),
            message: m,
        })
    };
    let mut n = Node {
        name,
        source: source.to_string(),
        annotations: str_map(v.pointer("/metadata/annotations").unwrap_or(&Value::Null)),
        labels: str_map(v.pointer("/metadata/labels").unwrap_or(&Value::Null)),
        ..Node::default()
    };
    let mut raws: Vec<String> = Vec::new();
    if let Some(s) = v.pointer("/spec/podCIDR").and_then(Value::as_str) {
        raws.push(s.to_string());
    }
    if let Some(a) = v.pointer("/spec/podCIDRs").and_then(Value::as_array) {
        raws.extend(a.iter().filter_map(Value::as_str).map(str::to_string));
    }
    for raw in raws {
        match raw.trim().parse::<IpNet>() {
            Ok(c) => {
                let c = c.trunc();
                if !n.pod_cidrs.iter().any(|p| p.cidr == c) {
                    n.pod_cidrs.push(PodCidr {
                        cidr: c,
                        origin: PodCidrOrigin::Spec,
                        raw,
                    });
                }
            }
            Err(e) => problem(format!("spec.podCIDR {raw:?} is not a CIDR: {e}")),
        }
    }
    if let Some(a) = v.pointer("/status/addresses").and_then(Value::as_array) {
        for e in a {
            let kind = e.get("type").and_then(Value::as_str).unwrap_or("");
            let address = e.get("address").and_then(Value::as_str).unwrap_or("");
            let ip = parse_ip(address);
            if ip.is_none() && kind.ends_with("IP") {
                problem(format!("status.addresses {kind} {address:?} is not an IP"));
            }
            n.addresses.push(NodeAddress {
                kind: kind.to_string(),
                address: address.to_string(),
                ip,
            });
        }
    }
    n.partial = n.annotations.remove("netdoctor.io/partial");
    n.no_internal_ip = v
        .pointer("/status/netdoctorNoInternalIP")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    n.ready = v
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        })
        .and_then(|c| c.get("status").and_then(Value::as_str))
        .map(|s| s == "True");
    let (flannel, calico) = {
        let mut msgs = Vec::new();
        let f = flannel_info(&n.annotations, &mut msgs);
        let c = calico_info(&n.annotations, &mut msgs);
        for m in msgs {
            problem(m);
        }
        (f, c)
    };
    if let Some(f) = &flannel {
        n.cni = Some("flannel".into());
        n.backend = f.backend_type.clone();
    } else if let Some(c) = &calico {
        n.cni = Some("calico".into());
        n.backend = if c.vxlan_tunnel_addr.is_some() {
            Some("vxlan".into())
        } else if c.ipip_tunnel_addr.is_some() {
            Some("ipip".into())
        } else {
            Some("bgp".into())
        };
    }
    n.flannel = flannel;
    n.calico = calico;
    Some(n)
}

fn flannel_info(ann: &BTreeMap<String, String>, msgs: &mut Vec<String>) -> Option<FlannelInfo> {
    if !ann.keys().any(|k| k.starts_with(FLANNEL_PREFIX)) {
        return None;
    }
    let get = |k: &str| ann.get(&format!("{FLANNEL_PREFIX}{k}"));
    let ip = |k: &str, msgs: &mut Vec<String>| {
        let raw = get(k)?;
        let parsed = parse_ip(raw);
        if parsed.is_none() {
            msgs.push(format!(
                "annotation {FLANNEL_PREFIX}{k} {raw:?} is not an IP"
            ));
        }
        parsed
    };
    let mut f = FlannelInfo {
        backend_type: get("backend-type").map(|s| s.trim().to_lowercase()),
        backend_data: get("backend-data").cloned(),
        public_ip: ip("public-ip", msgs),
        public_ip_overwrite: ip("public-ip-overwrite", msgs),
        node_public_ip: ip("node-public-ip", msgs),
        kube_subnet_manager: get("kube-subnet-manager").is_some_and(|s| s == "true"),
        ..FlannelInfo::default()
    };
    if let Some(raw) = &f.backend_data {
        match serde_json::from_str::<Value>(raw) {
            Ok(d) => {
                f.vtep_mac = d.get("VtepMAC").and_then(Value::as_str).map(normalise_mac);
                f.vni = d
                    .get("VNI")
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok());
            }
            Err(e) if raw.trim() != "null" && !raw.trim().is_empty() => {
                msgs.push(format!(
                    "annotation {FLANNEL_PREFIX}backend-data {raw:?} is not JSON ({e}); the VTEP MAC is unknown"
                ));
            }
            Err(_) => {}
        }
    }
    Some(f)
}

fn calico_info(ann: &BTreeMap<String, String>, msgs: &mut Vec<String>) -> Option<CalicoInfo> {
    const P: &str = "projectcalico.org/";
    if !ann.keys().any(|k| k.starts_with(P)) {
        return None;
    }
    let mut c = CalicoInfo::default();
    if let Some(raw) = ann.get("projectcalico.org/IPv4Address") {
        match raw.trim().parse::<IpNet>() {
            Ok(n) => c.ipv4_address = Some((n.addr(), n.prefix_len())),
            Err(_) => match parse_ip(raw) {
                Some(a) => c.ipv4_address = Some((a, 32)),
                None => msgs.push(format!(
                    "annotation projectcalico.org/IPv4Address {raw:?} is not an address"
                )),
            },
        }
    }
    for (key, slot) in [
        ("IPv4VXLANTunnelAddr", &mut c.vxlan_tunnel_addr),
        ("IPv4IPIPTunnelAddr", &mut c.ipip_tunnel_addr),
    ] {
        if let Some(raw) = ann.get(&format!("{P}{key}")) {
            *slot = parse_ip(raw);
            if slot.is_none() {
                msgs.push(format!("annotation {P}{key} {raw:?} is not an IP"));
            }
        }
    }
    Some(c)
}

/// MACs compared across `ip`, `bridge` and annotations: lower case.
pub fn normalise_mac(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}
