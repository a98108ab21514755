//! Firewall checks, judged by evaluating real packets through every backend's rules (the kernel
//! runs iptables-legacy and iptables-nft rules both, so a packet must pass both):
//! `forward-policy-drop`, `overlay-port-blocked`, `nodeport-blocked`.
//!
//! Field notes: a FORWARD policy of DROP does not break everything (kube-proxy's KUBE-FORWARD
//! accepts marked and established traffic), so it is judged by evaluating pod-CIDR flows, not by
//! the policy alone.

use netdoctor_model::Cause;

use crate::context::{tunnel_overhead, Context};
use crate::outcome::{command, finding, manual, Outcome, WithActions};
use ipnet::IpNet;
use netdoctor_model::{Backend, Family, Severity};
use netdoctor_netfilter::{
    parse_dump, Evaluation, Evaluator, Hook, HostContext, Packet, Ruleset, Verdict,
};
use std::net::IpAddr;

/// One backend's IPv4 rules, parsed.
struct Rules {
    backend: Backend,
    ruleset: Ruleset,
    source: String,
}

fn rulesets(ctx: &Context) -> Vec<Rules> {
    ctx.snap
        .iptables
        .iter()
        .filter(|d| d.family == Family::Ipv4)
        .map(|d| Rules {
            backend: d.backend,
            ruleset: parse_dump(d).0,
            source: d.source.to_string(),
        })
        .collect()
}

fn tool(b: Backend) -> &'static str {
    match b {
        Backend::Legacy => "iptables-legacy",
        Backend::Nft => "iptables-nft",
        Backend::Unknown => "iptables",
    }
}

/// What decided a drop, for evidence: the rule, or the chain's policy.
fn decided_by(ev: &Evaluation, src: &str) -> Option<String> {
    let o = ev.outcomes.iter().find(|o| o.verdict.is_dropped())?;
    if let Some(r) = o.deciding_rule() {
        return Some(format!(
            "{src}:{}: {} (table {}, chain {} rule {})",
            r.line, r.text, r.table, r.chain, r.index
        ));
    }
    o.trace.iter().rev().find_map(|s| match &s.action {
        netdoctor_netfilter::eval::Action::Policy { verdict } => Some(format!(
            "{src}: policy of {}/{} is {verdict}",
            s.table, s.chain
        )),
        _ => None,
    })
}

fn unknown_reason(ev: &Evaluation) -> Option<String> {
    ev.outcomes.iter().find_map(|o| match &o.verdict {
        Verdict::Unknown { at, reason } => Some(match at {
            Some(r) => format!("{reason} at {r}"),
            None => reason.clone(),
        }),
        _ => None,
    })
}

/// An address inside `net` other than `avoid`s: the network address + offset.
fn host_in(net: &IpNet, offset: u32) -> Option<IpAddr> {
    match net {
        IpNet::V4(n) => Some(IpAddr::V4(std::net::Ipv4Addr::from(
            u32::from(n.network()).wrapping_add(offset),
        ))),
        IpNet::V6(_) => None,
    }
}

pub fn check(ctx: &Context, out: &mut Outcome) {
    let sets = rulesets(ctx);
    if sets.is_empty() {
        out.not_checked(
            Cause::ForwardPolicyDrop.id(),
            "no IPv4 iptables rules to evaluate",
        );
        out.not_checked(
            Cause::OverlayPortBlocked.id(),
            format!("no IPv4 iptables rules to evaluate. {CLOUD}"),
        );
        return;
    }
    let host = HostContext::from_snapshot(ctx.snap);
    forward(ctx, out, &sets, &host);
    overlay(ctx, out, &sets, &host);
    nodeport(ctx, out, &sets, &host);
}

/// The pod bridge and the device traffic to other nodes' pods leaves by.
fn pod_devices(ctx: &Context) -> (String, Option<String>) {
    let bridge = ctx
        .links()
        .iter()
        .find(|l| matches!(l.name.as_str(), "cni0" | "cbr0"))
        .or_else(|| {
            ctx.links()
                .iter()
                .find(|l| l.kind.as_deref() == Some("bridge") && l.name != "docker0")
        })
        .map_or_else(|| "cni0".to_string(), |l| l.name.clone());
    let tunnel = ctx
        .links()
        .iter()
        .find(|l| tunnel_overhead(l).is_some())
        .map(|l| l.name.clone());
    (
        bridge,
        tunnel.or_else(|| ctx.default_route_devs().first().map(|d| d.to_string())),
    )
}

