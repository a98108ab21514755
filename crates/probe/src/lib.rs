//! Active probes from this node: real packets through the node's real routes, devices and
//! firewall, to the other nodes, pods and Services the cluster objects name (or the user names),
//! bounded in count and time.
//!
//! - `overlay`: an ICMP echo to the other node's underlay address, then one to its VTEP through
//!   the overlay device (so the kernel encapsulates it: VXLAN on the cluster's port, IPIP), or a
//!   TCP connect to BGP 179 where the CNI peers by BGP. The underlay answer is what tells "the
//!   overlay is dropped" from "the node is gone".
//! - `pod`: an ICMP echo to a pod on each other node.
//! - `mtu`: the largest packet with DF set that passes each node-to-node path (underlay and
//!   overlay), found by bisection, against the MTU of the device it leaves by.
//! - `service`: TCP connects to ClusterIPs and to this node's NodePorts.
//! - `dns`: a query for `kubernetes.default.svc.<domain>` through the cluster DNS Service.
//!
//! This crate sends and listens; it does not judge. `netdoctor-checks` folds the results into a
//! diagnosis (which finding a failure confirms, or that the drop is outside the node).
//!
//! Must not know: how the snapshot was collected, the CLI, the checks.

mod icmp;
mod net;
pub mod netns;
mod plan;

pub use icmp::{echo, Echo, HEADERS};
pub use net::{connect, query, Answer};
pub use plan::{plan, Action, NodeView, Options, Planned, Target};

use netdoctor_model::{MtuMeasure, ProbeOutcome, ProbeRun};
use std::net::Ipv4Addr;
use std::time::Duration;

/// Why a probe could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot open {0} (probes need root or CAP_NET_RAW): {1}")]
    Socket(&'static str, #[source] std::io::Error),
    #[error("building the packet: {0}")]
    Packet(String),
    #[error(transparent)]
    Io(std::io::Error),
}

/// Run the planned probes, `parallel` at a time, and say what each showed (in plan order).
pub fn run(from: &str, planned: &[Planned], opts: &Options) -> Vec<ProbeRun> {
    let mut out: Vec<Option<ProbeRun>> = vec![None; planned.len()];
    let width = opts.parallel.max(1);
    for (chunk_no, chunk) in planned.chunks(width).enumerate() {
        std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|p| s.spawn(move || run_one(from, p, opts)))
                .collect();
            for (i, h) in handles.into_iter().enumerate() {
                let r = h.join().unwrap_or_else(|_| {
                    failed(
                        from,
                        &chunk[i],
                        ProbeOutcome::NotSent,
                        "the probe panicked".into(),
                    )
                });
                out[chunk_no * width + i] = Some(r);
            }
        });
    }
    out.into_iter().flatten().collect()
}

fn base(from: &str, p: &Planned) -> ProbeRun {
    ProbeRun {
        kind: p.kind,
        from: from.to_string(),
        to: p.to.clone(),
        ok: false,
        rtt_ms: None,
        detail: String::new(),
        finding: None,
        sent: p.action.sent(),
        outcome: ProbeOutcome::Silence,
        node: p.node.clone(),
        underlay: None,
        mtu: None,
    }
}

