//! `vxlan-device-down` and `vxlan-fdb-missing` for flannel's vxlan backend: the device, and for
//! every remote node an FDB entry `VtepMAC dst public-ip` and a neighbour `X.0 lladdr VtepMAC`,
//! as flanneld programs them from the Node annotations.

use netdoctor_model::Cause;

use super::{routes::agent, underlay, View};
use crate::context::Context;
use crate::outcome::{command, finding, restart, Outcome, WithActions};
use netdoctor_kube::Node;
use netdoctor_model::Severity;
use std::collections::{BTreeMap, HashMap};

fn mac_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

pub fn check(v: &View, out: &mut Outcome) {
    if !v.is_flannel() || !matches!(v.backend.as_deref(), Some("vxlan") | None) {
        let why = format!(
            "only flannel's vxlan backend is modelled (this cluster: {} {})",
            v.cni.as_deref().unwrap_or("unknown CNI"),
            v.backend.as_deref().unwrap_or("")
        );
        out.not_checked(Cause::VxlanFdbMissing.id(), why.clone());
        out.not_checked(Cause::VxlanDeviceDown.id(), why);
        return;
    }
    let vni = v.me.flannel.as_ref().and_then(|f| f.vni).unwrap_or(1);
    let dev = format!("flannel.{vni}");
    device(v, &dev, out);
    fdb(v, &dev, out);
}

fn device(v: &View, dev: &str, out: &mut Outcome) {
    if v.ctx.snap.links.is_none() {
        out.not_checked(Cause::VxlanDeviceDown.id(), "no links: add `ip -d link`");
        return;
    }
    let (title, evidence) = match v.ctx.snap.link(dev) {
        None if v.ctx.snap.partial("links").is_some() => {
            out.not_checked(
                Cause::VxlanDeviceDown.id(),
                format!(
                    "{dev} is not among the links shown, but they are only part of the node's ({})",
                    v.ctx.snap.partial("links").unwrap_or_default()
                ),
            );
            return;
        }
        None => (
            format!("{dev} does not exist: this node has no VXLAN overlay"),
            format!(
                "no link {dev} among the node's {} links",
                v.ctx.links().len()
            ),
        ),
        // Field notes: UNKNOWN operstate is how a working VXLAN device reports; only a missing
        // UP flag (or an explicit DOWN) is down.
        Some(l) if l.is_down() => (
            format!("{dev} is down"),
            Context::link_evidence(l) + &format!(" flags <{}>", l.flags.join(",")),
        ),
        Some(_) => return,
    };
    let others = v.remotes().count();
    out.add(
        finding(
            Cause::VxlanDeviceDown,
            Severity::Critical,
            title,
            vec![
                evidence,
                format!(
                    "the cluster has {others} other node(s) reached through {dev} (backend vxlan)"
                ),
            ],
            format!(
                "flannel's vxlan backend sends every packet to another node's pods through \
                 {dev}. When the device is missing or administratively down, the routes via it \
                 are gone and pods on this node reach no pod on another node, while same-node \
                 traffic still works. flanneld creates and brings it up at start; it stays down \
                 after `ip link set {dev} down` or when flanneld crashed while recreating it. \
                 Verify with `ip -d link show {dev}`."
            ),
            vec![
                format!("ip link set {dev} up"),
                format!("restart {} so it recreates {dev} and its routes", agent(v)),
            ],
            vec!["nothing to persist: flanneld creates the device at start".into()],
        )
        .with(vec![
            command(
                &["ip", "link", "set", dev, "up"],
                "the overlay device must be up",
            ),
            restart(
                agent(v),
                "it recreates the device, its routes, neighbours and FDB entries",
            ),
        ]),
    );
}

