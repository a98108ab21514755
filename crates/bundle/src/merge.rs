//! Adding what one source found to the snapshot without duplicating what another source already
//! gave: `ip addr` and `ifconfig` both list links, `ip route` and `route -n` both list routes.

use netdoctor_model::{Address, FdbEntry, Link, Modules, Neighbour, NodeSnapshot, Route, Source};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

/// Add links, merging with a link of the same name: fields still unknown are filled in.
pub fn links(snap: &mut NodeSnapshot, new: Vec<Link>) {
    let all = snap.links.get_or_insert_with(Vec::new);
    let mut by_name: HashMap<String, usize> = HashMap::with_capacity(all.len());
    for (i, l) in all.iter().enumerate() {
        by_name.entry(l.name.clone()).or_insert(i);
    }
    for link in new {
        match by_name.get(&link.name) {
            Some(&i) => fill_link(&mut all[i], link),
            None => {
                by_name.insert(link.name.clone(), all.len());
                all.push(link);
            }
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

/// Keep the items of `new` whose key no item of `all` (or an earlier item of `new`) has.
/// One pass with a hash set: a dump of a million entries merges in linear time.
fn add_unique<T, K: Hash + Eq>(all: &mut Vec<T>, new: Vec<T>, key: impl Fn(&T) -> K) {
    let mut seen: HashSet<K> = all.iter().map(&key).collect();
    for item in new {
        if seen.insert(key(&item)) {
            all.push(item);
        }
    }
}

/// Add addresses not already known (same interface, address and prefix).
pub fn addresses(snap: &mut NodeSnapshot, new: Vec<Address>) {
    let all = snap.addresses.get_or_insert_with(Vec::new);
    add_unique(all, new, |a| (a.ifname.clone(), a.addr, a.prefix_len));
}

/// What two routes must share to be one route seen by two files, hashed: the index holds
/// 8 bytes per key instead of a copy of each device name.
fn route_key(r: &Route) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    (
        r.table,
        r.kind,
        r.dst,
        r.dev.as_deref(),
        r.metric.unwrap_or(0),
    )
        .hash(&mut h);
    h.finish()
}

fn same_key(a: &Route, b: &Route) -> bool {
    a.table == b.table
        && a.kind == b.kind
        && a.dst == b.dst
        && a.dev == b.dev
        && a.metric.unwrap_or(0) == b.metric.unwrap_or(0)
}

/// Add routes. A route another file already gave (same table, type, destination, device and
/// metric, compatible gateway) is merged, not repeated; routes of one file are all kept.
///
/// Routes are found by key in a hash map. A bucket keeps one route per (file, gateway): a
/// later route of the same file and gateway could only ever merge where the first one
/// does, so a file repeating one route 60,000 times stays linear.
pub fn routes(snap: &mut NodeSnapshot, new: Vec<Route>) {
    let all = snap.routes.get_or_insert_with(Vec::new);
    let mut index: HashMap<u64, Vec<usize>> = HashMap::with_capacity(all.len() + new.len());
    for i in 0..all.len() {
        remember(&mut index, all, i);
    }
    for r in new {
        let same = index.get(&route_key(&r)).and_then(|bucket| {
            bucket.iter().copied().find(|&i| {
                let o = &all[i];
                same_key(o, &r)
                    && o.source.file != r.source.file
                    && (o.gateway.is_none() || r.gateway.is_none() || o.gateway == r.gateway)
            })
        });
        match same {
            Some(i) => {
                let o = &mut all[i];
                o.gateway = o.gateway.or(r.gateway);
                o.prefsrc = o.prefsrc.or(r.prefsrc);
                o.scope = o.scope.take().or(r.scope);
                o.protocol = o.protocol.take().or(r.protocol);
                o.mtu = o.mtu.or(r.mtu);
                o.onlink |= r.onlink;
            }
            None => {
                all.push(r);
                remember(&mut index, all, all.len() - 1);
            }
        }
    }
}

fn remember(index: &mut HashMap<u64, Vec<usize>>, all: &[Route], i: usize) {
    let r = &all[i];
    let bucket = index.entry(route_key(r)).or_default();
    let shadowed = bucket.iter().any(|&j| {
        let o = &all[j];
        same_key(o, r) && o.source.file == r.source.file && o.gateway == r.gateway
    });
    if !shadowed {
        bucket.push(i);
    }
}

/// Add neighbours not already known (same address and device).
pub fn neighbours(snap: &mut NodeSnapshot, new: Vec<Neighbour>) {
    let all = snap.neighbours.get_or_insert_with(Vec::new);
    add_unique(all, new, |n| (n.addr, n.dev.clone()));
}

/// Add FDB entries not already known.
pub fn fdb(snap: &mut NodeSnapshot, new: Vec<FdbEntry>) {
    let all = snap.fdb.get_or_insert_with(Vec::new);
    add_unique(all, new, |e| (e.mac.clone(), e.dev.clone(), e.dst, e.vlan));
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
