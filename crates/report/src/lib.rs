//! Rendering a [`CheckReport`] for people (text, markdown) and for programs (JSON, per the
//! contract in `docs/cli-contract.md`).
//!
//! Renderers are pure: they return a `String`. Whether to use colour is the caller's decision
//! (the CLI uses it only on a terminal, and never when `NO_COLOR` is set).

mod ci;
pub mod html;

pub use ci::{junit, sarif};
pub use html::{check_html, trace_html};
use netdoctor_model::{CheckReport, Finding, ProbeReport, ProbeRun, Severity, StepStatus};
use std::fmt::Write;

/// The output formats every command offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// Render `report` in `format`.
pub fn render(report: &CheckReport, format: Format, colour: bool) -> String {
    match format {
        Format::Json => json(report),
        Format::Text => text(report, colour),
        Format::Markdown => markdown(report),
    }
}

/// The contract's JSON, pretty-printed, with a trailing newline.
pub fn json(report: &CheckReport) -> String {
    let mut s = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise the report: {e}\"}}"));
    s.push('\n');
    s
}

struct Paint(bool);

impl Paint {
    fn styled(&self, style: anstyle::Style, text: &str) -> String {
        if self.0 {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
    fn sev(&self, s: Severity, text: &str) -> String {
        let colour = match s {
            Severity::Critical => anstyle::AnsiColor::Red,
            Severity::Warning => anstyle::AnsiColor::Yellow,
            Severity::Info => anstyle::AnsiColor::Blue,
        };
        self.styled(
            anstyle::Style::new().bold().fg_color(Some(colour.into())),
            text,
        )
    }
    fn bold(&self, text: &str) -> String {
        self.styled(anstyle::Style::new().bold(), text)
    }
    fn dim(&self, text: &str) -> String {
        self.styled(anstyle::Style::new().dimmed(), text)
    }
}

/// Wrap `text` at `width` columns, every line prefixed by `indent`.
fn wrap(text: &str, indent: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > width {
            let _ = writeln!(out, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}{line}");
    }
    out
}

/// Whether a fix line is a command someone can run (it starts with one), rather than advice.
pub fn is_command(line: &str) -> bool {
    const COMMANDS: &[&str] = &[
        "sysctl",
        "ip",
        "iptables",
        "ip6tables",
        "iptables-legacy",
        "iptables-nft",
        "nft",
        "modprobe",
        "echo",
        "printf",
        "kubectl",
        "systemctl",
        "ethtool",
        "update-alternatives",
        "ls",
        "rm",
        "mkdir",
        "curl",
        "crictl",
        "conntrack",
        "firewall-cmd",
        "ufw",
        "cat",
        "grep",
        "calicoctl",
        "ss",
        "bridge",
        "tcpdump",
        "sed",
        "tee",
        "CNI_COMMAND=VERSION",
        "dmesg",
        "journalctl",
        "lsmod",
        "ipvsadm",
        "docker",
        "ping",
    ];
    let first = line.split_whitespace().next().unwrap_or("");
    COMMANDS.contains(&first)
}

fn counts(report: &CheckReport) -> String {
    let n = |s| report.findings.iter().filter(|f| f.severity == s).count();
    format!(
        "{} critical, {} warning, {} info",
        n(Severity::Critical),
        n(Severity::Warning),
        n(Severity::Info)
    )
}

/// Human text: findings grouped by severity, each with evidence, explanation and fix; then what
/// was not checked and how the inputs were read.
pub fn text(report: &CheckReport, colour: bool) -> String {
    let p = Paint(colour);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} node {}: {}",
        p.bold("netdoctor check"),
        report.node,
        counts(report)
    );
    if !report.steps.is_empty() {
        let _ = writeln!(
            o,
            "\n{}",
            p.bold("Reasoning, in the order an expert checks")
        );
        for (i, st) in report.steps.iter().enumerate() {
            let partial = st.status == StepStatus::Passed && !st.not_checked.is_empty();
            let mark = match st.status {
                StepStatus::Passed if partial => "part",
                StepStatus::Passed => "pass",
                StepStatus::Warning => "warn",
                StepStatus::Failed => "FAIL",
                StepStatus::NotChecked => " -- ",
            };
            let mark = match st.status {
                StepStatus::Failed => p.sev(Severity::Critical, mark),
                StepStatus::Warning => p.sev(Severity::Warning, mark),
                StepStatus::NotChecked => p.dim(mark),
                StepStatus::Passed if partial => p.dim(mark),
                StepStatus::Passed => mark.to_string(),
            };
            let mut tail = String::new();
            if !st.findings.is_empty() {
                tail = format!(": {}", st.findings.join(", "));
            } else if st.status == StepStatus::NotChecked {
                tail = " (not enough input)".into();
            } else if partial {
                tail = p.dim(&format!(
                    " (passed what could be checked; {} check(s) lacked input, see below)",
                    st.not_checked.len()
                ));
            }
            let _ = writeln!(
                o,
                "  {}. [{mark}] {:<7} {}{tail}",
                i + 1,
                st.step,
                st.question
            );
        }
    }
    if report.findings.is_empty() {
        let nothing_judged = !report.steps.is_empty()
            && report
                .steps
                .iter()
                .all(|s| s.status == StepStatus::NotChecked);
        if nothing_judged {
            let _ = writeln!(
                o,
                "\nNothing could be judged with these inputs: no finding, and no step could be checked (see below what is missing)."
            );
        } else {
            let _ = writeln!(o, "\nNo problem found in what was checked.");
        }
    }
    for sev in [Severity::Critical, Severity::Warning, Severity::Info] {
        let group: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.severity == sev)
            .collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(
            o,
            "\n{}",
            p.sev(
                sev,
                &format!("{} ({})", sev.as_str().to_uppercase(), group.len())
            )
        );
        for f in group {
            let _ = writeln!(
                o,
                "\n  {} {}",
                p.sev(sev, &format!("[{}]", f.id)),
                p.bold(&f.title)
            );
            if !f.evidence.is_empty() {
                let _ = writeln!(o, "    evidence:");
                for e in &f.evidence {
                    let _ = writeln!(o, "      - {e}");
                }
            }
            if !f.explanation.is_empty() {
                let _ = writeln!(o, "    why:");
                o.push_str(&wrap(&f.explanation, "      ", 100));
            }
            for (head, lines) in [
                ("fix now:", &f.fix.runtime),
                ("make it survive a reboot:", &f.fix.persistent),
            ] {
                if lines.is_empty() {
                    continue;
                }
                let _ = writeln!(o, "    {head}");
                for c in lines {
                    // Only a command gets a prompt; advice is never dressed as one.
                    if is_command(c) {
                        let _ = writeln!(o, "      $ {c}");
                    } else {
                        o.push_str(&wrap(c, "      ", 100));
                    }
                }
            }
        }
    }
    if !report.symptoms.is_empty() {
        let _ = writeln!(
            o,
            "\n{}",
            p.bold("Symptoms (messages several causes print; what they point at)")
        );
        for s in &report.symptoms {
            let _ = writeln!(o, "\n  - {}", s.evidence);
            o.push_str(&wrap(
                &format!("{} ({}): {}", s.component, s.signature, s.meaning),
                "      ",
                100,
            ));
            if s.explained_by.is_empty() {
                let _ = writeln!(
                    o,
                    "      {} {}",
                    p.dim("not explained by a finding; its causes:"),
                    s.causes.join(", ")
                );
            } else {
                let _ = writeln!(o, "      explained by: {}", s.explained_by.join(", "));
            }
        }
    }
    if !report.probes.is_empty() {
        let _ = writeln!(o, "\n{}", p.bold("Probes (real packets from this node)"));
        probe_lines(&mut o, &report.probes, &p);
    }
    if !report.not_checked.is_empty() {
        let _ = writeln!(o, "\n{}", p.bold("Not checked"));
        for n in &report.not_checked {
            let _ = writeln!(o, "  - {}: {}", n.check, p.dim(&n.reason));
        }
    }
    if !report.inputs.is_empty() {
        let _ = writeln!(o, "\n{}", p.bold("Inputs"));
        for i in &report.inputs {
            let _ = writeln!(o, "  - {} {}", i.source, read_as_words(&i.read_as));
        }
    }
    if !report.input_problems.is_empty() {
        let _ = writeln!(o, "\n{}", p.bold("Lines that could not be read"));
        for l in &report.input_problems {
            let _ = writeln!(o, "  - {l}");
        }
    }
    o
}

