//! What no single node can see: faults that exist only between nodes, found by comparing their
//! snapshots (`netdoctor fleet`). Each comparison uses only nodes whose snapshot has the part
//! it compares; a node without it is neither accused nor cleared.
//!
//! - `duplicate-mac-address`: two nodes' VXLAN devices with one MAC. Every node's FDB maps a
//!   VTEP MAC to one node's address, so one of the two receives the other's traffic (cloned
//!   VMs, or udev's `MACAddressPolicy=persistent` deriving the MAC from a cloned machine-id).
//!   Two nodes' uplinks with one MAC is a warning (cloned NICs; harmful on a shared segment).
//! - `duplicate-pod-subnet`: one address on two nodes' overlay devices or pod bridges.
//! - `overlay-config-mismatch`: a VXLAN device of one name with a different VNI or UDP port on
//!   some nodes.

use crate::outcome::finding;
// Pod bridges whose address is the node's pod gateway (docker0 is 172.17.0.1 everywhere on
// purpose and is left out).
use netdoctor_datapath::devices::POD_BRIDGES;
use netdoctor_model::{Cause, Finding, NodeSnapshot, Severity, TABLE_MAIN};
use std::collections::BTreeMap;

/// The cross-node findings of `nodes` (name, snapshot).
pub fn cross_node(nodes: &[(String, &NodeSnapshot)]) -> Vec<Finding> {
    let mut out = Vec::new();
    duplicate_macs(nodes, &mut out);
    duplicate_subnets(nodes, &mut out);
    overlay_mismatch(nodes, &mut out);
    out
}

fn is_vxlan(l: &netdoctor_model::Link) -> bool {
    l.kind.as_deref() == Some("vxlan") || l.vxlan.is_some()
}

