//! The traffic the lab checks: real TCP echoes and a DF ping, each bounded by about a second.

use crate::echo::echo_request;
use crate::plan::{ECHO_PORT, OVERLAY_MTU};
use crate::Lab;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

static NONCE: AtomicU64 = AtomicU64::new(0);

/// The kinds of flow every lab runs, between nodes 0 and 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowKind {
    /// Pod 0 of node 0 to pod 1 of node 0: bridged on `cni0`.
    PodToPodSameNode,
    /// Pod 0 of node 0 to pod 0 of node 1: routed through `flannel.1`.
    PodToPodCrossNode,
    /// Pod 0 of node 0 to `web-local`, backed by pod 1 of node 0: the reply is bridged, so only
    /// br_netfilter lets conntrack undo the DNAT.
    PodToClusterIpLocal,
    /// Pod 0 of node 0 to `web-remote`, backed by pod 0 of node 1.
    PodToClusterIpRemote,
    /// Node 1 to node 0's address on the NodePort of `web-nodeport`, backed by pod 1 of node 1.
    NodeToNodePort,
    /// A ping with DF set, `NEAR_MTU_PACKET` bytes long, from pod 0 of node 0 to pod 0 of node 1.
    DfPingCrossNode,
}

/// Total IP length of the DF ping: fits the overlay MTU (1450) with room to spare, so it fails
/// only when the path really cannot carry near-MTU packets.
pub const NEAR_MTU_PACKET: u32 = 1420;
const _: () = assert!(NEAR_MTU_PACKET <= OVERLAY_MTU);

impl FlowKind {
    pub const ALL: [FlowKind; 6] = [
        FlowKind::PodToPodSameNode,
        FlowKind::PodToPodCrossNode,
        FlowKind::PodToClusterIpLocal,
        FlowKind::PodToClusterIpRemote,
        FlowKind::NodeToNodePort,
        FlowKind::DfPingCrossNode,
    ];

    /// Stable kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            FlowKind::PodToPodSameNode => "pod-to-pod-same-node",
            FlowKind::PodToPodCrossNode => "pod-to-pod-cross-node",
            FlowKind::PodToClusterIpLocal => "pod-to-clusterip-local",
            FlowKind::PodToClusterIpRemote => "pod-to-clusterip-remote",
            FlowKind::NodeToNodePort => "node-to-nodeport",
            FlowKind::DfPingCrossNode => "df-ping-cross-node",
        }
    }
}

impl std::fmt::Display for FlowKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a flow probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// TCP connect, send a nonce, expect it echoed by `expect_pod` (when set).
    TcpEcho {
        dst: SocketAddr,
        expect_pod: Option<String>,
    },
    /// `ping -c1 -W1 -M do -s (size-28)`: ICMP echo of `size` bytes in total with DF.
    DfPing { dst: IpAddr, size: u32 },
}

/// One concrete flow of a lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub kind: FlowKind,
    /// Network namespace the client runs in.
    pub src_netns: String,
    /// Human description of the source (`pod echo-n0-0 (10.244.0.2)`).
    pub src: String,
    pub probe: Probe,
}

/// What real packets did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowResult {
    pub kind: FlowKind,
    pub ok: bool,
    /// Who answered, or the error (`connect 10.96.0.20:80: timed out`).
    pub detail: String,
    pub millis: u128,
}

impl Lab {
    /// The standard flows (one per [`FlowKind`]).
    pub fn flows(&self) -> Vec<Flow> {
        FlowKind::ALL.iter().filter_map(|k| self.flow(*k)).collect()
    }

