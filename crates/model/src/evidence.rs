//! Evidence beyond the kernel's own state that people paste and the checks use: versions,
//! counters, offloads, IPVS services, ipsets, BGP peers, and the results of probes they ran.

use crate::Source;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A device's traffic counters (`ip -s link`, `netstat -i`, `ifconfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LinkStats {
    pub ifname: String,
    pub rx_packets: Option<u64>,
    pub rx_errors: Option<u64>,
    pub rx_dropped: Option<u64>,
    pub tx_packets: Option<u64>,
    pub tx_errors: Option<u64>,
    pub tx_dropped: Option<u64>,
    pub source: Source,
}

/// One offload feature of a device (`ethtool -k`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Offload {
    pub ifname: String,
    /// `tx-checksum-ip-generic`, `tx-udp_tnl-segmentation`, ...
    pub feature: String,
    pub on: bool,
    /// `[fixed]`: the driver does not let it change.
    #[serde(default)]
    pub fixed: bool,
    pub source: Source,
}

/// An IPVS virtual service and its real servers (`ipvsadm -Ln`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IpvsService {
    /// `TCP`, `UDP`, `SCTP`.
    pub protocol: String,
    pub address: IpAddr,
    pub port: u16,
    pub scheduler: String,
    pub reals: Vec<IpvsReal>,
    pub source: Source,
}

/// A real server of an IPVS service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IpvsReal {
    pub address: IpAddr,
    pub port: u16,
    pub weight: u32,
    pub active: u64,
    pub inactive: u64,
}

/// An ipset (`ipset list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IpSet {
    pub name: String,
    /// `hash:ip`, `hash:ip,port`, `hash:net`, ...
    pub kind: String,
    pub members: Vec<String>,
    /// The listing showed every member (it was not cut).
    pub complete: bool,
    pub source: Source,
}

/// A BGP peer as the CNI reports it (`calicoctl node status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BgpPeer {
    pub address: IpAddr,
    /// `node-to-node mesh`, `global`, `node specific`.
    pub peer_type: String,
    /// BIRD's state: `up`, `start`, `down`, ...
    pub state: String,
    /// `Established`, `Active Socket: Connection refused`, `Connect`, ...
    pub info: String,
    pub source: Source,
}

impl BgpPeer {
    pub fn established(&self) -> bool {
        self.state.eq_ignore_ascii_case("up") && self.info.starts_with("Established")
    }
}

/// What a probe someone ran showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeResult {
    /// `ping`, `curl`, `dns`, `tcp` (nc), `iperf3`.
    pub kind: String,
    /// What was probed, as typed (`10.96.0.1:443`, `kubernetes.default`).
    pub target: String,
    /// `Some(true)`: it worked; `Some(false)`: it failed; `None`: the output does not say.
    pub ok: Option<bool>,
    /// The line that says so (`100% packet loss`, `Connection timed out`, `NXDOMAIN`).
    pub detail: String,
    pub source: Source,
}

/// Connection-tracking statistics (`conntrack -S`, summed over CPUs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConntrackStats {
    pub insert_failed: u64,
    pub drop: u64,
    pub early_drop: u64,
    pub invalid: u64,
    pub search_restart: u64,
    pub source: Option<Source>,
}
