//! Devices and addresses against the cluster: `leftover-cni-interface`,
//! `stale-interface-address` (an address inside another node's pod subnet, named by the Node
//! objects), `podcidr-not-allocated`, `wrong-node-ip` and `pod-cidr-overlap` between nodes.

use netdoctor_datapath::devices::POD_BRIDGES;
use netdoctor_model::Cause;

use super::{routes::agent, View};
use crate::context::Context;
use crate::outcome::{command, finding, manual, restart, Outcome, WithActions};
use netdoctor_kube::{Cluster, Ownership};
use netdoctor_model::{Link, Severity};

/// Which CNI a device belongs to, by name.
fn owner_cni(name: &str) -> Option<&'static str> {
    if name.starts_with("flannel") {
        Some("flannel")
    } else if name.starts_with("cali")
        || name == "vxlan.calico"
        || name == "tunl0"
        || name == "wireguard.cali"
    {
        Some("calico")
    } else if name.starts_with("cilium_") || name.starts_with("lxc") {
        Some("cilium")
    } else if name == "weave" || name.starts_with("vethwe") || name == "datapath" {
        Some("weave")
    } else {
        None
    }
}

/// Whether a device of another CNI is really there (the kernel creates `tunl0` whenever the
/// ipip module loads; without an address it carries nothing).
fn counts(ctx: &Context, l: &Link) -> bool {
    if l.name == "tunl0" {
        return ctx.addresses().iter().any(|a| a.ifname == "tunl0");
    }
    true
}

pub fn leftover(ctx: &Context, out: &mut Outcome) {
    let Some(cni) = ctx
        .hints
        .cni
        .as_ref()
        .map(|c| c.value.clone())
        .or_else(|| ctx.cluster().and_then(|c| c.cni().map(str::to_string)))
    else {
        out.not_checked(
            Cause::LeftoverCniInterface.id(),
            "the CNI is not known: pass --cni or --kube-objects",
        );
        return;
    };
    if ctx.snap.links.is_none() {
        out.not_checked(Cause::LeftoverCniInterface.id(), "no links: add `ip link`");
        return;
    }
    let strays: Vec<(&Link, &str)> = ctx
        .links()
        .iter()
        .filter_map(|l| owner_cni(&l.name).map(|c| (l, c)))
        .filter(|(l, c)| *c != cni && counts(ctx, l))
        .collect();
    if strays.is_empty() {
        return;
    }
    let mut evidence: Vec<String> = strays
        .iter()
        .map(|(l, c)| format!("{} belongs to {c}", Context::link_evidence(l)))
        .collect();
    for (l, _) in &strays {
        evidence.extend(
            ctx.addresses()
                .iter()
                .filter(|a| a.ifname == l.name)
                .map(Context::address_evidence),
        );
    }
    evidence.push(format!("the CNI in use is {cni}"));
    let names: Vec<&str> = strays.iter().map(|(l, _)| l.name.as_str()).collect();
    let mut actions: Vec<_> = names
        .iter()
        .map(|n| {
            command(
                &["ip", "link", "delete", n],
                "a device of a CNI that no longer runs here",
            )
        })
        .collect();
    actions.push(manual(
        "remove the old CNI's config from /etc/cni/net.d and its modules from modules-load.d",
    ));
    out.add(
        finding(
            Cause::LeftoverCniInterface,
            Severity::Warning,
            format!(
                "Devices of another CNI are still here: {}",
                names.join(", ")
            ),
            evidence,
            format!(
                "These devices were left by a CNI that is not the one running ({cni}): switching \
                 CNI without rebooting or cleaning up leaves them. They are harmless while they \
                 hold no address and no route; when they do, they capture traffic meant for pods \
                 or make the CNI's own routes impossible to install (see stale-interface-address). \
                 Verify with `ip -d link` and `ip route | grep <device>`."
            ),
            names
                .iter()
                .map(|n| format!("ip link delete {n}"))
                .collect(),
            vec![
                "remove the old CNI's files in /etc/cni/net.d and any module it loads at boot"
                    .into(),
            ],
        )
        .with(actions),
    );
}

