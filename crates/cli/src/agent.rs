//! `netdoctor agent`: live collection and the checks, run by netdoctor-agent on every change.

use crate::args::AgentArgs;
use crate::check::{load_cluster, options};
use anyhow::{Context as _, Result};
use netdoctor_agent::{Agent, CheckResult, Config, FindingSummary, ProbeSummary};
use netdoctor_collect::live::{collect_live, LiveOptions};
use std::io::Write;
use std::process::ExitCode;

/// The largest token file read (a token is a line; this is generous).
const MAX_TOKEN: u64 = 4096;

pub fn run_agent(args: &AgentArgs) -> Result<ExitCode> {
    if !args.root.is_dir() {
        anyhow::bail!("--root {}: not a directory", args.root.display());
    }
    let token = match &args.token_file {
        Some(f) => Some(read_token(f)?),
        None => None,
    };
    let root = args.root.clone();
    let cluster = args.cluster.clone();
    let mut reporter = if args.node_condition {
        Some(reporter::connect(&args.cluster)?)
    } else {
        None
    };
    let probe = args.probe.then(|| {
        (
            args.probe_interval,
            crate::probe::options_of(&args.probe_flags),
        )
    });
    // The last round of probes, and when it ran: probes cost seconds of timeouts, so they run
    // every --probe-interval, and the checks in between fold the last round in.
    let mut probed: Option<(std::time::Instant, Vec<netdoctor_model::ProbeRun>)> = None;
    let check = move || -> std::result::Result<CheckResult, netdoctor_agent::CheckError> {
        let mut snapshot = collect_live(&LiveOptions {
            root: root.clone(),
            ..LiveOptions::default()
        });
        if let Some(name) = &cluster.node_name {
            snapshot.hints.node_name = Some(netdoctor_model::Sourced::new(
                name.clone(),
                netdoctor_model::Source::live("--node-name"),
            ));
        }
        let mut opts = options(&cluster);
        opts.cluster =
            load_cluster(&cluster.objects, &[&snapshot]).map_err(|e| format!("{e:#}"))?;
        let mut report = netdoctor_checks::run(&snapshot, &opts);
        if let Some((every, popts)) = &probe {
            if probed.as_ref().is_none_or(|(at, _)| at.elapsed() >= *every) {
                let (_, runs, _) = crate::probe::send(
                    &snapshot,
                    opts.cluster.as_deref(),
                    cluster.node_name.as_deref(),
                    popts,
                )
                .map_err(|e| format!("{e:#}"))?;
                probed = Some((std::time::Instant::now(), runs));
            }
            if let Some((_, runs)) = &probed {
                netdoctor_checks::fold_probes(&mut report, runs.clone());
            }
        }
        if let Some(c) = &opts.cluster {
            report
                .input_problems
                .extend(c.problems.iter().map(|p| p.to_string()));
        }
        let findings = report
            .findings
            .iter()
            .map(|f| FindingSummary {
                id: f.id.clone(),
                severity: f.severity.as_str().to_string(),
                title: f.title.clone(),
            })
            .collect();
        if let Some(r) = reporter.as_mut() {
            r.after_check(&report);
        }
        let probes = report
            .probes
            .iter()
            .map(|p| ProbeSummary {
                kind: p.kind.as_str().to_string(),
                target: p.to.clone(),
                ok: p.ok,
            })
            .collect();
        Ok(CheckResult {
            probes,
            check_json: netdoctor_report::render(&report, netdoctor_report::Format::Json, false),
            snapshot_zstd: compressed_json(&snapshot).map_err(|e| e.to_string())?,
            findings,
        })
    };
    let config = Config {
        listen: args.listen,
        interval: args.interval,
        debounce: args.debounce,
        token,
        watch_netlink: !args.no_watch,
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
    };
    let agent = Agent::start(config, check)?;
    let _ = writeln!(
        std::io::stderr(),
        "netdoctor agent: serving {}://{}/metrics (checks every {}, {}; /v1/ {})",
        if args.tls_cert.is_some() {
            "https"
        } else {
            "http"
        },
        agent.addr(),
        humantime::format_duration(args.interval),
        if args.no_watch {
            "netlink not watched"
        } else {
            "and on every netlink change"
        },
        if args.token_file.is_some() {
            "needs the bearer token"
        } else {
            "closed: no --token-file"
        }
    );
    agent.wait();
    Ok(ExitCode::SUCCESS)
}