fn uplinks(s: &NodeSnapshot) -> Vec<&str> {
    let Some(routes) = s.routes.as_ref() else {
        return Vec::new();
    };
    let mut v: Vec<&str> = routes
        .iter()
        .filter(|r| r.table == TABLE_MAIN && r.dst.prefix_len() == 0 && r.dst.addr().is_ipv4())
        .filter_map(|r| r.dev.as_deref())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn duplicate_macs(nodes: &[(String, &NodeSnapshot)], out: &mut Vec<Finding>) {
    // mac -> (node, ifname, is overlay)
    let mut seen: BTreeMap<String, Vec<(&str, &str, bool)>> = BTreeMap::new();
    for (name, s) in nodes {
        let Some(links) = s.links.as_ref() else {
            continue;
        };
        let up = uplinks(s);
        for l in links {
            let overlay = is_vxlan(l);
            if !overlay && !up.contains(&l.name.as_str()) {
                continue;
            }
            let Some(mac) = l.mac.as_deref().map(str::to_ascii_lowercase) else {
                continue;
            };
            if mac == "00:00:00:00:00:00" {
                continue;
            }
            seen.entry(mac).or_default().push((name, &l.name, overlay));
        }
    }
    for (mac, holders) in seen {
        let mut names: Vec<&str> = holders.iter().map(|h| h.0).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() < 2 {
            continue;
        }
        let overlay = holders.iter().all(|h| h.2);
        let evidence = holders
            .iter()
            .map(|(n, i, _)| format!("{n}: {i} link/ether {mac} (ip link)"))
            .collect();
        let (severity, title, why) = if overlay {
            (
                Severity::Critical,
                format!("{} nodes' VXLAN devices share the MAC {mac}: one of them receives the others' overlay traffic", names.len()),
                "Every node maps each remote VTEP's MAC to that node's address in its FDB (and the remote pod subnet's gateway to that MAC in its ARP table). One MAC can point at one node only, so pods on all but one of these nodes are unreachable over the overlay, or flap as the entries are rewritten. Nodes cloned from one image, or udev's MACAddressPolicy=persistent deriving the MAC from a machine-id that was cloned too, give this.",
            )
        } else {
            (
                Severity::Warning,
                format!("{} nodes' uplinks share the MAC {mac}", names.len()),
                "Machines cloned from one image kept the NIC's MAC. On one layer-2 segment the switch and the neighbours' ARP tables flip between them and traffic to both is lost intermittently.",
            )
        };
        out.push(finding(
            Cause::DuplicateMacAddress,
            severity,
            title,
            evidence,
            format!("Found by comparing nodes. {why} Verify with `ip -br link` on each node."),
            vec!["give each node a unique MAC: regenerate /etc/machine-id on cloned nodes (then recreate the device by restarting the CNI agent), or set MACAddressPolicy=none in a systemd .link file for the overlay device".into()],
            Vec::new(),
        ));
    }
}

fn duplicate_subnets(nodes: &[(String, &NodeSnapshot)], out: &mut Vec<Finding>) {
    let mut seen: BTreeMap<std::net::IpAddr, Vec<(&str, &str, u8)>> = BTreeMap::new();
    for (name, s) in nodes {
        let (Some(addrs), Some(links)) = (s.addresses.as_ref(), s.links.as_ref()) else {
            continue;
        };
        for a in addrs {
            let pod_dev = POD_BRIDGES.contains(&a.ifname.as_str())
                || links.iter().any(|l| l.name == a.ifname && is_vxlan(l));
            if !pod_dev || a.addr.is_loopback() || a.addr.is_unspecified() {
                continue;
            }
            if let std::net::IpAddr::V6(v6) = a.addr {
                // Link-local addresses are per link by nature.
                if v6.segments()[0] & 0xffc0 == 0xfe80 {
                    continue;
                }
            }
            seen.entry(a.addr)
                .or_default()
                .push((name, &a.ifname, a.prefix_len));
        }
    }
    for (addr, holders) in seen {
        let mut names: Vec<&str> = holders.iter().map(|h| h.0).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() < 2 {
            continue;
        }
        out.push(finding(
            Cause::DuplicatePodSubnet,
            Severity::Critical,
            format!(
                "{} nodes hold {addr} on their pod devices: they were given the same pod subnet",
                names.len()
            ),
            holders
                .iter()
                .map(|(n, i, p)| format!("{n}: {addr}/{p} on {i} (ip addr)"))
                .collect(),
            Cause::DuplicatePodSubnet.info().explanation,
            Vec::new(),
            vec!["drain one of the nodes, delete its Node object and its CNI state (/run/flannel/subnet.env, /var/lib/cni/networks), and let it rejoin".into()],
        ));
    }
}

/// A device's (VNI, UDP port) variants, with the nodes that have each.
type Variants<'a> = BTreeMap<(Option<u32>, Option<u16>), Vec<&'a str>>;

fn overlay_mismatch(nodes: &[(String, &NodeSnapshot)], out: &mut Vec<Finding>) {
    // device name -> (vni, port) -> nodes
    let mut by_dev: BTreeMap<&str, Variants<'_>> = BTreeMap::new();
    for (name, s) in nodes {
        let Some(links) = s.links.as_ref() else {
            continue;
        };
        for l in links {
            let Some(v) = l.vxlan.as_ref() else { continue };
            if v.id.is_none() && v.dstport.is_none() {
                continue;
            }
            by_dev
                .entry(&l.name)
                .or_default()
                .entry((v.id, v.dstport))
                .or_default()
                .push(name);
        }
    }
    for (dev, variants) in by_dev {
        // Only values known on both sides differ: an unknown port is not a different port.
        let vnis: Vec<u32> = variants.keys().filter_map(|k| k.0).collect();
        let ports: Vec<u16> = variants.keys().filter_map(|k| k.1).collect();
        let differs = |v: &[u32]| v.windows(2).any(|w| w[0] != w[1]);
        let vni_differs = differs(&vnis);
        let mut ports_sorted = ports.clone();
        ports_sorted.sort_unstable();
        ports_sorted.dedup();
        if !vni_differs && ports_sorted.len() < 2 {
            continue;
        }
        let mut groups: Vec<(String, &Vec<&str>)> = variants
            .iter()
            .map(|((vni, port), names)| {
                let vni = vni.map_or("?".into(), |v| v.to_string());
                let port = port.map_or("?".into(), |p| p.to_string());
                (format!("vxlan id {vni} dstport {port}"), names)
            })
            .collect();
        // The largest group first: it is most likely what the configuration says.
        groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        let evidence = groups
            .iter()
            .map(|(what, names)| {
                let shown: Vec<&str> = names.iter().take(10).copied().collect();
                let more = names.len().saturating_sub(shown.len());
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                format!(
                    "{dev} {what} on {} node(s): {}{more} (ip -d link)",
                    names.len(),
                    shown.join(", ")
                )
            })
            .collect();
        out.push(finding(
            Cause::OverlayConfigMismatch,
            Severity::Critical,
            format!("{dev} is not the same VXLAN device on every node"),
            evidence,
            Cause::OverlayConfigMismatch.info().explanation,
            vec![format!(
                "restart the CNI agent on the nodes whose {dev} differs from the configured VNI and port"
            )],
            Vec::new(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netdoctor_model::{Address, Link, Source, VxlanInfo};

    fn vxlan(name: &str, mac: &str, vni: Option<u32>, port: Option<u16>) -> Link {
        Link {
            index: None,
            name: name.into(),
            kind: Some("vxlan".into()),
            mtu: Some(1450),
            flags: vec!["UP".into()],
            operstate: None,
            mac: Some(mac.into()),
            master: None,
            peer_index: None,
            parent: None,
            vxlan: Some(VxlanInfo {
                id: vni,
                dstport: port,
                ..VxlanInfo::default()
            }),
            source: Source::live("t"),
        }
    }

    fn addr(ifname: &str, a: &str, p: u8) -> Address {
        Address {
            ifname: ifname.into(),
            addr: a.parse().expect("addr"),
            prefix_len: p,
            scope: None,
            peer: None,
            source: Source::live("t"),
        }
    }

    fn node(links: Option<Vec<Link>>, addrs: Vec<Address>) -> NodeSnapshot {
        NodeSnapshot {
            links,
            addresses: Some(addrs),
            ..NodeSnapshot::default()
        }
    }

    fn ids(nodes: &[(String, &NodeSnapshot)]) -> Vec<(String, Severity)> {
        cross_node(nodes)
            .into_iter()
            .map(|f| (f.id, f.severity))
            .collect()
    }

    #[test]
    fn healthy_nodes_differ_where_they_should() {
        let a = node(
            Some(vec![vxlan(
                "flannel.1",
                "aa:00:00:00:00:01",
                Some(1),
                Some(8472),
            )]),
            vec![
                addr("flannel.1", "10.244.1.0", 32),
                addr("docker0", "172.17.0.1", 16),
            ],
        );
        let b = node(
            Some(vec![vxlan(
                "flannel.1",
                "aa:00:00:00:00:02",
                Some(1),
                Some(8472),
            )]),
            vec![
                addr("flannel.1", "10.244.2.0", 32),
                addr("docker0", "172.17.0.1", 16),
            ],
        );
        // docker0 is 172.17.0.1 everywhere on purpose.
        assert!(ids(&[("a".into(), &a), ("b".into(), &b)]).is_empty());
    }

    #[test]
    fn cloned_overlay_devices_are_found() {
        let a = node(
            Some(vec![vxlan(
                "flannel.1",
                "aa:00:00:00:00:01",
                Some(1),
                Some(8472),
            )]),
            vec![addr("flannel.1", "10.244.1.0", 32)],
        );
        let b = node(
            Some(vec![vxlan(
                "flannel.1",
                "AA:00:00:00:00:01",
                Some(1),
                Some(4789),
            )]),
            vec![addr("flannel.1", "10.244.1.0", 32)],
        );
        let found = ids(&[("a".into(), &a), ("b".into(), &b)]);
        for id in [
            "duplicate-mac-address",
            "duplicate-pod-subnet",
            "overlay-config-mismatch",
        ] {
            assert!(
                found.contains(&(id.into(), Severity::Critical)),
                "{found:?}"
            );
        }
    }

    #[test]
    fn a_node_without_the_part_is_neither_accused_nor_cleared() {
        let a = node(
            Some(vec![vxlan(
                "flannel.1",
                "aa:00:00:00:00:01",
                Some(1),
                Some(8472),
            )]),
            vec![addr("flannel.1", "10.244.1.0", 32)],
        );
        // No link list: its addresses cannot be tied to an overlay device.
        let b = node(None, vec![addr("flannel.1", "10.244.1.0", 32)]);
        // A port the source did not give is not a different port.
        let c = node(
            Some(vec![vxlan("flannel.1", "aa:00:00:00:00:03", Some(1), None)]),
            vec![],
        );
        assert!(ids(&[("a".into(), &a), ("b".into(), &b), ("c".into(), &c)]).is_empty());
    }
}
