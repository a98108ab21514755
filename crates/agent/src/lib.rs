//! netdoctor-agent: netdoctor living on a node.
//!
//! - A checker thread runs the caller's check once at start, again after every netlink
//!   change of links, addresses, routes, neighbours and FDB entries (debounced: a burst of
//!   changes gives one check), and every `interval` for what netlink does not announce
//!   (sysctls, rules, boot files).
//! - An HTTP server ([`http`]) answers `GET /metrics` (Prometheus, through the
//!   `prometheus-client` crate), `GET /healthz`, and `GET /v1/check` / `GET /v1/snapshot` (the
//!   last run's JSON) for a client with the bearer token, compared in constant time. Every
//!   connection is bounded in header size, time and number, so a slow or huge request cannot
//!   stall `/metrics`.
//!
//! This crate knows nothing of how a node is checked: the caller passes a function that
//! returns a [`CheckResult`] (the CLI passes live collection and the checks). It never changes
//! the node: the agent is read-only.

mod http;
mod metrics;
mod watch;

use std::net::SocketAddr;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

pub use metrics::Metrics;

/// Errors that stop the agent from starting.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot watch netlink for changes: {0}")]
    Netlink(std::io::Error),
    #[error("cannot start the agent's threads: {0}")]
    Thread(std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
}

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// A full check at least this often.
    pub interval: Duration,
    /// After a netlink change, wait this long for the burst to end before checking.
    pub debounce: Duration,
    /// The bearer token `/v1/` paths need; `None` closes them (401 for everyone).
    pub token: Option<String>,
    /// Re-check on netlink changes (off: only every `interval`).
    pub watch_netlink: bool,
    /// Serve HTTPS with this certificate chain and key (PEM files); `None` serves plain HTTP.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 9469)),
            interval: Duration::from_secs(30),
            debounce: Duration::from_millis(500),
            token: None,
            watch_netlink: true,
            tls: None,
        }
    }
}

/// One finding, as the metrics need it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FindingSummary {
    pub id: String,
    pub severity: String,
    pub title: String,
}

/// What one check produced.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The `check --output json` document.
    pub check_json: String,
    /// The `collect` document the check worked on.
    /// The `collect` document the check worked on, zstd-compressed (a big node's snapshot is
    /// tens of MiB of JSON and a few MiB compressed; the agent keeps only this).
    pub snapshot_zstd: Vec<u8>,
    pub findings: Vec<FindingSummary>,
    /// The last round of active probes (`--probe`), for `netdoctor_probe_success`. Empty
    /// without probes.
    pub probes: Vec<ProbeSummary>,
}

/// One probe, as the metrics need it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeSummary {
    /// `overlay`, `pod`, `mtu`, `service`, `dns`.
    pub kind: String,
    /// The target in words (`node n1 VTEP 10.244.1.0`).
    pub target: String,
    pub ok: bool,
}

/// Why a check ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Start,
    Interval,
    Netlink,
    Request,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Interval => "interval",
            Trigger::Netlink => "netlink",
            Trigger::Request => "request",
        }
    }
}

enum Msg {
    Check(Trigger),
    Stop,
}

/// The last results, shared by the checker and the server.
#[derive(Default)]
pub(crate) struct Latest {
    pub check_json: Option<bytes::Bytes>,
    /// zstd-compressed.
    pub snapshot_zstd: Option<bytes::Bytes>,
    pub finished: Option<SystemTime>,
    pub error: Option<String>,
}

pub(crate) struct Shared {
    pub latest: RwLock<Latest>,
    pub metrics: Metrics,
    pub token: Option<String>,
}

/// A running agent. Dropping it stops it.
pub struct Agent {
    addr: SocketAddr,
    tx: mpsc::Sender<Msg>,
    shared: Arc<Shared>,
    checker: Option<JoinHandle<()>>,
    server: Option<JoinHandle<()>>,
    stop_server: Option<tokio::sync::oneshot::Sender<()>>,
    watcher: Option<watch::Watcher>,
}

/// Why one check could not run (served by `/healthz` until the next one runs).
pub type CheckError = Box<dyn std::error::Error + Send + Sync>;

type CheckFn = dyn FnMut() -> Result<CheckResult, CheckError> + Send;

