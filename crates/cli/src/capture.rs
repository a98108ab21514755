//! `netdoctor capture`: one flow, captured on this node's interfaces, with the kernel's drop
//! reasons, tied to this node's diagnosis.

use crate::args::{CaptureArgs, OutputFormat, ProtoArg};
use crate::check::{load_cluster, options};
use anyhow::{Context as _, Result};
use netdoctor_capture::{DropCount, PrivateTracefs, Proto, Request};
use netdoctor_collect::live::{collect_live, LiveOptions};
use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Schema tag of `capture --output json`.
const CAPTURE_SCHEMA: &str = "netdoctor.capture/v1";

#[derive(Serialize, schemars::JsonSchema)]
struct PointOut<'a> {
    interface: &'a str,
    filter: &'a str,
    why: &'a str,
}

#[derive(Serialize, schemars::JsonSchema)]
struct DropOut<'a> {
    reason: &'a str,
    function: &'a str,
    count: usize,
}

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct CaptureOut<'a> {
    schema: &'static str,
    node: &'a str,
    sent: &'a [String],
    capture_points: Vec<PointOut<'a>>,
    flows: &'a [netdoctor_pcap::FlowReport],
    /// The kernel's drops during the flow (an addition to the contract).
    kernel_drops: Option<Vec<DropOut<'a>>>,
    /// Why the kernel's drops were not recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    kernel_drops_not_recorded: Option<String>,
    /// The nf_tables rules or chain policies that dropped the flow, by the kernel's own trace
    /// (`nft monitor trace` on this flow only), when netfilter dropped it (an addition).
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_trace: Option<&'a [String]>,
    /// Why the rule trace could not be run.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_trace_not_run: Option<String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    #[schemars(default)]
    input_problems: &'a [String],
}