/// Addresses on devices that are not the running CNI's, inside another node's pod subnet.
pub fn check(v: &View, out: &mut Outcome) {
    stale(v, out);
    not_allocated(v, out);
    wrong_node_ip(v, out);
}

fn stale(v: &View, out: &mut Outcome) {
    let cni = v.cni.as_deref();
    for a in v.ctx.addresses() {
        let name = a.ifname.as_str();
        if owner_cni(name).is_some_and(|c| Some(c) == cni) || POD_BRIDGES.contains(&name) {
            continue; // the CNI's own devices: bridge-address-mismatch covers them
        }
        let Some((n, Ownership::PodCidr(subnet))) = v.cluster.owner_of(a.addr) else {
            continue;
        };
        if n.name == v.me.name {
            continue;
        }
        let blocked = if v.is_flannel() && matches!(v.backend.as_deref(), Some("vxlan") | None) {
            format!("{subnet} via {} dev flannel.1 onlink", subnet.network())
        } else {
            format!("the route to {subnet}")
        };
        out.add(
            finding(
                Cause::StaleInterfaceAddress,
                Severity::Critical,
                format!("{name} holds {}, inside Node {}'s pod subnet: the route `{blocked}` cannot be installed", a.addr, n.name),
                vec![
                    Context::address_evidence(a),
                    format!("{} is inside Node {}'s pod CIDR {subnet} [{}]", a.addr, n.name, n.source),
                ],
                format!(
                    "A leftover device ({name}) holds an address inside the pod subnet of Node {}. \
                     The kernel treats that gateway as local and refuses the CNI's route \
                     (`{blocked}` fails with EINVAL), so pods here cannot reach pods on {}. \
                     Verify with `ip -br addr | grep {}`.",
                    n.name, n.name, a.addr
                ),
                vec![
                    format!("ip addr del {}/{} dev {name}", a.addr, a.prefix_len),
                    format!("restart {} so it re-adds the route", agent(v)),
                ],
                vec![format!("remove whatever recreates {name} at boot")],
            )
            .with(vec![
                command(&["ip", "addr", "del", &format!("{}/{}", a.addr, a.prefix_len), "dev", name], "the address blocks the CNI's route to another node's pod subnet"),
                restart(agent(v), "it re-adds the route, neighbour and FDB entries"),
            ]),
        );
    }
}

fn not_allocated(v: &View, out: &mut Outcome) {
    // Calico's own IPAM does not use spec.podCIDR; flannel and host-local do.
    if v.is_calico() || !v.me.pod_cidrs.is_empty() {
        return;
    }
    if let Some(from) = &v.me.partial {
        out.not_checked(
            Cause::PodcidrNotAllocated.id(),
            format!(
                "Node {} was read from {from}, which need not show its pod CIDR",
                v.me.name
            ),
        );
        return;
    }
    out.add(
        finding(
            Cause::PodcidrNotAllocated,
            Severity::Critical,
            format!("Node {} has no pod CIDR", v.me.name),
            vec![format!("Node {} has no spec.podCIDR [{}]", v.me.name, v.me.source)],
            "flannel (kube subnet manager) and the host-local IPAM take the node's subnet from \
             spec.podCIDR, which kube-controller-manager allocates only when it runs with \
             --allocate-node-cidrs=true and --cluster-cidr. Without it flanneld exits (`failed to \
             acquire lease: node \"...\" pod cidr not assigned`) and pods on this node stay in \
             ContainerCreating. Verify with `kubectl get node -o jsonpath='{.spec.podCIDR}'`.",
            vec![],
            vec!["run kube-controller-manager with --allocate-node-cidrs=true --cluster-cidr=<pod range> (kubeadm: --pod-network-cidr), or set spec.podCIDR on the Node".into()],
        )
        .with(vec![manual("enable node CIDR allocation in kube-controller-manager (kubeadm --pod-network-cidr), or patch the Node's spec.podCIDR")]),
    );
}

