//! `netdoctor pcap`: captures in, where each flow vanished out.

use crate::args::{OutputFormat, PcapArgs};
use anyhow::{Context as _, Result};
use netdoctor_pcap::{analyse, read, FlowReport, Point, Report};
use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

/// The largest capture read (each file).
const MAX_CAPTURE: u64 = 1 << 30;

fn point_of(spec: &str) -> (Point, &str) {
    let (name, file) = match spec.split_once('=') {
        Some((n, f)) if !n.is_empty() && !n.contains('/') => (n.to_string(), f),
        _ => {
            let stem = std::path::Path::new(spec)
                .file_stem()
                .map_or_else(|| spec.to_string(), |s| s.to_string_lossy().into_owned());
            (stem, spec)
        }
    };
    let (node, interface) = match name.split_once(':') {
        Some((n, i)) => (n.to_string(), i.to_string()),
        None => (name, "capture".to_string()),
    };
    (Point { node, interface }, file)
}

pub fn run_pcap(args: &PcapArgs) -> Result<ExitCode> {
    let mut points = Vec::new();
    let mut captures = Vec::new();
    for spec in &args.captures {
        let (point, file) = point_of(spec);
        let bytes =
            netdoctor_safefs::read_input(std::path::Path::new(file), MAX_CAPTURE, "a capture")
                .with_context(|| file.to_string())?;
        let cap = read(&bytes, file)?;
        points.push(point);
        captures.push(cap);
    }
    let mut report = analyse(&points, &captures);
    report.flows.retain(|f| keep(f, args));
    // Dropped flows first.
    report.flows.sort_by_key(|f| f.verdict != "dropped");
    let text = match args.output {
        OutputFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        OutputFormat::Text => render(&report, false),
        OutputFormat::Markdown => render(&report, true),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(if report.flows.iter().any(|f| f.verdict == "dropped") {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn keep(f: &FlowReport, args: &PcapArgs) -> bool {
    let port_ok = args.port.is_none_or(|p| {
        let s = f.flow.as_str();
        s.contains(&format!(":{p} ")) || s.ends_with(&format!(":{p}"))
    });
    let host_ok = args.host.is_none_or(|h| {
        let h = h.to_string();
        f.flow.split_whitespace().any(|w| {
            let w = w.trim_start_matches('[');
            w == h || w.starts_with(&format!("{h}:")) || w.starts_with(&format!("{h}]:"))
        })
    });
    port_ok && host_ok
}

pub(crate) fn render(r: &Report, md: bool) -> String {
    let mut out = String::new();
    let path: Vec<String> = r.points.iter().map(ToString::to_string).collect();
    let dropped = r.flows.iter().filter(|f| f.verdict == "dropped").count();
    let _ = writeln!(
        out,
        "{}{} flow(s) through {}: {dropped} dropped",
        if md { "## " } else { "" },
        r.flows.len(),
        path.join(" -> ")
    );
    for f in &r.flows {
        let seen: Vec<String> = f
            .points
            .iter()
            .map(|p| {
                format!(
                    "{}:{} {}",
                    p.node,
                    p.interface,
                    if p.seen { "seen" } else { "not seen" }
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "\n{}{} {} ({} request, {} reply packet(s))",
            if md { "### " } else { "" },
            f.flow,
            match (f.verdict, f.direction) {
                ("dropped", Some(d)) => format!("DROPPED ({d})"),
                (v, _) => v.to_uppercase(),
            },
            f.requests,
            f.replies
        );
        let b = if md { "- " } else { "  " };
        if let Some(l) = &f.lost_at {
            let _ = writeln!(out, "{b}lost {}", l.stage);
        }
        let _ = writeln!(out, "{b}points: {}", seen.join(", "));
        if f.retransmissions > 0 {
            let _ = writeln!(out, "{b}{} retransmission(s)", f.retransmissions);
        }
        for x in f.resets.iter().chain(&f.icmp_errors).chain(&f.notes) {
            let _ = writeln!(out, "{b}{x}");
        }
        if let Some(id) = f.finding {
            let _ = writeln!(
                out,
                "{b}points to: {id} (run `netdoctor check` on the node that sent the ICMP error)"
            );
        }
    }
    if !r.input_problems.is_empty() {
        let _ = writeln!(
            out,
            "\nRecords that could not be read ({}):",
            r.input_problems.len()
        );
        for p in &r.input_problems {
            let _ = writeln!(out, "  {p}");
        }
    }
    out
}
