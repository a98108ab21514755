//! netdoctor-pcap: where did the packet vanish, from captures taken at several points.
//!
//! The captures are of one path, given in the order a request crosses them (the client's side
//! first). Each packet is matched across them by what NAT and routing leave alone (the IPv4
//! identification, TCP sequence numbers and flags, the payload), so a request seen as
//! `client -> ClusterIP` at the first point and `client -> pod` at the last is one packet; a
//! VXLAN packet is followed by its inner packet. Packets are grouped into flows (a reply is a
//! packet whose addresses and ports are a request's reversed at the point that saw it first),
//! and for each flow and direction the last point each packet reached is where it vanished.
//!
//! This crate reads bytes it is given; it does no I/O.

mod read;

pub use read::{
    read, Capture, IcmpError, Key, Packet, ReadError, Tuple, TCP_ACK, TCP_RST, TCP_SYN,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// A capture point: where a file was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Point {
    pub node: String,
    pub interface: String,
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.node, self.interface)
    }
}

/// `{"node", "interface"}` where a flow was last seen.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Where {
    pub node: String,
    pub interface: String,
}

/// Where it was lost: after the node's point, before the next one (`stage` says which).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LostAt {
    pub node: String,
    pub stage: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PointSeen {
    pub node: String,
    pub interface: String,
    pub seen: bool,
}

/// One flow's story (the contract's `flows[]`, with counts added).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FlowReport {
    pub flow: String,
    /// `delivered` or `dropped`.
    pub verdict: &'static str,
    /// `request`, `reply`, or `None` when delivered.
    pub direction: Option<&'static str>,
    pub last_seen: Option<Where>,
    pub lost_at: Option<LostAt>,
    pub finding: Option<&'static str>,
    pub points: Vec<PointSeen>,
    pub requests: usize,
    pub replies: usize,
    /// Request packets sent again (the same TCP segment at the first point).
    pub retransmissions: usize,
    /// TCP resets, with who sent them and where they were seen.
    pub resets: Vec<String>,
    /// ICMP errors about this flow.
    pub icmp_errors: Vec<String>,
    pub notes: Vec<String>,
}

/// The whole answer (`netdoctor.capture/v1`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub schema: &'static str,
    pub points: Vec<Point>,
    pub flows: Vec<FlowReport>,
    pub input_problems: Vec<String>,
}

#[derive(Default)]
struct Flow {
    /// The tuple of the first packet, as its first point saw it.
    tuple: Option<Tuple>,
    /// Per direction (0 request, 1 reply): key -> (points that saw it, first index at the
    /// first point).
    packets: [BTreeMap<Key, Vec<usize>>; 2],
    /// Order of first sighting per direction.
    order: [Vec<Key>; 2],
    tcp: [BTreeMap<(u32, u8), usize>; 2],
    resets: Vec<String>,
    icmp_errors: Vec<(String, Option<u32>)>,
}

/// Analyse captures taken at `points` (in path order; `captures[i]` at `points[i]`).
pub fn analyse(points: &[Point], captures: &[Capture]) -> Report {
    let mut flows: Vec<Flow> = Vec::new();
    let mut by_key: HashMap<Key, (usize, usize)> = HashMap::new();
    let mut input_problems = Vec::new();
    // Per point: tuple -> (flow, direction).
    for (pi, cap) in captures.iter().enumerate() {
        input_problems.extend(cap.problems.iter().cloned());
        let mut by_tuple: HashMap<Tuple, (usize, usize)> = HashMap::new();
        let mut errors: Vec<&Packet> = Vec::new();
        for p in &cap.packets {
            if p.icmp_error.is_some() {
                errors.push(p);
                continue;
            }
            let (fi, dir) = if let Some(&fd) = by_key.get(&p.key) {
                fd
            } else if let Some(&(f, d)) = by_tuple.get(&p.tuple) {
                // A host talking to itself (127.0.0.1 -> 127.0.0.1) has a reply tuple equal to
                // its request's: the protocol tells them apart.
                match p.answer {
                    Some(answer) if p.tuple == p.tuple.reversed() => (f, usize::from(answer)),
                    _ => (f, d),
                }
            } else if let Some(&(f, d)) = by_tuple.get(&p.tuple.reversed()) {
                (f, 1 - d)
            } else if p.answer == Some(true) {
                // The capture began after the request: the flow is named as the request was.
                flows.push(Flow {
                    tuple: Some(p.tuple.reversed()),
                    ..Flow::default()
                });
                (flows.len() - 1, 1)
            } else {
                flows.push(Flow {
                    tuple: Some(p.tuple),
                    ..Flow::default()
                });
                (flows.len() - 1, 0)
            };
            by_key.entry(p.key).or_insert((fi, dir));
            by_tuple.entry(p.tuple).or_insert((fi, dir));
            let f = &mut flows[fi];
            let seen = f.packets[dir].entry(p.key).or_default();
            if seen.is_empty() {
                f.order[dir].push(p.key);
            }
            if !seen.contains(&pi) {
                seen.push(pi);
            }
            if p.tuple.proto == 6 {
                if p.tcp_flags & TCP_RST != 0 {
                    f.resets
                        .push(format!("reset from {} seen at {}", p.tuple.src, points[pi]));
                }
                // The same segment (sequence part of the key, flags) again at its first point.
                let seg = ((p.key.l4 >> 32) as u32, p.tcp_flags);
                *f.tcp[dir].entry(seg).or_default() +=
                    usize::from(seen.len() == 1 && seen[0] == pi);
            }
        }
        // ICMP errors about a flow's packet, as this point's addresses show it.
        for p in errors {
            let Some(e) = &p.icmp_error else { continue };
            let fd = by_tuple
                .get(&e.about)
                .copied()
                .or_else(|| by_tuple.get(&e.about.reversed()).map(|&(f, d)| (f, 1 - d)));
            let text = format!(
                "{} from {} seen at {}{}",
                e.what,
                e.from,
                points[pi],
                e.mtu
                    .map(|m| format!(" (next-hop MTU {m})"))
                    .unwrap_or_default()
            );
            match fd {
                Some((fi, _)) => flows[fi].icmp_errors.push((text, e.mtu)),
                None => {
                    flows.push(Flow {
                        tuple: Some(e.about),
                        icmp_errors: vec![(text, e.mtu)],
                        ..Flow::default()
                    });
                }
            }
        }
    }
    let flows = flows.into_iter().filter_map(|f| judge(points, f)).collect();
    Report {
        schema: "netdoctor.capture/v1",
        points: points.to_vec(),
        flows,
        input_problems,
    }
}

