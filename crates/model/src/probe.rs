//! What an active probe found: the `netdoctor.probe/v1` JSON contract (`docs/cli-contract.md`).
//! The probing itself lives in `netdoctor-probe`; folding the results into a diagnosis in
//! `netdoctor-checks`.

use serde::{Deserialize, Serialize};

/// Schema tag of `probe --output json`.
pub const PROBE_SCHEMA: &str = "netdoctor.probe/v1";

/// What a probe tests.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// The node-to-node path: the underlay, then a packet through the overlay device (VXLAN,
    /// IPIP) to the remote VTEP, or a TCP connect to BGP 179.
    Overlay,
    /// A pod on another node.
    Pod,
    /// The largest packet with DF set that passes a path, against the MTU the devices claim.
    Mtu,
    /// A Service's ClusterIP or NodePort.
    Service,
    /// A query through the cluster DNS Service.
    Dns,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 5] = [
        ProbeKind::Overlay,
        ProbeKind::Pod,
        ProbeKind::Mtu,
        ProbeKind::Service,
        ProbeKind::Dns,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Overlay => "overlay",
            ProbeKind::Pod => "pod",
            ProbeKind::Mtu => "mtu",
            ProbeKind::Service => "service",
            ProbeKind::Dns => "dns",
        }
    }
}

/// How a probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeOutcome {
    /// An answer came back (an echo reply, a connection, a DNS answer).
    Answered,
    /// Nothing came back in time: the packet or its answer was dropped silently.
    Silence,
    /// The target refused (TCP RST, or ICMP port unreachable): the path works, nobody listens,
    /// or a rule REJECTs.
    Refused,
    /// An ICMP error came back: unreachable, or time exceeded.
    Unreachable,
    /// The packet was too big for the path (ICMP "fragmentation needed", or the local stack
    /// refused to send it with DF set).
    TooBig,
    /// The probe could not be sent (no route, no permission).
    NotSent,
}

/// The largest DF packet that passed a path, and what the devices on the path claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MtuMeasure {
    /// The largest IP packet (header included) that came back answered.
    pub largest: u32,
    /// The MTU of the device the packet leaves by.
    pub claimed: u32,
    /// The path MTU an ICMP "fragmentation needed" announced, if one came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced: Option<u32>,
}

/// One probe and what it showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeRun {
    pub kind: ProbeKind,
    /// This node (its name, else its hostname).
    pub from: String,
    /// The target in words: `node node-1 VTEP 10.244.1.0`, `pod default/web-0 10.244.1.5`.
    pub to: String,
    pub ok: bool,
    /// Round-trip time of the answer.
    pub rtt_ms: Option<f64>,
    /// What came back, in words (`no answer in 1s`, `connection refused`).
    pub detail: String,
    /// The finding this result confirms, if any (set when the results are folded into a
    /// diagnosis).
    pub finding: Option<String>,
    /// What was sent, so silence can be reproduced by hand (an addition to the contract).
    pub sent: String,
    /// How it ended (an addition to the contract).
    pub outcome: ProbeOutcome,
    /// The node the target lives on, when the cluster objects say (an addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// For `overlay`: whether the node answered on the underlay (an addition). An overlay that
    /// fails while the underlay answers is dropped on the way; one whose node does not answer
    /// at all cannot be judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underlay: Option<bool>,
    /// For `mtu`: what passed and what the devices claim (an addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<MtuMeasure>,
}

// `rtt_ms` is the only float, and it is never NaN (a measured duration): equality is total.
impl Eq for ProbeRun {}

/// The whole `probe --output json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeReport {
    pub schema: String,
    /// This node.
    pub node: String,
    pub results: Vec<ProbeRun>,
    /// Probes that were planned but could not be, and why (an addition).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}
