//! Known log signatures. A log line is evidence for the same root cause a sysctl or an address
//! shows, so it merges into that finding (same id).

use crate::context::{is_cni_device, Context};
use crate::outcome::{finding, manual, sysctl, Outcome, WithActions};
use netdoctor_model::Severity;
use std::net::IpAddr;

fn quote(name: &str, line: u32, text: &str) -> String {
    let t = text.trim();
    let t = if t.len() > 300 {
        format!("{}...", &t[..t.floor_char_boundary(300)])
    } else {
        t.to_string()
    };
    format!("{name}:{line}: {t}")
}

pub fn check(ctx: &Context, out: &mut Outcome) {
    if ctx.snap.logs.is_empty() {
        out.not_checked(
            "log-signatures",
            "no logs: add dmesg.txt, journal.txt or component *.log files",
        );
        return;
    }
    let mut conntrack_context = Vec::new();
    for log in &ctx.snap.logs {
        for (n, text) in &log.lines {
            let ev = || quote(&log.name, *n, text);
            if text.contains("IPv4 forwarding is disabled") {
                forwarding(ctx, out, ev());
            } else if text.contains("failed to add vxlanRoute")
                || (text.contains("Error adding route to") && text.contains("invalid argument"))
            {
                refused_route(ctx, out, text, ev());
            } else if text.contains("nf_conntrack: table full") {
                out.add(finding(
                    "conntrack-table-full",
                    Severity::Critical,
                    "The conntrack table is full: the kernel drops new connections",
                    vec![ev()],
                    crate::conntrack::FULL_EXPLANATION,
                    vec![
                        "sysctl -w net.netfilter.nf_conntrack_max=<twice the current value>".into(),
                    ],
                    ctx.persistent_sysctl(
                        "net.netfilter.nf_conntrack_max",
                        "<twice the current value>",
                    ),
                ).with(vec![manual("raise net.netfilter.nf_conntrack_max (twice the current value) in a sysctl.d drop-in and kube-proxy's conntrack.maxPerCore")]));
            } else if text.contains("Setting nf_conntrack_max to") {
                conntrack_context.push(ev());
            } else if text.contains("RPF check is set to 'loose'") {
                out.add(
                    finding(
                        "rp-filter-loose",
                        Severity::Critical,
                        "Calico felix refuses to start: reverse-path filtering is loose (2)",
                        vec![ev()],
                        crate::rpfilter::LOOSE_EXPLANATION,
                        vec!["sysctl -w net.ipv4.conf.all.rp_filter=1".into()],
                        ctx.persistent_sysctl("net.ipv4.conf.all.rp_filter", "1"),
                    )
                    .with(crate::rpfilter::loose_actions()),
                );
            } else if text.contains("UDP: bad checksum")
                && (text.contains(":8472 ") || text.contains(":4789 "))
            {
                out.add(finding(
                    "vxlan-checksum-offload",
                    Severity::Critical,
                    "VXLAN packets arrive with bad UDP checksums (the kernel's checksum-offload bug)",
                    vec![ev()],
                    "A kernel netfilter bug (fixed in 5.7, commit ea64d8d6c675) miscalculates UDP checksums \
                     of VXLAN packets that kube-proxy's MASQUERADE rules touch when checksum offload is on; \
                     the receiving node drops them as \"UDP: bad checksum\", so cross-node pod traffic \
                     (often only to Services) fails. Workarounds: upgrade the kernel, or turn off TX \
                     checksum offload on the VXLAN device. Verify with `dmesg | grep 'bad checksum'` on the receiver.",
                    vec!["ethtool -K flannel.1 tx-checksum-ip-generic off   # on every node; use the VXLAN device's name".into()],
                    vec!["upgrade the kernel to 5.7+ or a distro kernel with the fix; or make the ethtool setting persistent (a udev rule or the CNI's option)".into()],
                ).with(vec![manual("upgrade the kernel (fix in 5.7), or turn off tx checksum offload on the VXLAN device on every node")]));
            } else if text.contains("pod cidr not assigned")
                || text.contains("pod cidr not assgned")
            {
                out.add(finding(
                    "podcidr-not-allocated",
                    Severity::Critical,
                    "The node has no pod CIDR: the CNI cannot start",
                    vec![ev()],
                    "flannel (with the kube subnet manager) takes the node's subnet from Node.spec.podCIDR, \
                     which kube-controller-manager assigns only when it runs with --allocate-node-cidrs and \
                     --cluster-cidr (kubeadm: --pod-network-cidr). Without it flanneld exits and no pod on \
                     the node gets an address. Verify with `kubectl get node <name> -o jsonpath='{.spec.podCIDR}'`.",
                    vec!["kubectl patch node <name> -p '{\"spec\":{\"podCIDR\":\"<a free /24 of the cluster CIDR>\"}}'   # one-off".into()],
                    vec!["run kube-controller-manager with --allocate-node-cidrs=true --cluster-cidr=<pod range> (kubeadm init --pod-network-cidr)".into()],
                ).with(vec![manual("run kube-controller-manager with --allocate-node-cidrs=true and --cluster-cidr, or give the Node a spec.podCIDR")]));
            }
        }
    }
    if !conntrack_context.is_empty() && out.has("conntrack-table-full") {
        out.add(finding(
            "conntrack-table-full",
            Severity::Info,
            "",
            conntrack_context,
            "",
            vec![],
            vec![],
        ));
    }
}

