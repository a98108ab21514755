//! Address-plan checks: `pod-cidr-overlap`, `service-cidr-overlap`,
//! `bridge-address-mismatch`, `stale-interface-address`.

use netdoctor_datapath::devices::POD_BRIDGES as BRIDGES;
use netdoctor_model::Cause;

use crate::context::{is_cni_device, is_host_route, Context};
use crate::outcome::{command, finding, manual, restart, Outcome, WithActions};
use ipnet::IpNet;
use netdoctor_model::{Address, Severity};

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn usable(a: &Address) -> bool {
    let ip = a.addr;
    !(ip.is_loopback()
        || a.ifname == "lo"
        || matches!(ip, std::net::IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80))
}

/// Host networks (addresses on the host's own interfaces, and their routes), each with an
/// evidence line. docker0 counts: its network is a host network to the pods.
fn host_networks(ctx: &Context) -> Vec<(IpNet, String)> {
    let mut nets = Vec::new();
    for a in ctx.addresses().iter().filter(|a| usable(a)) {
        if is_cni_device(&a.ifname) && a.ifname != "docker0" {
            continue;
        }
        if let Some(n) = a.network() {
            nets.push((n, Context::address_evidence(a)));
        }
    }
    let cluster = ctx.hints.cluster_cidr.as_ref().map(|c| c.value);
    let mut seen: std::collections::HashSet<IpNet> = nets.iter().map(|(n, _)| *n).collect();
    for r in ctx.routes().iter().filter(|r| is_host_route(r)) {
        // A pod subnet routed via another node's address (flannel host-gw, Calico BGP) is
        // the CNI's own route, not a host network.
        if r.gateway.is_some() && cluster.is_some_and(|c| c.contains(&r.dst)) {
            continue;
        }
        if seen.insert(r.dst) {
            nets.push((
                r.dst,
                format!(
                    "route {} dev {} [{}]",
                    r.dst,
                    r.dev.as_deref().unwrap_or("?"),
                    r.source
                ),
            ));
        }
    }
    nets
}

pub fn check(ctx: &Context, out: &mut Outcome) {
    if ctx.snap.addresses.is_none() && ctx.snap.routes.is_none() {
        for id in [
            Cause::PodCidrOverlap.id(),
            Cause::ServiceCidrOverlap.id(),
            Cause::StaleInterfaceAddress.id(),
            Cause::BridgeAddressMismatch.id(),
        ] {
            out.not_checked(
                id,
                "no addresses or routes: add `ip addr` / `ip route` (or ifconfig / route -n)",
            );
        }
        // The cluster and service ranges can still be compared with each other.
        if ctx.hints.service_cidr.is_some() && ctx.hints.cluster_cidr.is_some() {
            service_overlap(ctx, out, &[]);
        }
        return;
    }
    let hosts = host_networks(ctx);
    pod_overlap(ctx, out, &hosts);
    service_overlap(ctx, out, &hosts);
    dns_in_pod_network(ctx, out);
    bridge_mismatch(ctx, out);
    stale(ctx, out);
}

fn pod_overlap(ctx: &Context, out: &mut Outcome, hosts: &[(IpNet, String)]) {
    let Some(cidr) = ctx
        .hints
        .cluster_cidr
        .as_ref()
        .or(ctx.hints.pod_cidr.as_ref())
    else {
        out.not_checked(
            Cause::PodCidrOverlap.id(),
            "the cluster CIDR is not known: pass --cluster-cidr or add cluster.json",
        );
        return;
    };
    let clashes: Vec<String> = hosts
        .iter()
        .filter(|(n, _)| overlaps(n, &cidr.value))
        .map(|(n, e)| format!("{n} overlaps the pod range: {e}"))
        .collect();
    if clashes.is_empty() {
        return;
    }
    let mut evidence = vec![format!("pod range {} [{}]", cidr.value, cidr.source)];
    evidence.extend(clashes);
    out.add(finding(
        Cause::PodCidrOverlap,
        Severity::Critical,
        "The pod CIDR overlaps a network the node already uses",
        evidence,
        "Pod addresses and a host network share address space. Packets from pods to hosts in that \
         network are routed into the overlay (or the other way round), so pods cannot reach those \
         hosts (connection timed out), and the CNI may fail to add routes for pod subnets that \
         collide with host routes. Calico's default pool 192.168.0.0/16 is the classic case on \
         hosts in 192.168.x.x. Re-plan the pod CIDR (kubeadm --pod-network-cidr, the CNI's pool or \
         net-conf.json must match) — this cannot be fixed by a command on one node. Verify with \
         `ip route` and the CNI's configured network.",
        vec![],
        vec!["choose a pod CIDR disjoint from every host network and route, set it in kubeadm and in the CNI's own config (Calico IPPool / flannel net-conf.json), and recreate the pod network".into()],
    ).with(vec![manual("re-plan the pod CIDR so it is disjoint from every host network and route; set it in kubeadm and in the CNI's own config")]));
}

