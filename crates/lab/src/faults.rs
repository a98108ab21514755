//! The seed faults, as data: what each breaks and the finding that names it. Every fault is
//! injected on node 0; `inject.rs` holds how.

use crate::flows::FlowKind;
use crate::flows::FlowKind::*;
use std::net::Ipv4Addr;

/// CentOS 7's `/usr/lib/sysctl.d/00-system.conf`, content only (the fixture
/// `tests/fixtures/realworld/sysctl/centos7_usr_lib_sysctl.d_00-system.conf` quotes it with its
/// source; a unit test keeps the two equal).
pub const CENTOS7_00_SYSTEM_CONF: &str = include_str!("../data/centos7-00-system.conf");

/// A reversible fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    IpForwardOff,
    BridgeNfOff,
    VxlanPortBlocked,
    NftFirewallDropsVxlan,
    ForwardPolicyDrop,
    StaleTunl0,
    RouteMissing,
    FdbMissing,
    MtuUnderlay,
    RpFilterStrict,
    PodCidrOverlapsHost,
    Centos7Sysctl,
    IptablesBothBackends,
    ServiceNoEndpoints,
}

/// The declared facts about one fault.
#[derive(Debug, Clone, Copy)]
pub struct FaultSpec {
    pub fault: Fault,
    /// Stable kebab-case name (`netdoctor demo --fault NAME`).
    pub name: &'static str,
    /// Index of the node it is injected on.
    pub node: usize,
    /// The flows that real packets show broken while it is in place.
    pub breaks: &'static [FlowKind],
    /// The finding id (`docs/cli-contract.md`) a check of the node must report.
    pub finding: &'static str,
    /// One line for people.
    pub summary: &'static str,
}

const CROSS: &[FlowKind] = &[
    PodToPodCrossNode,
    PodToClusterIpRemote,
    NodeToNodePort,
    DfPingCrossNode,
];

/// The table the self-test holds real traffic to.
pub const FAULTS: &[FaultSpec] = &[
    FaultSpec {
        fault: Fault::IpForwardOff,
        name: "ip-forward-off",
        node: 0,
        // Bridged DNAT dies too: br_netfilter re-routes a DNATed bridged packet, which needs forwarding.
        breaks: &[
            PodToPodCrossNode,
            PodToClusterIpLocal,
            PodToClusterIpRemote,
            NodeToNodePort,
            DfPingCrossNode,
        ],
        finding: "ip-forward-disabled",
        summary: "net.ipv4.ip_forward = 0 on the node",
    },
    FaultSpec {
        fault: Fault::BridgeNfOff,
        name: "bridge-nf-off",
        node: 0,
        breaks: &[PodToClusterIpLocal],
        finding: "bridge-nf-call-iptables-disabled",
        summary: "net.bridge.bridge-nf-call-iptables = 0: bridged replies skip conntrack's un-DNAT",
    },
    FaultSpec {
        fault: Fault::VxlanPortBlocked,
        name: "vxlan-port-blocked",
        node: 0,
        breaks: CROSS,
        finding: "overlay-port-blocked",
        summary: "the host firewall drops UDP 8472 (VXLAN) in INPUT",
    },
    FaultSpec {
        fault: Fault::NftFirewallDropsVxlan,
        name: "nft-firewall-drops-vxlan",
        node: 0,
        breaks: CROSS,
        finding: "overlay-port-blocked",
        summary: "a host nftables firewall, in its own table beside kube-proxy's and flannel's iptables rules, drops UDP 8472 (VXLAN) at the input hook",
    },
    FaultSpec {
        fault: Fault::ForwardPolicyDrop,
        name: "forward-policy-drop",
        node: 0,
        // KUBE-FORWARD still accepts marked (NodePort) and established traffic.
        breaks: &[
            PodToPodSameNode,
            PodToPodCrossNode,
            PodToClusterIpLocal,
            PodToClusterIpRemote,
            DfPingCrossNode,
        ],
        finding: "forward-policy-drop",
        summary: "filter FORWARD policy DROP and no accept for the pod CIDR (as Docker leaves it)",
    },
    FaultSpec {
        fault: Fault::StaleTunl0,
        name: "stale-tunl0",
        node: 0,
        breaks: CROSS,
        finding: "stale-interface-address",
        summary: "a leftover tunl0 holds 10.244.1.0/32, so the kernel refuses flannel's route to node 1",
    },
    FaultSpec {
        fault: Fault::RouteMissing,
        name: "route-missing",
        node: 0,
        breaks: CROSS,
        finding: "pod-route-missing",
        summary: "no route to node 1's pod subnet",
    },
    FaultSpec {
        fault: Fault::FdbMissing,
        name: "fdb-missing",
        node: 0,
        breaks: CROSS,
        finding: "vxlan-fdb-missing",
        summary: "flannel.1 has no FDB entry for node 1's VTEP",
    },
    FaultSpec {
        fault: Fault::MtuUnderlay,
        name: "mtu-underlay",
        node: 0,
        breaks: &[DfPingCrossNode],
        finding: "mtu-mismatch",
        summary: "eth0 MTU 1400 is below flannel.1's 1450 + 50 bytes of VXLAN",
    },
    FaultSpec {
        fault: Fault::RpFilterStrict,
        name: "rp-filter-strict",
        node: 0,
        // NodePort survives: it is masqueraded to eth0's address, so its reply comes back on eth0.
        breaks: &[PodToPodCrossNode, PodToClusterIpRemote, DfPingCrossNode],
        finding: "rp-filter-strict",
        summary: "strict rp_filter on flannel.1 while node 0 sends to node 1's pods directly over eth0 \
                  (flannel DirectRouting on one side only): replies arrive on flannel.1 and are dropped",
    },
    FaultSpec {
        fault: Fault::PodCidrOverlapsHost,
        name: "pod-cidr-overlaps-host",
        node: 0,
        breaks: CROSS,
        finding: "pod-cidr-overlap",
        summary: "a host network 10.244.1.0/25 on eth0 lies inside the cluster CIDR and captures node 1's pods",
    },
    FaultSpec {
        fault: Fault::Centos7Sysctl,
        name: "centos7-sysctl",
        node: 0,
        breaks: &[],
        finding: "sysctl-overridden",
        summary: "CentOS 7's 00-system.conf sets bridge-nf-call-iptables = 0 at the next boot (nothing breaks yet)",
    },
    FaultSpec {
        fault: Fault::IptablesBothBackends,
        name: "iptables-both-backends",
        node: 0,
        breaks: &[PodToClusterIpRemote],
        finding: "iptables-backend-mismatch",
        summary: "stale kube-proxy rules in iptables-legacy DNAT web-remote to a deleted pod",
    },
    FaultSpec {
        fault: Fault::ServiceNoEndpoints,
        name: "service-no-endpoints",
        node: 0,
        breaks: &[PodToClusterIpRemote],
        finding: "service-no-endpoints",
        summary: "web-remote has no ready endpoints: kube-proxy REJECTs its traffic",
    },
];

