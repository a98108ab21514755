//! The walk: a packet through the nodes in kernel order, forking at every choice the rules can
//! make, then the reply from wherever the request arrived.

use crate::cluster::{Cluster, Place};
use crate::node::{BridgeNf, NodeModel};
use crate::report::{Direction, Drop, Hop, Trace, TracePath, TraceVerdict};
use crate::route::{self, describe, Lookup};
use netdoctor_datapath::{run_hook, HookOutcome, IPIP_OVERHEAD, VXLAN_OVERHEAD};
use netdoctor_model::RouteKind;
use netdoctor_netfilter::{proto, CtDir, CtState, Hook, Packet, Verdict};
use std::net::IpAddr;

mod conntrack;
mod links;
mod netfilter;
mod routing;

/// The transport of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
}

/// What to trace.
#[derive(Debug, Clone)]
pub struct TraceRequest {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Destination port (TCP and UDP).
    pub dport: Option<u16>,
    pub proto: Proto,
    /// IP total length of the request, sent with DF.
    pub size: u32,
    /// Follow only the path whose DNAT picks this endpoint.
    pub endpoint: Option<IpAddr>,
}

/// The source port the model gives the client: any ephemeral port behaves the same for the
/// rules kube-proxy and CNIs write.
pub const CLIENT_PORT: u16 = 40000;
const MAX_STEPS: u32 = 64;
const MAX_PATHS: usize = 256;

type Tuple = (IpAddr, Option<u16>, IpAddr, Option<u16>);

fn tuple(p: &Packet) -> Tuple {
    (p.src, p.sport, p.dst, p.dport)
}

#[derive(Debug, Clone)]
struct Frame {
    pkt: Packet,
    size: u32,
    /// For an outer VXLAN packet: the packet inside and the MAC it is addressed to.
    inner: Option<Box<(Frame, String)>>,
}

#[derive(Debug, Clone)]
struct CtEntry {
    node: usize,
    pre: Tuple,
    post: Tuple,
}

#[derive(Debug, Clone)]
struct Path {
    hops: Vec<Hop>,
    dir: Direction,
    ct: Vec<CtEntry>,
    prob: Option<f64>,
    endpoint: Option<String>,
    /// A DNAT done on a node where two iptables backends hold rules.
    dnat_multi_backend: bool,
    /// A reply crossed a bridge without iptables: the finding that explains it.
    bridge_bypass: Option<&'static str>,
    steps: u32,
}

#[derive(Debug, Clone)]
enum End {
    Delivered { place: Place, frame: Frame },
    Dropped(Drop),
    Unknown(String),
}

struct Walker<'a> {
    c: &'a Cluster,
    req: &'a TraceRequest,
    ends: Vec<(Path, End)>,
}

fn ifkey(n: &NodeModel, ifname: &str, what: &str) -> Option<i64> {
    n.sysctl(&NodeModel::if_key(ifname, what))
}

impl<'a> Walker<'a> {
    fn name(&self, node: usize) -> String {
        self.c.nodes[node].name.clone()
    }

    fn hop(&self, path: &mut Path, node: usize, stage: &str, detail: String) {
        path.hops.push(Hop {
            node: self.name(node),
            stage: stage.to_string(),
            detail,
            direction: path.dir,
        });
    }

    fn drop(
        &mut self,
        mut path: Path,
        node: usize,
        stage: &str,
        finding: Option<&str>,
        detail: String,
    ) {
        self.hop(&mut path, node, stage, format!("DROP: {detail}"));
        let d = Drop {
            node: self.name(node),
            stage: stage.to_string(),
            direction: path.dir,
            finding: finding.map(str::to_string),
            detail,
        };
        self.ends.push((path, End::Dropped(d)));
    }

    fn unknown(&mut self, mut path: Path, node: usize, stage: &str, why: String) {
        self.hop(&mut path, node, stage, format!("UNKNOWN: {why}"));
        self.ends.push((
            path,
            End::Unknown(format!("{} {stage}: {why}", self.name(node))),
        ));
    }