fn probe_lines(o: &mut String, runs: &[ProbeRun], p: &Paint) {
    for r in runs {
        let verdict = if r.ok {
            p.sev(Severity::Info, "pass")
        } else {
            p.sev(Severity::Critical, "FAIL")
        };
        let rtt = r.rtt_ms.map(|t| format!(" {t} ms")).unwrap_or_default();
        let _ = writeln!(
            o,
            "  {verdict} {:<7} {}{}",
            r.kind.as_str(),
            r.to,
            p.dim(&rtt)
        );
        o.push_str(&wrap(&r.detail, "         ", 100));
        if let Some(f) = &r.finding {
            let _ = writeln!(o, "         confirms: {f}");
        }
        if !r.ok {
            o.push_str(&p.dim(&wrap(&format!("sent: {}", r.sent), "         ", 100)));
        }
    }
}

fn probe_table(o: &mut String, runs: &[ProbeRun]) {
    let _ = writeln!(o, "| result | kind | to | what came back | confirms |");
    let _ = writeln!(o, "|---|---|---|---|---|");
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    for r in runs {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            if r.ok { "pass" } else { "**FAIL**" },
            r.kind.as_str(),
            cell(&r.to),
            cell(&r.detail),
            r.finding
                .as_deref()
                .map(|f| format!("`{f}`"))
                .unwrap_or_default()
        );
    }
}

