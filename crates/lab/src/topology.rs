//! Building and tearing down a lab: namespaces, the underlay, flannel's VXLAN, CNI pods,
//! kube-proxy rules, kube JSON and the echo servers.

use crate::cni::{self, CniMode};
use crate::echo::EchoServer;
use crate::exec::{effective_uid, have_program, ip, ns_run, ns_sh, run};
use crate::kube_json::{write_kube_dir, write_node_root};
use crate::kubeproxy::{flannel_document, kube_proxy_nft, restore_document, RenderedService};
use crate::plan::*;
use crate::LabError;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Tools a lab cannot be built without.
const REQUIRED_TOOLS: &[&str] = &[
    "ip",
    "bridge",
    "sh",
    "iptables-nft",
    "iptables-nft-restore",
    "iptables-legacy",
    "iptables-legacy-restore",
    "ping",
    // nft-firewall-drops-vxlan, and kube-proxy in nftables mode.
    "nft",
];

/// A running multi-node cluster in network namespaces. Dropping it removes every namespace,
/// device, thread and file it created.
pub struct Lab {
    pub(crate) prefix: String,
    pub(crate) dir: PathBuf,
    pub(crate) underlay_ns: String,
    pub(crate) nodes: Vec<NodeHandle>,
    pub(crate) pods: Vec<PodHandle>,
    pub(crate) services: Vec<ServiceHandle>,
    pub(crate) cni: CniMode,
    pub(crate) proxy_mode: ProxyMode,
    pub(crate) echo: Vec<EchoServer>,
    /// Namespaces created so far (torn down in reverse).
    pub(crate) namespaces: Vec<String>,
}

