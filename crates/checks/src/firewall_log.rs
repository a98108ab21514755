//! Kernel log lines of a firewall's LOG rules (`[UFW BLOCK] IN=cni0 OUT= ... SRC=10.244.5.51
//! DST=192.168.50.12 ... PROTO=TCP DPT=10250`, firewalld's `FINAL_REJECT:`, a user's
//! `FORWARD (rejecting):`). When the prefix says the packet was dropped, the fields say whose
//! traffic it was and which chain: OUT= empty is the node's own INPUT, OUT=dev is FORWARD.
//! A dropped packet is evidence of a drop: `forward-policy-drop`, `pod-to-host-blocked`,
//! `overlay-port-blocked`, `nodeport-blocked`.

use crate::context::{is_cni_device, Context};
use crate::outcome::{finding, manual, Outcome, WithActions};
use ipnet::IpNet;
use netdoctor_model::Cause;
use std::net::IpAddr;

/// The fields of one LOG line.
#[derive(Debug, Default)]
struct Logged<'a> {
    prefix: &'a str,
    iface_in: &'a str,
    iface_out: &'a str,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    proto: &'a str,
    dport: Option<u16>,
}

fn parse(line: &str) -> Option<Logged<'_>> {
    let at = line
        .find(" IN=")
        .map(|i| i + 1)
        .or_else(|| line.find("IN="))?;
    if !line[at..].contains(" OUT=") || !line.contains("SRC=") {
        return None;
    }
    let prefix = &line[..at];
    // TRACE lines are the kernel's own rule trace, not a LOG rule's verdict.
    if prefix.contains("TRACE:") {
        return None;
    }
    let mut l = Logged {
        prefix,
        ..Logged::default()
    };
    for w in line[at..].split_whitespace() {
        let Some((k, v)) = w.split_once('=') else {
            continue;
        };
        match k {
            "IN" => l.iface_in = v,
            "OUT" => l.iface_out = v,
            "SRC" => l.src = v.parse().ok(),
            "DST" => l.dst = v.parse().ok(),
            "PROTO" => l.proto = v,
            "DPT" => l.dport = v.parse().ok(),
            _ => {}
        }
    }
    Some(l)
}

/// The prefix a LOG rule gave says the packet is being dropped.
fn says_dropped(prefix: &str) -> bool {
    let p = prefix.to_ascii_lowercase();
    ["drop", "reject", "block", "deny", "denied"]
        .iter()
        .any(|w| p.contains(w))
}

fn is_pod_side(dev: &str, addr: Option<IpAddr>, cluster: Option<IpNet>) -> bool {
    (!dev.is_empty() && is_cni_device(dev) && !dev.starts_with("docker"))
        || addr.is_some_and(|a| cluster.is_some_and(|c| c.contains(&a)))
}

const OVERLAY: &[(&str, u16)] = &[
    ("UDP", 8472),
    ("UDP", 4789),
    ("TCP", 179),
    ("UDP", 51820),
    ("UDP", 51821),
    ("TCP", 6783),
    ("UDP", 6783),
    ("UDP", 6784),
];

pub fn check(ctx: &Context, out: &mut Outcome) {
    let cluster = ctx.hints.cluster_cidr.as_ref().map(|c| c.value);
    for log in &ctx.snap.logs {
        for (i, (n, line)) in log.lines.iter().enumerate() {
            // A LOG line wrapped by the paste: its rest (PROTO=, DPT=) is on the next line.
            let joined;
            let text = match log.lines.get(i + 1) {
                Some((_, next))
                    if line.contains(" OUT=")
                        && !line.contains("PROTO=")
                        && next.contains("PROTO=")
                        && !next.contains(" IN=") =>
                {
                    joined = format!("{line}{}", next.trim_start());
                    &joined
                }
                _ => line,
            };
            let Some(l) = parse(text) else {
                continue;
            };
            if !says_dropped(l.prefix) {
                continue;
            }
            let ev = crate::logs::quote(&log.name, *n, text);
            let input = l.iface_out.is_empty();
            let pod_in = is_pod_side(l.iface_in, l.src, cluster);
            let pod_out = is_pod_side(l.iface_out, l.dst, cluster);
            let overlay = OVERLAY
                .iter()
                .any(|(p, port)| l.proto == *p && l.dport == Some(*port))
                || l.proto == "4";
            let (cause, title, why) = if input && overlay && !pod_in {
                (
                    Cause::OverlayPortBlocked,
                    "The host firewall drops the overlay's packets (its own log says so)",
                    format!(
                        "the firewall logged a dropped {} packet to port {} arriving on {}: the overlay's transport",
                        l.proto,
                        l.dport.map_or("-".into(), |p| p.to_string()),
                        l.iface_in
                    ),
                )
            } else if input && pod_in {
                (
                    Cause::PodToHostBlocked,
                    "The host firewall drops traffic from pods to this node (its own log says so)",
                    format!(
                        "the firewall logged a dropped packet from a pod ({} on {}) to the node itself ({}{}) in INPUT",
                        l.src.map_or("?".into(), |a| a.to_string()),
                        l.iface_in,
                        l.dst.map_or("?".into(), |a| a.to_string()),
                        l.dport.map_or(String::new(), |p| format!(" port {p}"))
                    ),
                )
            } else if input && l.dport.is_some_and(|p| (30000..=32767).contains(&p)) {
                (
                    Cause::NodeportBlocked,
                    "The host firewall drops NodePort traffic (its own log says so)",
                    format!(
                        "the firewall logged a dropped packet to port {} (the NodePort range)",
                        l.dport.unwrap_or(0)
                    ),
                )
            } else if !input && (pod_in || pod_out) {
                (
                    Cause::ForwardPolicyDrop,
                    "The firewall drops forwarded pod traffic (its own log says so)",
                    format!(
                        "the firewall logged a dropped forwarded packet {} -> {} (in {} out {})",
                        l.src.map_or("?".into(), |a| a.to_string()),
                        l.dst.map_or("?".into(), |a| a.to_string()),
                        l.iface_in,
                        l.iface_out
                    ),
                )
            } else {
                continue;
            };
            let info = cause.info();
            out.add(
                finding(
                    cause,
                    info.severity,
                    title,
                    vec![ev, why],
                    info.explanation,
                    info.fix.iter().map(|f| f.to_string()).collect(),
                    vec!["make the accept rule part of the firewall's own configuration (firewalld zone, ufw rule, iptables-persistent)".into()],
                )
                .with(vec![manual(info.fix.join("; "))]),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_read_and_judged_by_their_prefix() {
        let l = parse("Input-dropped: IN=cni0 OUT= PHYSIN=veth57177775 MAC=62:05 SRC=10.244.5.51 DST=192.168.50.12 LEN=60 TOS=0x00 PROTO=TCP SPT=49720 DPT=10250 WINDOW=64860").expect("log");
        assert!(says_dropped(l.prefix));
        assert_eq!(
            (l.iface_in, l.iface_out, l.dport),
            ("cni0", "", Some(10250))
        );
        assert!(
            parse("TRACE: nat:PREROUTING:rule:1 IN=ens5 OUT= SRC=1.2.3.4 DST=1.2.3.5").is_none()
        );
        assert!(!says_dropped("Accepted: "));
        let l = parse("[  12.3] [UFW BLOCK] IN=eth0 OUT= MAC=aa SRC=10.0.0.2 DST=10.0.0.3 LEN=1 PROTO=UDP SPT=1 DPT=8472").expect("ufw");
        assert!(says_dropped(l.prefix));
        assert_eq!(l.proto, "UDP");
    }
}