pub fn run_capture(args: &CaptureArgs, colour: bool) -> Result<ExitCode> {
    // tracefs first: a private mount namespace can be made only while single-threaded.
    let mut private = None;
    let (tracefs, untraced) = if args.no_drop_reasons {
        (None, Some("not asked for (--no-drop-reasons)".to_string()))
    } else if let Some(t) = netdoctor_capture::find_tracefs() {
        (Some(t), None)
    } else {
        match PrivateTracefs::mount() {
            Ok(p) => {
                let path = p.path().to_path_buf();
                private = Some(p);
                (Some(path), None)
            }
            Err(e) => (
                None,
                Some(format!(
                    "tracefs is not mounted and could not be ({e}); mount it with `mount -t tracefs nodev /sys/kernel/tracing`"
                )),
            ),
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second handler (in tests, or embedded) is not an error worth stopping for.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
    }
    if !args.root.is_dir() {
        anyhow::bail!("--root {}: not a directory", args.root.display());
    }
    let snapshot = collect_live(&LiveOptions {
        root: args.root.clone(),
        ..LiveOptions::default()
    });
    let mut opts = options(&args.cluster);
    opts.cluster = load_cluster(&args.cluster.objects, &[&snapshot])?;
    let report = netdoctor_checks::run(&snapshot, &opts);
    let node = report.node.clone();
    let (dst, port) = args.to;
    let proto = match (args.proto, port) {
        (Some(ProtoArg::Tcp), _) | (None, Some(_)) => Proto::Tcp,
        (Some(ProtoArg::Udp), _) => Proto::Udp,
        (Some(ProtoArg::Icmp), _) | (None, None) => Proto::Icmp,
    };
    if proto != Proto::Icmp && port.is_none() {
        anyhow::bail!("--to {dst}: a {proto:?} flow needs a port (IP:PORT)");
    }
    let req = Request {
        node: node.clone(),
        src: args.from,
        dst,
        port,
        proto,
        count: args.count,
        timeout: args.timeout,
        wait: args.wait,
        on: args.on.clone(),
        tracefs,
        untraced,
        trace_rules: !args.no_rule_trace,
    };
    let mut out = netdoctor_capture::run(&snapshot, &req, &stop).context("netdoctor capture")?;
    drop(private);
    let found = |c: netdoctor_model::Cause| report.findings.iter().any(|f| f.id == c.id());
    let underlays = netdoctor_capture::underlay_devices(&snapshot);
    let drops: &[DropCount] = out.drops.as_deref().unwrap_or(&[]);
    for f in out.report.flows.iter_mut() {
        f.finding = netdoctor_capture::explain(f, drops, &found, &underlays).map(|c| c.id());
    }
    let doc = CaptureOut {
        schema: CAPTURE_SCHEMA,
        node: &node,
        sent: &out.sent,
        capture_points: out
            .points
            .iter()
            .map(|p| PointOut {
                interface: &p.interface,
                filter: &p.filter,
                why: &p.why,
            })
            .collect(),
        flows: &out.report.flows,
        kernel_drops: out.drops.as_ref().ok().map(|d| {
            d.iter()
                .map(|d| DropOut {
                    reason: &d.reason,
                    function: &d.function,
                    count: d.count,
                })
                .collect()
        }),
        kernel_drops_not_recorded: out.drops.as_ref().err().map(ToString::to_string),
        rule_trace: match &out.rule_trace {
            Some(Ok(v)) => Some(v.as_slice()),
            _ => None,
        },
        rule_trace_not_run: match &out.rule_trace {
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        },
        input_problems: &out.report.input_problems,
    };
    let text = match args.output {
        OutputFormat::Json => serde_json::to_string_pretty(&doc)? + "\n",
        OutputFormat::Text => render(&out, &report, false, colour),
        OutputFormat::Markdown => render(&out, &report, true, false),
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .context("writing the results")?;
    if out.report.flows.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "netdoctor: nothing of {} -> {dst} was captured",
            args.from
        );
        return Ok(ExitCode::from(2));
    }
    Ok(if out.report.flows.iter().any(|f| f.verdict == "dropped") {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn render(
    out: &netdoctor_capture::Outcome,
    report: &netdoctor_model::CheckReport,
    md: bool,
    _colour: bool,
) -> String {
    let b = if md { "- " } else { "  " };
    let mut s = String::new();
    let _ = writeln!(s, "{}Sent", if md { "## " } else { "" });
    for l in &out.sent {
        let _ = writeln!(s, "{b}{l}");
    }
    let _ = writeln!(s, "\n{}Captured on", if md { "## " } else { "" });
    for p in &out.points {
        let _ = writeln!(s, "{b}{} ({}): {}", p.interface, p.why, p.filter);
    }
    s.push('\n');
    // The flows as `pcap` tells them, with the finding said here instead.
    let mut flows = out.report.clone();
    for f in flows.flows.iter_mut() {
        f.finding = None;
    }
    s.push_str(&crate::pcap::render(&flows, md));
    let _ = writeln!(
        s,
        "\n{}The kernel's drops during the flow",
        if md { "## " } else { "" }
    );
    match &out.drops {
        Ok(d) if d.is_empty() => {
            let _ = writeln!(s, "{b}none (no IPv4 packet was freed with a drop reason)");
        }
        Ok(d) => {
            for d in d {
                let _ = writeln!(s, "{b}{} x {} in {}", d.count, d.reason, d.function);
            }
        }
        Err(e) => {
            let _ = writeln!(s, "{b}not recorded: {e}");
        }
    }
    match &out.rule_trace {
        Some(Ok(lines)) => {
            let _ = writeln!(
                s,
                "\n{}The kernel's trace of the rules (this flow only)",
                if md { "## " } else { "" }
            );
            if lines.is_empty() {
                let _ = writeln!(
                    s,
                    "{b}no nf_tables rule dropped it (an iptables-legacy rule?)"
                );
            }
            for l in lines {
                let _ = writeln!(s, "{b}dropped by: {l}");
            }
        }
        Some(Err(e)) => {
            let _ = writeln!(s, "\nThe rule trace could not run: {e}");
        }
        None => {}
    }
    for f in &out.report.flows {
        if let Some(id) = f.finding {
            let title = report
                .findings
                .iter()
                .find(|x| x.id == id)
                .map_or("", |x| x.title.as_str());
            let _ = writeln!(
                s,
                "\n{}: {id}: {title} (`netdoctor check` has the evidence and the fix)",
                f.flow
            );
        }
    }
    s
}
