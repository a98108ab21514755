//! Injecting, repairing and reverting the faults of [`crate::FAULTS`] on a running lab, as
//! shell lines run in the node's namespace (so the demo can print exactly what it runs).

use crate::exec::ns_sh;
use crate::faults::{Fault, CENTOS7_00_SYSTEM_CONF, STALE_ENDPOINT};
use crate::kube_json::{write_file, K8S_SYSCTL_CONF};
use crate::kubeproxy::{restore_document, RenderedService};
use crate::plan::{CLUSTER_CIDR, OVERLAY_MTU, UNDERLAY_MTU, VXLAN_PORT};
use crate::topology::peer_commands;
use crate::{Lab, LabError};

impl Lab {
    fn remote_of(&self, fault: Fault) -> usize {
        if fault.node() == 0 {
            1
        } else {
            0
        }
    }

    fn flannel_fwd_accepts() -> Vec<String> {
        ["-s", "-d"]
            .iter()
            .map(|d| {
                format!(
                    "iptables-nft -A FLANNEL-FWD {d} {CLUSTER_CIDR} -m comment --comment \"flanneld forward\" -j ACCEPT"
                )
            })
            .collect()
    }

    /// Put the fault in place. Returns the steps taken, for display.
    pub fn inject(&self, fault: Fault) -> Result<Vec<String>, LabError> {
        let n = &self.nodes[fault.node()];
        let m = &self.nodes[self.remote_of(fault)];
        let mut steps: Vec<String> = match fault {
            Fault::IpForwardOff => vec!["sysctl -w net.ipv4.ip_forward=0".into()],
            Fault::BridgeNfOff => vec!["sysctl -w net.bridge.bridge-nf-call-iptables=0".into()],
            Fault::VxlanPortBlocked => vec![format!(
                "iptables-nft -I INPUT -p udp --dport {VXLAN_PORT} -j DROP"
            )],
            Fault::NftFirewallDropsVxlan => vec![
                format!("nft add table inet {HOST_FW}"),
                format!("nft 'add chain inet {HOST_FW} input {{ type filter hook input priority 0; policy accept; }}'"),
                format!("nft add rule inet {HOST_FW} input udp dport {VXLAN_PORT} drop"),
            ],
            Fault::ForwardPolicyDrop => vec![
                "iptables-nft -P FORWARD DROP".into(),
                "iptables-nft -F FLANNEL-FWD".into(),
            ],
            Fault::StaleTunl0 => vec![
                // What flanneld does after the kernel refused its route: it removes the
                // neighbour and FDB entry it added for that node.
                format!("ip route del {}", m.pod_cidr),
                format!("ip neigh del {} dev flannel.1", m.vtep_ip),
                format!(
                    "bridge fdb del {} dev flannel.1 dst {} self",
                    m.vtep_mac, m.ip
                ),
                // Calico's ipip tunl0 runs with MTU 1480; this kernel has no ipip, so a bridge
                // stands in for it.
                "ip link add tunl0 mtu 1480 type bridge".into(),
                format!("ip addr add {}/32 dev tunl0", m.vtep_ip),
                "ip link set tunl0 up".into(),
            ],
            Fault::RouteMissing => vec![format!("ip route del {}", m.pod_cidr)],
            Fault::FdbMissing => vec![format!(
                "bridge fdb del {} dev flannel.1 dst {} self",
                m.vtep_mac, m.ip
            )],
            Fault::MtuUnderlay => vec![format!("ip link set eth0 mtu {}", OVERLAY_MTU - 50)],
            Fault::RpFilterStrict => vec![
                format!("ip route replace {} via {} dev eth0", m.pod_cidr, m.ip),
                "sysctl -w net.ipv4.conf.flannel/1.rp_filter=1".into(),
            ],
            Fault::PodCidrOverlapsHost => vec![format!(
                "ip addr add {} dev eth0",
                overlap_host_addr(m.index)
            )],
            Fault::Centos7Sysctl | Fault::IptablesBothBackends | Fault::ServiceNoEndpoints => {
                Vec::new()
            }
        };
        for line in &steps {
            ns_sh(&n.netns, line)?;
        }
        match fault {
            Fault::StaleTunl0 => {
                let line = peer_commands(m)
                    .into_iter()
                    .next()
                    .unwrap_or_default()
                    .replace("ip route replace", "ip route add");
                match ns_sh(&n.netns, &line) {
                    Err(LabError::Command { stderr, .. }) => {
                        steps.push(format!("{line}  # kernel refuses: {stderr}"))
                    }
                    Err(e) => return Err(e),
                    Ok(_) => {
                        return Err(LabError::Unexpected(format!(
                            "the kernel accepted `{line}` although tunl0 holds the gateway"
                        )))
                    }
                }
            }
            Fault::Centos7Sysctl => {
                let path = n.root_dir().join("usr/lib/sysctl.d/00-system.conf");
                write_file(&path, CENTOS7_00_SYSTEM_CONF)?;
                steps.push(format!(
                    "install CentOS 7 00-system.conf as {}",
                    path.display()
                ));
            }
            Fault::IptablesBothBackends => {
                let stale: Vec<RenderedService> = self
                    .rendered_services(&[])
                    .into_iter()
                    .map(|mut s| {
                        if s.port_ref == "default/web-remote:http" {
                            for ep in &mut s.endpoints {
                                ep.0 = STALE_ENDPOINT;
                            }
                        }
                        s
                    })
                    .collect();
                let doc = restore_document(&stale, None);
                let path = n.dir.join("iptables-legacy-stale.rules");
                write_file(&path, &doc)?;
                let line = format!("iptables-legacy-restore -w < {}", path.display());
                ns_sh(&n.netns, &line)?;
                steps.push(format!(
                    "{line}  # an old kube-proxy's rules: web-remote -> {STALE_ENDPOINT}"
                ));
            }
            Fault::ServiceNoEndpoints => {
                self.load_rules(&["web-remote"])?;
                self.write_kube(&["web-remote"])?;
                steps.push(
                    "web-remote's pods not ready: EndpointSlice empty, kube-proxy renders REJECT on every node"
                        .into(),
                );
            }
            _ => {}
        }
        Ok(steps)
    }

