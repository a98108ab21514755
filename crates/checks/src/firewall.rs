//! Firewall checks, judged by evaluating packets through every rule set of the node together
//! (the kernel runs iptables-legacy, iptables-nft and native nftables tables all, so a packet
//! must pass each), with the same hook evaluation `trace` follows packets through
//! ([`netdoctor_datapath::run_hook`]): `forward-policy-drop`, `overlay-port-blocked`,
//! `nodeport-blocked`.
//!
//! Field notes: a FORWARD policy of DROP does not break everything (kube-proxy's KUBE-FORWARD
//! accepts marked and established traffic), so it is judged by evaluating pod-CIDR flows, not by
//! the policy alone.

use crate::context::{tunnel_overhead, Context};
use crate::outcome::{command, finding, manual, Outcome, WithActions};
use ipnet::IpNet;
use netdoctor_datapath::devices::POD_BRIDGES;
use netdoctor_datapath::hook::Decided;
use netdoctor_datapath::overlay::vxlan_port;
use netdoctor_datapath::rules::{backend_tool as tool, RuleSet as Rules};
use netdoctor_datapath::{run_hook, HookOutcome};
use netdoctor_model::{Cause, Finding, Severity};
use netdoctor_netfilter::{Hook, HostContext, Packet, Ruleset, TableFamily, Verdict};
use std::net::IpAddr;

/// The fates of one packet at a hook: one per load-balancing branch and per order of the
/// backends, as [`run_hook`] gives them.
type Fates = Vec<HookOutcome>;

/// `pkt` through every rule set at `hook`. [`check`] has made sure the rules were collected.
fn at(ctx: &Context, host: &HostContext, hook: Hook, pkt: &Packet) -> Fates {
    run_hook(ctx.rules(), host, hook, pkt).unwrap_or_default()
}

/// A packet arriving from outside and addressed to this node: PREROUTING, then INPUT if it
/// is still for us (a DNAT may have sent it on), else FORWARD.
fn inbound(ctx: &Context, host: &HostContext, pkt: &Packet, local: &[IpAddr]) -> Fates {
    let mut fates = Vec::new();
    for o in at(ctx, host, Hook::Prerouting, pkt) {
        if !o.verdict.is_accept() {
            fates.push(o);
            continue;
        }
        let hook = if local.contains(&o.packet.dst) {
            Hook::Input
        } else {
            Hook::Forward
        };
        fates.extend(at(ctx, host, hook, &o.packet));
    }
    fates
}

/// The first fate that drops the packet, and the rule set that dropped it.
fn first_drop<'a>(
    fates: &'a [HookOutcome],
    sets: &'a [Rules],
) -> Option<(&'a HookOutcome, &'a Rules)> {
    fates
        .iter()
        .find(|o| o.verdict.is_dropped())
        .and_then(|o| Some((o, sets.get(o.set?)?)))
}

fn sometimes_dropped(fates: &[HookOutcome]) -> bool {
    fates.iter().any(|o| o.verdict.is_dropped())
}

/// For rules read from nftables, the runtime fix as `nft insert rule` commands in the chain
/// that dropped the packet (iptables commands would add rules to other tables, which a
/// packet must also pass). `rules` are nft rule bodies (`ip saddr 10.244.0.0/16 accept`).
fn nft_fix(mut f: Finding, set: &Rules, drop: &HookOutcome, rules: &[String]) -> Finding {
    if !set.nft {
        return f;
    }
    let Some((table, chain)) = drop.table_chain() else {
        return f;
    };
    let family = set
        .ruleset
        .tables
        .iter()
        .find(|t| t.name == table)
        .map_or("inet", |t| match t.family {
            TableFamily::Ip => "ip",
            TableFamily::Ip6 => "ip6",
            TableFamily::Inet => "inet",
            TableFamily::Other => "inet",
        });
    f.fix.runtime = rules
        .iter()
        .map(|r| format!("nft insert rule {family} {table} {chain} {r}"))
        .collect();
    f.fix.persistent = vec![format!(
        "add the same rules to chain {chain} of table {family} {table} in the configuration that creates it (/etc/nftables.conf, or the firewall that owns the table: firewalld's trusted zone for the pod interfaces)"
    )];
    f.actions = f
        .fix
        .runtime
        .iter()
        .map(|c| {
            let words: Vec<&str> = c.split_whitespace().collect();
            command(&words, "accept before the drop in the nft chain that drops")
        })
        .collect();
    f
}

