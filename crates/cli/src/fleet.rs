//! `netdoctor fleet`: every node's snapshot (from agents or files), every node's diagnosis, the
//! cross-node one, and a summary per root cause.

use crate::args::{FailOn, FleetArgs, FleetFormat};
use crate::check::{load_cluster, options};
use anyhow::{Context as _, Result};
use netdoctor_model::{CheckReport, Finding, NodeSnapshot, Severity};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The largest snapshot taken from an agent (the same cap as a snapshot file's).
const MAX_SNAPSHOT: u64 = 512 << 20;

#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "live-api"), allow(dead_code))]
pub(crate) enum Source {
    /// `--agent URL`.
    Agent(String),
    /// `--snapshot FILE`.
    File(std::path::PathBuf),
    /// A node's agent found through the API.
    Discovered { node: String, url: String },
    /// A node the API names whose agent cannot be read, and why.
    Unavailable { node: String, why: String },
}

impl Source {
    pub(crate) fn shown(&self) -> String {
        match self {
            Source::Agent(u) | Source::Discovered { url: u, .. } => u.clone(),
            Source::File(p) => p.display().to_string(),
            Source::Unavailable { node, .. } => format!("node/{node}"),
        }
    }

    /// The node's name when it is known before reading it.
    fn node(&self) -> Option<&str> {
        match self {
            Source::Discovered { node, .. } | Source::Unavailable { node, .. } => Some(node),
            Source::Agent(_) | Source::File(_) => None,
        }
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct NodeResult {
    node: String,
    source: String,
    findings: Vec<Finding>,
    not_checked: Vec<netdoctor_model::NotChecked>,
    error: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Summary {
    id: String,
    severity: Severity,
    title: String,
    nodes: Vec<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct FleetReport {
    schema: &'static str,
    nodes: Vec<NodeResult>,
    cluster: Vec<Finding>,
    summary: Vec<Summary>,
}

pub fn run_fleet(args: &FleetArgs) -> Result<ExitCode> {
    let mut sources: Vec<Source> = args.agent.iter().cloned().map(Source::Agent).collect();
    sources.extend(args.snapshot.iter().cloned().map(Source::File));
    // Without agents or files named, the API says where the agents are.
    let discovered = sources.is_empty();
    if discovered {
        sources = discover(args)?;
    }
    let token = match &args.token_file {
        Some(f) => Some(crate::agent::read_token(f)?),
        None => None,
    };
    let gathered = gather(&sources, token.as_deref(), args.concurrency, args.timeout)?;
    let snapshots: Vec<&NodeSnapshot> = gathered
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .collect();
    let mut opts = options(&args.cluster);
    // One node's name cannot be every node's.
    opts.node_name = None;
    opts.cluster = if discovered && args.cluster.objects.kube_objects.is_none() {
        // The API that named the agents also has the cluster's objects.
        live_objects(args)?
    } else {
        load_cluster(&args.cluster.objects, &snapshots)?
    };
    let mut nodes = Vec::new();
    let mut named: Vec<(String, &NodeSnapshot)> = Vec::new();
    for (src, r) in &gathered {
        match r {
            Ok(snap) => {
                let report: CheckReport = netdoctor_checks::run(snap, &opts);
                named.push((report.node.clone(), snap));
                nodes.push(NodeResult {
                    node: report.node,
                    source: src.shown(),
                    findings: report.findings,
                    not_checked: report.not_checked,
                    error: None,
                });
            }
            Err(e) => nodes.push(NodeResult {
                node: src.node().map_or_else(|| src.shown(), str::to_string),
                source: src.shown(),
                findings: Vec::new(),
                not_checked: Vec::new(),
                error: Some(e.clone()),
            }),
        }
    }
    let cluster = netdoctor_checks::cross_node(&named);
    let summary = summarise(&nodes);
    let report = FleetReport {
        schema: "netdoctor.fleet/v1",
        nodes,
        cluster,
        summary,
    };
    let text = match args.output {
        FleetFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        FleetFormat::Text => render_text(&report, false),
        FleetFormat::Markdown => render_text(&report, true),
        FleetFormat::Html => render_html(&report),
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .context("writing the report")?;
    let read = report.nodes.iter().filter(|n| n.error.is_none()).count();
    if read == 0 {
        let _ = writeln!(std::io::stderr(), "netdoctor: no node could be read");
        return Ok(ExitCode::from(2));
    }
    let threshold = match args.fail_on {
        FailOn::Critical => Severity::Critical,
        FailOn::Warning => Severity::Warning,
        FailOn::Info => Severity::Info,
    };
    let worst = report
        .nodes
        .iter()
        .flat_map(|n| n.findings.iter())
        .chain(report.cluster.iter())
        .map(|f| f.severity)
        .max();
    Ok(if worst.is_some_and(|w| w >= threshold) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The agents the API knows (`--agent-namespace`, `--agent-selector`), one source per node of
/// `--node-selector`: its agent, or why it has none that can be read.
#[cfg(feature = "live-api")]
fn discover(args: &FleetArgs) -> Result<Vec<Source>> {
    use netdoctor_kubeapi::agents::AgentQuery;
    let access =
        crate::check::access(&args.cluster.objects).unwrap_or(netdoctor_kubeapi::Access::Infer);
    let query = AgentQuery {
        namespace: args.agent_namespace.clone(),
        selector: args.agent_selector.clone(),
        node_selector: args.node_selector.clone(),
        port: args.agent_port,
    };
    let d = {
        let _progress = crate::progress::Progress::spinner("finding the agents through the API");
        netdoctor_kubeapi::agents::discover(&access, &query).with_context(|| {
            "no --agent or --snapshot given, and the API could not be asked for the agents \
             (name them with --agent URL, or snapshot files with --snapshot FILE)"
        })?
    };
    if d.agents.is_empty() {
        anyhow::bail!(
            "no agent pods match -l {} in namespace {}: deploy them (deploy/netdoctor.yaml), \
             or name agents with --agent URL or snapshot files with --snapshot FILE",
            query.selector,
            query.namespace
        );
    }
    if let Some(e) = &d.nodes_error {
        eprintln!("netdoctor: warning: {e}: nodes without an agent are not listed");
    }
    let mut sources: Vec<Source> = d
        .agents
        .into_iter()
        .map(|a| match (a.problem, a.url) {
            (None, Some(url)) => Source::Discovered { node: a.node, url },
            (why, _) => Source::Unavailable {
                node: a.node,
                why: why.unwrap_or_else(|| "its agent pod has no address".into()),
            },
        })
        .collect();
    for node in d.without_agent.unwrap_or_default() {
        sources.push(Source::Unavailable {
            node,
            why: format!(
                "no agent pod (-n {} -l {}) runs on this node: is the DaemonSet scheduled here?",
                query.namespace, query.selector
            ),
        });
    }
    Ok(sources)
}

#[cfg(feature = "live-api")]
fn live_objects(args: &FleetArgs) -> Result<Option<Arc<netdoctor_kube::Cluster>>> {
    let access =
        crate::check::access(&args.cluster.objects).unwrap_or(netdoctor_kubeapi::Access::Infer);
    let _progress =
        crate::progress::Progress::spinner("reading the cluster's objects from the API server");
    Ok(Some(Arc::new(netdoctor_kubeapi::load(&access)?)))
}

#[cfg(not(feature = "live-api"))]
fn discover(_args: &FleetArgs) -> Result<Vec<Source>> {
    anyhow::bail!(
        "no nodes: name agents with --agent URL or snapshot files with --snapshot FILE (this \
         netdoctor was built without the live-api feature, so it cannot ask the API for them)"
    )
}

#[cfg(not(feature = "live-api"))]
fn live_objects(_args: &FleetArgs) -> Result<Option<Arc<netdoctor_kube::Cluster>>> {
    Ok(None)
}

pub(crate) type Gathered = Vec<(Source, Result<NodeSnapshot, String>)>;

/// Read every source on `--concurrency` threads, with a progress line on a terminal.
/// Read every source's snapshot, `concurrency` at a time, with progress on stderr; agents
/// with `token` and `timeout` each.
pub(crate) fn gather(
    sources: &[Source],
    token: Option<&str>,
    concurrency: usize,
    timeout: std::time::Duration,
) -> Result<Gathered> {
    let http: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<NodeSnapshot, String>>>> =
        Mutex::new((0..sources.len()).map(|_| None).collect());
    let progress = crate::progress::Progress::bar(sources.len() as u64, "reading the nodes");
    let workers = concurrency.clamp(1, 256).min(sources.len());
    let token = token.map(Arc::<str>::from);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(src) = sources.get(i) else { break };
                let r = match src {
                    Source::File(p) => {
                        netdoctor_collect::snapshot_io::read_snapshot(p).map_err(|e| e.to_string())
                    }
                    Source::Agent(url) | Source::Discovered { url, .. } => {
                        from_agent(&http, url, token.as_deref())
                    }
                    Source::Unavailable { why, .. } => Err(why.clone()),
                };
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                done.fetch_add(1, Ordering::Relaxed);
                progress.inc();
            });
        }
    });
    drop(progress);
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(sources
        .iter()
        .cloned()
        .zip(results)
        .map(|(s, r)| (s, r.unwrap_or_else(|| Err("not read".into()))))
        .collect())
}

fn from_agent(http: &ureq::Agent, url: &str, token: Option<&str>) -> Result<NodeSnapshot, String> {
    let base = url.trim_end_matches('/');
    let full = format!("{base}/v1/snapshot");
    let mut req = http.get(&full).header("Accept-Encoding", "zstd");
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().map_err(|e| format!("{full}: {e}"))?;
    let status = resp.status();
    if status == 401 {
        return Err(format!(
            "{full}: 401 unauthorized (pass the agents' token with --token-file)"
        ));
    }
    if !status.is_success() {
        return Err(format!("{full}: HTTP {status}"));
    }
    let zstd_body = resp
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("zstd"));
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_SNAPSHOT)
        .read_to_vec()
        .map_err(|e| format!("{full}: {e}"))?;
    let body = if zstd_body {
        // Decompressed with the same limit: a small body must not expand without bound.
        use std::io::Read as _;
        let mut out = Vec::new();
        zstd::Decoder::new(&body[..])
            .map_err(|e| format!("{full}: {e}"))?
            .take(MAX_SNAPSHOT + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("{full}: a zstd body that cannot be read: {e}"))?;
        if out.len() as u64 > MAX_SNAPSHOT {
            return Err(format!(
                "{full}: the snapshot is larger than {MAX_SNAPSHOT} bytes"
            ));
        }
        out
    } else {
        body
    };
    netdoctor_collect::snapshot_io::parse_snapshot(&body, &full).map_err(|e| e.to_string())
}

fn summarise(nodes: &[NodeResult]) -> Vec<Summary> {
    let mut by_id: BTreeMap<&str, Summary> = BTreeMap::new();
    for n in nodes {
        for f in &n.findings {
            let s = by_id.entry(&f.id).or_insert_with(|| Summary {
                id: f.id.clone(),
                severity: f.severity,
                title: f.title.clone(),
                nodes: Vec::new(),
            });
            s.severity = s.severity.max(f.severity);
            if !s.nodes.contains(&n.node) {
                s.nodes.push(n.node.clone());
            }
        }
    }
    let mut v: Vec<Summary> = by_id.into_values().collect();
    v.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.nodes.len().cmp(&a.nodes.len()))
            .then(a.id.cmp(&b.id))
    });
    v
}

