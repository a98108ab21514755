//! A node's devices as the datapath uses them: which are bridges (also when the source did not
//! say), which VXLAN device a UDP port reaches, and whether bridged traffic goes through
//! iptables.

use crate::overlay::vxlan_port;
use netdoctor_model::{Link, NodeSnapshot};

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
