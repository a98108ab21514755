//! Known log signatures. A log line is evidence for the same root cause a sysctl or an address
//! shows, so it merges into that finding (same id).

use netdoctor_model::Cause;

use crate::context::{is_cni_device, Context};
use crate::outcome::{finding, manual, sysctl, Outcome, WithActions};
use crate::signatures::{self, Certainty, Hit};
use netdoctor_model::Severity;
use netdoctor_model::Symptom;
use std::collections::HashMap;
use std::net::IpAddr;

pub(crate) fn quote(name: &str, line: u32, text: &str) -> String {
    let t = text.trim();
    let t = if t.len() > 300 {
        format!("{}...", &t[..t.floor_char_boundary(300)])
    } else {
        t.to_string()
    };
    format!("{name}:{line}: {t}")
}

/// Distinct captures of one signature applied per log; further ones are counted.
const MAX_DISTINCT: usize = 5;

#[derive(Default)]
struct Repeats {
    captures: Vec<Vec<(String, String)>>,
    more: usize,
    last: u32,
    example: Option<Hit>,
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
    // Rule listings carry the tools' own messages too (`Warning: iptables-legacy tables
    // present`), at their end.
    let listings: Vec<netdoctor_model::LogFile> = ctx
        .snap
        .iptables_listings
        .iter()
        .map(|l| netdoctor_model::LogFile {
            name: l.source.file.clone(),
            lines: l
                .value
                .lines()
                .enumerate()
                .filter(|(_, t)| !t.starts_with(['-', ':', '*']) && !t.contains("  --  "))
                .map(|(i, t)| {
                    let first = l.source.line.unwrap_or(1);
                    (
                        first.saturating_add(u32::try_from(i).unwrap_or(0)),
                        t.to_string(),
                    )
                })
                .collect(),
        })
        .collect();
    for log in ctx.snap.logs.iter().chain(&listings) {
        // A message repeated (a component retrying every second) is one piece of evidence:
        // each signature is applied for its first few distinct captures, the rest counted.
        let mut seen: HashMap<usize, Repeats> = HashMap::new();
        for hit in signatures::scan(&log.name, &log.lines) {
            let r = seen.entry(hit.index).or_default();
            let fresh = !r.captures.contains(&hit.captures);
            if fresh && r.captures.len() < MAX_DISTINCT {
                r.captures.push(hit.captures.clone());
                apply(ctx, out, &hit);
            } else {
                r.more += 1;
                r.last = hit.line;
                r.example.get_or_insert(hit);
            }
        }
        let mut repeated: Vec<(usize, Repeats)> =
            seen.into_iter().filter(|(_, r)| r.more > 0).collect();
        repeated.sort_by_key(|(i, _)| *i);
        for (_, r) in repeated {
            let Some(mut hit) = r.example else { continue };
            if hit.signature().certainty == Certainty::Symptom && !hit.signature().single_cause() {
                continue;
            }
            hit.text = format!(
                "the same message {} more times, up to line {}",
                r.more, r.last
            );
            apply(ctx, out, &hit);
        }
        // Not a fault, but context for one: the limit kube-proxy set.
        for (n, text) in &log.lines {
            if text.contains("Setting nf_conntrack_max to") {
                conntrack_context.push(quote(&log.name, *n, text));
            }
        }
    }
    if !conntrack_context.is_empty() && out.has(Cause::ConntrackTableFull) {
        out.add(finding(
            Cause::ConntrackTableFull,
            Severity::Info,
            "",
            conntrack_context,
            "",
            vec![],
            vec![],
        ));
    }
}

/// What one message means for the diagnosis. A decisive message names its cause; a symptom
/// with one known cause names it less surely (a warning); a symptom of several causes is kept
/// as a symptom, and joins the finding that explains it if one is found.
fn apply(ctx: &Context, out: &mut Outcome, hit: &Hit) {
    let sig = hit.signature();
    let ev = quote(&hit.file, hit.line, &hit.text);
    match sig.certainty {
        Certainty::Decisive => match sig.cause {
            Cause::IpForwardDisabled => forwarding(ctx, out, ev),
            Cause::StaleInterfaceAddress | Cause::NextHopNotOnLink | Cause::PodCidrOverlap
                if hit.capture("gw").is_some() =>
            {
                refused_route(ctx, out, hit, ev)
            }
            Cause::ConntrackTableFull => out.add(
                finding(
                    Cause::ConntrackTableFull,
                    Severity::Critical,
                    "The conntrack table is full: the kernel drops new connections",
                    vec![ev],
                    crate::conntrack::FULL_EXPLANATION,
                    vec!["sysctl -w net.netfilter.nf_conntrack_max=<twice the current value>".into()],
                    ctx.persistent_sysctl("net.netfilter.nf_conntrack_max", "<twice the current value>"),
                )
                .with(vec![manual("raise net.netfilter.nf_conntrack_max (twice the current value) in a sysctl.d drop-in and kube-proxy's conntrack.maxPerCore")]),
            ),
            // A lone "legacy tables present" proves rules exist in both backends, not that
            // kube-proxy's are split: the rules checks raise it to critical when they are.
            Cause::IptablesBackendMismatch => raise(out, hit, ev, sig.cause, Severity::Warning),
            Cause::RpFilterLoose => out.add(
                finding(
                    Cause::RpFilterLoose,
                    Severity::Critical,
                    "Calico felix refuses to start: reverse-path filtering is loose (2)",
                    vec![ev],
                    crate::rpfilter::LOOSE_EXPLANATION,
                    vec!["sysctl -w net.ipv4.conf.all.rp_filter=1".into()],
                    ctx.persistent_sysctl("net.ipv4.conf.all.rp_filter", "1"),
                )
                .with(crate::rpfilter::loose_actions()),
            ),
            cause => raise(out, hit, ev, cause, cause.info().severity),
        },
        Certainty::Observation => observe(ctx, out, hit, ev),
        Certainty::Symptom if sig.single_cause() => {
            let sev = sig.cause.info().severity.min(Severity::Warning);
            raise(out, hit, ev, sig.cause, sev)
        }
        Certainty::Symptom => out.symptom(Symptom {
            evidence: ev,
            signature: sig.name.clone(),
            component: sig.component.clone(),
            meaning: sig.meaning.clone(),
            causes: sig.causes.iter().map(|c| c.id().to_string()).collect(),
            explained_by: Vec::new(),
        }),
    }
}

