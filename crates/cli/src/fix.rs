//! `netdoctor fix`.

use crate::args::{FixArgs, PlanFormat};
use crate::check::options;
use anyhow::{bail, Result};
use netdoctor_collect::live::{collect_live, rfc3339_utc, LiveOptions};
use netdoctor_model::NodeSnapshot;
use netdoctor_remedy::{apply, export, plan, ApplyError};
use std::io::Write;
use std::process::ExitCode;

/// The effective uid, from /proc (no libc call needed).
pub fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn load(args: &FixArgs) -> Result<NodeSnapshot> {
    if let Some(dir) = &args.from {
        return Ok(netdoctor_bundle::read_bundle(dir)?);
    }
    if let Some(file) = &args.snapshot {
        return Ok(netdoctor_collect::snapshot_io::read_snapshot(file)?);
    }
    live(args)
}

fn live(args: &FixArgs) -> Result<NodeSnapshot> {
    if !args.root.is_dir() {
        bail!("--root {}: not a directory", args.root.display());
    }
    Ok(collect_live(&LiveOptions {
        root: args.root.clone(),
        ..LiveOptions::default()
    }))
}

pub fn run_fix(args: &FixArgs) -> Result<ExitCode> {
    if args.apply {
        if args.from.is_some() || args.snapshot.is_some() {
            bail!("--apply changes this node; it cannot apply a plan made from a bundle or a snapshot (drop --from/--snapshot, or export with --format shell)");
        }
        if euid() != Some(0) {
            bail!("--apply needs root: it writes /proc/sys and the node's configuration files (run the dry run without --apply to see the plan)");
        }
    }
    let snapshot = load(args)?;
    let mut opts = options(&args.cluster);
    opts.cluster = crate::check::load_cluster(&args.cluster.objects, &[&snapshot])?;
    let report = netdoctor_checks::run(&snapshot, &opts);
    let the_plan = plan(&report, &snapshot, &args.only);
    let mut out = std::io::stdout().lock();
    if !args.apply {
        let text = match args.format {
            PlanFormat::Text => export::text(&the_plan, &report.node),
            PlanFormat::Shell => export::shell(&the_plan, &report.node),
            PlanFormat::Ansible => export::ansible(&the_plan, &report.node),
            PlanFormat::Json => export::json(&the_plan, &report.node),
            PlanFormat::Markdown => export::markdown(&the_plan, &report.node),
        };
        out.write_all(text.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    if the_plan.steps.is_empty() {
        out.write_all(export::text(&the_plan, &report.node).as_bytes())?;
        if the_plan.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    writeln!(
        out,
        "netdoctor fix --apply, node {}: {} change(s) for {}",
        report.node,
        the_plan.steps.len(),
        the_plan.findings.join(", ")
    )?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let stamp: String = rfc3339_utc(secs)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    match apply(&the_plan, &args.root, &stamp, &mut out) {
        Ok(done) => writeln!(out, "done: {} change(s) made", done.done.len())?,
        Err(ApplyError::Step {
            step,
            message,
            done,
        }) => {
            writeln!(out, "STOPPED at `{step}`: {message}")?;
            writeln!(out, "changes made before it ({}):", done.len())?;
            for d in &done {
                writeln!(out, "  - {d}")?;
            }
            return Ok(ExitCode::from(1));
        }
        Err(e) => bail!(e),
    }
    // Check that the scene is fully repaired, as an engineer would.
    let after = netdoctor_checks::run(&live(args)?, &opts);
    writeln!(out, "\nverification (checks run again):")?;
    let mut all_fixed = true;
    for id in &the_plan.findings {
        let still = after.findings.iter().any(|f| &f.id == id);
        let boot_only = matches!(
            id.as_str(),
            "sysctl-not-persistent" | "sysctl-overridden" | "module-not-persistent"
        );
        let status = match (still, boot_only) {
            (true, _) => {
                all_fixed = false;
                "STILL PRESENT"
            }
            (false, true) => "fixed in the boot configuration (a reboot proves it)",
            (false, false) => "fixed",
        };
        writeln!(out, "  - {id}: {status}")?;
    }
    for (svc, why) in &the_plan.restarts {
        writeln!(out, "now restart {svc}: {why}")?;
    }
    for (id, t) in &the_plan.manual {
        writeln!(out, "needs a person [{id}]: {t}")?;
    }
    Ok(if all_fixed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
