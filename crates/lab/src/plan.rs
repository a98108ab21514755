//! The lab's address plan and the handles it gives out for nodes, pods and services.
//!
//! The underlay is 172.31.255.0/24: the last /24 of RFC 1918's 172.16.0.0/12, which real
//! networks rarely use, but that is not why it is safe. The addresses exist only on veths inside
//! the lab's own namespaces; the underlay bridge has no port in the host namespace, and the
//! nodes' default gateway (172.31.255.1 on that bridge, in the underlay namespace) does not
//! forward. So no lab packet can reach the host's network, whatever it is numbered.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Kubernetes cluster (pod) CIDR; node `i` gets `10.244.i.0/24`.
pub const CLUSTER_CIDR: &str = "10.244.0.0/16";
/// Kubernetes service CIDR.
pub const SERVICE_CIDR: &str = "10.96.0.0/12";
/// The underlay network the nodes' `eth0` sit on.
pub const UNDERLAY_CIDR: &str = "172.31.255.0/24";
/// The nodes' default gateway: an address of the underlay bridge, in a namespace that does not
/// forward (packets without a better route end there).
pub const UNDERLAY_GATEWAY: Ipv4Addr = Ipv4Addr::new(172, 31, 255, 1);
/// flannel's VXLAN UDP port (the Linux default, not IANA's 4789).
pub const VXLAN_PORT: u16 = 8472;
/// flannel's VNI.
pub const VXLAN_ID: u32 = 1;
/// Overlay MTU: underlay 1500 minus the 50 bytes of VXLAN encapsulation.
pub const OVERLAY_MTU: u32 = 1450;
/// Underlay MTU of every node's `eth0`.
pub const UNDERLAY_MTU: u32 = 1500;
/// The TCP port every pod's echo server listens on.
pub const ECHO_PORT: u16 = 8080;
/// kube-proxy's masquerade mark.
pub const MASQ_MARK: &str = "0x4000";
/// Namespace prefix the demo uses, so `netdoctor demo --cleanup` can find a crashed demo's leftovers.
pub const DEMO_PREFIX: &str = "nddemo";
/// Namespace prefix tests use by default.
pub const TEST_PREFIX: &str = "ndlab";
/// Most nodes a lab may have (the plan numbers underlay hosts from .10).
pub const MAX_NODES: usize = 16;

/// What to build.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Number of nodes (at least 2: the flows need a remote node).
    pub nodes: usize,
    /// Pods per node (at least 2: the flows need a local peer).
    pub pods_per_node: usize,
    /// Start of every namespace name; the process id and a counter are appended.
    pub prefix_base: String,
    /// Wire pods with `ip` even when the CNI plugins are installed (to test the fallback).
    pub force_ip_fallback: bool,
    /// How kube-proxy programs Services.
    pub proxy_mode: ProxyMode,
}

/// kube-proxy's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyMode {
    /// iptables rules (KUBE-SERVICES, KUBE-SVC-*, KUBE-SEP-*) through iptables-nft.
    #[default]
    Iptables,
    /// nftables mode (GA since Kubernetes 1.33): its own `table ip kube-proxy`, loaded with
    /// `nft -f`; flannel's rules stay in iptables.
    Nftables,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            nodes: 2,
            pods_per_node: 2,
            prefix_base: TEST_PREFIX.to_string(),
            force_ip_fallback: false,
            proxy_mode: ProxyMode::Iptables,
        }
    }
}

/// Underlay address of node `i`.
pub fn node_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(172, 31, 255, 10 + i as u8)
}

/// Pod subnet of node `i`, e.g. `10.244.1.0/24`.
pub fn pod_cidr(i: usize) -> String {
    format!("10.244.{i}.0/24")
}

/// The address flannel puts on `flannel.1` (the subnet's network address, as /32).
pub fn vtep_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 244, i as u8, 0)
}

/// The `cni0` gateway address of node `i`.
pub fn bridge_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 244, i as u8, 1)
}

/// A fixed, locally administered MAC for node `i`'s `flannel.1`, so the annotations can be
/// written before the device exists.
pub fn vtep_mac(i: usize) -> String {
    format!("0e:6e:64:00:00:{:02x}", i + 1)
}

/// One node of the lab.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    /// Position in [`crate::Lab::nodes`], and the third octet of its pod subnet.
    pub index: usize,
    /// Kubernetes node name (`n0`, `n1`, ...).
    pub name: String,
    /// The node's network namespace (`/run/netns/<netns>`).
    pub netns: String,
    /// `eth0` address on the underlay (flannel's `public-ip`).
    pub ip: Ipv4Addr,
    /// The node's pod CIDR (`spec.podCIDR`).
    pub pod_cidr: String,
    /// Address on `flannel.1`.
    pub vtep_ip: Ipv4Addr,
    /// MAC of `flannel.1`.
    pub vtep_mac: String,
    /// Gateway address on `cni0`.
    pub bridge_ip: Ipv4Addr,
    /// Directory holding `root/`, `cluster.json` and `kube/` (a symlink to the lab's kube
    /// JSON), laid out like an evidence bundle.
    pub dir: PathBuf,
    /// The kubectl JSON directory shared by the whole lab.
    pub kube_dir: PathBuf,
}

impl NodeHandle {
    /// The node's fake root: `etc/sysctl.d`, `etc/modules-load.d`, `run/flannel/subnet.env`,
    /// `etc/cni/net.d` (pass it as `--root`).
    pub fn root_dir(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// `{"node_name", "cluster_cidr", "service_cidr", "cni", "backend"}` for this node.
    pub fn cluster_json(&self) -> PathBuf {
        self.dir.join("cluster.json")
    }

    /// The kubectl JSON directory (the same for every node).
    pub fn kube_dir(&self) -> &Path {
        &self.kube_dir
    }
}

/// One pod.
#[derive(Debug, Clone)]
pub struct PodHandle {
    /// Pod name (`echo-n0-0`); the echo server answers with it.
    pub name: String,
    /// Kubernetes namespace (`default`).
    pub namespace: String,
    /// Index of the node it runs on.
    pub node: usize,
    /// The pod's network namespace.
    pub netns: String,
    /// Address handed out by host-local.
    pub ip: Ipv4Addr,
    /// The CNI container id used for ADD and DEL.
    pub container_id: String,
}

/// One service, as kube-proxy renders it.
#[derive(Debug, Clone)]
pub struct ServiceHandle {
    pub name: String,
    pub namespace: String,
    /// `ClusterIP` or `NodePort`.
    pub kind: &'static str,
    pub cluster_ip: Ipv4Addr,
    /// Service port (TCP).
    pub port: u16,
    /// The port name (`http`), part of kube-proxy's chain hashes and comments.
    pub port_name: String,
    pub target_port: u16,
    pub node_port: Option<u16>,
    /// Names of the backend pods in the healthy cluster.
    pub endpoints: Vec<String>,
}

impl ServiceHandle {
    /// `namespace/name:port`, kube-proxy's name for a service port.
    pub fn port_ref(&self) -> String {
        format!("{}/{}:{}", self.namespace, self.name, self.port_name)
    }
}