    fn step(&mut self, path: &mut Path, node: usize) -> bool {
        path.steps += 1;
        if path.steps > MAX_STEPS || self.ends.len() > MAX_PATHS {
            self.unknown(
                path.clone(),
                node,
                "model",
                "the packet loops or the paths are too many to follow".into(),
            );
            return false;
        }
        true
    }

    fn start(&mut self, path: Path, place: &Place, f: Frame) {
        match place {
            Place::Pod { node, bridge } => self.send_from_pod(path, *node, &bridge.clone(), f),
            Place::Host { node } => self.send_from_host(path, *node, f),
        }
    }
}

fn fmt_addr(a: IpAddr, p: Option<u16>) -> String {
    match p {
        Some(p) => format!("{a}:{p}"),
        None => a.to_string(),
    }
}

fn request_packet(req: &TraceRequest) -> Packet {
    let mut p = match req.proto {
        Proto::Tcp => Packet::tcp(req.src, req.dst, req.dport.unwrap_or(80)).sport(CLIENT_PORT),
        Proto::Udp => Packet::udp(req.src, req.dst, req.dport.unwrap_or(53)).sport(CLIENT_PORT),
        Proto::Icmp => Packet::icmp(req.src, req.dst),
    };
    p.length = u16::try_from(req.size).ok();
    p
}

fn reply_packet(req: &Packet, size: u32) -> Packet {
    let mut p = match req.proto {
        proto::TCP => {
            let mut p = Packet::tcp(req.dst, req.src, req.sport.unwrap_or(CLIENT_PORT));
            p.sport = req.dport;
            p.tcp_flags = Some(0x12);
            p
        }
        proto::UDP => {
            let mut p = Packet::udp(req.dst, req.src, req.sport.unwrap_or(CLIENT_PORT));
            p.sport = req.dport;
            p
        }
        _ => {
            let mut p = Packet::icmp(req.dst, req.src);
            p.icmp_type = Some(0);
            p
        }
    };
    p.length = u16::try_from(size).ok();
    p
}

/// Trace a request and its reply through the cluster's nodes.
pub fn trace(c: &Cluster, req: &TraceRequest) -> Trace {
    let mut notes: Vec<String> = Vec::new();
    if req.src.is_ipv6() || req.dst.is_ipv6() {
        let path = TracePath {
            endpoint: None,
            probability: None,
            verdict: TraceVerdict::Unknown,
            drop: None,
            unknown: Some("IPv6 paths are not modelled yet".into()),
            hops: Vec::new(),
        };
        return Trace::from_paths(vec![path], notes);
    }
    let origin = match c.place_of(req.src) {
        Ok(p) => p,
        Err(e) => {
            let path = TracePath {
                endpoint: None,
                probability: None,
                verdict: TraceVerdict::Unknown,
                drop: None,
                unknown: Some(e.to_string()),
                hops: Vec::new(),
            };
            return Trace::from_paths(vec![path], notes);
        }
    };
    if matches!(req.proto, Proto::Tcp | Proto::Udp) {
        notes.push(format!(
            "the client's source port is taken as {CLIENT_PORT} (any ephemeral port)"
        ));
    }
    let mut w = Walker {
        c,
        req,
        ends: Vec::new(),
    };
    let start = Path {
        hops: Vec::new(),
        dir: Direction::Request,
        ct: Vec::new(),
        prob: Some(1.0),
        endpoint: None,
        dnat_multi_backend: false,
        bridge_bypass: None,
        steps: 0,
    };
    let f = Frame {
        pkt: request_packet(req),
        size: req.size,
        inner: None,
    };
    w.start(start, &origin, f);
    let request_ends = std::mem::take(&mut w.ends);
    let mut paths = Vec::new();
    for (path, end) in request_ends {
        match end {
            End::Delivered { place, frame } if req.proto != Proto::Udp => {
                let mut p = path.clone();
                p.dir = Direction::Reply;
                p.steps = 0;
                let size = if req.proto == Proto::Icmp {
                    req.size
                } else {
                    60
                };
                let rf = Frame {
                    pkt: reply_packet(&frame.pkt, size),
                    size,
                    inner: None,
                };
                w.start(p, &place, rf);
                for (rp, rend) in std::mem::take(&mut w.ends) {
                    let rend = match rend {
                        End::Delivered {
                            place: rplace,
                            frame: rframe,
                        } => check_reply(&w, rp.clone(), req, &origin, &rplace, &rframe),
                        other => (rp, other),
                    };
                    paths.push(finish(rend.0, rend.1));
                }
            }
            other => paths.push(finish(path, other)),
        }
    }
    if paths.is_empty() {
        let why = match req.endpoint {
            Some(e) => format!("no path through the rules picks endpoint {e}"),
            None => "the model produced no path".into(),
        };
        paths.push(TracePath {
            endpoint: None,
            probability: None,
            verdict: TraceVerdict::Unknown,
            drop: None,
            unknown: Some(why),
            hops: Vec::new(),
        });
    }
    // Parse problems of the nodes the packet met (the others were never parsed).
    for n in &c.nodes {
        if let Some(p) = n.parsed_rules() {
            notes.extend(p.notes.iter().cloned());
        }
    }
    Trace::from_paths(paths, notes)
}

