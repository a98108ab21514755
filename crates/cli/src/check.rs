//! `netdoctor check` and `netdoctor collect`.

use crate::args::{CheckArgs, CheckFormat, ClusterFlags, CollectArgs, FailOn, ObjectFlags};
use anyhow::{Context as _, Result};
use netdoctor_checks::Options;
use netdoctor_collect::live::{collect_live, LiveOptions};
use netdoctor_model::{NodeSnapshot, Severity};
use netdoctor_report::Format;
use std::io::Write;
use std::process::ExitCode;

pub fn options(flags: &ClusterFlags) -> Options {
    Options {
        node_name: flags.node_name.clone(),
        cluster_cidr: flags.cluster_cidr,
        service_cidr: flags.service_cidr,
        pod_cidr: flags.pod_cidr,
        cni: flags.cni.clone(),
        backend: flags.backend.clone(),
        ..Options::default()
    }
}

/// The cluster's objects: from `--kube-objects`, live with `--kubeconfig` / `--in-cluster`, or
/// else those that came with the evidence (a bundle's `kube/`).
pub fn load_cluster(
    flags: &ObjectFlags,
    snapshots: &[&NodeSnapshot],
) -> Result<Option<std::sync::Arc<netdoctor_kube::Cluster>>> {
    if let Some(path) = &flags.kube_objects {
        let cluster = netdoctor_kube::Cluster::load(path)
            .with_context(|| format!("--kube-objects {}", path.display()))?;
        return Ok(Some(std::sync::Arc::new(cluster)));
    }
    if flags.kubeconfig.is_none() && !flags.in_cluster && flags.context.is_none() {
        let docs: Vec<(String, String)> = snapshots
            .iter()
            .flat_map(|s| {
                s.cluster_objects
                    .iter()
                    .map(|d| (d.source.file.clone(), d.value.clone()))
            })
            .collect();
        if docs.is_empty() {
            return Ok(None);
        }
        return Ok(Some(std::sync::Arc::new(
            netdoctor_kube::Cluster::from_evidence(&docs),
        )));
    }
    live_cluster(flags).map(|c| Some(std::sync::Arc::new(c)))
}

/// The API access the flags name (`--context`, `--kubeconfig`, `--in-cluster`), if any.
#[cfg(feature = "live-api")]
pub(crate) fn access(flags: &ObjectFlags) -> Option<netdoctor_kubeapi::Access> {
    use netdoctor_kubeapi::Access;
    match (&flags.context, &flags.kubeconfig) {
        (Some(c), k) => Some(Access::Context {
            kubeconfig: k.clone(),
            context: c.clone(),
        }),
        (None, Some(p)) => Some(Access::Kubeconfig(p.clone())),
        (None, None) => flags.in_cluster.then_some(Access::InCluster),
    }
}

#[cfg(feature = "live-api")]
fn live_cluster(flags: &ObjectFlags) -> Result<netdoctor_kube::Cluster> {
    let _progress =
        crate::progress::Progress::spinner("reading the cluster's objects from the API server");
    let access = access(flags).unwrap_or(netdoctor_kubeapi::Access::InCluster);
    Ok(netdoctor_kubeapi::load(&access)?)
}

#[cfg(not(feature = "live-api"))]
fn live_cluster(_flags: &ObjectFlags) -> Result<netdoctor_kube::Cluster> {
    anyhow::bail!(
        "this netdoctor was built without the live-api feature: save `kubectl get nodes,pods,services,endpointslices -A -o json` and pass it with --kube-objects"
    )
}

/// The snapshot `check` works on, from whichever source the flags name.
pub fn load(args: &CheckArgs) -> Result<NodeSnapshot> {
    if let Some(dir) = &args.from {
        return Ok(netdoctor_bundle::read_bundle(dir)?);
    }
    if let Some(file) = &args.snapshot {
        return Ok(netdoctor_collect::snapshot_io::read_snapshot(file)?);
    }
    if !args.root.is_dir() {
        anyhow::bail!("--root {}: not a directory", args.root.display());
    }
    let _progress = crate::progress::Progress::spinner(
        "reading this node's state (netlink, /proc, iptables-save, nft)",
    );
    Ok(collect_live(&LiveOptions {
        root: args.root.clone(),
        ..LiveOptions::default()
    }))
}