fn service_overlap(ctx: &Context, out: &mut Outcome, hosts: &[(IpNet, String)]) {
    let Some(svc) = &ctx.hints.service_cidr else {
        out.not_checked(
            Cause::ServiceCidrOverlap.id(),
            "the service CIDR is not known: pass --service-cidr or add cluster.json",
        );
        return;
    };
    let mut clashes: Vec<String> = hosts
        .iter()
        .filter(|(n, _)| overlaps(n, &svc.value))
        .map(|(n, e)| format!("{n} overlaps the service range: {e}"))
        .collect();
    if let Some(c) = ctx
        .hints
        .cluster_cidr
        .as_ref()
        .filter(|c| overlaps(&c.value, &svc.value))
    {
        clashes.push(format!(
            "cluster CIDR {} overlaps the service range [{}]",
            c.value, c.source
        ));
    }
    if clashes.is_empty() {
        return;
    }
    let mut evidence = vec![format!("service range {} [{}]", svc.value, svc.source)];
    evidence.extend(clashes);
    out.add(finding(
        Cause::ServiceCidrOverlap,
        Severity::Critical,
        "The service CIDR overlaps a host network or the pod CIDR",
        evidence,
        "kube-proxy DNATs every packet to a Service IP before routing. If real hosts or pods live \
         in the service range, traffic to them is captured by Service rules or routed wrongly, \
         and ClusterIPs may shadow real addresses. The service range must be disjoint from every \
         host network and from the pod CIDR; changing it means re-creating the cluster's \
         Services. Verify with kube-apiserver's --service-cluster-ip-range and `ip route`.",
        vec![],
        vec!["choose a service CIDR disjoint from host networks and the pod CIDR (kube-apiserver --service-cluster-ip-range)".into()],
    ).with(vec![manual("re-plan the service CIDR (kube-apiserver --service-cluster-ip-range) so it is disjoint from host networks and the pod CIDR")]));
}

/// The pod network as known or as this node routes it: the cluster CIDR, and the route
/// flannel installs for its whole network on its own device (`192.168.0.0/16 dev flannel0`,
/// wider than one node's subnet).
fn pod_networks(ctx: &Context) -> Vec<(IpNet, String)> {
    let mut out = Vec::new();
    if let Some(c) = &ctx.hints.cluster_cidr {
        out.push((c.value, format!("cluster CIDR {} [{}]", c.value, c.source)));
    }
    out.extend(
        ctx.routes()
            .iter()
            .filter(|r| {
                r.gateway.is_none()
                    && r.dst.prefix_len() > 0
                    && r.dst.prefix_len() < 24
                    && r.dev.as_deref().is_some_and(|d| d.starts_with("flannel"))
            })
            .map(|r| {
                (
                    r.dst,
                    format!(
                        "flannel's network route `{}` [{}]",
                        r.ip_route_words(),
                        r.source
                    ),
                )
            }),
    );
    out
}