/// The reply reached a place: is it the client, and does it match the client's connection?
fn check_reply(
    w: &Walker,
    mut path: Path,
    req: &TraceRequest,
    origin: &Place,
    at: &Place,
    f: &Frame,
) -> (Path, End) {
    let node = match at {
        Place::Pod { node, .. } | Place::Host { node } => *node,
    };
    let same_place = match (origin, at) {
        (Place::Pod { node: a, bridge: b }, Place::Pod { node: c, bridge: d }) => {
            a == c && b == d && f.pkt.dst == req.src
        }
        (Place::Host { node: a }, Place::Host { node: c }) => a == c,
        _ => false,
    };
    let ports_ok = req.proto == Proto::Icmp
        || (f.pkt.sport == Some(req.dport.unwrap_or(80)) && f.pkt.dport == Some(CLIENT_PORT));
    if same_place && f.pkt.src == req.dst && ports_ok {
        w.hop(
            &mut path,
            node,
            "socket",
            format!("the client gets the reply {}", f.pkt),
        );
        return (
            path,
            End::Delivered {
                place: at.clone(),
                frame: f.clone(),
            },
        );
    }
    let (stage, detail) = if same_place {
        let what = if req.proto == Proto::Tcp {
            "its TCP stack answers with a reset"
        } else {
            "it is discarded"
        };
        (
            "socket",
            format!(
                "the reply comes from {}, but the client's connection is to {}: {what}",
                fmt_addr(f.pkt.src, f.pkt.sport),
                fmt_addr(req.dst, req.dport)
            ),
        )
    } else {
        (
            "deliver",
            format!(
                "the reply {} reaches {} instead of the client",
                f.pkt,
                w.name(node)
            ),
        )
    };
    let finding = path.bridge_bypass.map(str::to_string);
    w.hop(&mut path, node, stage, format!("DROP: {detail}"));
    let d = Drop {
        node: w.name(node),
        stage: stage.into(),
        direction: Direction::Reply,
        finding,
        detail,
    };
    (path, End::Dropped(d))
}

fn finish(path: Path, end: End) -> TracePath {
    let (verdict, drop, unknown) = match end {
        End::Delivered { .. } => (TraceVerdict::Delivered, None, None),
        End::Dropped(d) => (TraceVerdict::Dropped, Some(d), None),
        End::Unknown(u) => (TraceVerdict::Unknown, None, Some(u)),
    };
    TracePath {
        endpoint: path.endpoint,
        probability: path.prob,
        verdict,
        drop,
        unknown,
        hops: path.hops,
    }
}