pub fn run_check(args: &CheckArgs, colour: bool) -> Result<ExitCode> {
    if args.list {
        print_catalogue(args.output)?;
        return Ok(ExitCode::SUCCESS);
    }
    let started = std::time::Instant::now();
    let snapshot = load(args)?;
    tracing::info!(
        took_ms = started.elapsed().as_millis() as u64,
        inputs = snapshot.inputs.len(),
        problems = snapshot.problems.len(),
        "inputs read"
    );
    let mut opts = options(&args.cluster);
    opts.cluster = load_cluster(&args.cluster.objects, &[&snapshot])?;
    let started = std::time::Instant::now();
    let mut report = netdoctor_checks::run(&snapshot, &opts);
    tracing::info!(
        took_ms = started.elapsed().as_millis() as u64,
        findings = report.findings.len(),
        not_checked = report.not_checked.len(),
        "checks run"
    );
    if args.probe {
        crate::probe::fold_into(
            &mut report,
            &snapshot,
            opts.cluster.as_deref(),
            args.cluster.node_name.as_deref(),
            &args.probe_flags,
        )?;
    }
    if let Some(c) = &opts.cluster {
        report
            .input_problems
            .extend(c.problems.iter().map(|p| p.to_string()));
    }
    let threshold = match args.fail_on {
        FailOn::Critical => Severity::Critical,
        FailOn::Warning => Severity::Warning,
        FailOn::Info => Severity::Info,
    };
    // Nothing judged at all (no finding, no symptom, every step without input): say so, and do
    // not let a script read it as a clean bill of health.
    let nothing_judged = report.findings.is_empty()
        && report.symptoms.is_empty()
        && report
            .steps
            .iter()
            .all(|s| s.status == netdoctor_model::StepStatus::NotChecked);
    let text = match args.output {
        CheckFormat::Npd if nothing_judged => {
            "netdoctor: nothing could be checked with these inputs\n".to_string()
        }
        CheckFormat::Text => netdoctor_report::render(&report, Format::Text, colour),
        CheckFormat::Json => netdoctor_report::render(&report, Format::Json, false),
        CheckFormat::Markdown => netdoctor_report::render(&report, Format::Markdown, false),
        CheckFormat::Sarif => netdoctor_report::sarif(&report, env!("CARGO_PKG_VERSION")),
        CheckFormat::Junit => netdoctor_report::junit(&report, threshold),
        CheckFormat::Npd => npd_line(&report, threshold),
        CheckFormat::Html => netdoctor_report::check_html(&report),
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .context("writing the report")?;
    if nothing_judged {
        let _ = writeln!(
            std::io::stderr(),
            "netdoctor: nothing to check: no input could be read as node state, and no known message was found (see `inputs` for how each file was read)"
        );
        return Ok(ExitCode::from(2));
    }
    Ok(if report.worst().is_some_and(|w| w >= threshold) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn run_collect(args: &CollectArgs) -> Result<ExitCode> {
    if !args.root.is_dir() {
        anyhow::bail!("--root {}: not a directory", args.root.display());
    }
    let progress = crate::progress::Progress::spinner(
        "reading this node's state (netlink, /proc, iptables-save, nft)",
    );
    let mut snapshot = collect_live(&LiveOptions {
        root: args.root.clone(),
        ..LiveOptions::default()
    });
    drop(progress);
    if let Some(name) = &args.node_name {
        snapshot.hints.node_name = Some(netdoctor_model::Sourced::new(
            name.clone(),
            netdoctor_model::Source::live("--node-name"),
        ));
    }
    match args.output.as_deref() {
        Some(p) if p.as_os_str() != "-" => {
            netdoctor_collect::snapshot_io::write_snapshot(&snapshot, p)?;
            let _ = writeln!(
                std::io::stderr(),
                "netdoctor: wrote {} ({} parts not collected)",
                p.display(),
                snapshot.not_collected.len()
            );
        }
        _ => {
            let json = serde_json::to_string_pretty(&snapshot)?;
            let mut out = std::io::stdout().lock();
            out.write_all(json.as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// node-problem-detector reads at most `max_output_length` (80 by default) of a plugin's output.
const NPD_MAX: usize = 80;

/// The one line a node-problem-detector custom plugin prints: the leading finding at or above
/// the threshold (`id: title`), or that there is none.
fn npd_line(report: &netdoctor_model::CheckReport, threshold: Severity) -> String {
    let line = match report.findings.iter().find(|f| f.severity >= threshold) {
        Some(f) => format!("{}: {}", f.id, f.title),
        None => "netdoctor: no network problem found".to_string(),
    };
    let mut end = line.len().min(NPD_MAX);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n", &line[..end])
}

/// `check --list`: the catalogue of root causes.
fn print_catalogue(format: CheckFormat) -> Result<()> {
    use std::io::Write;
    let causes = netdoctor_model::CAUSES;
    let mut out = std::io::stdout().lock();
    match format {
        CheckFormat::Json => {
            // The declarations themselves, so the output and its schema (`netdoctor schema
            // catalogue`) come from one type.
            serde_json::to_writer_pretty(&mut out, causes)?;
            writeln!(out)?;
        }
        _ => {
            writeln!(
                out,
                "{} root causes, in the order of the reasoning (app -> ip -> route -> rules -> kernel)\n",
                causes.len()
            )?;
            for step in netdoctor_model::Step::ALL {
                writeln!(out, "{}: {}", step.as_str(), step.question())?;
                for c in causes.iter().filter(|c| c.step == step) {
                    let needs: Vec<&str> = c.needs.iter().map(|n| n.as_str()).collect();
                    writeln!(
                        out,
                        "  {:<36} {:<8} {}{}\n  {:<36} needs: {}",
                        c.id,
                        format!("{:?}", c.severity).to_lowercase(),
                        c.title,
                        if c.after_reboot {
                            " (shows after a reboot)"
                        } else {
                            ""
                        },
                        "",
                        needs.join(", ")
                    )?;
                }
                writeln!(out)?;
            }
        }
    }
    Ok(())
}