/// `netdoctor probe` for people: one block per probe, then the count.
pub fn probe_text(report: &ProbeReport, colour: bool) -> String {
    let p = Paint(colour);
    let mut o = String::new();
    let failed = report.results.iter().filter(|r| !r.ok).count();
    let _ = writeln!(
        o,
        "{} from {}: {} probe(s), {} failed",
        p.bold("netdoctor probe"),
        report.node,
        report.results.len(),
        failed
    );
    if !report.results.is_empty() {
        o.push('\n');
        probe_lines(&mut o, &report.results, &p);
    }
    if !report.skipped.is_empty() {
        let _ = writeln!(o, "\n{}", p.bold("Not probed"));
        for s in &report.skipped {
            let _ = writeln!(o, "  - {}", p.dim(s));
        }
    }
    o
}

/// `netdoctor probe` as Markdown.
pub fn probe_markdown(report: &ProbeReport) -> String {
    let mut o = format!("## netdoctor probe from {}\n\n", report.node);
    probe_table(&mut o, &report.results);
    if !report.skipped.is_empty() {
        let _ = writeln!(o, "\n### Not probed\n");
        for s in &report.skipped {
            let _ = writeln!(o, "- {s}");
        }
    }
    o
}

/// Markdown for pasting into a ticket.
pub fn markdown(report: &CheckReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "## netdoctor check: node `{}`\n\n{}\n",
        report.node,
        counts(report)
    );
    if !report.steps.is_empty() {
        let _ = writeln!(o, "| step | question | result |\n|---|---|---|");
        for st in &report.steps {
            let result = match st.status {
                StepStatus::Passed if st.not_checked.is_empty() => "passed".to_string(),
                StepStatus::Passed => format!(
                    "passed what could be checked ({} not checked)",
                    st.not_checked.len()
                ),
                StepStatus::NotChecked => "not checked".to_string(),
                StepStatus::Warning => format!("warning: {}", st.findings.join(", ")),
                StepStatus::Failed => format!("**failed**: {}", st.findings.join(", ")),
            };
            let _ = writeln!(o, "| {} | {} | {result} |", st.step, st.question);
        }
        o.push('\n');
    }
    for f in &report.findings {
        let _ = writeln!(o, "### {}: {} (`{}`)\n", f.severity.as_str(), f.title, f.id);
        if !f.evidence.is_empty() {
            let _ = writeln!(o, "**Evidence**\n");
            for e in &f.evidence {
                let _ = writeln!(o, "- `{}`", e.replace('`', "'"));
            }
            o.push('\n');
        }
        let _ = writeln!(o, "{}\n", f.explanation);
        for (head, lines) in [
            ("Fix now", &f.fix.runtime),
            ("Make it survive a reboot", &f.fix.persistent),
        ] {
            if lines.is_empty() {
                continue;
            }
            let _ = writeln!(o, "**{head}**\n");
            let commands: Vec<&String> = lines.iter().filter(|l| is_command(l)).collect();
            for l in lines.iter().filter(|l| !is_command(l)) {
                let _ = writeln!(o, "- {l}");
            }
            if !commands.is_empty() {
                let shown: Vec<&str> = commands.iter().map(|c| c.as_str()).collect();
                let _ = writeln!(o, "```sh\n{}\n```", shown.join("\n"));
            }
            o.push('\n');
        }
    }
    if !report.symptoms.is_empty() {
        let _ = writeln!(o, "### Symptoms\n");
        for s in &report.symptoms {
            let by = if s.explained_by.is_empty() {
                format!("causes: {}", s.causes.join(", "))
            } else {
                format!("explained by: {}", s.explained_by.join(", "))
            };
            let _ = writeln!(
                o,
                "- `{}`: {} ({by})",
                s.evidence.replace('`', "'"),
                s.meaning
            );
        }
        o.push('\n');
    }
    if !report.probes.is_empty() {
        let _ = writeln!(o, "### Probes\n");
        probe_table(&mut o, &report.probes);
        o.push('\n');
    }
    if !report.not_checked.is_empty() {
        let _ = writeln!(o, "### Not checked\n");
        for n in &report.not_checked {
            let _ = writeln!(o, "- `{}`: {}", n.check, n.reason);
        }
        o.push('\n');
    }
    if !report.inputs.is_empty() {
        let _ = writeln!(o, "### Inputs\n");
        for i in &report.inputs {
            let _ = writeln!(o, "- `{}` {}", i.source, read_as_words(&i.read_as));
        }
    }
    o
}