fn fdb(v: &View, dev: &str, out: &mut Outcome) {
    let Some(entries) = v.ctx.snap.fdb.as_ref() else {
        out.not_checked(Cause::VxlanFdbMissing.id(), "no FDB: add `bridge fdb show`");
        return;
    };
    if let Some(why) = v.ctx.snap.partial("fdb") {
        out.not_checked(
            Cause::VxlanFdbMissing.id(),
            format!("the FDB is only part of the node's ({why}): an entry not shown may be there"),
        );
        return;
    }
    let on_dev: Vec<_> = entries.iter().filter(|e| e.dev == dev).collect();
    // Indexed: a 1,000-node cluster has 999 entries of each kind per node.
    let mut fdb_by_mac: HashMap<String, Vec<&netdoctor_model::FdbEntry>> = HashMap::new();
    for e in &on_dev {
        fdb_by_mac
            .entry(e.mac.to_ascii_lowercase())
            .or_default()
            .push(e);
    }
    let neigh_by_addr: Option<HashMap<std::net::IpAddr, &netdoctor_model::Neighbour>> =
        // A partial neighbour list cannot show that one is missing.
        v.ctx.snap.neighbours.as_ref().filter(|_| v.ctx.snap.partial("neighbours").is_none()).map(|ns| {
            ns.iter()
                .filter(|x| x.dev == dev)
                .map(|x| (x.addr, x))
                .collect()
        });
    let mut by_mac: BTreeMap<String, Vec<&Node>> = BTreeMap::new();
    for n in v.cluster.nodes.iter() {
        if let Some(m) = n.flannel.as_ref().and_then(|f| f.vtep_mac.clone()) {
            by_mac.entry(m).or_default().push(n);
        }
    }
    let mut evidence = Vec::new();
    let mut fixes = Vec::new();
    let mut actions = Vec::new();
    let mut bad_nodes = Vec::new();
    for n in v.remotes() {
        let f = n.flannel.as_ref();
        let Some(mac) = f.and_then(|f| f.vtep_mac.as_deref()) else {
            out.not_checked(
                Cause::VxlanFdbMissing.id(),
                format!(
                    "Node {} announces no VtepMAC (flannel backend-data missing or not JSON)",
                    n.name
                ),
            );
            continue;
        };
        let Some(dst) = underlay(n) else {
            continue;
        };
        let ann = || {
            n.annotation_evidence("flannel.alpha.coreos.com/backend-data")
                .unwrap_or_default()
        };
        let mut bad = false;
        let same_mac: &[&netdoctor_model::FdbEntry] = fdb_by_mac
            .get(&mac.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice);
        if !same_mac.iter().any(|e| e.dst == Some(dst)) {
            bad = true;
            match same_mac.first() {
                None => evidence.push(format!(
                    "no FDB entry `{mac} dev {dev} dst {dst}` for Node {} ({})",
                    n.name,
                    ann()
                )),
                Some(e) => evidence.push(format!(
                    "FDB entry {mac} dev {dev} has dst {} but Node {} is at {dst} [{}]",
                    e.dst.map_or("(none)".into(), |d| d.to_string()),
                    n.name,
                    e.source
                )),
            }
            fixes.push(format!(
                "bridge fdb replace {mac} dev {dev} dst {dst} self permanent"
            ));
            actions.push(command(
                &[
                    "bridge",
                    "fdb",
                    "replace",
                    mac,
                    "dev",
                    dev,
                    "dst",
                    &dst.to_string(),
                    "self",
                    "permanent",
                ],
                "VXLAN packets for that node's VTEP need its underlay address",
            ));
        }
        if let (Some(neigh), Some(vtep)) = (&neigh_by_addr, n.flannel_vtep_ip()) {
            let found = neigh.get(&vtep);
            let ok = found.is_some_and(|x| x.lladdr.as_deref().is_some_and(|l| mac_eq(l, mac)));
            if !ok {
                bad = true;
                evidence.push(match found {
                    None => format!("no neighbour `{vtep} dev {dev} lladdr {mac}` for Node {}", n.name),
                    Some(x) => format!(
                        "neighbour {vtep} dev {dev} has lladdr {} but Node {}'s VtepMAC is {mac} [{}]",
                        x.lladdr.as_deref().unwrap_or("(none)"),
                        n.name,
                        x.source
                    ),
                });
                fixes.push(format!(
                    "ip neigh replace {vtep} dev {dev} lladdr {mac} nud permanent"
                ));
                actions.push(command(
                    &[
                        "ip",
                        "neigh",
                        "replace",
                        &vtep.to_string(),
                        "dev",
                        dev,
                        "lladdr",
                        mac,
                        "nud",
                        "permanent",
                    ],
                    "the inner packet's destination MAC must be that node's VTEP",
                ));
            }
        }
        if bad {
            bad_nodes.push(n.name.clone());
        }
    }
    // flannel#1119: two nodes announcing one VtepMAC (cloned VMs) — one FDB entry per MAC can
    // point at only one of them.
    for (mac, nodes) in &by_mac {
        if nodes.len() > 1 && nodes.iter().any(|n| n.name != v.me.name) {
            let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
            evidence.push(format!(
                "Nodes {} all announce VtepMAC {mac}: the FDB can send that MAC to only one of them",
                names.join(", ")
            ));
            bad_nodes.extend(names.iter().map(|s| s.to_string()));
        }
    }
    if evidence.is_empty() {
        return;
    }
    bad_nodes.sort();
    bad_nodes.dedup();
    let stale: Vec<String> = on_dev
        .iter()
        .filter(|e| e.mac != "00:00:00:00:00:00" && !by_mac.keys().any(|m| mac_eq(m, &e.mac)))
        .map(|e| {
            format!(
                "FDB entry {} dst {} matches no Node's VtepMAC [{}]",
                e.mac,
                e.dst.map_or("(none)".into(), |d| d.to_string()),
                e.source
            )
        })
        .collect();
    evidence.extend(stale);
    fixes.push(format!(
        "or restart {} so it re-adds every entry from the Node annotations",
        agent(v)
    ));
    actions.push(restart(
        agent(v),
        "it re-adds FDB and neighbour entries from the Node annotations",
    ));
    out.add(
        finding(
            Cause::VxlanFdbMissing,
            Severity::Critical,
            format!(
                "{dev} has no (or a wrong) FDB entry or neighbour for the VTEP of {}",
                bad_nodes.join(", ")
            ),
            evidence,
            format!(
                "For each remote node, flanneld adds a neighbour (its VTEP address X.0 → its \
                 VtepMAC) and an FDB entry (VtepMAC → its public-ip) on {dev}, from the Node's \
                 annotations. Without both, the kernel cannot encapsulate: packets to that node's \
                 pods are dropped silently (or sent to the wrong host when the entry is stale, \
                 e.g. after the node's flannel.1 was recreated with a new MAC, or two VMs were \
                 cloned with the same MAC). Other nodes are unaffected. Verify with `bridge fdb \
                 show dev {dev}` and `ip neigh show dev {dev}` against `kubectl get node -o \
                 yaml` annotations."
            ),
            fixes,
            vec![
                "nothing to persist: flanneld re-adds the entries at start from the annotations"
                    .into(),
            ],
        )
        .with(actions),
    );
}