fn forward(ctx: &Context, out: &mut Outcome, sets: &[Rules], host: &HostContext) {
    let Some(cluster) = ctx.hints.cluster_cidr.as_ref().map(|c| c.value) else {
        out.not_checked(
            Cause::ForwardPolicyDrop.id(),
            "the cluster CIDR is needed: pass --cluster-cidr",
        );
        return;
    };
    let known_own = ctx.hints.pod_cidr.as_ref().map(|c| c.value).or_else(|| {
        ctx.addresses()
            .iter()
            .find(|a| a.ifname == "cni0" || a.ifname == "cbr0")
            .and_then(|a| a.network())
    });
    // Without this node's own subnet, the first /24 of the cluster CIDR stands in for it: the
    // FORWARD chain's verdict on pod traffic rarely depends on which pod subnet it is.
    let own = match known_own {
        Some(o) => o,
        None => match IpNet::new(cluster.network(), cluster.prefix_len().max(24)) {
            Ok(n) => n,
            Err(_) => return,
        },
    };
    // A pod here, and a pod of another node: the first subnet of the cluster CIDR (of our
    // prefix length) that is not ours.
    let remote_net = (0..1024u32).find_map(|i| {
        let size = 1u32 << (32 - u32::from(own.prefix_len()).min(32));
        let base = host_in(&cluster, i.wrapping_mul(size))?;
        let n = IpNet::new(base, own.prefix_len()).ok()?.trunc();
        (cluster.contains(&n) && n != own).then_some(n)
    });
    let (Some(local_pod), Some(remote_pod)) =
        (host_in(&own, 2), remote_net.and_then(|n| host_in(&n, 2)))
    else {
        return;
    };
    let (bridge, uplink) = pod_devices(ctx);
    let uplink = uplink.unwrap_or_else(|| "eth0".into());
    let flows = [
        (
            "from a local pod to a pod on another node",
            Packet::tcp(local_pod, remote_pod, 8080)
                .sport(40000)
                .in_iface(&bridge)
                .out_iface(&uplink),
        ),
        (
            "from a pod on another node to a local pod",
            Packet::tcp(remote_pod, local_pod, 8080)
                .sport(40000)
                .in_iface(&uplink)
                .out_iface(&bridge),
        ),
    ];
    for set in sets {
        let eval = Evaluator::new(&set.ruleset, host);
        for (what, pkt) in &flows {
            let ev = eval.hook(Hook::Forward, pkt);
            if let Some(reason) = unknown_reason(&ev).filter(|_| !ev.sometimes(Verdict::is_dropped))
            {
                out.not_checked(
                    Cause::ForwardPolicyDrop.id(),
                    format!("{}: cannot evaluate FORWARD: {reason}", set.source),
                );
                continue;
            }
            if !ev.sometimes(Verdict::is_dropped) {
                continue;
            }
            let t = tool(set.backend);
            let mut evidence = vec![];
            if known_own.is_none() {
                evidence.push(format!(
                    "this node's pod subnet is not known: {own} stands in for it"
                ));
            }
            evidence.push(format!(
                "a new TCP connection {what} ({} -> {}:8080, in {} out {}) is dropped in filter FORWARD",
                pkt.src, remote_or(pkt), pkt.in_iface.as_deref().unwrap_or("?"), pkt.out_iface.as_deref().unwrap_or("?")
            ));
            evidence.extend(decided_by(&ev, &set.source));
            let c = cluster.to_string();
            out.add(finding(
                Cause::ForwardPolicyDrop,
                Severity::Critical,
                "The FORWARD chain drops pod traffic",
                evidence,
                "Pod traffic between nodes is forwarded by the node, so it crosses the filter FORWARD \
                 chain. Docker 1.13+ sets that chain's policy to DROP, and unless the CNI adds ACCEPT \
                 rules for the pod network (flannel 0.9.1+ does; older versions and some setups do not), \
                 the packets are dropped silently: nodes ping each other, pods on different nodes \
                 cannot talk, NodePort may still work through kube-proxy's KUBE-FORWARD marks. Verify \
                 with `iptables -S FORWARD` and by watching the policy's packet counter grow.",
                vec![
                    format!("{t} -I FORWARD 1 -s {c} -j ACCEPT -m comment --comment \"netdoctor: pod network\""),
                    format!("{t} -I FORWARD 1 -d {c} -j ACCEPT -m comment --comment \"netdoctor: pod network\""),
                ],
                vec!["let the CNI own these rules (flannel >= 0.9.1 adds them), or persist them with your firewall's own configuration (iptables-persistent, firewalld direct rules); `iptables -P FORWARD ACCEPT` also works but opens forwarding for everything".into()],
            )
            .with(vec![
                command(&[t, "-I", "FORWARD", "1", "-s", &c, "-j", "ACCEPT", "-m", "comment", "--comment", "netdoctor: pod network"], "accept the pod network before the DROP"),
                command(&[t, "-I", "FORWARD", "1", "-d", &c, "-j", "ACCEPT", "-m", "comment", "--comment", "netdoctor: pod network"], "accept the pod network before the DROP"),
                manual("make the accept rules permanent in the node's firewall configuration, or upgrade the CNI so it adds them"),
            ]));
            break;
        }
    }
}

