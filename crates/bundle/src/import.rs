//! Reading one section of a file as a given kind, into the snapshot.

use crate::command::Kind;
use crate::ipjson::looks_like_json;
use crate::sections::Section;
use crate::text;
use crate::{
    fdb, ifconfig, ipjson, iplink, iproute, iprule, lsmod, merge, neigh, raw, routen, sysctl,
};
use netdoctor_model::{
    ConfigFile, LogFile, NodeSnapshot, ParseProblem, Source, Sourced, TABLE_LOCAL,
};

/// What reading a section gave: how many values, and the lines it could not read.
#[derive(Debug, Default)]
pub struct Outcome {
    pub items: usize,
    pub problems: Vec<ParseProblem>,
}

/// Read `section` of `file` as `kind` into `snap`, and record when it shows only part of what
/// it is output of.
pub fn apply(kind: &Kind, section: &Section<'_>, file: &str, snap: &mut NodeSnapshot) -> Outcome {
    let out = read(kind, section, file, snap);
    if out.items > 0 {
        if let Some(reason) = partial_reason(section, file, &out) {
            for part in parts(kind) {
                if snap.partial(part).is_none() {
                    snap.partial.push(netdoctor_model::NotCollected {
                        part: part.to_string(),
                        reason: reason.clone(),
                    });
                }
            }
        }
    }
    out
}

/// The parts of a snapshot a kind of output fills.
fn parts(kind: &Kind) -> &'static [&'static str] {
    match kind {
        Kind::IpAddr | Kind::Ifconfig => &["links", "addresses"],
        Kind::Bridge => &["bridge-ports"],
        Kind::Ipvsadm => &["ipvs"],
        Kind::IpLink => &["links"],
        Kind::IpRoute | Kind::RouteN => &["routes"],
        Kind::IpRule => &["policy-rules"],
        Kind::IpNeigh | Kind::Arp => &["neighbours"],
        Kind::BridgeFdb(_) => &["fdb"],
        Kind::Lsmod => &["modules"],
        Kind::Sysctl => &["sysctls"],
        _ => &[],
    }
}

/// Why a section shows only part of its command's output: the command asked for part of it,
/// the paste was cut or elided, or its last line could not be read (cut at the end).
fn partial_reason(section: &Section<'_>, file: &str, out: &Outcome) -> Option<String> {
    if let Some((no, cmd)) = &section.command {
        if cmd.filtered {
            return Some(format!("{file}:{no}: `{}` shows only part of it", cmd.text));
        }
    }
    if let Some(l) = section.lines.iter().find(|l| l.cut || l.marker) {
        return Some(format!("{file}:{}: the paste was cut or elided here", l.no));
    }
    let last = section
        .lines
        .iter()
        .rev()
        .find(|l| !text::is_blank_or_comment(l.text))?;
    out.problems
        .iter()
        .any(|p| p.source.line == Some(last.no))
        .then(|| {
            format!(
                "{file}:{}: the last line could not be read (the paste was cut?)",
                last.no
            )
        })
}