fn forwarding(ctx: &Context, out: &mut Outcome, ev: String) {
    let now_on = ctx
        .sysctl("net.ipv4.ip_forward")
        .is_some_and(|v| v.value.trim() == "1");
    let (sev, title) = if now_on {
        (
            Severity::Warning,
            "IPv4 forwarding was off when this log was written (it is on now)",
        )
    } else {
        (
            Severity::Critical,
            "IPv4 forwarding is off: this node drops every packet it should route to or from pods",
        )
    };
    out.add(finding(
        "ip-forward-disabled",
        sev,
        title,
        vec![ev],
        "dockerd (and kubelet's preflight) log this when net.ipv4.ip_forward is 0. A node that does \
         not forward drops all pod traffic to other nodes and the replies to Service traffic, while \
         it still looks Ready. If it is on now, something switched it back on by hand or at runtime: \
         make sure it is set at boot (sysctl-not-persistent). Verify with `sysctl net.ipv4.ip_forward`.",
        vec!["sysctl -w net.ipv4.ip_forward=1".into()],
        ctx.persistent_sysctl("net.ipv4.ip_forward", "1"),
    ).with(vec![sysctl("net.ipv4.ip_forward", "1", !now_on, true)]));
}

/// flannel: `failed to add vxlanRoute (10.244.2.0/24 -> 10.244.2.0): invalid argument`;
/// host-gw: `Error adding route to 10.200.20.194/26 via 172.18.6.101: invalid argument`.
fn refused_route(ctx: &Context, out: &mut Outcome, text: &str, ev: String) {
    let gw: Option<IpAddr> = text
        .split_once("-> ")
        .and_then(|(_, r)| r.split(')').next())
        .or_else(|| {
            text.split_once(" via ")
                .and_then(|(_, r)| r.split(':').next())
        })
        .and_then(|s| s.trim().parse().ok());
    let holder = gw.and_then(|g| ctx.addresses().iter().find(|a| a.addr == g));
    let mut evidence = vec![ev];
    let host_nic = holder.is_some_and(|a| {
        !is_cni_device(&a.ifname)
            && a.ifname != "tunl0"
            && ctx.snap.link(&a.ifname).is_none_or(|l| l.kind.is_none())
    });
    if let Some(a) = holder {
        evidence.push(Context::address_evidence(a));
    }
    let host_route = gw.and_then(|g| {
        ctx.routes()
            .iter()
            .find(|r| crate::context::is_host_route(r) && r.dst.contains(&g))
    });
    if host_nic || (holder.is_none() && host_route.is_some()) {
        if let Some(r) = host_route {
            evidence.push(format!(
                "host route {} dev {} [{}] contains the gateway",
                r.dst,
                r.dev.as_deref().unwrap_or("?"),
                r.source
            ));
        }
        out.add(finding(
            "pod-cidr-overlap",
            Severity::Critical,
            "The pod CIDR overlaps a network the node already uses: the CNI's route is refused",
            evidence,
            "The CNI tried to route a pod subnet through a gateway address that is a host address (or \
             inside a host network) on this node, and the kernel refused it. Pod addresses and a host \
             network share address space; the pod CIDR must be re-planned.",
            vec![],
            vec!["choose a pod CIDR disjoint from every host network and route, in kubeadm and in the CNI's config".into()],
        ).with(vec![manual("re-plan the pod CIDR so it is disjoint from every host network")]));
        return;
    }
    let (sev, note) = match (holder, ctx.snap.addresses.is_some()) {
        (Some(_), _) => (Severity::Critical, String::new()),
        (None, true) => (Severity::Warning, " No interface holds the gateway now; it may have been removed since the log line.".to_string()),
        (None, false) => (Severity::Critical, " Add `ip addr` output to see which device holds the gateway (a host NIC would mean pod-cidr-overlap instead).".to_string()),
    };
    out.add(finding(
        "stale-interface-address",
        sev,
        format!(
            "The CNI's route to another node's pod subnet is refused: {} is already a local address",
            gw.map_or("the gateway".to_string(), |g| g.to_string())
        ),
        evidence,
        format!(
            "flanneld adds `<subnet> via <subnet>.0 dev flannel.1 onlink` for every other node. The \
             kernel answers EINVAL (\"invalid argument\", \"Nexthop has invalid gateway\") when that \
             gateway is an address of this node, typically held by a leftover device such as a tunl0 \
             from an old Calico. flanneld then removes the neighbour and FDB entries for that node, so \
             the whole subnet is unreachable from here.{note} Verify with `ip -br addr`."
        ),
        vec![
            "ip addr del <the gateway>/32 dev <the device holding it>".into(),
            "restart the CNI agent so it re-adds the route".into(),
        ],
        vec!["remove whatever recreates the leftover device at boot".into()],
    ).with(vec![manual("remove the address that holds the gateway from the leftover device, then restart the CNI agent")]));
}
