//! `netdoctor check` and `netdoctor collect`.

use crate::args::{CheckArgs, ClusterFlags, CollectArgs, FailOn, OutputFormat};
use anyhow::{Context as _, Result};
use netdoctor_checks::Options;
use netdoctor_collect::live::{collect_live, LiveOptions};
use netdoctor_model::{NodeSnapshot, Severity};
use netdoctor_report::Format;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

pub fn options(flags: &ClusterFlags) -> Options {
    Options {
        node_name: flags.node_name.clone(),
        cluster_cidr: flags.cluster_cidr,
        service_cidr: flags.service_cidr,
        pod_cidr: flags.pod_cidr,
        cni: flags.cni.clone(),
        backend: flags.backend.clone(),
    }
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
    Ok(collect_live(&LiveOptions {
        root: args.root.clone(),
        ..LiveOptions::default()
    }))
}

pub fn run_check(args: &CheckArgs) -> Result<ExitCode> {
    let snapshot = load(args)?;
    let report = netdoctor_checks::run(&snapshot, &options(&args.cluster));
    let format = match args.output {
        OutputFormat::Text => Format::Text,
        OutputFormat::Json => Format::Json,
        OutputFormat::Markdown => Format::Markdown,
    };
    let colour = args.output == OutputFormat::Text
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let text = netdoctor_report::render(&report, format, colour);
    std::io::stdout()
        .write_all(text.as_bytes())
        .context("writing the report")?;
    let threshold = match args.fail_on {
        FailOn::Critical => Severity::Critical,
        FailOn::Warning => Severity::Warning,
        FailOn::Info => Severity::Info,
    };
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
    let snapshot = collect_live(&LiveOptions {
        root: args.root.clone(),
        ..LiveOptions::default()
    });
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