fn list(names: &[String], max: usize) -> String {
    let shown: Vec<&str> = names.iter().take(max).map(String::as_str).collect();
    let more = names.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn render_text(r: &FleetReport, md: bool) -> String {
    let mut out = String::new();
    let read = r.nodes.iter().filter(|n| n.error.is_none()).count();
    let total = r.nodes.len();
    let h = if md { "## " } else { "" };
    let b = if md { "- " } else { "  " };
    let _ = writeln!(
        out,
        "{}netdoctor fleet: {read} of {total} node(s) read, {} root cause(s) on nodes, {} across nodes",
        if md { "# " } else { "" },
        r.summary.len(),
        r.cluster.len()
    );
    if !r.summary.is_empty() {
        let _ = writeln!(out, "\n{h}By root cause");
        for s in &r.summary {
            let _ = writeln!(
                out,
                "{b}[{}] {} on {} of {read} node(s): {} ({})",
                s.severity,
                s.id,
                s.nodes.len(),
                s.title,
                list(&s.nodes, 8)
            );
        }
    }
    if !r.cluster.is_empty() {
        let _ = writeln!(out, "\n{h}Across nodes");
        for f in &r.cluster {
            let _ = writeln!(out, "{b}[{}] {}: {}", f.severity, f.id, f.title);
            for e in &f.evidence {
                let _ = writeln!(out, "{b}    {e}");
            }
        }
    }
    let failed: Vec<&NodeResult> = r.nodes.iter().filter(|n| n.error.is_some()).collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "\n{h}Not read ({})", failed.len());
        for n in failed {
            let _ = writeln!(out, "{b}{}", n.error.as_deref().unwrap_or(""));
        }
    }
    if r.summary.is_empty() && r.cluster.is_empty() && read > 0 {
        let _ = writeln!(
            out,
            "\nNo finding on any node read. `netdoctor fleet -o json` lists what each node could not check."
        );
    }
    out
}