/// `value` as JSON straight into a zstd encoder: the uncompressed document (tens of MiB on a
/// big node) never exists in memory.
fn compressed_json<T: serde::Serialize>(value: &T) -> std::io::Result<Vec<u8>> {
    let mut enc = zstd::Encoder::new(Vec::new(), 3)?;
    serde_json::to_writer(&mut enc, value).map_err(std::io::Error::other)?;
    enc.finish()
}

/// The bearer token in `file`: one line without spaces.
pub fn read_token(file: &std::path::Path) -> Result<String> {
    let bytes = netdoctor_safefs::read_input(file, MAX_TOKEN, "a token file")
        .with_context(|| format!("--token-file {}", file.display()))?;
    String::from_utf8(bytes)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
        .with_context(|| {
            format!(
                "--token-file {}: not one token (one line of text without spaces)",
                file.display()
            )
        })
}

/// The Node condition and Events (`--node-condition`).
#[cfg(feature = "live-api")]
mod reporter {
    use crate::args::ClusterFlags;
    use anyhow::Result;
    use netdoctor_kubeapi::report::{transitions, NodeReporter};
    use netdoctor_kubeapi::Access;
    use netdoctor_model::CheckReport;
    use std::io::Write;

    pub struct Reporter {
        api: NodeReporter,
        node: String,
        /// The findings last reported; `None` before the first report went through.
        last: Option<Vec<(String, String, String)>>,
    }

    pub fn connect(flags: &ClusterFlags) -> Result<Reporter> {
        let node = match &flags.node_name {
            Some(n) => n.clone(),
            None => anyhow::bail!(
                "--node-condition needs --node-name (in a DaemonSet: --node-name=$(NODE_NAME) with NODE_NAME from spec.nodeName)"
            ),
        };
        let o = &flags.objects;
        let access = match (&o.context, &o.kubeconfig, o.in_cluster) {
            (Some(c), k, _) => Access::Context {
                kubeconfig: k.clone(),
                context: c.clone(),
            },
            (None, Some(p), _) => Access::Kubeconfig(p.clone()),
            (None, None, true) => Access::InCluster,
            (None, None, false) => Access::Infer,
        };
        let api = NodeReporter::connect(&access, &node)?;
        Ok(Reporter {
            api,
            node,
            last: None,
        })
    }

    impl Reporter {
        /// Write what changed. A failure is said on stderr and retried after the next check
        /// (the previous state is kept until a write goes through); the check itself stands.
        pub fn after_check(&mut self, report: &CheckReport) {
            let now: Vec<(String, String, String)> = report
                .findings
                .iter()
                .map(|f| {
                    (
                        f.id.clone(),
                        f.severity.as_str().to_string(),
                        f.title.clone(),
                    )
                })
                .collect();
            let (condition, changes) = transitions(self.last.as_deref(), &now);
            let mut ok = true;
            if let Some(c) = condition {
                if let Err(e) = self.api.set_condition(&c) {
                    ok = false;
                    let _ = writeln!(
                        std::io::stderr(),
                        "netdoctor agent: node {}: {e}",
                        self.node
                    );
                }
            }
            for ch in &changes {
                if let Err(e) = self.api.event(ch) {
                    ok = false;
                    let _ = writeln!(
                        std::io::stderr(),
                        "netdoctor agent: node {}: {e}",
                        self.node
                    );
                }
            }
            if ok {
                self.last = Some(now);
            }
        }
    }
}

#[cfg(not(feature = "live-api"))]
mod reporter {
    use crate::args::ClusterFlags;
    use anyhow::Result;
    use netdoctor_model::CheckReport;

    pub struct Reporter;

    pub fn connect(_flags: &ClusterFlags) -> Result<Reporter> {
        anyhow::bail!("this netdoctor was built without the live-api feature: --node-condition is not available")
    }

    impl Reporter {
        pub fn after_check(&mut self, _report: &CheckReport) {}
    }
}