/// The cluster DNS address the kubelet hands pods is a Service IP; inside the pod network it
/// means the service range and the pod network overlap (kubernetes#26292): the node routes
/// the DNS Service's address into the overlay instead of letting kube-proxy DNAT it.
fn dns_in_pod_network(ctx: &Context, out: &mut Outcome) {
    let Some(dns) = &ctx.hints.cluster_dns else {
        return;
    };
    let Some((_, said)) = pod_networks(ctx)
        .into_iter()
        .find(|(net, _)| net.contains(&dns.value))
    else {
        return;
    };
    let mut evidence = vec![
        format!(
            "the kubelet gives pods {} as the cluster DNS Service's address [{}]",
            dns.value, dns.source
        ),
        format!("{} is inside the pod network: {said}", dns.value),
    ];
    if let Some(svc) = &ctx.hints.service_cidr {
        evidence.push(format!("service range {} [{}]", svc.value, svc.source));
    }
    out.add(finding(
        Cause::ServiceCidrOverlap,
        Severity::Critical,
        "The service range overlaps the pod network: the cluster DNS address is inside it",
        evidence,
        "Service addresses must be disjoint from the pod network. When they overlap, a packet \
         to a ClusterIP (here the DNS Service's) can be routed into the overlay as if it were a \
         pod's, or kube-proxy's rules capture real pod addresses: pods on some nodes cannot \
         resolve names, and Services answer from some nodes and not others. Verify with \
         kube-apiserver's --service-cluster-ip-range, the CNI's network, and `ip route get \
         <DNS IP>` on a node.",
        vec![],
        vec!["re-plan the ranges so the service CIDR (kube-apiserver --service-cluster-ip-range, kubelet --cluster-dns) and the pod network (the CNI's Network) are disjoint".into()],
    )
    .with(vec![manual("re-plan the service CIDR and the pod network so they are disjoint, then re-create the Services (the DNS Service first)")]));
}

fn bridge_mismatch(ctx: &Context, out: &mut Outcome) {
    for a in ctx
        .addresses()
        .iter()
        .filter(|a| BRIDGES.contains(&a.ifname.as_str()) && a.addr.is_ipv4())
    {
        let mut evidence = vec![Context::address_evidence(a)];
        let mismatch = if let Some(pod) = &ctx.hints.pod_cidr {
            evidence.push(format!(
                "this node's pod CIDR is {} [{}]",
                pod.value, pod.source
            ));
            !pod.value.contains(&a.addr)
        } else if let Some(f) = ctx
            .addresses()
            .iter()
            .find(|f| f.ifname.starts_with("flannel.") && f.addr.is_ipv4())
        {
            // flanneld puts the first address of the node's lease on flannel.1 (X.0/32).
            evidence.push(format!(
                "{} (flannel puts the first address of this node's lease there)",
                Context::address_evidence(f)
            ));
            a.network().is_some_and(|n| !n.contains(&f.addr))
        } else {
            continue;
        };
        if !mismatch {
            continue;
        }
        out.add(finding(
            Cause::BridgeAddressMismatch,
            Severity::Critical,
            format!("{} holds an address outside this node's pod subnet", a.ifname),
            evidence,
            format!(
                "The CNI bridge keeps the gateway address of an old subnet lease (the node got a \
                 new lease after a VM was recreated or flannel's state was lost). The bridge plugin \
                 then refuses to set up pods (`failed to set bridge addr: \"{0}\" already has an IP \
                 address different from ...`), so new pods stay in ContainerCreating, and any pod \
                 that does start gets a gateway that does not match its subnet. Deleting the bridge \
                 lets the plugin recreate it with the right address. Verify: `ip addr show {0}` \
                 against `cat /run/flannel/subnet.env`.",
                a.ifname
            ),
            vec![
                format!("ip link set {} down && ip link delete {}   # the CNI bridge plugin recreates it with the right address for the next pod", a.ifname, a.ifname),
                "restart the pods on this node (or the CNI agent) so they get addresses in the current subnet".into(),
            ],
            vec!["nothing to persist: the bridge is recreated from the current lease".into()],
        ).with(vec![command(&["ip", "link", "delete", &a.ifname], "the CNI bridge plugin recreates it with the current lease's gateway"), restart("the pods on this node", "they hold addresses from the old subnet")]));
    }
}

