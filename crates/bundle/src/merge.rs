//! Adding what one source found to the snapshot without duplicating what another source already
//! gave: `ip addr` and `ifconfig` both list links, `ip route` and `route -n` both list routes.

use netdoctor_model::{Address, FdbEntry, Link, Modules, Neighbour, NodeSnapshot, Route, Source};
use std::collections::BTreeMap;

/// Add links, merging with a link of the same name: fields still unknown are filled in.
pub fn links(snap: &mut NodeSnapshot, new: Vec<Link>) {
    let all = snap.links.get_or_insert_with(Vec::new);
    for link in new {
        match all.iter_mut().find(|l| l.name == link.name) {
            Some(old) => fill_link(old, link),
            None => all.push(link),
        }
    }
}

fn fill_link(old: &mut Link, new: Link) {
    old.index = old.index.or(new.index);
    old.kind = old.kind.take().or(new.kind);
    old.mtu = old.mtu.or(new.mtu);
    if old.flags.is_empty() {
        old.flags = new.flags;
    }
    old.operstate = old.operstate.take().or(new.operstate);
    old.mac = old.mac.take().or(new.mac);
    old.master = old.master.take().or(new.master);
    old.peer_index = old.peer_index.or(new.peer_index);
    old.parent = old.parent.take().or(new.parent);
    old.vxlan = old.vxlan.take().or(new.vxlan);
}

/// Add addresses not already known (same interface, address and prefix).
pub fn addresses(snap: &mut NodeSnapshot, new: Vec<Address>) {
    let all = snap.addresses.get_or_insert_with(Vec::new);
    for a in new {
        let dup = all
            .iter()
            .any(|o| o.ifname == a.ifname && o.addr == a.addr && o.prefix_len == a.prefix_len);
        if !dup {
            all.push(a);
        }
    }
}

/// Add routes. A route another file already gave (same table, type, destination, device and
/// metric, compatible gateway) is merged, not repeated; routes of one file are all kept.
pub fn routes(snap: &mut NodeSnapshot, new: Vec<Route>) {
    let all = snap.routes.get_or_insert_with(Vec::new);
    for r in new {
        let same = all.iter_mut().find(|o| {
            o.source.file != r.source.file
                && o.table == r.table
                && o.kind == r.kind
                && o.dst == r.dst
                && o.dev == r.dev
                && o.metric.unwrap_or(0) == r.metric.unwrap_or(0)
                && (o.gateway.is_none() || r.gateway.is_none() || o.gateway == r.gateway)
        });
        match same {
            Some(o) => {
                o.gateway = o.gateway.or(r.gateway);
                o.prefsrc = o.prefsrc.or(r.prefsrc);
                o.scope = o.scope.take().or(r.scope);
                o.protocol = o.protocol.take().or(r.protocol);
                o.mtu = o.mtu.or(r.mtu);
                o.onlink |= r.onlink;
            }
            None => all.push(r),
        }
    }
}

/// Add neighbours not already known (same address and device).
pub fn neighbours(snap: &mut NodeSnapshot, new: Vec<Neighbour>) {
    let all = snap.neighbours.get_or_insert_with(Vec::new);
    for n in new {
        if !all.iter().any(|o| o.addr == n.addr && o.dev == n.dev) {
            all.push(n);
        }
    }
}

/// Add FDB entries not already known.
pub fn fdb(snap: &mut NodeSnapshot, new: Vec<FdbEntry>) {
    let all = snap.fdb.get_or_insert_with(Vec::new);
    for e in new {
        let dup = all
            .iter()
            .any(|o| o.mac == e.mac && o.dev == e.dev && o.dst == e.dst && o.vlan == e.vlan);
        if !dup {
            all.push(e);
        }
    }
}

/// Add sysctl values; a key another file already gave keeps its first value.
pub fn sysctls(snap: &mut NodeSnapshot, new: crate::sysctl::Sysctls) {
    let all = snap.sysctls.get_or_insert_with(BTreeMap::new);
    for (k, v) in new {
        all.entry(k).or_insert(v);
    }
}

/// Add loaded modules.
pub fn modules(snap: &mut NodeSnapshot, new: BTreeMap<String, Source>) {
    let m = snap.modules.get_or_insert_with(Modules::default);
    let loaded = m.loaded.get_or_insert_with(BTreeMap::new);
    for (k, v) in new {
        loaded.entry(k).or_insert(v);
    }
}