impl Lab {
    /// Build a healthy cluster. Needs root and the tools in the crate docs.
    pub fn build(spec: &ClusterSpec) -> Result<Lab, LabError> {
        preflight()?;
        if spec.nodes < 2 || spec.nodes > MAX_NODES {
            return Err(LabError::Spec(format!(
                "nodes must be 2..={MAX_NODES}, got {}",
                spec.nodes
            )));
        }
        if spec.pods_per_node < 2 || spec.pods_per_node > 50 {
            return Err(LabError::Spec(format!(
                "pods_per_node must be 2..=50, got {}",
                spec.pods_per_node
            )));
        }
        let base = &spec.prefix_base;
        if base.is_empty() || base.len() > 12 || !base.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(LabError::Spec(format!(
                "prefix_base must be 1..=12 ASCII letters or digits, got {base:?}"
            )));
        }
        let prefix = format!(
            "{base}{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(format!("netdoctor-lab-{prefix}"));
        std::fs::create_dir_all(&dir).map_err(|e| LabError::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        let mut lab = Lab {
            underlay_ns: format!("{prefix}-ul"),
            prefix,
            dir,
            nodes: Vec::new(),
            pods: Vec::new(),
            services: Vec::new(),
            cni: if spec.force_ip_fallback {
                CniMode::Fallback("requested by ClusterSpec::force_ip_fallback".into())
            } else {
                cni::detect_mode()
            },
            proxy_mode: spec.proxy_mode,
            echo: Vec::new(),
            namespaces: Vec::new(),
        };
        // Any error from here on drops `lab`, which removes what was built so far.
        lab.build_underlay()?;
        for i in 0..spec.nodes {
            lab.build_node(i)?;
        }
        for i in 0..spec.nodes {
            lab.program_flannel_peers(i)?;
        }
        for i in 0..spec.nodes {
            for j in 0..spec.pods_per_node {
                lab.add_pod(i, j)?;
            }
        }
        lab.services = default_services(&lab.pods);
        for n in &lab.nodes {
            write_node_root(n)?;
            // Makes each node directory a complete evidence bundle (root/, cluster.json, kube/).
            let link = n.dir.join("kube");
            std::os::unix::fs::symlink("../../kube", &link).map_err(|e| LabError::Io {
                path: link.display().to_string(),
                source: e,
            })?;
        }
        lab.write_kube(&[])?;
        lab.load_rules(&[])?;
        for p in &lab.pods {
            lab.echo
                .push(EchoServer::start(&p.netns, &p.name, ECHO_PORT)?);
        }
        Ok(lab)
    }

    /// The per-run prefix every namespace name starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The directory holding the kube JSON, node roots and CNI state.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// kubectl-style JSON of the whole cluster (pass as `--kube-objects`).
    pub fn kube_dir(&self) -> PathBuf {
        self.dir.join("kube")
    }

    /// The namespace holding the underlay bridge `br0`.
    pub fn underlay_netns(&self) -> &str {
        &self.underlay_ns
    }

    pub fn nodes(&self) -> &[NodeHandle] {
        &self.nodes
    }

    /// Node by index. Panics if out of range, like slice indexing.
    pub fn node(&self, i: usize) -> &NodeHandle {
        &self.nodes[i]
    }

    pub fn pods(&self) -> &[PodHandle] {
        &self.pods
    }

    /// The `j`th pod of node `node`.
    pub fn pod(&self, node: usize, j: usize) -> Option<&PodHandle> {
        self.pods.iter().filter(|p| p.node == node).nth(j)
    }

    pub fn pod_by_name(&self, name: &str) -> Option<&PodHandle> {
        self.pods.iter().find(|p| p.name == name)
    }

    pub fn services(&self) -> &[ServiceHandle] {
        &self.services
    }

    pub fn service(&self, name: &str) -> Option<&ServiceHandle> {
        self.services.iter().find(|s| s.name == name)
    }

    /// Whether pods were wired by the CNI plugins or by the `ip` fallback.
    pub fn cni_mode(&self) -> &CniMode {
        &self.cni
    }

    /// Run a shell line inside a node's network namespace (as `ip netns exec NS sh -c LINE`).
    pub fn node_sh(&self, node: usize, line: &str) -> Result<String, LabError> {
        ns_sh(&self.nodes[node].netns, line)
    }

    fn add_ns(&mut self, name: &str) -> Result<(), LabError> {
        run("ip", &["netns", "add", name])?;
        self.namespaces.push(name.to_string());
        ip(name, &["link", "set", "lo", "up"])?;
        Ok(())
    }

    fn build_underlay(&mut self) -> Result<(), LabError> {
        let ul = self.underlay_ns.clone();
        self.add_ns(&ul)?;
        ip(&ul, &["link", "add", "br0", "type", "bridge"])?;
        ip(&ul, &["link", "set", "br0", "up"])?;
        // The nodes' default gateway, as real nodes have one: kube-proxy's REJECT for a
        // service without endpoints sits in FORWARD, which a packet only reaches once a route
        // exists. Forwarding stays off here, so whatever reaches the gateway ends there.
        let gw = format!("{UNDERLAY_GATEWAY}/24");
        ip(&ul, &["addr", "add", &gw, "dev", "br0"])?;
        ns_sh(&ul, "echo 0 > /proc/sys/net/ipv4/ip_forward")?;
        Ok(())
    }

    fn build_node(&mut self, i: usize) -> Result<(), LabError> {
        let ns = format!("{}-n{i}", self.prefix);
        self.add_ns(&ns)?;
        let ul = self.underlay_ns.clone();
        let port = format!("n{i}");
        ip(
            &ul,
            &[
                "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ],
        )?;
        ip(&ul, &["link", "set", &port, "master", "br0", "up"])?;
        let node_ip = node_ip(i);
        ip(
            &ns,
            &["addr", "add", &format!("{node_ip}/24"), "dev", "eth0"],
        )?;
        ip(&ns, &["link", "set", "eth0", "up"])?;
        let gw = UNDERLAY_GATEWAY.to_string();
        ip(&ns, &["route", "add", "default", "via", &gw, "dev", "eth0"])?;
        // What a kubeadm + flannel node runs with; rp_filter 0 so that the default of a new
        // namespace cannot make the healthy cluster depend on the host's setting.
        ns_sh(
            &ns,
            "echo 1 > /proc/sys/net/ipv4/ip_forward && \
             echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables && \
             echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter && \
             echo 0 > /proc/sys/net/ipv4/conf/default/rp_filter",
        )?;
        // flannel.1 exactly as flanneld's vxlan backend creates it.
        let local = node_ip.to_string();
        let (id, dstport) = (VXLAN_ID.to_string(), VXLAN_PORT.to_string());
        ip(
            &ns,
            &[
                "link",
                "add",
                "flannel.1",
                "type",
                "vxlan",
                "id",
                &id,
                "local",
                &local,
                "dev",
                "eth0",
                "dstport",
                &dstport,
                "nolearning",
            ],
        )?;
        let mac = vtep_mac(i);
        let mtu = OVERLAY_MTU.to_string();
        ip(
            &ns,
            &[
                "link",
                "set",
                "flannel.1",
                "mtu",
                &mtu,
                "address",
                &mac,
                "up",
            ],
        )?;
        ip(
            &ns,
            &[
                "addr",
                "add",
                &format!("{}/32", vtep_ip(i)),
                "dev",
                "flannel.1",
            ],
        )?;
        self.nodes.push(NodeHandle {
            index: i,
            name: format!("n{i}"),
            netns: ns,
            ip: node_ip,
            pod_cidr: pod_cidr(i),
            vtep_ip: vtep_ip(i),
            vtep_mac: mac,
            bridge_ip: bridge_ip(i),
            dir: self.dir.join("nodes").join(format!("n{i}")),
            kube_dir: self.kube_dir(),
        });
        Ok(())
    }

    /// The route, neighbour and FDB entry flanneld programs on node `i` for every other node.
    fn program_flannel_peers(&self, i: usize) -> Result<(), LabError> {
        for m in 0..self.nodes.len() {
            if m != i {
                self.add_peer(i, m)?;
            }
        }
        Ok(())
    }

    /// flanneld's three entries on node `i` for remote node `m`.
    pub(crate) fn add_peer(&self, i: usize, m: usize) -> Result<(), LabError> {
        for line in peer_commands(&self.nodes[m]) {
            ns_sh(&self.nodes[i].netns, &line)?;
        }
        Ok(())
    }

    fn add_pod(&mut self, i: usize, j: usize) -> Result<(), LabError> {
        let node_ns = self.nodes[i].netns.clone();
        let pod_ns = format!("{node_ns}-p{j}");
        self.add_ns(&pod_ns)?;
        let name = format!("echo-n{i}-{j}");
        let container_id = format!("{}-{name}", self.prefix);
        let ip_addr = match self.cni.clone() {
            CniMode::Plugins => {
                let conf = self.cni_conf(i);
                cni::add(&node_ns, &pod_ns, &container_id, &conf)?
            }
            CniMode::Fallback(_) => cni::add_fallback(i, &node_ns, &pod_ns, j)?,
        };
        self.pods.push(PodHandle {
            name,
            namespace: "default".into(),
            node: i,
            netns: pod_ns,
            ip: ip_addr,
            container_id,
        });
        Ok(())
    }

    pub(crate) fn cni_conf(&self, i: usize) -> String {
        cni::bridge_conf(&pod_cidr(i), &self.dir.join("cni").join(format!("n{i}")))
    }

    /// Services as kube-proxy sees them; those in `without_endpoints` have none.
    pub(crate) fn rendered_services(&self, without_endpoints: &[&str]) -> Vec<RenderedService> {
        self.services
            .iter()
            .map(|s| RenderedService {
                port_ref: s.port_ref(),
                cluster_ip: s.cluster_ip,
                port: s.port,
                node_port: s.node_port,
                endpoints: if without_endpoints.contains(&s.name.as_str()) {
                    Vec::new()
                } else {
                    s.endpoints
                        .iter()
                        .filter_map(|n| self.pod_by_name(n))
                        .map(|p| (p.ip, s.target_port))
                        .collect()
                },
            })
            .collect()
    }

    /// The proxy mode the lab was built with.
    pub fn proxy_mode(&self) -> ProxyMode {
        self.proxy_mode
    }

    /// (Re)load kube-proxy's and flannel's rules on every node, as a kube-proxy sync does.
    pub(crate) fn load_rules(&self, without_endpoints: &[&str]) -> Result<(), LabError> {
        let services = self.rendered_services(without_endpoints);
        for n in &self.nodes {
            let doc = match self.proxy_mode {
                ProxyMode::Iptables => restore_document(&services, Some(&n.pod_cidr)),
                ProxyMode::Nftables => flannel_document(&n.pod_cidr),
            };
            let path = n.dir.join("iptables.rules");
            crate::kube_json::write_file(&path, &doc)?;
            ns_run(&n.netns, "iptables-nft-restore", &[], &[], Some(&doc))?;
            if self.proxy_mode == ProxyMode::Nftables {
                let doc = kube_proxy_nft(&services, n.ip);
                let path = n.dir.join("kube-proxy.nft");
                crate::kube_json::write_file(&path, &doc)?;
                ns_run(&n.netns, "nft", &["-f", "-"], &[], Some(&doc))?;
            }
        }
        Ok(())
    }

    pub(crate) fn write_kube(&self, without_endpoints: &[&str]) -> Result<(), LabError> {
        write_kube_dir(
            &self.kube_dir(),
            &self.nodes,
            &self.pods,
            &self.services,
            without_endpoints,
        )
    }
}

/// The shell lines flanneld's effect amounts to on a node, for remote node `m`.
pub(crate) fn peer_commands(m: &NodeHandle) -> Vec<String> {
    vec![
        format!(
            "ip route replace {} via {} dev flannel.1 onlink",
            m.pod_cidr, m.vtep_ip
        ),
        format!(
            "ip neigh replace {} lladdr {} dev flannel.1 nud permanent",
            m.vtep_ip, m.vtep_mac
        ),
        format!(
            "bridge fdb replace {} dev flannel.1 dst {} self permanent",
            m.vtep_mac, m.ip
        ),
    ]
}

/// Three services: a ClusterIP backed on node 0 (`web-local`), one backed on node 1
/// (`web-remote`), and a NodePort backed on node 1 (`web-nodeport`).
fn default_services(pods: &[PodHandle]) -> Vec<ServiceHandle> {
    let pick = |node: usize, j: usize| {
        pods.iter()
            .filter(|p| p.node == node)
            .nth(j)
            .map(|p| p.name.clone())
            .into_iter()
            .collect::<Vec<_>>()
    };
    let svc = |name: &str, ip: Ipv4Addr, kind, node_port, endpoints| ServiceHandle {
        name: name.into(),
        namespace: "default".into(),
        kind,
        cluster_ip: ip,
        port: 80,
        port_name: "http".into(),
        target_port: ECHO_PORT,
        node_port,
        endpoints,
    };
    vec![
        svc(
            "web-local",
            Ipv4Addr::new(10, 96, 0, 10),
            "ClusterIP",
            None,
            pick(0, 1),
        ),
        svc(
            "web-remote",
            Ipv4Addr::new(10, 96, 0, 20),
            "ClusterIP",
            None,
            pick(1, 0),
        ),
        svc(
            "web-nodeport",
            Ipv4Addr::new(10, 96, 0, 30),
            "NodePort",
            Some(30080),
            pick(1, 1),
        ),
    ]
}

fn preflight() -> Result<(), LabError> {
    if effective_uid() != Some(0) {
        return Err(LabError::NotRoot);
    }
    let missing: Vec<&str> = REQUIRED_TOOLS
        .iter()
        .copied()
        .filter(|t| !have_program(t))
        .collect();
    if !missing.is_empty() {
        return Err(LabError::MissingTools(missing.join(", ")));
    }
    if !Path::new("/proc/sys/net/bridge").exists() {
        return Err(LabError::Spec(
            "br_netfilter is not active (/proc/sys/net/bridge missing): run `modprobe br_netfilter`"
                .into(),
        ));
    }
    Ok(())
}