    /// The flow of a kind; `None` only if the lab lacks the pods it needs.
    pub fn flow(&self, kind: FlowKind) -> Option<Flow> {
        let client = self.pod(0, 0)?;
        let pod_src = format!("pod {} ({})", client.name, client.ip);
        let tcp = |dst: SocketAddr, expect: Option<String>| Probe::TcpEcho {
            dst,
            expect_pod: expect,
        };
        let from_pod = |probe| Flow {
            kind,
            src_netns: client.netns.clone(),
            src: pod_src.clone(),
            probe,
        };
        let svc_target = |name: &str| -> Option<(SocketAddr, Option<String>)> {
            let s = self.service(name)?;
            Some((
                SocketAddr::new(s.cluster_ip.into(), s.port),
                s.endpoints.first().cloned(),
            ))
        };
        Some(match kind {
            FlowKind::PodToPodSameNode => {
                let p = self.pod(0, 1)?;
                from_pod(tcp(
                    SocketAddr::new(p.ip.into(), ECHO_PORT),
                    Some(p.name.clone()),
                ))
            }
            FlowKind::PodToPodCrossNode => {
                let p = self.pod(1, 0)?;
                from_pod(tcp(
                    SocketAddr::new(p.ip.into(), ECHO_PORT),
                    Some(p.name.clone()),
                ))
            }
            FlowKind::PodToClusterIpLocal => {
                let (dst, expect) = svc_target("web-local")?;
                from_pod(tcp(dst, expect))
            }
            FlowKind::PodToClusterIpRemote => {
                let (dst, expect) = svc_target("web-remote")?;
                from_pod(tcp(dst, expect))
            }
            FlowKind::NodeToNodePort => {
                let s = self.service("web-nodeport")?;
                let (n0, n1) = (self.nodes.first()?, self.nodes.get(1)?);
                Flow {
                    kind,
                    src_netns: n1.netns.clone(),
                    src: format!("node {} ({})", n1.name, n1.ip),
                    probe: tcp(
                        SocketAddr::new(n0.ip.into(), s.node_port?),
                        s.endpoints.first().cloned(),
                    ),
                }
            }
            FlowKind::DfPingCrossNode => {
                let p = self.pod(1, 0)?;
                from_pod(Probe::DfPing {
                    dst: p.ip.into(),
                    size: NEAR_MTU_PACKET,
                })
            }
        })
    }

    /// Run one flow with real packets.
    pub fn run_flow(&self, flow: &Flow) -> FlowResult {
        let start = Instant::now();
        let (ok, detail) = match &flow.probe {
            Probe::TcpEcho { dst, expect_pod } => {
                let nonce = format!(
                    "nd-{}-{}",
                    std::process::id(),
                    NONCE.fetch_add(1, Ordering::Relaxed)
                );
                match echo_request(&flow.src_netns, *dst, &nonce) {
                    Ok(who) => match expect_pod {
                        Some(e) if *e != who => {
                            (false, format!("{dst} answered by {who}, expected {e}"))
                        }
                        _ => (true, format!("{dst} answered by {who}")),
                    },
                    Err(e) => (false, e),
                }
            }
            Probe::DfPing { dst, size } => df_ping(&flow.src_netns, *dst, *size),
        };
        FlowResult {
            kind: flow.kind,
            ok,
            detail,
            millis: start.elapsed().as_millis(),
        }
    }

    /// Run flows concurrently (each is bounded by about a second); results in input order.
    pub fn run_flows(&self, flows: &[Flow]) -> Vec<FlowResult> {
        std::thread::scope(|s| {
            let handles: Vec<_> = flows
                .iter()
                .map(|f| s.spawn(move || self.run_flow(f)))
                .collect();
            handles
                .into_iter()
                .zip(flows)
                .map(|(h, f)| {
                    h.join().unwrap_or_else(|_| FlowResult {
                        kind: f.kind,
                        ok: false,
                        detail: "flow thread panicked".into(),
                        millis: 0,
                    })
                })
                .collect()
        })
    }

    /// Run every standard flow.
    pub fn run_all_flows(&self) -> Vec<FlowResult> {
        self.run_flows(&self.flows())
    }
}

fn df_ping(netns: &str, dst: IpAddr, size: u32) -> (bool, String) {
    // 20 bytes of IP header and 8 of ICMP header around the payload.
    let payload = size.saturating_sub(28).to_string();
    let dst_s = dst.to_string();
    match crate::exec::ns_run(
        netns,
        "ping",
        &["-n", "-c1", "-W1", "-M", "do", "-s", &payload, &dst_s],
        &[],
        None,
    ) {
        Ok(_) => (true, format!("{size}-byte DF echo to {dst} answered")),
        Err(e) => {
            let msg = match &e {
                // ping prints its errors ("local error: message too long, mtu=1400") or only
                // its statistics ("1 packets transmitted, 0 received") when nothing came back.
                crate::LabError::Command { stderr, .. } => stderr
                    .lines()
                    .find(|l| {
                        l.contains("error") || l.contains("too long") || l.contains("nreachable")
                    })
                    .unwrap_or("no reply within 1 s")
                    .trim()
                    .to_string(),
                other => other.to_string(),
            };
            (false, format!("{size}-byte DF echo to {dst}: {msg}"))
        }
    }
}