fn stale(ctx: &Context, out: &mut Outcome) {
    let Some(cluster) = ctx.hints.cluster_cidr.as_ref() else {
        out.not_checked(
            Cause::StaleInterfaceAddress.id(),
            "the cluster CIDR is not known: pass --cluster-cidr or add cluster.json",
        );
        return;
    };
    let cni = ctx.cni();
    let own = ctx.hints.pod_cidr.as_ref().map(|p| p.value);
    let uplinks = ctx.default_route_devs();
    for a in ctx
        .addresses()
        .iter()
        .filter(|a| cluster.value.contains(&a.addr))
    {
        let name = a.ifname.as_str();
        let own_device = match cni.as_deref() {
            Some("calico") => {
                name.starts_with("cali")
                    || name == "tunl0"
                    || name.starts_with("vxlan")
                    || name == "wireguard.cali"
            }
            Some("flannel") => name.starts_with("flannel") || BRIDGES.contains(&name),
            _ => BRIDGES.contains(&name),
        };
        let inside_own = own.is_some_and(|o| o.contains(&a.addr));
        if (own_device && (own.is_none() || inside_own || cni.as_deref() == Some("calico")))
            || BRIDGES.contains(&name)
        {
            continue;
        }
        if !is_cni_device(name)
            && ctx.snap.link(name).is_none_or(|l| l.kind.is_none())
            && name != "tunl0"
        {
            // A physical interface inside the cluster CIDR is a host network: pod-cidr-overlap.
            continue;
        }
        // The node's uplink (it carries the default route, or an address outside the cluster
        // CIDR) is a host network too, whatever its kind: in a VM or a container it is often a
        // veth. Never a leftover to delete.
        let host_addr = ctx
            .addresses()
            .iter()
            .any(|b| b.ifname == name && !cluster.value.contains(&b.addr) && !b.addr.is_loopback());
        if !is_cni_device(name) && name != "tunl0" && (uplinks.contains(&name) || host_addr) {
            continue;
        }
        let prefix = own.map_or(24, |o| o.prefix_len());
        let subnet = IpNet::new(a.addr, prefix)
            .map(|n| n.trunc())
            .unwrap_or(cluster.value);
        let mut evidence = vec![
            Context::address_evidence(a),
            format!(
                "{} is inside the cluster CIDR {} [{}]",
                a.addr, cluster.value, cluster.source
            ),
        ];
        if let Some(o) = &ctx.hints.pod_cidr {
            evidence.push(format!(
                "but not inside this node's pod CIDR {} [{}]",
                o.value, o.source
            ));
        }
        let blocked = match cni.as_deref() {
            Some("flannel") | None => format!("{subnet} via {} dev flannel.1 onlink", a.addr),
            Some(_) => format!("the route to {subnet}"),
        };
        if ctx.snap.routes.is_some() && !ctx.routes().iter().any(|r| r.dst == subnet) {
            evidence.push(format!("there is no route to {subnet}"));
        }
        out.add(finding(
            Cause::StaleInterfaceAddress,
            Severity::Critical,
            format!("{name} holds {}, inside another node's pod subnet: the route `{blocked}` cannot be installed", a.addr),
            evidence,
            format!(
                "A leftover device ({name}, for example a tunl0 from an earlier Calico install) holds \
                 an address inside the pod subnet of another node. The kernel then treats that \
                 gateway as a local address and refuses the CNI's route (`{blocked}` fails with \
                 EINVAL / \"Nexthop has invalid gateway\"; flanneld logs `failed to add vxlanRoute \
                 ... invalid argument` and removes the neighbour and FDB entries it had added). \
                 Every pod on this node loses that whole subnet while the rest of the cluster \
                 works. Verify with `ip -br addr | grep {}`, then restart the CNI agent after \
                 removing the address.",
                a.addr
            ),
            vec![
                format!("ip addr del {}/{} dev {name}", a.addr, a.prefix_len),
                format!("ip link delete {name}   # only if it is a leftover that nothing uses"),
                "restart the CNI agent (kube-flannel pod / calico-node) so it re-adds the route".into(),
            ],
            vec![format!("remove whatever recreates {name} at boot (an old CNI's config in /etc/cni/net.d, a module in modules-load.d)")],
        ).with(vec![command(&["ip", "addr", "del", &format!("{}/{}", a.addr, a.prefix_len), "dev", name], "the address blocks the CNI's route to another node's pod subnet"), restart("the CNI agent (kube-flannel / calico-node pod on this node)", "it re-adds the route, neighbour and FDB entries it removed")]));
    }
}