/// An observation: judge the value the message reports.
fn observe(_ctx: &Context, out: &mut Outcome, hit: &Hit, ev: String) {
    if hit.signature().cause != Cause::WrongNodeIp {
        return;
    }
    let iface = hit.capture("iface");
    let ip = hit.capture("ip").or_else(|| hit.capture("gw"));
    let prefix = hit.capture("value").and_then(|v| v.parse::<u8>().ok());
    let why = if let Some(i) = iface.filter(|i| is_virtual(i)) {
        Some((
            Severity::Critical,
            format!("{i} is a virtual interface of this node (a container bridge, a tunnel, NodeLocal DNSCache's or kube-proxy's dummy device), not the node's own network: other nodes cannot reach this node there"),
        ))
    } else if prefix == Some(32) && iface.is_some_and(|i| tunnel_name(i).is_none()) {
        Some((
            Severity::Critical,
            format!(
                "a /32 address on {} is a service or link-local address, not the node's network",
                iface.unwrap_or("?")
            ),
        ))
    } else if ip == Some("10.0.2.15") {
        Some((
            Severity::Warning,
            "10.0.2.15 is VirtualBox's NAT address: every VM has it, so on several Vagrant/VirtualBox nodes they all announce the same address".into(),
        ))
    } else {
        None
    };
    let Some((severity, why)) = why else {
        return;
    };
    let info = Cause::WrongNodeIp.info();
    out.add(
        finding(
            Cause::WrongNodeIp,
            severity,
            format!(
                "{} announces {} as this node's address: {}",
                hit.signature().component,
                ip.unwrap_or("an address"),
                iface.map_or("the wrong interface".to_string(), |i| format!("on {i}"))
            ),
            vec![ev, why],
            info.explanation,
            info.fix.iter().map(|f| f.to_string()).collect(),
            vec!["set the CNI's interface explicitly so it survives restarts (flannel --iface=<the node's NIC>, Calico IP_AUTODETECTION_METHOD=interface=<NIC> or kubernetes-internal-ip)".into()],
        )
        .with(vec![manual(
            "set the CNI's interface explicitly (flannel --iface, Calico IP_AUTODETECTION_METHOD) and restart its agent",
        )]),
    );
}

/// Interfaces that are never a node's own network.
fn is_virtual(name: &str) -> bool {
    is_cni_device(name)
        || matches!(
            name,
            "lo" | "nodelocaldns" | "kube-ipvs0" | "kube-dummy-if" | "docker0"
        )
        || name.starts_with("virbr")
}

fn tunnel_name(name: &str) -> Option<()> {
    (name.starts_with("tunl") || name.starts_with("wg") || name.contains("vxlan")).then_some(())
}

/// A finding from a message alone: the catalogue's words, the message and what it means.
fn raise(out: &mut Outcome, hit: &Hit, ev: String, cause: Cause, severity: Severity) {
    let sig = hit.signature();
    let info = cause.info();
    let sure = match sig.certainty {
        Certainty::Decisive => "names this cause",
        Certainty::Symptom => "has this as its only known cause",
        Certainty::Observation => "reports this",
    };
    out.add(
        finding(
            cause,
            severity,
            info.title,
            vec![
                ev,
                format!(
                    "{} message ({}) {sure}: {}",
                    sig.component, sig.name, sig.meaning
                ),
            ],
            info.explanation,
            info.fix.iter().map(|f| f.to_string()).collect(),
            vec![],
        )
        .with(vec![manual(info.fix.join("; "))]),
    );
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
        Cause::IpForwardDisabled,
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
fn refused_route(ctx: &Context, out: &mut Outcome, hit: &Hit, ev: String) {
    let gw: Option<IpAddr> = hit.capture("gw").and_then(|s| s.trim().parse().ok());
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
            Cause::PodCidrOverlap,
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
    // host-gw and Calico direct routes: a gateway no device here holds is a next hop that is
    // not on a connected network (the nodes are not on one L2 segment).
    if holder.is_none() && hit.signature().cause == Cause::NextHopNotOnLink {
        let sev = Cause::NextHopNotOnLink.info().severity;
        return raise(out, hit, evidence.remove(0), Cause::NextHopNotOnLink, sev);
    }
    let (sev, note) = match (holder, ctx.snap.addresses.is_some()) {
        (Some(_), _) => (Severity::Critical, String::new()),
        (None, true) => (Severity::Warning, " No interface holds the gateway now; it may have been removed since the log line.".to_string()),
        (None, false) => (Severity::Critical, " Add `ip addr` output to see which device holds the gateway (a host NIC would mean pod-cidr-overlap instead).".to_string()),
    };
    out.add(finding(
        Cause::StaleInterfaceAddress,
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
