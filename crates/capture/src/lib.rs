//! Capture one flow on a live node: on every interface of this node the flow crosses (the
//! source's device, the destination's, and the underlay under an overlay device, where the
//! packet travels encapsulated), send it from the source's own network namespace (or wait for
//! the user's), and record the kernel's drop reasons while it runs. The captures are then read
//! by `netdoctor-pcap`, which says per direction where the flow was last seen.
//!
//! Everything it starts ends with it: the tcpdump processes (by PID, SIGINT then SIGKILL), the
//! tracing instance, the private mount of tracefs. Nothing else on the node changes.
//!
//! Must not know: the checks, the CLI.

pub mod drops;
pub mod ruletrace;
mod send;

pub use drops::{find_tracefs, DropCount, DropWatch};
pub use send::{find_source, Proto, Source};

use netdoctor_model::{Cause, NodeSnapshot};
use netdoctor_pcap::FlowReport;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot start tcpdump on {iface} (is tcpdump installed, and are we root?): {source}")]
    Tcpdump {
        iface: String,
        source: std::io::Error,
    },
    #[error("tcpdump on {0} did not start capturing within 10 s")]
    TcpdumpSlow(String),
    #[error("no interface to capture on: name one with --on")]
    NoPoints,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Why a kernel tracing aid (tracefs, the drop watch, the rule trace) is not there. The
/// capture goes on without it and says why.
#[derive(Debug, thiserror::Error)]
pub enum TracingError {
    #[error("{what}: {source}")]
    Sys {
        what: &'static str,
        source: nix::Error,
    },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run {tool}: {source}")]
    Spawn {
        tool: &'static str,
        source: std::io::Error,
    },
    #[error("{command}: {stderr}")]
    Failed { command: String, stderr: String },
    #[error("{} has no skb:kfree_skb event (a kernel before 5.17, or tracing not built in)", .0.display())]
    NoDropEvent(PathBuf),
    /// The caller's reason (`--no-drop-reasons`, tracefs not mounted).
    #[error("{0}")]
    NotAvailable(String),
}

/// Where to capture, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturePoint {
    pub interface: String,
    /// The tcpdump filter.
    pub filter: String,
    /// Why this interface (`the route to 10.244.1.5`).
    pub why: String,
}