/// `fleet -o html`: the summary per root cause, the cross-node findings, and every node (its
/// findings folded away under its line).
fn render_html(r: &FleetReport) -> String {
    use netdoctor_report::html::{esc, page};
    use std::fmt::Write as _;
    let mut o = String::new();
    let read = r.nodes.iter().filter(|n| n.error.is_none()).count();
    let _ = writeln!(
        o,
        "<h1>netdoctor fleet</h1><p class=\"sub\">{} node(s), {read} read; {} root cause(s) across them</p>",
        r.nodes.len(),
        r.summary.len()
    );
    o.push_str("<h2>Root causes, per node count</h2>\n");
    if r.summary.is_empty() {
        o.push_str("<p>No finding on any node.</p>\n");
    } else {
        o.push_str(
            "<table id=\"summary\"><tr><th>severity</th><th>root cause</th><th>nodes</th></tr>\n",
        );
        for s in &r.summary {
            let _ = writeln!(
                o,
                "<tr><td><span class=\"badge {sev}\">{sev}</span></td><td><code>{}</code> {}</td><td>{} of {}: {}</td></tr>",
                esc(&s.id),
                esc(&s.title),
                s.nodes.len(),
                r.nodes.len(),
                s.nodes.iter().map(|n| format!("<a href=\"#node-{0}\">{0}</a>", esc(n))).collect::<Vec<_>>().join(", "),
                sev = s.severity.as_str()
            );
        }
        o.push_str("</table>\n");
    }
    if !r.cluster.is_empty() {
        o.push_str("<h2>Across nodes</h2>\n");
        for f in &r.cluster {
            let _ = writeln!(
                o,
                "<div class=\"finding {sev}\"><h3><span class=\"badge {sev}\">{sev}</span> <code>{}</code> {}</h3><ul class=\"evidence\">{}</ul><p>{}</p></div>",
                esc(&f.id),
                esc(&f.title),
                f.evidence.iter().map(|e| format!("<li>{}</li>", esc(e))).collect::<String>(),
                esc(&f.explanation),
                sev = f.severity.as_str()
            );
        }
    }
    o.push_str("<h2>Nodes</h2>\n");
    for n in &r.nodes {
        let count = |sev: Severity| n.findings.iter().filter(|f| f.severity == sev).count();
        let status = match (&n.error, count(Severity::Critical)) {
            (Some(_), _) => ("unknown", "not read".to_string()),
            (None, 0) => ("passed", format!("{} warning(s)", count(Severity::Warning))),
            (None, c) => ("critical", format!("{c} critical")),
        };
        let _ = writeln!(
            o,
            "<details class=\"node-result\" id=\"node-{id}\"><summary><strong>{id}</strong> <span class=\"badge {}\">{}</span> <span class=\"muted\">{}</span></summary>",
            status.0,
            esc(&status.1),
            esc(&n.source),
            id = esc(&n.node)
        );
        if let Some(e) = &n.error {
            let _ = writeln!(o, "<p>{}</p>", esc(e));
        }
        for f in &n.findings {
            let _ = writeln!(
                o,
                "<div class=\"finding {sev}\"><h3><span class=\"badge {sev}\">{sev}</span> <code>{}</code> {}</h3><ul class=\"evidence\">{}</ul>{}</div>",
                esc(&f.id),
                esc(&f.title),
                f.evidence.iter().map(|e| format!("<li>{}</li>", esc(e))).collect::<String>(),
                if f.fix.runtime.is_empty() { String::new() } else { format!("<pre>{}</pre>", esc(&f.fix.runtime.join("\n"))) },
                sev = f.severity.as_str()
            );
        }
        o.push_str("</details>\n");
    }
    page("netdoctor fleet", &o)
}