fn judge(points: &[Point], f: Flow) -> Option<FlowReport> {
    let tuple = f.tuple?;
    let n = points.len();
    let last = n.saturating_sub(1);
    let requests = f.order[0].len();
    let replies = f.order[1].len();
    let mut seen_at = vec![false; n];
    for dir in 0..2 {
        for pts in f.packets[dir].values() {
            for &p in pts {
                seen_at[p] = true;
            }
        }
    }
    // The furthest point (in path order) the last packet of a direction reached.
    let reach = |dir: usize| -> Option<(usize, bool)> {
        let key = f.order[dir].last()?;
        let pts = &f.packets[dir][key];
        Some(if dir == 0 {
            let far = pts.iter().copied().max().unwrap_or(0);
            (far, far == last)
        } else {
            let far = pts.iter().copied().min().unwrap_or(0);
            (far, far == 0)
        })
    };
    let retransmissions: usize = f.tcp[0].values().map(|c| c.saturating_sub(1)).sum();
    let mut notes = Vec::new();
    let mut verdict = "delivered";
    let mut direction = None;
    let mut last_seen = None;
    let mut lost_at = None;
    let at = |i: usize| Where {
        node: points[i].node.clone(),
        interface: points[i].interface.clone(),
    };
    match (reach(0), reach(1)) {
        (Some((p, false)), _) => {
            verdict = "dropped";
            direction = Some("request");
            last_seen = Some(at(p));
            lost_at = Some(LostAt {
                node: points[p].node.clone(),
                stage: format!("after {} and before {}", points[p], points[p + 1]),
            });
        }
        (Some((p, true)), None) => {
            // Every point saw the request and nobody answered.
            let answerless = tuple.proto == 6 || matches!(tuple.proto, 1 | 58);
            if answerless {
                verdict = "dropped";
                direction = Some("request");
                last_seen = Some(at(p));
                lost_at = Some(LostAt {
                    node: points[p].node.clone(),
                    stage: format!(
                        "after {} (the last capture point): no reply was seen anywhere, so the \
                         request was dropped on the receiving side after the capture (its \
                         firewall INPUT or FORWARD, rp_filter, a socket not listening) or the \
                         reply left by another path",
                        points[p]
                    ),
                });
            } else {
                notes.push("no reply was seen at any point (UDP need not have one)".into());
            }
        }
        (_, Some((p, false))) => {
            verdict = "dropped";
            direction = Some("reply");
            last_seen = Some(at(p));
            lost_at = Some(LostAt {
                node: points[p].node.clone(),
                stage: format!("after {} and before {}", points[p], points[p - 1]),
            });
        }
        _ => {}
    }
    let lost_requests = f.order[0]
        .iter()
        .filter(|k| !f.packets[0][*k].contains(&last))
        .count();
    if verdict == "delivered" && lost_requests > 0 {
        notes.push(format!(
            "{lost_requests} request packet(s) did not reach {} but the flow recovered",
            points[last]
        ));
    }
    let finding = if f.icmp_errors.iter().any(|e| e.1.is_some()) {
        Some("mtu-mismatch")
    } else {
        None
    };
    Some(FlowReport {
        flow: tuple.to_string(),
        verdict,
        direction,
        last_seen,
        lost_at,
        finding,
        points: points
            .iter()
            .zip(&seen_at)
            .map(|(p, s)| PointSeen {
                node: p.node.clone(),
                interface: p.interface.clone(),
                seen: *s,
            })
            .collect(),
        requests,
        replies,
        retransmissions,
        resets: f.resets,
        icmp_errors: f.icmp_errors.into_iter().map(|e| e.0).collect(),
        notes,
    })
}