    /// The commands an operator runs on the broken node to repair it now (in its netns).
    pub fn runtime_fix(&self, fault: Fault) -> Vec<String> {
        let n = &self.nodes[fault.node()];
        let m = &self.nodes[self.remote_of(fault)];
        match fault {
            Fault::IpForwardOff => vec!["sysctl -w net.ipv4.ip_forward=1".into()],
            Fault::BridgeNfOff => vec!["sysctl -w net.bridge.bridge-nf-call-iptables=1".into()],
            Fault::VxlanPortBlocked => vec![format!(
                "iptables-nft -D INPUT -p udp --dport {VXLAN_PORT} -j DROP"
            )],
            // What `netdoctor check` advises for rules read from nftables: accept before the
            // drop, in the chain that drops.
            Fault::NftFirewallDropsVxlan => vec![format!(
                "nft insert rule inet {HOST_FW} input udp dport {VXLAN_PORT} accept"
            )],
            Fault::ForwardPolicyDrop => Self::flannel_fwd_accepts(),
            Fault::StaleTunl0 => {
                // Removing the device, then what a flanneld restart programs again.
                let mut v = vec!["ip link del tunl0".to_string()];
                v.extend(peer_commands(m));
                v
            }
            Fault::RouteMissing => peer_commands(m).into_iter().take(1).collect(),
            Fault::FdbMissing => peer_commands(m).into_iter().skip(2).collect(),
            Fault::MtuUnderlay => vec![format!("ip link set eth0 mtu {UNDERLAY_MTU}")],
            Fault::RpFilterStrict => vec!["sysctl -w net.ipv4.conf.flannel/1.rp_filter=2".into()],
            Fault::PodCidrOverlapsHost => vec![format!(
                "ip addr del {} dev eth0",
                overlap_host_addr(m.index)
            )],
            Fault::Centos7Sysctl => vec![format!(
                "echo 'net.bridge.bridge-nf-call-iptables = 1' >> {}",
                n.root_dir().join("etc/sysctl.d/k8s.conf").display()
            )],
            Fault::IptablesBothBackends => vec![
                "iptables-legacy -w -t nat -F".into(),
                "iptables-legacy -w -t nat -X".into(),
                "iptables-legacy -w -t filter -F".into(),
                "iptables-legacy -w -t filter -X".into(),
            ],
            Fault::ServiceNoEndpoints => Vec::new(),
        }
    }