/// What decided a drop, for evidence: the rule, or the chain's policy, in the rule set it
/// belongs to.
fn decided_by(fates: &[HookOutcome], sets: &[Rules]) -> Option<String> {
    let (o, set) = first_drop(fates, sets)?;
    let src = &set.source;
    match o.decided.as_ref()? {
        Decided::Rule(r) => Some(format!(
            "{src}:{}: {} (table {}, chain {} rule {})",
            r.line, r.text, r.table, r.chain, r.index
        )),
        Decided::Policy {
            table,
            chain,
            verdict,
        } => Some(format!("{src}: policy of {table}/{chain} is {verdict}")),
    }
}

/// Why fates are not known: each rule set that stopped the engine, and its words (a set
/// unknown in one order of the backends is unknown in the other too, so each is named).
fn unknown_reasons(fates: &[HookOutcome], sets: &[Rules]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for o in fates {
        let Verdict::Unknown { at, reason } = &o.verdict else {
            continue;
        };
        let src = o
            .set
            .and_then(|i| sets.get(i))
            .map_or_else(|| "the rules".to_string(), |s| s.source.clone());
        let why = match at {
            Some(r) => format!("{reason} at {r}"),
            None => reason.clone(),
        };
        if !out.contains(&(src.clone(), why.clone())) {
            out.push((src, why));
        }
    }
    out
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
    let sets = &ctx.rules().sets;
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
    forward(ctx, out, sets, &host);
    overlay(ctx, out, sets, &host);
    nodeport(ctx, out, sets, &host);
}