fn wrong_node_ip(v: &View, out: &mut Outcome) {
    let me = v.me;
    let (ip, key) = if let Some(f) = &me.flannel {
        let key = if f.public_ip_overwrite.is_some() {
            "flannel.alpha.coreos.com/public-ip-overwrite"
        } else {
            "flannel.alpha.coreos.com/public-ip"
        };
        match f.effective_public_ip() {
            Some(ip) => (ip, key),
            None => return,
        }
    } else if let Some((ip, _)) = me.calico.as_ref().and_then(|c| c.ipv4_address) {
        (ip, "projectcalico.org/IPv4Address")
    } else {
        return;
    };
    let ann = me
        .annotation_evidence(key)
        .unwrap_or_else(|| format!("Node {} {key} {ip}", me.name));
    let mut evidence = Vec::new();
    let mut title = None;
    let shared: Vec<&str> = v
        .remotes()
        .filter(|n| n.underlay_ip() == Some(ip))
        .map(|n| n.name.as_str())
        .collect();
    if !shared.is_empty() {
        evidence.push(ann.clone());
        evidence.push(format!(
            "Nodes {} announce the same address {ip}",
            shared.join(", ")
        ));
        title = Some(format!(
            "Nodes {} and {} share the overlay address {ip} (a NAT interface?)",
            me.name,
            shared.join(", ")
        ));
    }
    if v.ctx.snap.addresses.is_some() {
        match v.ctx.addresses().iter().find(|a| a.addr == ip) {
            None => {
                evidence.push(ann.clone());
                evidence.push(format!("no interface of this node holds {ip}"));
                title.get_or_insert(format!(
                    "The overlay address {ip} is not an address of this node"
                ));
            }
            Some(a) => {
                let defaults = v.ctx.default_route_devs();
                let on_cni = crate::context::is_cni_device(&a.ifname);
                if on_cni
                    || (!defaults.is_empty()
                        && !defaults.contains(&a.ifname.as_str())
                        && !shared.is_empty())
                {
                    evidence.push(ann.clone());
                    evidence.push(format!(
                        "{} (the default route uses {})",
                        Context::address_evidence(a),
                        if defaults.is_empty() {
                            "no device".to_string()
                        } else {
                            defaults.join(", ")
                        }
                    ));
                    title.get_or_insert(format!(
                        "The overlay address {ip} is on {}, not the node's uplink",
                        a.ifname
                    ));
                }
            }
        }
    }
    let Some(title) = title else {
        return;
    };
    evidence.dedup();
    out.add(
        finding(
            Cause::WrongNodeIp,
            Severity::Critical,
            title,
            evidence,
            "Other nodes send this node's overlay traffic (VXLAN packets, host-gw and BGP routes) to \
             the address its CNI announced. flanneld picks the interface of the default route \
             unless --iface / --iface-regex (or the public-ip-overwrite annotation) says \
             otherwise; on Vagrant/VirtualBox every VM's first interface is the same NAT address \
             (10.0.2.15), so every node announces the same address and cross-node pod traffic \
             goes nowhere. An address on docker0 or another bridge is unreachable from other \
             nodes. Verify with `kubectl get nodes -o yaml | grep public-ip` on all nodes.",
            vec![format!("restart {} after fixing its interface choice", agent(v))],
            vec!["set flanneld's --iface=<the interface on the node network> (kube-flannel DaemonSet args) or annotate the Node with flannel.alpha.coreos.com/public-ip-overwrite; Calico: IP_AUTODETECTION_METHOD=interface=<name>".into()],
        )
        .with(vec![
            manual("make the CNI use the interface on the node network: flanneld --iface=<if> (or the public-ip-overwrite annotation), Calico IP_AUTODETECTION_METHOD"),
            restart(agent(v), "it re-announces the address"),
        ]),
    );
}