fn read(kind: &Kind, section: &Section<'_>, file: &str, snap: &mut NodeSnapshot) -> Outcome {
    let lines = &section.lines;
    let first_out = lines.first().map_or(section.first_line(), |l| l.no);
    let json = || looks_like_json(&section.joined());
    let mut out = Outcome::default();
    match kind {
        Kind::Sysctl => {
            let (m, p) = sysctl::parse_sysctl_lines(lines, file);
            out = Outcome {
                items: m.len(),
                problems: p,
            };
            if keep(&out) {
                if is_sysctl_config(section) {
                    sysctl_config(section, file, snap);
                } else {
                    merge::sysctls(snap, m);
                }
            }
        }
        Kind::SysctlValue(key) => sysctl_value(key, section, file, snap, &mut out),
        Kind::Hairpin(bridge, port) => {
            let from = section
                .command
                .is_some()
                .then_some((bridge.as_str(), port.as_str()));
            let (ports, p) = crate::hairpin::parse_hairpin_lines(lines, file, from);
            out = Outcome {
                items: ports.len(),
                problems: p,
            };
            if keep(&out) {
                snap.bridge_ports.get_or_insert_with(Vec::new).extend(ports);
            }
        }
        Kind::IpAddr | Kind::IpLink => {
            // `ip -s link` counters ride along in the same blocks.
            snap.link_stats
                .extend(crate::forms::net::parse_link_stats_lines(lines, file));
            let (links, addrs, p) = if json() {
                ipjson::parse_links_json(&section.joined(), file, first_out)
            } else {
                let b = iplink::parse_link_blocks(lines, file);
                (b.links, b.addrs, b.problems)
            };
            out = Outcome {
                items: links.len() + addrs.len(),
                problems: p,
            };
            if keep(&out) {
                merge::links(snap, links);
                if *kind == Kind::IpAddr || !addrs.is_empty() {
                    merge::addresses(snap, addrs);
                }
            }
        }
        Kind::IpRoute => {
            let (routes, p) = if json() {
                iproute::parse_ip_route_json(&section.joined(), file, first_out)
            } else {
                iproute::parse_ip_route_lines(lines, file)
            };
            let all_tables = section.command.as_ref().is_some_and(|(_, c)| c.all_tables)
                || routes.iter().any(|r| r.table == TABLE_LOCAL);
            out = Outcome {
                items: routes.len(),
                problems: p,
            };
            if keep(&out) {
                snap.routes_all_tables |= all_tables;
                merge::routes(snap, routes);
            }
        }
        Kind::RouteN => {
            let (routes, p) = routen::parse_route_n_lines(lines, file);
            out = Outcome {
                items: routes.len(),
                problems: p,
            };
            if keep(&out) {
                merge::routes(snap, routes);
            }
        }
        Kind::IpRule => {
            let (rules, p) = iprule::parse_ip_rule_lines(lines, file);
            out = Outcome {
                items: rules.len(),
                problems: p,
            };
            if keep(&out) {
                snap.rules.get_or_insert_with(Vec::new).extend(rules);
            }
        }
        Kind::IpNeigh | Kind::Arp => {
            let (n, p) = if *kind == Kind::Arp {
                neigh::parse_arp_lines(lines, file)
            } else {
                neigh::parse_ip_neigh_lines(lines, file)
            };
            out = Outcome {
                items: n.len(),
                problems: p,
            };
            if keep(&out) {
                merge::neighbours(snap, n);
            }
        }
        Kind::BridgeFdb(dev) => {
            let (e, p) = fdb::parse_fdb_lines(lines, file, dev.as_deref());
            out = Outcome {
                items: e.len(),
                problems: p,
            };
            if keep(&out) {
                merge::fdb(snap, e);
            }
        }
        Kind::Ifconfig => {
            let (links, addrs, p) = ifconfig::parse_ifconfig_lines(lines, file);
            out = Outcome {
                items: links.len() + addrs.len(),
                problems: p,
            };
            if keep(&out) {
                merge::links(snap, links);
                merge::addresses(snap, addrs);
            }
        }
        Kind::Lsmod => {
            let (m, p) = lsmod::parse_lsmod_lines(lines, file);
            out = Outcome {
                items: m.len(),
                problems: p,
            };
            if keep(&out) {
                merge::modules(snap, m);
            }
        }
        Kind::KubectlTable | Kind::KubectlDescribeNode => {
            let (objs, p) = if *kind == Kind::KubectlTable {
                crate::forms::kubectl::parse_table_lines(lines, file)
            } else {
                crate::forms::kubectl::parse_describe_node_lines(lines, file)
            };
            out = Outcome {
                items: objs.len(),
                problems: p,
            };
            if !objs.is_empty() {
                let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objs});
                snap.cluster_objects
                    .push(Sourced::new(list.to_string(), Source::at(file, first_out)));
            }
        }
        Kind::Ipvsadm => {
            let (svcs, p) = crate::forms::net::parse_ipvsadm_lines(lines, file);
            out = Outcome {
                items: svcs.len(),
                problems: p,
            };
            if keep(&out) {
                snap.ipvs.get_or_insert_with(Vec::new).extend(svcs);
            }
        }
        Kind::Ipset => {
            let (sets, p) = crate::forms::net::parse_ipset_lines(lines, file);
            out = Outcome {
                items: sets.len(),
                problems: p,
            };
            if keep(&out) {
                snap.ipsets.get_or_insert_with(Vec::new).extend(sets);
            }
        }
        Kind::IpTunnel => {
            let (links, p) = crate::forms::net::parse_ip_tunnel_lines(lines, file);
            out = Outcome {
                items: links.len(),
                problems: p,
            };
            if keep(&out) {
                merge::links(snap, links);
            }
        }
        Kind::Bridge => {
            let (ports, p) = crate::forms::net::parse_bridge_lines(lines, file);
            out = Outcome {
                items: ports.len(),
                problems: p,
            };
            if keep(&out) {
                snap.bridge_ports.get_or_insert_with(Vec::new).extend(ports);
            }
        }
        Kind::Ethtool(dev) => {
            let (offloads, p) = crate::forms::net::parse_ethtool_lines(lines, file, dev.as_deref());
            out = Outcome {
                items: offloads.len(),
                problems: p,
            };
            snap.offloads.extend(offloads);
        }
        Kind::LinkStats => {
            let stats = crate::forms::net::parse_link_stats_lines(lines, file);
            out.items = stats.len();
            snap.link_stats.extend(stats);
        }
        Kind::CalicoStatus => {
            let (st, p) = crate::forms::calico::parse_node_status_lines(lines, file);
            out = Outcome {
                items: st.peers.len() + usize::from(st.running.is_some()),
                problems: p,
            };
            if keep(&out) {
                snap.bgp_peers.get_or_insert_with(Vec::new).extend(st.peers);
                if let Some((false, src)) = st.running {
                    // "Calico process is not running": kept as a message line for the
                    // signatures (it names cni-agent-not-running).
                    let line = section.lines.iter().find(|l| Some(l.no) == src.line);
                    if let Some(l) = line {
                        snap.logs.push(LogFile {
                            name: file.to_string(),
                            lines: vec![(l.no, l.text.to_string())],
                        });
                    }
                }
                if snap.hints.cni.is_none() {
                    snap.hints.cni =
                        Some(Sourced::new("calico".into(), Source::at(file, first_out)));
                }
            }
        }
        Kind::CalicoPools => {
            let (pools, p) = crate::forms::calico::parse_ippool_lines(lines, file);
            out = Outcome {
                items: pools.len(),
                problems: p,
            };
            // The pool is the cluster CIDR; its mode the backend.
            if let Some(pool) = pools
                .iter()
                .find(|p| !p.disabled && p.cidr.addr().is_ipv4())
            {
                if snap.hints.cluster_cidr.is_none() {
                    snap.hints.cluster_cidr = Some(Sourced::new(pool.cidr, pool.source.clone()));
                }
                let backend = match (pool.ipip.as_deref(), pool.vxlan.as_deref()) {
                    (Some("Always" | "CrossSubnet"), _) => Some("ipip"),
                    (_, Some("Always" | "CrossSubnet")) => Some("vxlan"),
                    (Some("Never"), Some("Never")) => Some("bgp"),
                    _ => None,
                };
                if let (None, Some(b)) = (&snap.hints.backend, backend) {
                    snap.hints.backend = Some(Sourced::new(b.into(), pool.source.clone()));
                }
                if snap.hints.cni.is_none() {
                    snap.hints.cni = Some(Sourced::new("calico".into(), pool.source.clone()));
                }
            }
        }
        raw_kind => apply_raw(raw_kind, section, file, snap, &mut out),
    }
    out
}

