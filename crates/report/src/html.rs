//! One self-contained HTML file (no script, no network access when opened) for `check` and
//! `trace`: readable in a narrow window and in print.
//!
//! A trace is drawn as a diagram: per path and direction, the nodes it crosses as boxes in the
//! order it crosses them, each box listing the decisions made there (the stage, then the rule or
//! route and what changed in the packet), arrows between the boxes naming the device crossed;
//! the hop where the packet dies is marked, with the finding that explains it.

use netdoctor_model::{Cause, CheckReport, Severity, StepStatus};
use netdoctor_sim::{Direction, Hop, Trace, TracePath, TraceVerdict};
use std::fmt::Write as _;

/// Escape text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The colour of a drop (the screenshot test looks for it).
pub const DROP_COLOUR: &str = "#c62828";

const CSS: &str = r#"
:root { --drop: #c62828; --ok: #2e7d32; --warn: #ef6c00; --muted: #666; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; background: #fff; }
main { max-width: 1200px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.5em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 24px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 1em; margin: 12px 0 6px; }
.sub { color: var(--muted); margin: 0 0 12px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: .85em; font-weight: 600; color: #fff; }
.critical, .dropped, .failed { background: var(--drop); }
.warning, .unknown { background: var(--warn); }
.info, .passed, .delivered { background: var(--ok); }
.not-checked { background: #8c959f; }
.flow { display: flex; flex-wrap: wrap; align-items: stretch; gap: 6px; }
.node { border: 2px solid var(--line); border-radius: 8px; padding: 8px 10px; min-width: 220px; flex: 1 1 260px; max-width: 420px; background: #f6f8fa; }
.node.has-drop { border-color: var(--drop); background: #fdecea; }
.node h4 { margin: 0 0 6px; font-size: 1em; }
.node ol { margin: 0; padding-left: 18px; }
.hop { margin: 2px 0; word-break: break-word; }
.stage { font-family: ui-monospace, monospace; font-size: .85em; background: #e7ecf0; border-radius: 4px; padding: 0 4px; }
.hop.drop { color: var(--drop); font-weight: 600; }
.hop.drop .stage { background: var(--drop); color: #fff; }
.arrow { align-self: center; font-size: 1.6em; color: var(--muted); padding: 0 2px; text-align: center; max-width: 120px; }
.arrow .via { display: block; font-size: .45em; line-height: 1.2; word-break: break-word; }
.lane { margin: 8px 0 14px; }
.lane > .label { font-weight: 600; margin-bottom: 4px; }
.dropbox { border-left: 6px solid var(--drop); background: #fdecea; padding: 8px 12px; margin: 8px 0; }
.finding { border: 1px solid var(--line); border-left: 6px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 10px 0; }
.finding.critical { border-left-color: var(--drop); background: #fff; }
.finding.warning { border-left-color: var(--warn); background: #fff; }
.finding.info { border-left-color: var(--ok); background: #fff; }
.finding h3 { margin-top: 0; }
ul.evidence { margin: 4px 0; padding-left: 20px; font-family: ui-monospace, monospace; font-size: .85em; word-break: break-word; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; white-space: pre-wrap; word-break: break-word; margin: 4px 0; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; word-break: break-word; }
.muted { color: var(--muted); }
@media (max-width: 640px) { .arrow { transform: rotate(90deg); width: 100%; text-align: center; } .node { max-width: none; } }
@media print { body { font-size: 11px; } .node { break-inside: avoid; } .finding { break-inside: avoid; } a { color: inherit; } }
"#;

/// A whole page around `body` (escaped by the caller), with the report's style.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"generator\" content=\"netdoctor {}\">\
         <title>{}</title><style>{CSS}</style></head>\n<body><main>\n{body}</main></body></html>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    )
}

fn verdict(v: TraceVerdict) -> &'static str {
    match v {
        TraceVerdict::Delivered => "delivered",
        TraceVerdict::Dropped => "dropped",
        TraceVerdict::Unknown => "unknown",
    }
}

/// The finding's words from the catalogue, linked to nothing outside the file.
fn finding_words(id: &str) -> String {
    match Cause::from_id(id) {
        Some(c) => format!("<code>{}</code>: {}", esc(id), esc(c.info().title)),
        None => format!("<code>{}</code>", esc(id)),
    }
}

/// The arrow's label between two node boxes: the device the packet left by, and the overlay
/// when it went encapsulated (`VXLAN via eth0`).
fn crossing(hops: &[(usize, &Hop)]) -> String {
    let dev = hops
        .iter()
        .rev()
        .find(|(_, h)| h.stage == "wire")
        .and_then(|(_, h)| h.detail.strip_prefix("out "))
        .and_then(|d| d.split_whitespace().next())
        .unwrap_or("");
    let overlay = hops.iter().any(|(_, h)| h.stage == "vxlan");
    match (overlay, dev.is_empty()) {
        (true, false) => format!("VXLAN via {dev}"),
        (true, true) => "VXLAN".into(),
        (false, _) => dev.to_string(),
    }
}

fn lane(o: &mut String, p: &TracePath, dir: Direction, path_no: usize) {
    let hops: Vec<(usize, &Hop)> = p
        .hops
        .iter()
        .enumerate()
        .filter(|(_, h)| h.direction == dir)
        .collect();
    if hops.is_empty() {
        return;
    }
    let dropped_here = p.drop.as_ref().is_some_and(|d| d.direction == dir);
    let last_drop_index = if dropped_here {
        hops.iter()
            .rev()
            .find(|(_, h)| h.detail.starts_with("DROP"))
            .map(|(i, _)| *i)
            .or_else(|| hops.last().map(|(i, _)| *i))
    } else {
        None
    };
    let _ = writeln!(
        o,
        "<div class=\"lane {}\"><div class=\"label\">{}</div><div class=\"flow\">",
        match dir {
            Direction::Request => "request",
            Direction::Reply => "reply",
        },
        match dir {
            Direction::Request => "Request →",
            Direction::Reply => "← Reply",
        }
    );
    // Consecutive hops on one node form one box.
    let mut groups: Vec<(String, Vec<(usize, &Hop)>)> = Vec::new();
    for (i, h) in hops {
        match groups.last_mut() {
            Some((n, v)) if *n == h.node => v.push((i, h)),
            _ => groups.push((h.node.clone(), vec![(i, h)])),
        }
    }
    for (g, (node, hs)) in groups.iter().enumerate() {
        if g > 0 {
            let label = crossing(&groups[g - 1].1);
            let _ = writeln!(
                o,
                "<div class=\"arrow\" title=\"{0}\">→<span class=\"via\">{0}</span></div>",
                esc(&label)
            );
        }
        let has_drop = hs.iter().any(|(i, _)| Some(*i) == last_drop_index);
        let _ = writeln!(
            o,
            "<div class=\"node{}\" data-node=\"{}\"><h4>{}</h4><ol>",
            if has_drop { " has-drop" } else { "" },
            esc(node),
            esc(node)
        );
        for (i, h) in hs {
            let drop = Some(*i) == last_drop_index;
            let _ = write!(
                o,
                "<li class=\"hop{}\" data-stage=\"{}\"{}><span class=\"stage\">{}</span> {}",
                if drop { " drop" } else { "" },
                esc(&h.stage),
                if drop {
                    format!(" id=\"drop-{path_no}\" data-drop=\"true\"")
                } else {
                    String::new()
                },
                esc(&h.stage),
                esc(&h.detail)
            );
            if drop {
                if let Some(f) = p.drop.as_ref().and_then(|d| d.finding.as_deref()) {
                    let _ = write!(o, " <strong>✖ {}</strong>", finding_words(f));
                } else {
                    o.push_str(" <strong>✖ dropped here</strong>");
                }
            }
            o.push_str("</li>\n");
        }
        o.push_str("</ol></div>\n");
    }
    o.push_str("</div></div>\n");
}

/// `trace --output html`: the path as a diagram.
pub fn trace_html(t: &Trace, what: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<h1>netdoctor trace</h1><p class=\"sub\">{} · <span class=\"badge {v}\" id=\"verdict\">{v}</span> · {} path(s)</p>",
        esc(what),
        t.paths.len(),
        v = verdict(t.verdict)
    );
    if let Some(d) = &t.drop {
        let _ = writeln!(
            o,
            "<div class=\"dropbox\"><strong>Dropped</strong> on <strong>{}</strong> at <span class=\"stage\">{}</span> ({}): {}{}</div>",
            esc(&d.node),
            esc(&d.stage),
            match d.direction {
                Direction::Request => "request",
                Direction::Reply => "reply",
            },
            esc(&d.detail),
            d.finding
                .as_deref()
                .map(|f| format!("<br>Explained by {}. <span class=\"muted\"><code>netdoctor check</code> on that node has the evidence and the fix.</span>", finding_words(f)))
                .unwrap_or_default()
        );
    }
    for (i, p) in t.paths.iter().enumerate() {
        let _ = writeln!(
            o,
            "<section class=\"path\" data-verdict=\"{}\"><h2>Path {} of {}{}{} <span class=\"badge {}\">{}</span></h2>",
            verdict(p.verdict),
            i + 1,
            t.paths.len(),
            p.endpoint
                .as_deref()
                .map(|e| format!(" · endpoint <code>{}</code>", esc(e)))
                .unwrap_or_default(),
            p.probability
                .map(|x| format!(" ({:.0}%)", x * 100.0))
                .unwrap_or_default(),
            verdict(p.verdict),
            verdict(p.verdict)
        );
        lane(&mut o, p, Direction::Request, i + 1);
        lane(&mut o, p, Direction::Reply, i + 1);
        if let Some(u) = &p.unknown {
            let _ = writeln!(
                o,
                "<p class=\"muted\">The model could not decide: {}</p>",
                esc(u)
            );
        }
        o.push_str("</section>\n");
    }
    if !t.notes.is_empty() {
        o.push_str("<h2>Notes</h2><ul>\n");
        for n in &t.notes {
            let _ = writeln!(o, "<li>{}</li>", esc(n));
        }
        o.push_str("</ul>\n");
    }
    page(&format!("netdoctor trace: {what}"), &o)
}

fn sev(s: Severity) -> &'static str {
    s.as_str()
}

fn step_class(s: StepStatus) -> (&'static str, &'static str) {
    match s {
        StepStatus::Passed => ("passed", "passed"),
        StepStatus::Warning => ("warning", "warning"),
        StepStatus::Failed => ("failed", "failed"),
        StepStatus::NotChecked => ("not-checked", "not checked"),
    }
}

/// `check --output html`: the reasoning, the findings with evidence and fixes, the probes, what
/// was not checked, and how the inputs were read.
pub fn check_html(r: &CheckReport) -> String {
    let mut o = String::new();
    let n = |s| r.findings.iter().filter(|f| f.severity == s).count();
    let _ = writeln!(
        o,
        "<h1>netdoctor check: node {}</h1><p class=\"sub\"><span class=\"badge critical\">{} critical</span> <span class=\"badge warning\">{} warning</span> <span class=\"badge info\">{} info</span></p>",
        esc(&r.node),
        n(Severity::Critical),
        n(Severity::Warning),
        n(Severity::Info)
    );
    if !r.steps.is_empty() {
        o.push_str("<h2>Reasoning, in the order an expert checks</h2><table id=\"steps\"><tr><th>step</th><th>question</th><th>result</th></tr>\n");
        for s in &r.steps {
            let (class, word) = step_class(s.status);
            let ids: Vec<String> = s
                .findings
                .iter()
                .map(|f| format!("<a href=\"#{0}\"><code>{0}</code></a>", esc(f)))
                .collect();
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td><span class=\"badge {class}\">{word}</span> {}</td></tr>",
                esc(&s.step),
                esc(&s.question),
                ids.join(" ")
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("<h2>Findings</h2>\n");
    if r.findings.is_empty() {
        o.push_str("<p>No finding.</p>\n");
    }
    for f in &r.findings {
        let _ = writeln!(
            o,
            "<div class=\"finding {s}\" id=\"{id}\"><h3><span class=\"badge {s}\">{s}</span> <code>{id}</code> {}</h3><ul class=\"evidence\">",
            esc(&f.title),
            s = sev(f.severity),
            id = esc(&f.id)
        );
        for e in &f.evidence {
            let _ = writeln!(o, "<li>{}</li>", esc(e));
        }
        let _ = writeln!(o, "</ul><p>{}</p>", esc(&f.explanation));
        if !f.fix.runtime.is_empty() {
            let _ = writeln!(
                o,
                "<h4>Fix now</h4><pre>{}</pre>",
                esc(&f.fix.runtime.join("\n"))
            );
        }
        if !f.fix.persistent.is_empty() {
            let _ = writeln!(
                o,
                "<h4>Fix for good</h4><pre>{}</pre>",
                esc(&f.fix.persistent.join("\n"))
            );
        }
        o.push_str("</div>\n");
    }
    if !r.probes.is_empty() {
        o.push_str("<h2>Probes</h2><table id=\"probes\"><tr><th>result</th><th>kind</th><th>to</th><th>what came back</th><th>confirms</th></tr>\n");
        for p in &r.probes {
            let _ = writeln!(
                o,
                "<tr><td><span class=\"badge {}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if p.ok { "passed" } else { "failed" },
                if p.ok { "pass" } else { "FAIL" },
                p.kind.as_str(),
                esc(&p.to),
                esc(&p.detail),
                p.finding
                    .as_deref()
                    .map(|f| format!("<a href=\"#{0}\"><code>{0}</code></a>", esc(f)))
                    .unwrap_or_default()
            );
        }
        o.push_str("</table>\n");
    }
    if !r.not_checked.is_empty() {
        o.push_str("<h2>Not checked</h2><ul id=\"not-checked\">\n");
        for n in &r.not_checked {
            let _ = writeln!(
                o,
                "<li><code>{}</code>: {}</li>",
                esc(&n.check),
                esc(&n.reason)
            );
        }
        o.push_str("</ul>\n");
    }
    if !r.inputs.is_empty() {
        o.push_str("<h2>Inputs</h2><ul class=\"muted\">\n");
        for i in &r.inputs {
            let _ = writeln!(
                o,
                "<li><code>{}</code> read as {}</li>",
                esc(&i.source),
                esc(&i.read_as)
            );
        }
        o.push_str("</ul>\n");
    }
    if !r.input_problems.is_empty() {
        o.push_str("<h2>Lines that could not be read</h2><ul>\n");
        for l in &r.input_problems {
            let _ = writeln!(o, "<li>{}</li>", esc(l));
        }
        o.push_str("</ul>\n");
    }
    page(&format!("netdoctor check: {}", r.node), &o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_everywhere_it_lands() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let mut r = crate::tests::report();
        r.node = "<script>alert(1)</script>".into();
        r.findings[0].evidence.push("-A FORWARD -j DROP <b>".into());
        let h = check_html(&r);
        assert!(!h.contains("<script>alert"), "{h}");
        assert!(h.contains("&lt;b&gt;"));
        assert!(h.contains("id=\"ip-forward-disabled\""));
        assert!(
            !h.contains("http://") && !h.contains("https://"),
            "no network access"
        );
    }
}