/// "read as ip route", or the reason a file was not read as it stands ("not read: a FIFO").
fn read_as_words(read_as: &str) -> String {
    if read_as.starts_with("not read") || read_as.starts_with("no output") {
        format!("- {read_as}")
    } else {
        format!("read as {read_as}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use netdoctor_model::{Fix, NotChecked, CHECK_SCHEMA};

    pub(crate) fn report() -> CheckReport {
        CheckReport {
            available_inputs: Vec::new(),
            probes: Vec::new(),
            schema: CHECK_SCHEMA.into(),
            node: "n2".into(),
            findings: vec![Finding {
                id: "ip-forward-disabled".into(),
                severity: Severity::Critical,
                title: "IPv4 forwarding is off".into(),
                evidence: vec!["net.ipv4.ip_forward = 0 (runtime, sysctl.txt:3)".into()],
                explanation: "A node is a router.".into(),
                fix: Fix {
                    runtime: vec!["sysctl -w net.ipv4.ip_forward=1".into()],
                    persistent: vec![],
                },
                actions: vec![],
            }],
            not_checked: vec![NotChecked {
                check: "mtu-mismatch".into(),
                reason: "no links".into(),
            }],
            inputs: vec![],
            input_problems: vec![],
            steps: vec![],
            symptoms: vec![],
        }
    }

    #[test]
    fn text_groups_by_severity_without_colour_codes() {
        let t = text(&report(), false);
        assert!(t.contains("CRITICAL (1)"), "{t}");
        assert!(t.contains("$ sysctl -w net.ipv4.ip_forward=1"));
        assert!(t.contains("mtu-mismatch: no links"));
        assert!(!t.contains('\x1b'));
        let coloured = text(&report(), true);
        assert!(
            coloured.contains("\x1b[31m"),
            "critical is red: {coloured:?}"
        );
    }

    #[test]
    fn json_follows_the_contract() {
        let v: serde_json::Value = serde_json::from_str(&json(&report())).expect("valid JSON");
        assert_eq!(v["schema"], "netdoctor.check/v1");
        assert_eq!(
            v["findings"][0]["fix"]["runtime"][0],
            "sysctl -w net.ipv4.ip_forward=1"
        );
        assert!(
            v.get("input_problems").is_none(),
            "empty additions are omitted"
        );
    }

    #[test]
    fn wrap_keeps_width() {
        let w = wrap(&"word ".repeat(60), "  ", 40);
        assert!(w.lines().all(|l| l.len() <= 40));
        assert_eq!(w.split_whitespace().count(), 60);
    }
}