/// Whether a section's result goes into the snapshot: something was read, or it was really
/// empty. Output of which not one line could be read proves nothing (not even "no routes").
fn keep(out: &Outcome) -> bool {
    out.items > 0 || out.problems.is_empty()
}

fn apply_raw(
    kind: &Kind,
    section: &Section<'_>,
    file: &str,
    snap: &mut NodeSnapshot,
    out: &mut Outcome,
) {
    if section.is_empty() && !matches!(kind, Kind::IptablesSave(_)) {
        return;
    }
    let mut body = section.joined();
    let mut first = section.lines.first().map_or(section.first_line(), |l| l.no);
    // `iptables -t nat -S`: the command says which table the rules are of; the dump parser
    // reads it from a pasted command line.
    if let (Kind::IptablesSave(_), Some((no, cmd))) = (kind, &section.command) {
        if cmd.text.starts_with("ip") {
            body = format!("$ {}\n{body}", cmd.text);
            first = *no;
        }
    }
    let source = Source::at(file, first);
    out.items = 1;
    match kind {
        Kind::IptablesSave(name) => {
            if body.trim().is_empty() {
                out.items = 0;
                return;
            }
            snap.iptables
                .push(raw::iptables_dump(file, name, &body, first));
        }
        Kind::IptablesList => snap.iptables_listings.push(Sourced::new(body, source)),
        Kind::NftText => snap.nft_text = Some(Sourced::new(body, source)),
        Kind::NftJson => snap.nft_json = Some(Sourced::new(body, source)),
        Kind::KubeObjects if !body.trim_start().starts_with(['{', '[']) => {
            // YAML: a whole object is kept as it is; a Node's fragment (`status: addresses:`
            // pasted alone) becomes a Node named by its Hostname address.
            match yaml_fragment(&body) {
                Some(node) => snap
                    .cluster_objects
                    .push(Sourced::new(node.to_string(), source)),
                None => snap.cluster_objects.push(Sourced::new(body, source)),
            }
        }
        Kind::KubeObjects => {
            // A cut JSON paste is read up to its last complete member; YAML is kept as it is.
            let body = match crate::ipjson::complete_json(&body) {
                Some((v, true)) => {
                    out.problems.push(text::problem(
                        file,
                        section.lines.last().map_or(first, |l| l.no),
                        "the JSON was cut: read up to its last complete member",
                    ));
                    v.to_string()
                }
                _ => body,
            };
            snap.cluster_objects.push(Sourced::new(body, source))
        }
        Kind::Log => snap.logs.push(LogFile {
            name: file.to_string(),
            lines: section
                .lines
                .iter()
                .map(|l| (l.no, l.text.to_string()))
                .collect(),
        }),
        Kind::ConfigFile(path) => snap.files.push(ConfigFile {
            path: path.clone(),
            symlink_target: None,
            content: body,
            source,
        }),
        _ => out.items = 0,
    }
}