/// The pod bridge and the device traffic to other nodes' pods leaves by.
fn pod_devices(ctx: &Context) -> (String, Option<String>) {
    let bridge = ctx
        .links()
        .iter()
        .find(|l| POD_BRIDGES.contains(&l.name.as_str()))
        .or_else(|| {
            ctx.links()
                .iter()
                .find(|l| l.kind.as_deref() == Some("bridge") && l.name != "docker0")
        })
        .map_or_else(
            || {
                // The CNI's own pod device when the links are not known.
                match ctx.cni().as_deref() {
                    Some("weave") => "weave".to_string(),
                    Some("calico") => "cali1234567890a".to_string(),
                    Some("cilium") => "lxc1234567890a".to_string(),
                    _ => "cni0".to_string(),
                }
            },
            |l| l.name.clone(),
        );
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

/// Two new connections between a pod here and a pod on another node, one each way, for a
/// cluster CIDR; and the subnet that stands in for this node's.
fn pod_flows(ctx: &Context, cluster: IpNet) -> Option<(Vec<(&'static str, Packet)>, IpNet)> {
    let known_own = ctx
        .hints
        .pod_cidr
        .as_ref()
        .map(|c| c.value)
        .filter(|o| cluster.contains(o))
        .or_else(|| {
            ctx.addresses()
                .iter()
                .find(|a| POD_BRIDGES.contains(&a.ifname.as_str()))
                .and_then(|a| a.network())
                .filter(|o| cluster.contains(o))
        });
    // Without this node's own subnet, the first /24 of the cluster CIDR stands in for it: the
    // FORWARD chain's verdict on pod traffic rarely depends on which pod subnet it is.
    let own = match known_own {
        Some(o) => o,
        None => IpNet::new(cluster.network(), cluster.prefix_len().max(24)).ok()?,
    };
    // A pod of another node: the first subnet of the cluster CIDR (of our prefix length) that
    // is not ours.
    let remote_net = (0..1024u32).find_map(|i| {
        let size = 1u32 << (32 - u32::from(own.prefix_len()).min(32));
        let base = host_in(&cluster, i.wrapping_mul(size))?;
        let n = IpNet::new(base, own.prefix_len()).ok()?.trunc();
        (cluster.contains(&n) && n != own).then_some(n)
    });
    let local_pod = host_in(&own, 2)?;
    let remote_pod = remote_net.and_then(|n| host_in(&n, 2))?;
    let (bridge, uplink) = pod_devices(ctx);
    let uplink = uplink.unwrap_or_else(|| "eth0".into());
    Some((
        vec![
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
        ],
        own,
    ))
}

/// Cluster CIDRs that stand in when the real one is not known: two far apart, so a verdict
/// both give does not depend on the pods' addresses.
const STAND_INS: [&str; 2] = ["10.244.0.0/16", "100.96.0.0/16"];

fn forward(ctx: &Context, out: &mut Outcome, sets: &[Rules], host: &HostContext) {
    let known = ctx.hints.cluster_cidr.as_ref().map(|c| c.value);
    let clusters: Vec<IpNet> = match known {
        Some(c) => vec![c],
        None => STAND_INS.iter().filter_map(|c| c.parse().ok()).collect(),
    };
    let mut flows_by_cluster = Vec::new();
    for c in &clusters {
        match pod_flows(ctx, *c) {
            Some(f) => flows_by_cluster.push((*c, f)),
            None => return,
        }
    }
    for i in 0..2 {
        // The verdict for this direction under every cluster CIDR tried.
        let mut results = Vec::new();
        for (c, (flows, own)) in &flows_by_cluster {
            let (what, pkt) = &flows[i];
            results.push((
                *c,
                *own,
                *what,
                pkt.clone(),
                at(ctx, host, Hook::Forward, pkt),
            ));
        }
        let all_dropped = results.iter().all(|r| sometimes_dropped(&r.4));
        let same_decider = results
            .iter()
            .map(|r| decided_by(&r.4, sets))
            .collect::<Vec<_>>()
            .windows(2)
            .all(|w| w[0] == w[1]);
        let (_, own, what, pkt, fates) = &results[0];
        let drop = first_drop(fates, sets).filter(|_| all_dropped && same_decider);
        let Some((drop, set)) = drop else {
            let unknown = unknown_reasons(fates, sets);
            if !unknown.is_empty() && !sometimes_dropped(fates) {
                for (src, reason) in unknown {
                    out.not_checked(
                        Cause::ForwardPolicyDrop.id(),
                        format!("{src}: cannot evaluate FORWARD: {reason}"),
                    );
                }
            } else if sometimes_dropped(fates) && known.is_none() {
                out.not_checked(
                    Cause::ForwardPolicyDrop.id(),
                    "whether FORWARD drops pod traffic depends on the pod addresses: pass --cluster-cidr",
                );
            }
            continue;
        };
        {
            let t = tool(set.backend);
            let mut evidence = vec![];
            let c = match known {
                Some(c) => c.to_string(),
                None => {
                    evidence.push(
                        "the cluster CIDR is not known: the verdict is the same for pods of 10.244.0.0/16 and of 100.96.0.0/16, so it does not depend on their addresses".to_string(),
                    );
                    "<cluster CIDR>".to_string()
                }
            };
            if known.is_some() && ctx.hints.pod_cidr.is_none() {
                evidence.push(format!(
                    "this node's pod subnet is not known: {own} stands in for it"
                ));
            }
            evidence.push(format!(
                "a new TCP connection {what} ({} -> {}:8080, in {} out {}) is dropped in filter FORWARD",
                pkt.src, remote_or(pkt), pkt.in_iface.as_deref().unwrap_or("?"), pkt.out_iface.as_deref().unwrap_or("?")
            ));
            evidence.extend(decided_by(fates, sets));
            let (caveats, hidden_ifaces) = set.caveats();
            evidence.extend(caveats);
            let absent = cni_chains_absent(ctx, &set.ruleset);
            if let Some(cni) = &absent {
                evidence.push(format!(
                    "{cni} adds its own FORWARD accept rules when it runs, and none of its chains is in these rules: it is not running (or not yet), so this verdict may change when it does; look first at why it is not running"
                ));
            }
            let nft_rules = [
                format!("ip saddr {c} accept"),
                format!("ip daddr {c} accept"),
            ];
            out.add(nft_fix(finding(
                Cause::ForwardPolicyDrop,
                if hidden_ifaces || absent.is_some() { Severity::Warning } else { Severity::Critical },
                "The FORWARD chain drops pod traffic",
                evidence,
                "Pod traffic between nodes is forwarded by the node, so it crosses the filter FORWARD \
                 chain. Docker 1.13+ sets that chain's policy to DROP, and unless the CNI adds ACCEPT \
                 rules for the pod network (flannel 0.9.1+ does; older versions and some setups do not), \
                 the packets are dropped silently; a host firewall's catch-all REJECT placed before the \
                 CNI's ACCEPT rules does the same. Nodes ping each other, pods on different nodes \
                 cannot talk, NodePort may still work through kube-proxy's KUBE-FORWARD marks. Verify \
                 with `iptables -S FORWARD` and by watching the deciding rule's packet counter grow.",
                vec![
                    format!("{t} -I FORWARD 1 -s {c} -j ACCEPT -m comment --comment \"netdoctor: pod network\""),
                    format!("{t} -I FORWARD 1 -d {c} -j ACCEPT -m comment --comment \"netdoctor: pod network\""),
                ],
                vec!["let the CNI own these rules (flannel >= 0.9.1 adds them), or persist them with your firewall's own configuration (iptables-persistent, firewalld direct rules); `iptables -P FORWARD ACCEPT` also works but opens forwarding for everything".into()],
            )
            .with(if known.is_some() {
                vec![
                    command(&[t, "-I", "FORWARD", "1", "-s", &c, "-j", "ACCEPT", "-m", "comment", "--comment", "netdoctor: pod network"], "accept the pod network before the DROP"),
                    command(&[t, "-I", "FORWARD", "1", "-d", &c, "-j", "ACCEPT", "-m", "comment", "--comment", "netdoctor: pod network"], "accept the pod network before the DROP"),
                    manual("make the accept rules permanent in the node's firewall configuration, or upgrade the CNI so it adds them"),
                ]
            } else {
                vec![manual("accept the pod network (the cluster CIDR) in FORWARD before the rule that drops it, in the node's firewall configuration")]
            }), set, drop, &nft_rules));
            break;
        }
    }
}

/// A CNI that always writes its own filter chains (accepting its pod traffic), none of which is
/// in a complete rule set: the CNI is not running. (flannel before 0.9.1 wrote none, so flannel
/// is not judged this way.)
fn cni_chains_absent(ctx: &Context, rs: &Ruleset) -> Option<String> {
    let cni = ctx.cni()?;
    let prefix = match cni.as_str() {
        "weave" => "WEAVE",
        "calico" => "cali-",
        "cilium" => "CILIUM_",
        _ => return None,
    };
    let filter = rs.tables.iter().find(|t| t.name == "filter")?;
    if !filter.committed {
        return None;
    }
    let any = filter
        .chains
        .iter()
        .any(|c| c.name.as_str().starts_with(prefix));
    (!any).then_some(cni)
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
        .map(|(l, _)| {
            let port = vxlan_port(l);
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
        // Weave Net: the control connection on TCP 6783, the data plane on UDP 6783 (sleeve)
        // and 6784 (fast datapath VXLAN).
        (Some("weave"), _) => {
            v.push(("Weave TCP 6783 (control)".into(), 6, Some(6783)));
            v.push(("Weave UDP 6783 (sleeve)".into(), 17, Some(6783)));
            v.push(("Weave UDP 6784 (fast datapath)".into(), 17, Some(6784)));
        }
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

/// This node's underlay address and device, and a peer address on the same network; when they
/// are not known, two stand-ins far apart (documentation addresses, two interface names): a
/// verdict both give does not depend on them.
fn underlays(ctx: &Context) -> (Vec<(IpAddr, String, IpAddr)>, bool) {
    if let Some(u) = underlay(ctx) {
        return (vec![u], false);
    }
    let ip = |s: &str| s.parse::<IpAddr>().ok();
    let stand_ins = [
        ("192.0.2.10", "eth0", "192.0.2.20"),
        ("198.51.100.10", "ens3", "198.51.100.20"),
    ];
    let v = stand_ins
        .iter()
        .filter_map(|(me, dev, peer)| Some((ip(me)?, dev.to_string(), ip(peer)?)))
        .collect();
    (v, true)
}

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

/// What no node-side check can see.
const CLOUD: &str = "A cloud security group or network ACL can drop the overlay's packets \
    (VXLAN UDP 8472/4789, IPIP, BGP 179, WireGuard 51820) before they reach the node, and is \
    invisible from here: if same-node pod traffic works and cross-node does not, run \
    `tcpdump -ni <uplink> udp port 8472` on both nodes while pinging a remote pod, and check the \
    security group";

fn overlay(ctx: &Context, out: &mut Outcome, sets: &[Rules], host: &HostContext) {
    let before = out.findings.len();
    let judged = overlay_host(ctx, out, sets, host);
    if judged
        && !out.findings[before..]
            .iter()
            .any(|f| f.id == Cause::OverlayPortBlocked.id())
    {
        out.not_checked(
            "overlay-port-blocked (outside the node)",
            format!("the host firewall lets the overlay through. {CLOUD}"),
        );
    }
}

/// Whether the overlay's transports could be judged (then a drop is a finding).
fn overlay_host(ctx: &Context, out: &mut Outcome, sets: &[Rules], host: &HostContext) -> bool {
    let (unders, stand_in) = underlays(ctx);
    let (transports, guessed) = transports(ctx);
    let mut judged = false;
    // With stand-in addresses, the host holds them (so `addrtype LOCAL` can be decided).
    let hosts: Vec<HostContext> = unders
        .iter()
        .map(|(me, dev, _)| {
            if stand_in {
                HostContext::with_addresses([(dev.as_str(), IpNet::from(*me))])
            } else {
                host.clone()
            }
        })
        .collect();
    let mut local: Vec<IpAddr> = ctx.addresses().iter().map(|a| a.addr).collect();
    local.extend(unders.iter().map(|(me, _, _)| *me));
    for (what, proto, port) in &transports {
        let results: Vec<Fates> = unders
            .iter()
            .zip(&hosts)
            .map(|((me, dev, peer), host)| {
                let pkt = match (proto, port) {
                    (17, Some(p)) => Packet::udp(*peer, *me, *p).sport(*p),
                    (6, Some(p)) => Packet::tcp(*peer, *me, *p).sport(40000),
                    (n, _) => Packet::other(*peer, *me, *n),
                }
                .in_iface(dev);
                inbound(ctx, host, &pkt, &local)
            })
            .collect();
        let dropped = results.iter().all(|f| sometimes_dropped(f));
        let deciders: Vec<_> = results.iter().map(|f| decided_by(f, sets)).collect();
        let same = deciders.windows(2).all(|w| w[0] == w[1]);
        let fates = &results[0];
        let drop = first_drop(fates, sets).filter(|_| dropped && same);
        let Some((drop, set)) = drop else {
            let unknown = unknown_reasons(fates, sets);
            match unknown.is_empty() {
                false if !sometimes_dropped(fates) => {
                    for (src, r) in unknown {
                        out.not_checked(
                            Cause::OverlayPortBlocked.id(),
                            format!("{src}: {what}: {r}"),
                        );
                    }
                }
                _ if sometimes_dropped(fates) => out.not_checked(
                    Cause::OverlayPortBlocked.id(),
                    format!("{what}: whether it is dropped depends on this node's address or interface, which is not known: add `ip addr`"),
                ),
                _ => judged = true,
            }
            continue;
        };
        {
            judged = true;
            let (me, dev, peer) = &unders[0];
            let t = tool(set.backend);
            let mut evidence = vec![if stand_in {
                format!("{what} from another node is dropped before it reaches the overlay, whatever this node's address and interface (they are not known; tried {me} on {dev} and others)")
            } else {
                format!("{what} from another node ({peer} -> {me}, in {dev}) is dropped before it reaches the overlay")
            }];
            evidence.extend(decided_by(fates, sets));
            let (caveats, hidden_ifaces) = set.caveats();
            evidence.extend(caveats);
            if guessed {
                evidence.push("the CNI is not known, so every overlay transport was tried: pass --cni to check only the one in use".into());
            }
            let rule = match (proto, port) {
                (17, Some(p)) => format!("{t} -I INPUT 1 -p udp --dport {p} -j ACCEPT"),
                (6, Some(p)) => format!("{t} -I INPUT 1 -p tcp --dport {p} -j ACCEPT"),
                (n, _) => format!("{t} -I INPUT 1 -p {n} -j ACCEPT"),
            };
            let nft_rule = match (proto, port) {
                (17, Some(p)) => format!("udp dport {p} accept"),
                (6, Some(p)) => format!("tcp dport {p} accept"),
                (n, _) => format!("meta l4proto {n} accept"),
            };
            out.add(nft_fix(finding(
                Cause::OverlayPortBlocked,
                if guessed || hidden_ifaces { Severity::Warning } else { Severity::Critical },
                format!("The host firewall drops the overlay's transport: {what}"),
                evidence,
                "Pod traffic between nodes travels inside the overlay's packets (VXLAN over UDP \
                 8472 for flannel, 4789 for Calico VXLAN, IP protocol 4 for IPIP, BGP on TCP 179 to \
                 exchange routes, WireGuard on UDP 51820, Weave on TCP/UDP 6783-6784). If the \
                 receiving node's firewall drops them, same-node pod traffic works but everything \
                 across nodes is lost completely. Cloud security groups do the same and are \
                 invisible here: open the port there too. Verify with `tcpdump -ni <uplink> udp \
                 port 8472` on both nodes while pinging a remote pod.",
                vec![format!("{rule}   # restrict with -s <node network> if you can")],
                vec!["open the port in the node's firewall configuration (firewalld: firewall-cmd --permanent --add-port=8472/udp; ufw allow 8472/udp) and in the cloud security group".into()],
            )
            .with(vec![manual(format!(
                "allow {what} between the nodes in the host firewall's configuration and in any cloud security group ({rule})"
            ))]), set, drop, &[nft_rule]));
        }
    }
    judged
}

fn nodeport(ctx: &Context, out: &mut Outcome, sets: &[Rules], host: &HostContext) {
    let Some((me, dev, peer)) = underlay(ctx) else {
        return;
    };
    let local: Vec<IpAddr> = ctx.addresses().iter().map(|a| a.addr).collect();
    // The NodePorts kube-proxy programmed: `-A KUBE-NODEPORTS ... -p tcp ... --dport N`.
    let mut ports: Vec<(u16, &str)> = Vec::new();
    for t in sets.iter().flat_map(|s| &s.ruleset.tables) {
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
    for (port, proto) in ports.into_iter().take(20) {
        let pkt = if proto == "udp" {
            Packet::udp(peer, me, port)
        } else {
            Packet::tcp(peer, me, port)
        }
        .sport(40000)
        .in_iface(&dev);
        // kube-proxy's own drops (externalTrafficPolicy=Local without local endpoints, LB
        // source ranges) are deliberate, not a blocked NodePort.
        let blocking: Fates = inbound(ctx, host, &pkt, &local)
            .into_iter()
            .filter(|o| {
                o.verdict.is_dropped()
                    && !matches!(&o.decided, Some(Decided::Rule(r)) if r.chain.starts_with("KUBE-"))
            })
            .collect();
        let Some((drop, set)) = first_drop(&blocking, sets) else {
            continue;
        };
        {
            let mut evidence = vec![format!(
                "{proto} to NodePort {port} ({peer} -> {me}, in {dev}) is dropped"
            )];
            evidence.extend(decided_by(&blocking, sets));
            let t = tool(set.backend);
            let nft_rule = format!("{proto} dport 30000-32767 accept");
            out.add(nft_fix(finding(
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
            .with(vec![manual("open the NodePort range (30000-32767) in the node's firewall configuration")]), set, drop, &[nft_rule]));
        }
    }
}
