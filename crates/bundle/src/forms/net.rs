//! Outputs about devices and the kernel's load balancer: `ipvsadm -Ln`, `ipset list`,
//! `ip tunnel show`, `brctl show` / `bridge link`, `ethtool -k DEV`, and the counters of
//! `ip -s link` / `netstat -i`.

use crate::text::{self, Line};
use netdoctor_model::{
    BridgePort, IpSet, IpvsReal, IpvsService, Link, LinkStats, Offload, ParseProblem, Source,
};
use std::net::IpAddr;

/// `ADDR:PORT` or `[V6]:PORT`; a port may be a service name (`ipvsadm -L` without -n), which
/// gives `None`.
fn addr_port(s: &str) -> Option<(IpAddr, Option<u16>)> {
    let (a, p) = if let Some(rest) = s.strip_prefix('[') {
        let (a, p) = rest.split_once("]:")?;
        (a, p)
    } else {
        s.rsplit_once(':')?
    };
    Some((a.parse().ok()?, p.parse().ok()))
}

/// `ipvsadm -Ln`: virtual services and their real servers.
pub fn parse_ipvsadm_lines(
    lines: &[Line<'_>],
    file: &str,
) -> (Vec<IpvsService>, Vec<ParseProblem>) {
    let mut out: Vec<IpvsService> = Vec::new();
    let mut problems = Vec::new();
    for line in lines {
        if text::skip(line, file, "ipvsadm", &mut problems) {
            continue;
        }
        let t = line.text.trim();
        if t.starts_with("IP Virtual Server")
            || t.starts_with("Prot ")
            || t.starts_with("-> RemoteAddress")
        {
            continue;
        }
        let w: Vec<&str> = t.split_whitespace().collect();
        if let Some(rest) = t.strip_prefix("->") {
            let w: Vec<&str> = rest.split_whitespace().collect();
            let real = (|| {
                let (address, port) = addr_port(w.first()?)?;
                Some(IpvsReal {
                    address,
                    port: port?,
                    weight: w.get(2)?.parse().ok()?,
                    active: w.get(3)?.parse().ok()?,
                    inactive: w.get(4).and_then(|x| x.parse().ok()).unwrap_or(0),
                })
            })();
            match (real, out.last_mut()) {
                (Some(r), Some(svc)) => svc.reals.push(r),
                _ => problems.push(text::unreadable(
                    file,
                    line,
                    "ipvsadm",
                    "not a real server line",
                )),
            }
            continue;
        }
        let svc = (|| {
            let protocol = (*w.first()?).to_string();
            if !matches!(protocol.as_str(), "TCP" | "UDP" | "SCTP") {
                return None;
            }
            let (address, port) = addr_port(w.get(1)?)?;
            Some(IpvsService {
                protocol,
                address,
                port: port?,
                scheduler: w.get(2).map_or(String::new(), |s| s.to_string()),
                reals: Vec::new(),
                source: Source::at(file, line.no),
            })
        })();
        match svc {
            Some(s) => out.push(s),
            None => problems.push(text::unreadable(
                file,
                line,
                "ipvsadm",
                "expected `PROTO ADDR:PORT SCHEDULER` (numeric, as `ipvsadm -Ln` prints)",
            )),
        }
    }
    (out, problems)
}

/// `ipset list`: every set with its members.
pub fn parse_ipset_lines(lines: &[Line<'_>], file: &str) -> (Vec<IpSet>, Vec<ParseProblem>) {
    let mut out: Vec<IpSet> = Vec::new();
    let mut problems = Vec::new();
    let mut in_members = false;
    for line in lines {
        let t = line.text.trim();
        if t.is_empty() {
            in_members = false;
            continue;
        }
        if line.cut || line.marker {
            if let Some(s) = out.last_mut() {
                s.complete = false;
            }
            continue;
        }
        if let Some(name) = t.strip_prefix("Name:") {
            out.push(IpSet {
                name: name.trim().to_string(),
                kind: String::new(),
                members: Vec::new(),
                complete: true,
                source: Source::at(file, line.no),
            });
            in_members = false;
            continue;
        }
        let Some(set) = out.last_mut() else {
            problems.push(text::unreadable(
                file,
                line,
                "ipset list",
                "before any `Name:`",
            ));
            continue;
        };
        if let Some(k) = t.strip_prefix("Type:") {
            set.kind = k.trim().to_string();
        } else if t == "Members:" {
            in_members = true;
        } else if in_members {
            set.members.push(t.to_string());
        } else if !t.contains(':') {
            problems.push(text::unreadable(
                file,
                line,
                "ipset list",
                "not a header or member",
            ));
        }
    }
    (out, problems)
}

/// `ip tunnel show`: `tunl0: any/ip remote any local any ttl inherit nopmtudisc`.
pub fn parse_ip_tunnel_lines(lines: &[Line<'_>], file: &str) -> (Vec<Link>, Vec<ParseProblem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for line in lines {
        if text::skip(line, file, "ip tunnel", &mut problems) {
            continue;
        }
        let t = line.text.trim();
        let Some((name, rest)) = t.split_once(": ") else {
            problems.push(text::unreadable(
                file,
                line,
                "ip tunnel",
                "expected `NAME: MODE ...`",
            ));
            continue;
        };
        let mode = rest.split_whitespace().next().unwrap_or("");
        let kind = match mode.split('/').next().unwrap_or("") {
            "any" | "ip" => "ipip",
            "gre" => "gre",
            "ipv6" => "sit",
            other => other,
        };
        out.push(Link {
            index: None,
            name: name.trim().to_string(),
            kind: Some(kind.to_string()),
            mtu: None,
            flags: Vec::new(),
            operstate: None,
            mac: None,
            master: None,
            peer_index: None,
            parent: None,
            vxlan: None,
            source: Source::at(file, line.no),
        });
    }
    (out, problems)
}

/// `brctl show` (bridge, id, STP, interfaces on continuation lines) and `bridge link`
/// (`5: veth1@if4: <...> mtu 1450 master cni0 state forwarding ... hairpin on`).
pub fn parse_bridge_lines(lines: &[Line<'_>], file: &str) -> (Vec<BridgePort>, Vec<ParseProblem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut bridge: Option<String> = None;
    for line in lines {
        if text::skip(line, file, "brctl", &mut problems) {
            continue;
        }
        let t = line.text.trim();
        if t.starts_with("bridge name") || t == "..." {
            continue;
        }
        let w: Vec<&str> = t.split_whitespace().collect();
        // `bridge link`: the port's line names its master.
        if let Some(m) = w.iter().position(|x| *x == "master") {
            let port = w
                .get(1)
                .map(|p| p.trim_end_matches(':').split('@').next().unwrap_or(""))
                .unwrap_or("");
            let hairpin = w
                .iter()
                .position(|x| *x == "hairpin")
                .and_then(|i| w.get(i + 1))
                .map(|v| *v == "on");
            if let Some(b) = w.get(m + 1) {
                out.push(BridgePort {
                    bridge: b.to_string(),
                    port: port.to_string(),
                    hairpin,
                    source: Source::at(file, line.no),
                });
                continue;
            }
        }
        let starts_flush = !line.text.starts_with(char::is_whitespace);
        if starts_flush && w.len() >= 3 && w[1].contains('.') {
            // A bridge line: NAME ID STP [first interface].
            bridge = Some(w[0].to_string());
            if let Some(port) = w.get(3) {
                out.push(port_of(w[0], port, file, line.no));
            }
        } else if let (Some(b), 1) = (&bridge, w.len()) {
            out.push(port_of(b, w[0], file, line.no));
        } else {
            problems.push(text::unreadable(
                file,
                line,
                "brctl show",
                "not a bridge or port line",
            ));
        }
    }
    (out, problems)
}

fn port_of(bridge: &str, port: &str, file: &str, no: u32) -> BridgePort {
    BridgePort {
        bridge: bridge.to_string(),
        port: port.to_string(),
        hairpin: None,
        source: Source::at(file, no),
    }
}

/// `ethtool -k DEV`: `Features for eth0:` then `feature: on|off [fixed]`.
pub fn parse_ethtool_lines(
    lines: &[Line<'_>],
    file: &str,
    dev: Option<&str>,
) -> (Vec<Offload>, Vec<ParseProblem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut ifname = dev.map(str::to_string);
    for line in lines {
        if text::skip(line, file, "ethtool -k", &mut problems) {
            continue;
        }
        let t = line.text.trim();
        if let Some(d) = t.strip_prefix("Features for ") {
            ifname = Some(d.trim_end_matches(':').to_string());
            continue;
        }
        let Some((feature, value)) = t.split_once(':') else {
            problems.push(text::unreadable(
                file,
                line,
                "ethtool -k",
                "expected `feature: on|off`",
            ));
            continue;
        };
        let mut v = value.split_whitespace();
        let on = match v.next() {
            Some("on") => true,
            Some("off") => false,
            _ => {
                problems.push(text::unreadable(
                    file,
                    line,
                    "ethtool -k",
                    "the value is not on or off",
                ));
                continue;
            }
        };
        let fixed = value.contains("[fixed]");
        out.push(Offload {
            ifname: ifname.clone().unwrap_or_else(|| "?".into()),
            feature: feature.trim().to_string(),
            on,
            fixed,
            source: Source::at(file, line.no),
        });
    }
    (out, problems)
}

/// The counters of `ip -s link` (RX:/TX: header lines followed by a line of numbers, under a
/// `N: dev:` block) and `netstat -i` (`Iface MTU RX-OK RX-ERR RX-DRP RX-OVR TX-OK ...`).
pub fn parse_link_stats_lines(lines: &[Line<'_>], file: &str) -> Vec<LinkStats> {
    let mut out: Vec<LinkStats> = Vec::new();
    let mut dev: Option<String> = None;
    let mut pending: Option<(bool, Vec<String>)> = None;
    let mut netstat: Option<Vec<String>> = None;
    for line in lines {
        let t = line.text.trim();
        let w: Vec<&str> = t.split_whitespace().collect();
        if w.is_empty() {
            continue;
        }
        if w[0] == "Iface" {
            netstat = Some(w.iter().map(|s| s.to_string()).collect());
            continue;
        }
        if let Some(cols) = &netstat {
            let col = |name: &str| {
                cols.iter()
                    .position(|c| c == name)
                    .and_then(|i| w.get(i))
                    .and_then(|v| v.parse().ok())
            };
            if w.len() == cols.len() {
                out.push(LinkStats {
                    ifname: w[0].to_string(),
                    rx_packets: col("RX-OK"),
                    rx_errors: col("RX-ERR"),
                    rx_dropped: col("RX-DRP"),
                    tx_packets: col("TX-OK"),
                    tx_errors: col("TX-ERR"),
                    tx_dropped: col("TX-DRP"),
                    source: Source::at(file, line.no),
                });
            }
            continue;
        }
        if w[0].ends_with(':') && w[0][..w[0].len() - 1].chars().all(|c| c.is_ascii_digit()) {
            dev = w.get(1).map(|d| {
                d.trim_end_matches(':')
                    .split('@')
                    .next()
                    .unwrap_or("")
                    .to_string()
            });
            continue;
        }
        if matches!(w[0], "RX:" | "TX:") {
            pending = Some((
                w[0] == "RX:",
                w[1..].iter().map(|s| s.to_string()).collect(),
            ));
            continue;
        }
        let Some((rx, heads)) = pending.take() else {
            continue;
        };
        let (Some(d), true) = (
            &dev,
            w.iter().all(|x| x.chars().all(|c| c.is_ascii_digit())),
        ) else {
            continue;
        };
        let val = |name: &str| {
            heads
                .iter()
                .position(|h| h == name)
                .and_then(|i| w.get(i))
                .and_then(|v| v.parse().ok())
        };
        let entry = match out.iter_mut().rev().find(|s| &s.ifname == d) {
            Some(e) => e,
            None => {
                out.push(LinkStats {
                    ifname: d.clone(),
                    rx_packets: None,
                    rx_errors: None,
                    rx_dropped: None,
                    tx_packets: None,
                    tx_errors: None,
                    tx_dropped: None,
                    source: Source::at(file, line.no),
                });
                out.last_mut().expect("pushed")
            }
        };
        if rx {
            entry.rx_packets = val("packets");
            entry.rx_errors = val("errors");
            entry.rx_dropped = val("dropped");
        } else {
            entry.tx_packets = val("packets");
            entry.tx_errors = val("errors");
            entry.tx_dropped = val("dropped");
        }
    }
    out
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod tests;