/// Where the stale legacy rules send `web-remote`: a pod address nobody holds any more.
pub(crate) const STALE_ENDPOINT: Ipv4Addr = Ipv4Addr::new(10, 244, 1, 99);

impl Fault {
    /// Every fault, in table order.
    pub fn all() -> impl Iterator<Item = Fault> {
        FAULTS.iter().map(|s| s.fault)
    }

    /// Its row of [`FAULTS`].
    pub fn spec(self) -> &'static FaultSpec {
        FAULTS
            .iter()
            .find(|s| s.fault == self)
            .unwrap_or(&FAULTS[0])
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    pub fn from_name(name: &str) -> Option<Fault> {
        FAULTS.iter().find(|s| s.name == name).map(|s| s.fault)
    }

    /// The declared broken flows (kube-proxy in iptables mode).
    pub fn breaks(self) -> &'static [FlowKind] {
        self.spec().breaks
    }

    /// The declared broken flows with kube-proxy in `mode`.
    pub fn breaks_in(self, mode: crate::ProxyMode) -> &'static [FlowKind] {
        match (self, mode) {
            // In iptables mode KUBE-FORWARD accepts NodePort traffic (marked 0x4000) before the
            // DROP policy. kube-proxy's nftables mode accepts it in its own table only, and an
            // accept there does not stop iptables' FORWARD chain, a base chain of the same hook:
            // the policy drops NodePort traffic too, so every flow breaks.
            (Fault::ForwardPolicyDrop, crate::ProxyMode::Nftables) => &FlowKind::ALL,
            _ => self.breaks(),
        }
    }

    /// Node the fault is injected on.
    pub fn node(self) -> usize {
        self.spec().node
    }

    /// The finding id a check on the broken node must report.
    pub fn finding(self) -> &'static str {
        self.spec().finding
    }

    /// False when revert cannot restore the exact pre-fault state (see [`Lab::revert`]).
    pub fn fully_reversible(self) -> bool {
        self != Fault::IptablesBothBackends
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = FAULTS.iter().map(|s| s.name).collect();
        for s in FAULTS {
            assert_eq!(Fault::from_name(s.name), Some(s.fault));
            assert_eq!(s.fault.spec().name, s.name);
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FAULTS.len());
        assert_eq!(Fault::from_name("nope"), None);
    }

    #[test]
    fn every_variant_has_its_own_row() {
        // The match fails to compile when a variant is added, reminding to add its row.
        let row = |f: Fault| match f {
            Fault::IpForwardOff
            | Fault::BridgeNfOff
            | Fault::VxlanPortBlocked
            | Fault::NftFirewallDropsVxlan
            | Fault::ForwardPolicyDrop
            | Fault::StaleTunl0
            | Fault::RouteMissing
            | Fault::FdbMissing
            | Fault::MtuUnderlay
            | Fault::RpFilterStrict
            | Fault::PodCidrOverlapsHost
            | Fault::Centos7Sysctl
            | Fault::IptablesBothBackends
            | Fault::ServiceNoEndpoints => FAULTS.iter().filter(|s| s.fault == f).count(),
        };
        let all = [
            Fault::IpForwardOff,
            Fault::BridgeNfOff,
            Fault::VxlanPortBlocked,
            Fault::NftFirewallDropsVxlan,
            Fault::ForwardPolicyDrop,
            Fault::StaleTunl0,
            Fault::RouteMissing,
            Fault::FdbMissing,
            Fault::MtuUnderlay,
            Fault::RpFilterStrict,
            Fault::PodCidrOverlapsHost,
            Fault::Centos7Sysctl,
            Fault::IptablesBothBackends,
            Fault::ServiceNoEndpoints,
        ];
        for f in all {
            assert_eq!(row(f), 1, "{f:?}");
        }
        assert_eq!(FAULTS.len(), all.len());
    }

    #[test]
    fn centos_file_matches_the_fixture_content() {
        let fixture = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/realworld/sysctl/centos7_usr_lib_sysctl.d_00-system.conf"
        ))
        .expect("fixture");
        let marker = "# ---- file content (verbatim) ----\n";
        let content = &fixture[fixture.find(marker).expect("marker") + marker.len()..];
        assert_eq!(CENTOS7_00_SYSTEM_CONF, content);
        assert!(CENTOS7_00_SYSTEM_CONF.contains("net.bridge.bridge-nf-call-iptables = 0"));
    }
}
