//! A node's devices as the datapath uses them: which are bridges (also when the source did not
//! say), where a pod's address sits (behind a bridge and which of its ports, or on a routed
//! veth), which VXLAN device a UDP port reaches, and whether bridged traffic goes through
//! iptables.

use crate::overlay::vxlan_port;
use crate::routing::Routing;
use ipnet::IpNet;
use netdoctor_model::{Address, Link, NodeSnapshot};
use std::net::IpAddr;

/// The bridges CNIs give their pods (the bridge plugin's `cni0`, kubenet's `cbr0`).
pub const POD_BRIDGES: [&str; 2] = ["cni0", "cbr0"];

/// Bridges container runtimes and CNIs always create under these names: a bridge even where
/// the source (a pasted `ip addr`, `ifconfig`) does not show kinds.
pub fn is_well_known_bridge(name: &str) -> bool {
    POD_BRIDGES.contains(&name) || matches!(name, "docker0" | "kube-bridge")
}

/// The link's kind as the kernel reports it; a well-known bridge name stands in when the
/// source showed no kind.
pub fn link_kind(l: &Link) -> Option<&str> {
    match l.kind.as_deref() {
        Some(k) => Some(k),
        None if is_well_known_bridge(&l.name) => Some("bridge"),
        None => None,
    }
}

/// The VXLAN device that receives UDP packets to `port`.
pub fn vxlan_for_port(snap: &NodeSnapshot, port: u16) -> Option<&Link> {
    snap.links
        .iter()
        .flatten()
        .find(|l| l.kind.as_deref() == Some("vxlan") && vxlan_port(l) == port)
}

/// Whether bridged traffic traverses iptables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeNf {
    On,
    Off,
    ModuleMissing,
}

/// Why the snapshot cannot tell whether bridged traffic sees iptables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BridgeNfUnknown {
    #[error("sysctls were not collected")]
    NotCollected,
    #[error("{key} is not among the sysctls shown, which are only part of the node's ({why})")]
    PartialSysctls { key: &'static str, why: String },
}

/// br_netfilter is active and bridged IPv4 traffic goes through iptables. `Err` names what is
/// missing from the snapshot.
pub fn bridge_nf(snap: &NodeSnapshot) -> Result<BridgeNf, BridgeNfUnknown> {
    let key = "net.bridge.bridge-nf-call-iptables";
    let present = match &snap.bridge_nf_present {
        Some(p) => p.value,
        // The key exists exactly when the module is loaded; its absence proves that only
        // when every sysctl was collected.
        None if snap.sysctl(key).is_some() => true,
        None if snap.sysctls.is_none() => return Err(BridgeNfUnknown::NotCollected),
        None => match snap.partial("sysctls") {
            Some(why) => {
                return Err(BridgeNfUnknown::PartialSysctls {
                    key,
                    why: why.to_string(),
                })
            }
            None => false,
        },
    };
    if !present {
        return Ok(BridgeNf::ModuleMissing);
    }
    match snap.sysctl(key).map(|v| v.value.trim().parse::<i64>()) {
        Some(Ok(0)) => Ok(BridgeNf::Off),
        Some(_) => Ok(BridgeNf::On),
        None if snap.sysctls.is_some() => Ok(BridgeNf::On),
        None => Err(BridgeNfUnknown::NotCollected),
    }
}

fn is_bridge(snap: &NodeSnapshot, ifname: &str) -> bool {
    snap.link(ifname).and_then(link_kind) == Some("bridge")
}

fn own(snap: &NodeSnapshot, ip: IpAddr) -> bool {
    snap.addresses.iter().flatten().any(|a| a.addr == ip)
}

/// The bridge address whose connected subnet holds `ip`, when `ip` is not the node's own:
/// where a pod with that address sits.
pub fn bridge_for(snap: &NodeSnapshot, ip: IpAddr) -> Option<&Address> {
    if own(snap, ip) {
        return None;
    }
    snap.addresses.iter().flatten().find(|a| {
        is_bridge(snap, &a.ifname)
            && a.network()
                .is_some_and(|n| n.contains(&ip) && n.prefix_len() < 31)
    })
}

/// The routed veth (Calico's `cali*`, no bridge) a host route of the main table sends `ip`
/// to: where a pod with that address sits.
pub fn routed_veth_for<'a>(
    snap: &'a NodeSnapshot,
    routing: &'a Routing,
    ip: IpAddr,
) -> Option<&'a str> {
    if own(snap, ip) {
        return None;
    }
    routing.main().iter().find_map(|r| {
        let host = r.dst.prefix_len() == if ip.is_ipv4() { 32 } else { 128 };
        let dev = r.dev.as_deref()?;
        let l = snap.link(dev)?;
        (host
            && r.dst.contains(&ip)
            && r.gateway.is_none()
            && l.kind.as_deref() == Some("veth")
            && l.master.is_none()
            && !snap.addresses.iter().flatten().any(|a| a.ifname == dev))
        .then_some(dev)
    })
}

/// The subnets of the node's bridges: its pod CIDR as the CNI wired it.
pub fn bridge_subnets(snap: &NodeSnapshot) -> Vec<IpNet> {
    snap.addresses
        .iter()
        .flatten()
        .filter(|a| is_bridge(snap, &a.ifname))
        .filter_map(Address::network)
        .filter(|n| n.prefix_len() < 31)
        .collect()
}

/// The port of `bridge` a pod's address sits behind, from the neighbour entry and the FDB.
pub fn bridge_port(snap: &NodeSnapshot, bridge: &str, ip: IpAddr) -> Option<String> {
    let mac = snap
        .neighbours
        .iter()
        .flatten()
        .find(|n| n.addr == ip && n.dev == bridge)?
        .lladdr
        .clone()?;
    snap.fdb
        .iter()
        .flatten()
        .find(|f| f.mac.eq_ignore_ascii_case(&mac) && f.master.as_deref() == Some(bridge))
        .map(|f| f.dev.clone())
}