impl Agent {
    /// Bind the listener, start the checker (its first check runs at once) and, when asked,
    /// the netlink watcher. Returns when the agent is serving.
    pub fn start(
        config: Config,
        check: impl FnMut() -> Result<CheckResult, CheckError> + Send + 'static,
    ) -> Result<Agent, AgentError> {
        let shared = Arc::new(Shared {
            latest: RwLock::new(Latest::default()),
            metrics: Metrics::new(),
            token: config.token.clone(),
        });
        let (tx, rx) = mpsc::channel::<Msg>();
        let tls = match &config.tls {
            Some((cert, key)) => Some(http::tls_acceptor(cert, key)?),
            None => None,
        };
        let (addr, stop_server, server) = http::serve(config.listen, shared.clone(), tls)?;
        let watcher = if config.watch_netlink {
            let tx = tx.clone();
            Some(
                watch::Watcher::start(move || {
                    let _ = tx.send(Msg::Check(Trigger::Netlink));
                })
                .map_err(AgentError::Netlink)?,
            )
        } else {
            None
        };
        let check: Box<CheckFn> = Box::new(check);
        let checker = {
            let shared = shared.clone();
            let config = config.clone();
            std::thread::Builder::new()
                .name("netdoctor-checker".into())
                .spawn(move || checker(config, check, rx, shared))
                .map_err(AgentError::Thread)?
        };
        Ok(Agent {
            addr,
            tx,
            shared,
            checker: Some(checker),
            server: Some(server),
            stop_server: Some(stop_server),
            watcher,
        })
    }

    /// The address the server listens on (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Ask for a check now (as a netlink change would, without the debounce).
    pub fn trigger(&self) {
        let _ = self.tx.send(Msg::Check(Trigger::Request));
    }

    /// The metrics, as `/metrics` serves them.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics.encode()
    }

    /// Block until the agent stops (it stops only when dropped from another thread or when
    /// its threads fail).
    pub fn wait(mut self) {
        if let Some(h) = self.server.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(s) = self.stop_server.take() {
            let _ = s.send(());
        }
        if let Some(w) = self.watcher.take() {
            w.stop();
        }
        if let Some(h) = self.checker.take() {
            let _ = h.join();
        }
        if let Some(h) = self.server.take() {
            let _ = h.join();
        }
    }
}

fn checker(config: Config, mut check: Box<CheckFn>, rx: mpsc::Receiver<Msg>, shared: Arc<Shared>) {
    let mut trigger = Trigger::Start;
    loop {
        run_one(&mut check, trigger, &shared);
        trigger = match rx.recv_timeout(config.interval) {
            Ok(Msg::Check(Trigger::Netlink)) => {
                // A burst of changes (a pod starting adds a veth, addresses, routes and
                // neighbours): wait for it to end, then check once.
                let quiet = Instant::now() + config.debounce;
                loop {
                    let left = quiet.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match rx.recv_timeout(left) {
                        Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                        Ok(Msg::Check(_)) | Err(RecvTimeoutError::Timeout) => {}
                    }
                }
                Trigger::Netlink
            }
            Ok(Msg::Check(t)) => t,
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => Trigger::Interval,
        };
    }
}

fn run_one(check: &mut Box<CheckFn>, trigger: Trigger, shared: &Shared) {
    let started = Instant::now();
    let result = check();
    let took = started.elapsed();
    match &result {
        Ok(r) => tracing::info!(
            trigger = trigger.as_str(),
            took_ms = took.as_millis() as u64,
            findings = r.findings.len(),
            "check"
        ),
        Err(e) => tracing::warn!(trigger = trigger.as_str(), error = %e, "check failed"),
    }
    let now = SystemTime::now();
    shared
        .metrics
        .observe_check(trigger, took, now, result.as_ref().ok());
    let mut latest = shared.latest.write().unwrap_or_else(|p| p.into_inner());
    match result {
        Ok(r) => {
            latest.check_json = Some(bytes::Bytes::from(r.check_json));
            latest.snapshot_zstd = Some(bytes::Bytes::from(r.snapshot_zstd));
            latest.finished = Some(now);
            latest.error = None;
        }
        Err(e) => latest.error = Some(e.to_string()),
    }
}