fn failed(from: &str, p: &Planned, outcome: ProbeOutcome, detail: String) -> ProbeRun {
    ProbeRun {
        outcome,
        detail,
        ..base(from, p)
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

/// An echo, tried `attempts` times while it meets silence (the first packet to a new
/// neighbour can be lost to ARP).
fn echo_retry(dst: Ipv4Addr, size: usize, df: bool, opts: &Options) -> Result<Echo, ProbeError> {
    let mut last = Echo::Silence;
    for _ in 0..opts.attempts.max(1) {
        last = echo(dst, size, df, opts.timeout)?;
        if last != Echo::Silence {
            break;
        }
    }
    Ok(last)
}

/// Words and outcome for an echo that did not get its reply.
fn echo_words(e: &Echo, timeout: Duration, attempts: u32) -> (ProbeOutcome, String) {
    match e {
        Echo::Reply { .. } => (ProbeOutcome::Answered, "answered".into()),
        Echo::Silence => (
            ProbeOutcome::Silence,
            format!(
                "no answer in {} x {:?}: the request or its reply was dropped silently",
                attempts.max(1),
                timeout
            ),
        ),
        Echo::Unreachable { code, from } => (
            ProbeOutcome::Unreachable,
            format!("ICMP destination unreachable (code {code}) from {from}"),
        ),
        Echo::TooBig { mtu, from } => (
            ProbeOutcome::TooBig,
            match (mtu, from) {
                (Some(m), Some(f)) => format!("fragmentation needed, MTU {m} (from {f})"),
                (None, Some(f)) => format!("fragmentation needed (from {f})"),
                _ => "too big for the local device with DF set (EMSGSIZE)".into(),
            },
        ),
        Echo::TimeExceeded { from } => (
            ProbeOutcome::Unreachable,
            format!("ICMP time exceeded from {from}: a routing loop"),
        ),
        Echo::NotSent { reason } => (ProbeOutcome::NotSent, format!("not sent: {reason}")),
    }
}

fn run_one(from: &str, p: &Planned, opts: &Options) -> ProbeRun {
    tracing::debug!(kind = p.kind.as_str(), to = %p.to, sent = %p.action.sent(), "probe");
    let r = match run_action(from, p, opts) {
        Ok(r) => r,
        Err(e) => failed(from, p, ProbeOutcome::NotSent, e.to_string()),
    };
    tracing::info!(kind = r.kind.as_str(), to = %r.to, ok = r.ok, detail = %r.detail, "probe result");
    r
}

fn run_action(from: &str, p: &Planned, opts: &Options) -> Result<ProbeRun, ProbeError> {
    let mut r = base(from, p);
    match &p.action {
        Action::Echo { dst } => {
            let e = match &p.from_netns {
                Some((ns, src)) => {
                    let (dst, opts2) = (*dst, opts.clone());
                    r.sent = format!(
                        "{} from the pod network namespace {} (as {src})",
                        r.sent,
                        ns.display()
                    );
                    netns::in_netns(ns.clone(), move || echo_retry(dst, 84, false, &opts2))
                        .unwrap_or_else(|| {
                            Err(ProbeError::Io(std::io::Error::other(format!(
                                "cannot enter the network namespace {}",
                                ns.display()
                            ))))
                        })?
                }
                None => echo_retry(*dst, 84, false, opts)?,
            };
            fill_echo(&mut r, &e, opts);
        }
        Action::Overlay {
            underlay,
            vtep,
            bgp,
        } => {
            let u = echo_retry(*underlay, 84, false, opts)?;
            let underlay_ok = matches!(u, Echo::Reply { .. });
            let under_words = if underlay_ok {
                format!("the node answers on the underlay ({underlay})")
            } else {
                format!(
                    "the node does not answer on the underlay ({underlay}): {}",
                    echo_words(&u, opts.timeout, opts.attempts).1
                )
            };
            if let Some(v) = vtep {
                let e = echo_retry(v.address, 84, false, opts)?;
                fill_echo(&mut r, &e, opts);
                if r.ok {
                    r.detail = format!(
                        "{} answered through {} ({}); {under_words}",
                        v.address, v.device, v.transport
                    );
                } else {
                    r.detail = format!(
                        "{} through {} ({}): {}; {under_words}",
                        v.address, v.device, v.transport, r.detail
                    );
                    if !underlay_ok {
                        r.detail.push_str(
                            ": the node itself is unreachable, so the overlay cannot be judged",
                        );
                    }
                }
            } else if *bgp {
                let a = connect(std::net::SocketAddr::from((*underlay, 179)), opts.timeout)?;
                fill_answer(&mut r, &a, opts);
                r.detail = format!("BGP (TCP 179): {}; {under_words}", r.detail);
            } else {
                fill_echo(&mut r, &u, opts);
                r.detail = format!(
                    "{under_words} (no overlay device to this node: only the underlay was probed)"
                );
            }
            r.ok = r.ok && underlay_ok;
            r.underlay = Some(underlay_ok);
        }
        Action::Connect { dst } => {
            let a = connect(*dst, opts.timeout)?;
            fill_answer(&mut r, &a, opts);
        }
        Action::Dns { server, name } => {
            let a = query(*server, name, opts.timeout)?;
            fill_answer(&mut r, &a, opts);
            if let Answer::Ok { addresses, .. } = &a {
                if addresses.is_empty() {
                    r.ok = false;
                    r.outcome = ProbeOutcome::Answered;
                    r.detail = format!("{name}: an answer without an address");
                } else {
                    r.detail = format!(
                        "{name} is {}",
                        addresses
                            .iter()
                            .map(|a| a.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
        }
        Action::Mtu {
            dst,
            device,
            claimed,
        } => mtu(&mut r, *dst, device, *claimed, opts)?,
    }
    Ok(r)
}

fn fill_echo(r: &mut ProbeRun, e: &Echo, opts: &Options) {
    let (outcome, detail) = echo_words(e, opts.timeout, opts.attempts);
    r.outcome = outcome;
    r.detail = detail;
    if let Echo::Reply { rtt } = e {
        r.ok = true;
        r.rtt_ms = Some(ms(*rtt));
    }
}

fn fill_answer(r: &mut ProbeRun, a: &Answer, opts: &Options) {
    match a {
        Answer::Ok { rtt, .. } => {
            r.ok = true;
            r.outcome = ProbeOutcome::Answered;
            r.rtt_ms = Some(ms(*rtt));
            r.detail = "connected".into();
        }
        Answer::DnsError { rtt, rcode } => {
            r.outcome = ProbeOutcome::Answered;
            r.rtt_ms = Some(ms(*rtt));
            r.detail = format!("the DNS server answered {rcode}");
        }
        Answer::Refused => {
            r.outcome = ProbeOutcome::Refused;
            r.detail = "refused (TCP reset or ICMP port unreachable): nobody listens, or a rule rejects it".into();
        }
        Answer::Silence => {
            r.outcome = ProbeOutcome::Silence;
            r.detail = format!(
                "no answer in {:?}: the request or its reply was dropped silently",
                opts.timeout
            );
        }
        Answer::Unreachable => {
            r.outcome = ProbeOutcome::Unreachable;
            r.detail = "ICMP host or network unreachable".into();
        }
        Answer::NotSent(why) => {
            r.outcome = ProbeOutcome::NotSent;
            r.detail = format!("not sent: {why}");
        }
    }
}

/// Bisect the largest DF packet that gets an answer, up to `claimed`.
fn mtu(
    r: &mut ProbeRun,
    dst: Ipv4Addr,
    device: &str,
    claimed: u32,
    opts: &Options,
) -> Result<(), ProbeError> {
    let claimed_len = claimed as usize;
    let mut announced: Option<u32> = None;
    let try_size = |size: usize, announced: &mut Option<u32>| -> Result<Echo, ProbeError> {
        let e = echo_retry(dst, size, true, opts)?;
        if let Echo::TooBig { mtu: Some(m), .. } = e {
            *announced = Some(announced.map_or(m, |a| a.min(m)));
        }
        Ok(e)
    };
    let first = try_size(claimed_len, &mut announced)?;
    if let Echo::Reply { rtt } = first {
        r.ok = true;
        r.outcome = ProbeOutcome::Answered;
        r.rtt_ms = Some(ms(rtt));
        r.detail = format!("{claimed}-byte packets with DF pass: the path carries {device}'s MTU");
        r.mtu = Some(MtuMeasure {
            largest: claimed,
            claimed,
            announced: None,
        });
        return Ok(());
    }
    // A small packet must pass, or the path is dead (the overlay probe says why).
    let small = try_size(icmp::HEADERS + 56, &mut announced)?;
    if !matches!(small, Echo::Reply { .. }) {
        let (outcome, words) = echo_words(&small, opts.timeout, opts.attempts);
        r.outcome = outcome;
        r.detail = format!(
            "even an 84-byte packet gets no answer ({words}): the path is down, not too narrow"
        );
        return Ok(());
    }
    let (mut lo, mut hi) = (icmp::HEADERS + 56, claimed_len);
    // An announced MTU is the likely answer: try it first.
    if let Some(a) = announced {
        let a = a as usize;
        if a > lo && a < hi {
            if matches!(try_size(a, &mut announced)?, Echo::Reply { .. }) {
                lo = a;
            } else {
                hi = a;
            }
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if matches!(try_size(mid, &mut announced)?, Echo::Reply { .. }) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let (outcome, words) = echo_words(&first, opts.timeout, opts.attempts);
    r.outcome = outcome;
    r.mtu = Some(MtuMeasure {
        largest: lo as u32,
        claimed,
        announced,
    });
    r.detail = format!(
        "the largest packet with DF that passes is {lo} bytes, but {device} claims MTU {claimed}: {claimed}-byte packets: {words}"
    );
    Ok(())
}