/// The interfaces of this node a flow from `src` to `dst` crosses, in the order the request
/// crosses them: the device the source is reached by (a pod's bridge), the device the route to
/// the destination leaves by, and when that is an overlay device, the underlay device its
/// encapsulated packets leave by. An interface that carries an overlay's packets also captures
/// that overlay's port, so encapsulated packets (and replies arriving encapsulated) are seen.
pub fn points(snap: &NodeSnapshot, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<CapturePoint> {
    let local = |a: Ipv4Addr| {
        snap.addresses
            .iter()
            .flatten()
            .any(|x| x.addr == IpAddr::V4(a))
    };
    let routing = netdoctor_datapath::Routing::from_snapshot(snap);
    let dev_to = |a: Ipv4Addr| routing.route_to(IpAddr::V4(a)).and_then(|r| r.dev.clone());
    // Underlay device -> the overlay ports it carries.
    let default_dev = snap
        .routes
        .iter()
        .flatten()
        .find(|r| r.table == netdoctor_model::TABLE_MAIN && r.dst.prefix_len() == 0)
        .and_then(|r| r.dev.clone());
    let overlays: Vec<(String, String, u16)> = snap
        .links
        .iter()
        .flatten()
        .filter_map(|l| {
            let v = l.vxlan.as_ref()?;
            let under = v.dev.clone().or_else(|| default_dev.clone())?;
            Some((l.name.clone(), under, v.dstport.unwrap_or(4789)))
        })
        .collect();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |iface: String, why: String| {
        if !out.iter().any(|(i, _)| *i == iface) {
            out.push((iface, why));
        }
    };
    if !local(src) {
        if let Some(d) = dev_to(src) {
            add(d, format!("the device {src} is reached by"));
        }
    }
    if !local(dst) {
        if let Some(d) = dev_to(dst) {
            if let Some((_, under, _)) = overlays.iter().find(|(o, _, _)| *o == d) {
                add(d.clone(), format!("the route to {dst} (an overlay device)"));
                add(
                    under.clone(),
                    format!("the underlay {d}'s encapsulated packets leave by"),
                );
            } else {
                add(d, format!("the route to {dst}"));
            }
        }
    }
    out.into_iter()
        .map(|(interface, why)| {
            let mut filter = format!("host {src} or host {dst}");
            for (_, under, port) in &overlays {
                if *under == interface {
                    filter.push_str(&format!(" or udp port {port}"));
                }
            }
            CapturePoint {
                interface,
                filter,
                why,
            }
        })
        .collect()
}

/// A tcpdump this process started; ended by its PID.
struct Tcpdump {
    child: Option<Child>,
    file: PathBuf,
}

impl Tcpdump {
    fn start(p: &CapturePoint, file: &Path) -> Result<Tcpdump, CaptureError> {
        let child = Command::new("tcpdump")
            .args([
                "--immediate-mode",
                "-i",
                &p.interface,
                "-U",
                "-n",
                "-s",
                "262",
                "-c",
                "100000",
                "-w",
            ])
            .arg(file)
            .arg(&p.filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| CaptureError::Tcpdump {
                iface: p.interface.clone(),
                source,
            })?;
        tracing::info!(interface = %p.interface, filter = %p.filter, pid = child.id(), "tcpdump started");
        let mut t = Tcpdump {
            child: Some(child),
            file: file.to_path_buf(),
        };
        // Capturing once the file header is written.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::metadata(file).is_ok_and(|m| m.len() >= 24) {
            if let Some(c) = t.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    t.child = None;
                    return Err(CaptureError::Tcpdump {
                        iface: p.interface.clone(),
                        source: std::io::Error::other(format!("tcpdump exited: {status}")),
                    });
                }
            }
            if Instant::now() > deadline {
                return Err(CaptureError::TcpdumpSlow(p.interface.clone()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(t)
    }

    /// SIGINT (tcpdump writes out what it holds), then SIGKILL after 3 s.
    fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        if let Ok(pid) = i32::try_from(c.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGINT,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            match c.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = c.kill();
                    let _ = c.wait();
                    return;
                }
            }
        }
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What to capture and send.
#[derive(Debug, Clone)]
pub struct Request {
    pub node: String,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub port: Option<u16>,
    pub proto: Proto,
    /// How many connections (or datagrams, or echoes) to send.
    pub count: u32,
    /// How long to wait for each answer.
    pub timeout: Duration,
    /// How long to capture when the flow cannot be sent from here (the user sends it).
    pub wait: Duration,
    /// Capture on these interfaces instead of the ones the routes give.
    pub on: Vec<String>,
    /// tracefs to record drop reasons in (`None`: not recorded, with `untraced` saying why).
    pub tracefs: Option<PathBuf>,
    pub untraced: Option<String>,
    /// When the kernel dropped the flow in netfilter, send it once more with the kernel's rule
    /// trace on (a table of our own, removed after) to name the rule.
    pub trace_rules: bool,
}

/// What the capture showed.
#[derive(Debug)]
pub struct Outcome {
    pub points: Vec<CapturePoint>,
    pub report: netdoctor_pcap::Report,
    /// The kernel's drops during the flow, or why they were not recorded.
    pub drops: Result<Vec<DropCount>, TracingError>,
    /// What was sent, or that the user's traffic was waited for.
    pub sent: Vec<String>,
    /// The nf_tables rules (or chain policies) that dropped the flow, by the kernel's own trace:
    /// `None` when no trace was run, `Err` when it could not be.
    pub rule_trace: Option<Result<Vec<String>, TracingError>>,
}

/// Capture, send, stop, read. `stop` (Ctrl-C) ends the sending or waiting early; everything
/// started is ended either way.
pub fn run(snap: &NodeSnapshot, req: &Request, stop: &AtomicBool) -> Result<Outcome, CaptureError> {
    let points: Vec<CapturePoint> = if req.on.is_empty() {
        points(snap, req.src, req.dst)
    } else {
        req.on
            .iter()
            .map(|i| CapturePoint {
                interface: i.clone(),
                filter: format!(
                    "host {} or host {} or udp port 8472 or udp port 4789",
                    req.src, req.dst
                ),
                why: "named with --on".into(),
            })
            .collect()
    };
    if points.is_empty() {
        return Err(CaptureError::NoPoints);
    }
    let dir = tempfile::tempdir()?;
    let mut dumps = Vec::new();
    for (i, p) in points.iter().enumerate() {
        dumps.push(Tcpdump::start(p, &dir.path().join(format!("{i}.pcap")))?);
    }
    tracing::debug!(tracefs = ?req.tracefs, "recording kernel drops");
    let watch = match (&req.tracefs, &req.untraced) {
        (Some(t), _) => DropWatch::start(t),
        (None, Some(why)) => Err(TracingError::NotAvailable(why.clone())),
        (None, None) => Err(TracingError::NotAvailable(
            "tracefs is not mounted".to_string(),
        )),
    };
    let source = find_source(req.src);
    let mut ports = Vec::new();
    let sent = match &source {
        Some(source) => {
            let (lines, p) = send::send(source, req, stop);
            ports = p;
            lines
        }
        None => {
            let deadline = Instant::now() + req.wait;
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
            vec![format!(
                "{} is not an address of this node or of a network namespace under /run/netns: captured for {:?} while the flow was sent by someone else",
                req.src, req.wait
            )]
        }
    };
    // Late replies and drops.
    std::thread::sleep(Duration::from_millis(300));
    let drops = watch.map(DropWatch::finish);
    for d in dumps.iter_mut() {
        d.stop();
    }
    let mut captures = Vec::new();
    let mut pts = Vec::new();
    let mut unread = Vec::new();
    for (d, p) in dumps.iter().zip(&points) {
        let bytes = std::fs::read(&d.file)?;
        let cap = match netdoctor_pcap::read(&bytes, &p.interface) {
            Ok(c) => c,
            Err(e) => {
                // Said, not dropped: the point counts as having seen nothing.
                unread.push(format!("the capture on {}: {e}", p.interface));
                netdoctor_pcap::Capture::default()
            }
        };
        captures.push(cap);
        pts.push(netdoctor_pcap::Point {
            node: req.node.clone(),
            interface: p.interface.clone(),
        });
    }
    let mut report = netdoctor_pcap::analyse(&pts, &captures);
    report.input_problems.extend(unread);
    // Only the flow asked about (its reply and ICMP errors are part of it).
    let (s, d) = (req.src.to_string(), req.dst.to_string());
    report.flows.retain(|f| {
        let words: Vec<&str> = f.flow.split([' ', ':']).collect();
        words.contains(&s.as_str()) && (words.contains(&d.as_str()) || req.port.is_none())
    });
    // What we sent has requests; a flow seen only by its replies is a straggler of an earlier
    // connection (a retransmitted SYN-ACK), not ours.
    if source.is_some() {
        report.flows.retain(|f| f.requests > 0);
    }
    // And only the connections we made, when their ports are known.
    if !ports.is_empty() {
        report.flows.retain(|f| {
            ports
                .iter()
                .any(|p| f.flow.contains(&format!("{}:{p} ", req.src)))
        });
    }
    // Netfilter dropped it: which rule? Ask the kernel, on this flow only.
    let netfilter = drops
        .as_ref()
        .is_ok_and(|d| d.iter().any(|x| x.reason == "NETFILTER_DROP"));
    let rule_trace = match (
        &source,
        req.trace_rules && netfilter && !stop.load(Ordering::Relaxed),
    ) {
        (Some(source), true) => {
            let ports: Vec<u16> = snap
                .links
                .iter()
                .flatten()
                .filter_map(|l| l.vxlan.as_ref().map(|v| v.dstport.unwrap_or(4789)))
                .collect();
            Some(
                ruletrace::RuleTrace::start(req.src, req.dst, &ports, dir.path()).map(|t| {
                    let once = Request {
                        count: 1,
                        ..req.clone()
                    };
                    let _ = send::send(source, &once, stop);
                    t.finish()
                }),
            )
        }
        _ => None,
    };
    Ok(Outcome {
        points,
        report,
        drops,
        sent,
        rule_trace,
    })
}

/// tracefs mounted in a mount namespace of this process's own: the node's mounts do not change,
/// and the mount ends with the process. Must be called before the process starts a thread
/// (the kernel refuses a new mount namespace to a threaded process).
pub struct PrivateTracefs {
    dir: tempfile::TempDir,
}

impl PrivateTracefs {
    pub fn mount() -> Result<PrivateTracefs, TracingError> {
        use nix::mount::{mount, MsFlags};
        let sys = |what| move |source| TracingError::Sys { what, source };
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
            .map_err(sys("a private mount namespace"))?;
        // Nothing mounted from here on propagates back to the node.
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(sys("making the mounts private"))?;
        let dir = tempfile::tempdir().map_err(|source| TracingError::Io {
            what: "a directory for tracefs in",
            path: std::env::temp_dir(),
            source,
        })?;
        mount(
            Some("nodev"),
            dir.path(),
            Some("tracefs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(sys("mounting tracefs"))?;
        Ok(PrivateTracefs { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PrivateTracefs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// The causes a kernel drop reason points at, most specific first.
pub fn causes_of(reason: &str, direction: Option<&str>, at_underlay: bool) -> &'static [Cause] {
    match reason {
        "NETFILTER_DROP" if direction == Some("reply") && at_underlay => {
            &[Cause::OverlayPortBlocked, Cause::ForwardPolicyDrop]
        }
        "NETFILTER_DROP" => &[
            Cause::ForwardPolicyDrop,
            Cause::OverlayPortBlocked,
            Cause::NodeportBlocked,
            Cause::PodToHostBlocked,
            Cause::IptablesBackendMismatch,
            Cause::ServiceNoEndpoints,
        ],
        "IP_RPFILTER" => &[Cause::RpFilterStrict, Cause::RpFilterOnCniDevice],
        "PKT_TOO_BIG" => &[Cause::MtuMismatch],
        "IP_INNOROUTES" | "IP_OUTNOROUTES" | "IP_INADDRERRORS" => &[
            Cause::IpForwardDisabled,
            Cause::IfaceForwardingDisabled,
            Cause::PodRouteMissing,
            Cause::StaleInterfaceAddress,
            Cause::PodCidrOverlap,
        ],
        // A VXLAN device with no FDB entry (no remote to send to), or a neighbour that never
        // resolved.
        "NO_TX_TARGET" | "NEIGH_FAILED" | "NEIGH_CREATEFAIL" | "NEIGH_QUEUEFULL" | "NEIGH_DEAD" => {
            &[
                Cause::VxlanFdbMissing,
                Cause::WrongNodeIp,
                Cause::PodCidrOverlap,
            ]
        }
        "VXLAN_VNI_NOT_FOUND" | "VXLAN_INVALID_HDR" => &[Cause::OverlayConfigMismatch],
        _ => &[],
    }
}

/// The finding a dropped flow confirms: the first cause its kernel drop reasons point at that
/// the diagnosis found, else the first the pcap analysis named.
pub fn explain(
    flow: &FlowReport,
    drops: &[DropCount],
    found: &dyn Fn(Cause) -> bool,
    underlays: &[String],
) -> Option<Cause> {
    if flow.verdict != "dropped" {
        return None;
    }
    let at_underlay = flow
        .last_seen
        .as_ref()
        .is_some_and(|w| underlays.contains(&w.interface));
    let cause = drops
        .iter()
        .flat_map(|d| {
            causes_of(&d.reason, flow.direction, at_underlay)
                .iter()
                .copied()
        })
        .find(|c| found(*c))
        .or_else(|| flow.finding.and_then(Cause::from_id))?;
    // The root cause behind it, when the diagnosis found one (a leftover tunl0 address is why
    // the route is missing).
    Some(
        Cause::all()
            .find(|e| found(*e) && e.explains().contains(&cause))
            .unwrap_or(cause),
    )
}

/// Interfaces that carry an overlay's encapsulated packets.
pub fn underlay_devices(snap: &NodeSnapshot) -> Vec<String> {
    snap.links
        .iter()
        .flatten()
        .filter_map(|l| l.vxlan.as_ref()?.dev.clone())
        .collect()
}

#[cfg(test)]
mod tests;