fn remote_or(p: &Packet) -> IpAddr {
    p.dst
}

/// Transports the overlay uses: (description, packet builder).
fn transports(ctx: &Context) -> (Vec<(String, u8, Option<u16>)>, bool) {
    let mut v: Vec<(String, u8, Option<u16>)> = ctx
        .links()
        .iter()
        .filter_map(|l| l.vxlan.as_ref().map(|x| (l, x)))
        .map(|(l, x)| {
            let port = x.dstport.unwrap_or(if l.name.starts_with("flannel") {
                8472
            } else {
                4789
            });
            (format!("VXLAN UDP {port} ({})", l.name), 17, Some(port))
        })
        .collect();
    let cni = ctx.cni();
    let backend = ctx.hints.backend.as_ref().map(|b| b.value.clone());
    if v.is_empty() {
        match (cni.as_deref(), backend.as_deref()) {
            (Some("flannel"), None | Some("vxlan")) => {
                v.push(("VXLAN UDP 8472 (flannel)".into(), 17, Some(8472)))
            }
            (Some("calico"), Some("vxlan")) => {
                v.push(("VXLAN UDP 4789 (Calico)".into(), 17, Some(4789)))
            }
            _ => {}
        }
    }
    match (cni.as_deref(), backend.as_deref()) {
        (Some("calico"), b) if b != Some("vxlan") => {
            v.push(("BGP TCP 179 (Calico)".into(), 6, Some(179)));
            v.push(("IPIP, IP protocol 4 (Calico)".into(), 4, None));
        }
        (_, Some("wireguard")) => v.push(("WireGuard UDP 51820".into(), 17, Some(51820))),
        _ => {}
    }
    if v.is_empty() && cni.is_none() {
        // Unknown CNI: check every overlay transport, and say these are guesses.
        v = vec![
            ("VXLAN UDP 8472".into(), 17, Some(8472)),
            ("VXLAN UDP 4789".into(), 17, Some(4789)),
            ("BGP TCP 179".into(), 6, Some(179)),
            ("IPIP, IP protocol 4".into(), 4, None),
            ("WireGuard UDP 51820".into(), 17, Some(51820)),
        ];
        return (v, true);
    }
    (v, false)
}

/// This node's underlay address and device, and a peer address on the same network.
fn underlay(ctx: &Context) -> Option<(IpAddr, String, IpAddr)> {
    let local = ctx
        .links()
        .iter()
        .find_map(|l| l.vxlan.as_ref().and_then(|x| x.local));
    let dev = ctx.default_route_devs().first().map(|d| d.to_string());
    let addr = ctx
        .addresses()
        .iter()
        .filter(|a| a.addr.is_ipv4())
        .find(|a| Some(a.addr) == local || (local.is_none() && Some(&a.ifname) == dev.as_ref()))?;
    let net = addr.network()?;
    let peer = (1..16u32)
        .filter_map(|i| host_in(&net, i))
        .find(|p| *p != addr.addr && net.contains(p))?;
    Some((addr.addr, addr.ifname.clone(), peer))
}