    /// Apply [`Lab::runtime_fix`]. For `service-no-endpoints` the repair is in Kubernetes (the
    /// pods become ready again), so the lab restores the endpoints and kube-proxy's rules.
    pub fn apply_runtime_fix(&self, fault: Fault) -> Result<Vec<String>, LabError> {
        let lines = self.runtime_fix(fault);
        for line in &lines {
            ns_sh(&self.nodes[fault.node()].netns, line)?;
        }
        if fault == Fault::ServiceNoEndpoints {
            self.load_rules(&[])?;
            self.write_kube(&[])?;
        }
        self.settle();
        Ok(lines)
    }

    /// Undo the fault and return to the healthy configuration. For `iptables-both-backends`
    /// the legacy rules are flushed, but the empty legacy tables stay registered in the node's
    /// namespace (the kernel has no way to unregister them), so `iptables-nft-save` keeps
    /// warning about them until the lab is dropped.
    pub fn revert(&self, fault: Fault) -> Result<(), LabError> {
        let n = &self.nodes[fault.node()];
        let m = &self.nodes[self.remote_of(fault)];
        // Every line is idempotent, so revert also works after the runtime fix was applied.
        let lines: Vec<String> = match fault {
            Fault::VxlanPortBlocked => vec![format!(
                "while iptables-nft -D INPUT -p udp --dport {VXLAN_PORT} -j DROP 2>/dev/null; do :; done"
            )],
            Fault::NftFirewallDropsVxlan => {
                vec![format!("nft delete table inet {HOST_FW} 2>/dev/null || true")]
            }
            Fault::ForwardPolicyDrop => {
                let mut v = vec![
                    "iptables-nft -P FORWARD ACCEPT".to_string(),
                    "iptables-nft -F FLANNEL-FWD".to_string(),
                ];
                v.extend(Self::flannel_fwd_accepts());
                v
            }
            Fault::StaleTunl0 => {
                let mut v = vec!["ip link del tunl0 2>/dev/null || true".to_string()];
                v.extend(peer_commands(m));
                v
            }
            Fault::RpFilterStrict => {
                let mut v = vec!["sysctl -w net.ipv4.conf.flannel/1.rp_filter=0".to_string()];
                v.extend(peer_commands(m).into_iter().take(1));
                v
            }
            Fault::PodCidrOverlapsHost => vec![format!(
                "ip addr del {} dev eth0 2>/dev/null || true",
                overlap_host_addr(m.index)
            )],
            Fault::Centos7Sysctl => {
                let root = n.root_dir();
                let _ = std::fs::remove_file(root.join("usr/lib/sysctl.d/00-system.conf"));
                write_file(&root.join("etc/sysctl.d/k8s.conf"), K8S_SYSCTL_CONF)?;
                Vec::new()
            }
            Fault::ServiceNoEndpoints => {
                self.load_rules(&[])?;
                self.write_kube(&[])?;
                Vec::new()
            }
            Fault::IpForwardOff
            | Fault::BridgeNfOff
            | Fault::RouteMissing
            | Fault::FdbMissing
            | Fault::MtuUnderlay
            | Fault::IptablesBothBackends => self.runtime_fix(fault),
        };
        for line in &lines {
            ns_sh(&n.netns, line)?;
        }
        self.settle();
        Ok(())
    }

    /// Forget what a fault taught the kernels: cached path MTUs and routes in every namespace.
    pub(crate) fn settle(&self) {
        for ns in self
            .nodes
            .iter()
            .map(|n| &n.netns)
            .chain(self.pods.iter().map(|p| &p.netns))
        {
            let _ = crate::exec::ip(ns, &["route", "flush", "cache"]);
        }
    }
}

/// The host firewall's own nftables table (`nft-firewall-drops-vxlan`).
const HOST_FW: &str = "hostfw";

/// The overlapping host network: the lower half of node `m`'s pod subnet, where its pods live.
fn overlap_host_addr(m: usize) -> String {
    format!("10.244.{m}.126/25")
}