/// Two Nodes whose pod CIDRs overlap: their pods' addresses collide.
pub fn pod_cidr_overlap(ctx: &Context, cluster: &Cluster, out: &mut Outcome) {
    let mut all: Vec<(ipnet::IpNet, &str, &str)> = cluster
        .nodes
        .iter()
        .flat_map(|n| {
            n.pod_cidrs
                .iter()
                .map(move |c| (c.cidr, n.name.as_str(), n.source.as_str()))
        })
        .collect();
    all.sort_by_key(|(c, _, _)| (c.network(), c.prefix_len()));
    let me = ctx.kube_node.as_deref();
    let mut evidence = Vec::new();
    for w in all.windows(2) {
        let ((a, an, asrc), (b, bn, _)) = (w[0], w[1]);
        if an != bn
            && a.contains(&b.network())
            && (me.is_none() || me == Some(an) || me == Some(bn))
        {
            evidence.push(format!(
                "Node {an} pod CIDR {a} overlaps Node {bn} pod CIDR {b} [{asrc}]"
            ));
        }
    }
    if evidence.is_empty() {
        return;
    }
    out.add(
        finding(
            Cause::PodCidrOverlap,
            Severity::Critical,
            "Two nodes' pod CIDRs overlap",
            evidence,
            "Each node must own a disjoint pod subnet: with an overlap, two pods can get the same \
             address, and the route to one node's pods shadows the other's. This happens when \
             spec.podCIDR was set by hand or a node was re-added with an old allocation. Verify \
             with `kubectl get nodes -o custom-columns=NAME:.metadata.name,CIDR:.spec.podCIDR`.",
            vec![],
            vec![
                "delete and re-join one of the nodes so the controller allocates it a free subnet"
                    .into(),
            ],
        )
        .with(vec![manual(
            "re-join one of the overlapping nodes so it gets a free pod subnet",
        )]),
    );
}

/// Across the cluster's nodes: an InternalIP several nodes share (every Vagrant VM has
/// VirtualBox's NAT address 10.0.2.15), and nodes that registered no InternalIP while others
/// did. The API server reaches a kubelet, and many CNIs another node, at its InternalIP.
pub fn node_addresses(cluster: &Cluster, out: &mut Outcome) {
    let mut by_ip: std::collections::BTreeMap<std::net::IpAddr, Vec<&netdoctor_kube::Node>> =
        std::collections::BTreeMap::new();
    for n in &cluster.nodes {
        if let Some(ip) = n.internal_ip() {
            by_ip.entry(ip).or_default().push(n);
        }
    }
    let mut evidence = Vec::new();
    let mut critical = false;
    for (ip, nodes) in &by_ip {
        if nodes.len() > 1 {
            critical = true;
            evidence.push(format!(
                "InternalIP {ip} is the address of {} nodes: {} [{}]",
                nodes.len(),
                nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                nodes[0].source
            ));
        } else if ip.to_string() == "10.0.2.15" {
            evidence.push(format!(
                "Node {} has InternalIP 10.0.2.15, VirtualBox's NAT address that every VM has [{}]",
                nodes[0].name, nodes[0].source
            ));
        }
    }
    let with_ip = cluster
        .nodes
        .iter()
        .filter(|n| n.internal_ip().is_some())
        .count();
    for n in cluster.nodes.iter().filter(|n| n.no_internal_ip) {
        if with_ip > 0 {
            evidence.push(format!(
                "Node {} registered no InternalIP while {with_ip} other node(s) did [{}]",
                n.name, n.source
            ));
        }
    }
    if evidence.is_empty() {
        return;
    }
    let info = Cause::WrongNodeIp.info();
    out.add(
        finding(
            Cause::WrongNodeIp,
            if critical { Severity::Critical } else { Severity::Warning },
            "Nodes registered addresses other nodes cannot tell apart or reach",
            evidence,
            format!(
                "{} The API server connects to a kubelet (logs, exec, port-forward) at its \
                 InternalIP, and kube-proxy and several CNIs use it as the node's address: a \
                 shared or missing one sends that traffic to the wrong node, or nowhere. Set \
                 the kubelet's --node-ip to the node's own address on the node network.",
                info.explanation
            ),
            vec!["kubectl get nodes -o wide   # compare INTERNAL-IP across nodes".into()],
            vec!["set --node-ip=<the node's address on the node network> in the kubelet's configuration (KUBELET_EXTRA_ARGS or kubeadm's nodeRegistration.kubeletExtraArgs) and restart the kubelet".into()],
        )
        .with(vec![manual("give every kubelet --node-ip with the node's own address on the node network, then restart it")]),
    );
}