/// Whether a packet arriving from outside and addressed to this node is accepted: PREROUTING,
/// then INPUT if it is still for us, else FORWARD.
fn inbound(eval: &Evaluator, pkt: &Packet, local: &[IpAddr]) -> Evaluation {
    let pre = eval.hook(Hook::Prerouting, pkt);
    let mut outcomes = Vec::new();
    let mut truncated = pre.truncated;
    for o in pre.outcomes {
        if !o.verdict.is_accept() {
            outcomes.push(o);
            continue;
        }
        let hook = if local.contains(&o.packet.dst) {
            Hook::Input
        } else {
            Hook::Forward
        };
        let next = eval.hook(hook, &o.packet);
        truncated |= next.truncated;
        outcomes.extend(next.outcomes);
    }
    Evaluation {
        outcomes,
        truncated,
    }
}

/// What no node-side check can see.
const CLOUD: &str = "A cloud security group or network ACL can drop the overlay's packets \
    (VXLAN UDP 8472/4789, IPIP, BGP 179, WireGuard 51820) before they reach the node, and is \
    invisible from here: if same-node pod traffic works and cross-node does not, run \
    `tcpdump -ni <uplink> udp port 8472` on both nodes while pinging a remote pod, and check the \
    security group";

fn overlay(ctx: &Context, out: &mut Outcome, sets: &[Rules], host: &HostContext) {
    let before = out.findings.len();
    overlay_host(ctx, out, sets, host);
    if !out.findings[before..]
        .iter()
        .any(|f| f.id == Cause::OverlayPortBlocked.id())
    {
        out.not_checked(
            "overlay-port-blocked (outside the node)",
            format!("the host firewall lets the overlay through. {CLOUD}"),
        );
    }
}

fn overlay_host(ctx: &Context, out: &mut Outcome, sets: &[Rules], host: &HostContext) {
    let Some((me, dev, peer)) = underlay(ctx) else {
        out.not_checked(
            Cause::OverlayPortBlocked.id(),
            "this node's underlay address is not known (no addresses or default route)",
        );
        return;
    };
    let (transports, guessed) = transports(ctx);
    let local: Vec<IpAddr> = ctx.addresses().iter().map(|a| a.addr).collect();
    for set in sets {
        let eval = Evaluator::new(&set.ruleset, host);
        for (what, proto, port) in &transports {
            let pkt = match (proto, port) {
                (17, Some(p)) => Packet::udp(peer, me, *p).sport(*p),
                (6, Some(p)) => Packet::tcp(peer, me, *p).sport(40000),
                (n, _) => Packet::other(peer, me, *n),
            }
            .in_iface(&dev);
            let ev = inbound(&eval, &pkt, &local);
            if !ev.sometimes(Verdict::is_dropped) {
                if let Some(r) = unknown_reason(&ev) {
                    out.not_checked(
                        Cause::OverlayPortBlocked.id(),
                        format!("{}: {what}: {r}", set.source),
                    );
                }
                continue;
            }
            let t = tool(set.backend);
            let mut evidence = vec![format!("{what} from another node ({peer} -> {me}, in {dev}) is dropped before it reaches the overlay")];
            evidence.extend(decided_by(&ev, &set.source));
            if guessed {
                evidence.push("the CNI is not known, so every overlay transport was tried: pass --cni to check only the one in use".into());
            }
            let rule = match (proto, port) {
                (17, Some(p)) => format!("{t} -I INPUT 1 -p udp --dport {p} -j ACCEPT"),
                (6, Some(p)) => format!("{t} -I INPUT 1 -p tcp --dport {p} -j ACCEPT"),
                (n, _) => format!("{t} -I INPUT 1 -p {n} -j ACCEPT"),
            };
            out.add(finding(
                Cause::OverlayPortBlocked,
                if guessed { Severity::Warning } else { Severity::Critical },
                format!("The host firewall drops the overlay's transport: {what}"),
                evidence,
                "Pod traffic between nodes travels inside the overlay's packets (VXLAN over UDP \
                 8472 for flannel, 4789 for Calico VXLAN, IP protocol 4 for IPIP, BGP on TCP 179 to \
                 exchange routes, WireGuard on UDP 51820). If the receiving node's firewall drops \
                 them, same-node pod traffic works but everything across nodes is lost completely. \
                 Cloud security groups do the same and are invisible here: open the port there too. \
                 Verify with `tcpdump -ni <uplink> udp port 8472` on both nodes while pinging a \
                 remote pod.",
                vec![format!("{rule}   # restrict with -s <node network> if you can")],
                vec!["open the port in the node's firewall configuration (firewalld: firewall-cmd --permanent --add-port=8472/udp; ufw allow 8472/udp) and in the cloud security group".into()],
            )
            .with(vec![manual(format!(
                "allow {what} between the nodes in the host firewall's configuration and in any cloud security group ({rule})"
            ))]));
        }
    }
}