/// `cat /proc/sys/net/ipv4/ip_forward` prints just the value.
fn sysctl_value(
    key: &str,
    section: &Section<'_>,
    file: &str,
    snap: &mut NodeSnapshot,
    out: &mut Outcome,
) {
    let mut values = section
        .lines
        .iter()
        .filter(|l| !text::is_blank_or_comment(l.text));
    let Some(line) = values.next() else { return };
    let mut m = sysctl::Sysctls::new();
    m.insert(
        key.to_string(),
        Sourced::new(line.text.trim().to_string(), Source::at(file, line.no)),
    );
    out.items = 1;
    for extra in values {
        out.problems.push(text::unreadable(
            file,
            extra,
            "sysctl",
            "one value was expected",
        ));
    }
    merge::sysctls(snap, m);
}

/// A Node's YAML fragment (no `kind`, but `status.addresses`), dedented and made a Node.
fn yaml_fragment(body: &str) -> Option<serde_json::Value> {
    let indent = body
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())?;
    let dedented: String = body
        .lines()
        .map(|l| {
            l.get(indent.min(l.len() - l.trim_start().len())..)
                .unwrap_or("")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let v: serde_json::Value = serde_saphyr::from_str(&dedented).ok()?;
    if v.get("kind").is_some() {
        return None;
    }
    let status = v.get("status")?;
    let addresses = status.get("addresses")?.as_array()?;
    let name = addresses
        .iter()
        .find(|a| a.get("type").and_then(|t| t.as_str()) == Some("Hostname"))
        .and_then(|a| a.get("address").and_then(|x| x.as_str()))
        .unwrap_or("(unnamed node)");
    Some(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "annotations": {"netdoctor.io/partial": "a YAML fragment of the Node"}},
        "status": status,
    }))
}

/// `key = value` lines with comments among them: a sysctl configuration file pasted without
/// the `cat` that would name it (`sysctl -a` and `sysctl -p` print no comments). Its values
/// are what the node sets at boot, not what it runs with now.
fn is_sysctl_config(section: &Section<'_>) -> bool {
    section.command.is_none()
        && section.lines.iter().any(|l| {
            let t = l.text.trim_start();
            (t.starts_with('#') || t.starts_with(';')) && t.len() > 1
        })
}

/// Keep a pasted sysctl configuration as a boot file. Its path was not given: it is taken to
/// be in /etc/sysctl.d under the bundle file's name, and a problem says so.
fn sysctl_config(section: &Section<'_>, file: &str, snap: &mut NodeSnapshot) {
    let name = file.rsplit('/').next().unwrap_or(file);
    // Only *.conf files are read at boot.
    let stem = name.strip_suffix(".conf").unwrap_or(name);
    let stem = stem.rsplit_once('.').map_or(stem, |(s, _)| s);
    let path = format!("/etc/sysctl.d/{stem}.conf");
    let first = section.lines.first().map_or(1, |l| l.no);
    let mut content = String::new();
    for l in &section.lines {
        content.push_str(l.text);
        content.push('\n');
    }
    snap.problems.push(text::problem(
        file,
        first,
        format!(
            "sysctl settings with comments: read as a configuration file that applies at boot, not as the node's current values (its path on the node was not given: taken as {path})"
        ),
    ));
    snap.files.push(netdoctor_model::ConfigFile {
        path,
        symlink_target: None,
        content,
        source: netdoctor_model::Source::at(file, first),
    });
}