fn nodeport(ctx: &Context, out: &mut Outcome, sets: &[Rules], host: &HostContext) {
    let Some((me, dev, peer)) = underlay(ctx) else {
        return;
    };
    let local: Vec<IpAddr> = ctx.addresses().iter().map(|a| a.addr).collect();
    for set in sets {
        // The NodePorts kube-proxy programmed: `-A KUBE-NODEPORTS ... -p tcp ... --dport N`.
        let mut ports: Vec<(u16, &str)> = Vec::new();
        for t in &set.ruleset.tables {
            for c in t.chains.iter().filter(|c| c.name == "KUBE-NODEPORTS") {
                for r in &c.rules {
                    let proto = if r.text.contains("-p udp") {
                        "udp"
                    } else {
                        "tcp"
                    };
                    if let Some(p) = r
                        .text
                        .split("--dport ")
                        .nth(1)
                        .and_then(|s| s.split_whitespace().next())
                        .and_then(|s| s.parse().ok())
                    {
                        if !ports.contains(&(p, proto)) {
                            ports.push((p, proto));
                        }
                    }
                }
            }
        }
        let eval = Evaluator::new(&set.ruleset, host);
        for (port, proto) in ports.into_iter().take(20) {
            let pkt = if proto == "udp" {
                Packet::udp(peer, me, port)
            } else {
                Packet::tcp(peer, me, port)
            }
            .sport(40000)
            .in_iface(&dev);
            let ev = inbound(&eval, &pkt, &local);
            // kube-proxy's own drops (externalTrafficPolicy=Local without local endpoints, LB
            // source ranges) are deliberate, not a blocked NodePort.
            let blocked = ev.outcomes.iter().any(|o| {
                o.verdict.is_dropped()
                    && o.deciding_rule()
                        .is_none_or(|r| !r.chain.starts_with("KUBE-"))
            });
            if !blocked {
                continue;
            }
            let mut evidence = vec![format!(
                "{proto} to NodePort {port} ({peer} -> {me}, in {dev}) is dropped"
            )];
            evidence.extend(decided_by(&ev, &set.source));
            let t = tool(set.backend);
            out.add(finding(
                Cause::NodeportBlocked,
                Severity::Warning,
                "The host firewall drops NodePort traffic",
                evidence,
                "kube-proxy accepts NodePort traffic on every node (30000-32767 by default), DNATs \
                 it to a backend and forwards it. A host firewall rule or policy that drops the port \
                 range before kube-proxy's rules makes the Service unreachable through this node, \
                 and external load balancers mark the node unhealthy. Verify with `iptables -S \
                 INPUT` and a connection to <node>:<nodePort> from another host.",
                vec![format!("{t} -I INPUT 1 -p {proto} --dport 30000:32767 -j ACCEPT")],
                vec!["open the NodePort range in the node's firewall configuration".into()],
            )
            .with(vec![manual("open the NodePort range (30000-32767) in the node's firewall configuration")]));
        }
    }
}
