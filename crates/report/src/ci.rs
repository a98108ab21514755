//! Formats for CI jobs and dashboards: SARIF 2.1.0 (code-scanning dashboards) and JUnit XML
//! (test reports). Each lists every root cause of the catalogue, so a dashboard can tell "found",
//! "not checked" and "checked and clean" apart.

use netdoctor_model::{CheckReport, Finding, Severity, StepStatus, CAUSES};
use quick_xml::escape::escape;
use serde_json::{json, Value};
use std::fmt::Write;

const INFO_URI: &str = "https://github.com/netdoctor/netdoctor";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn message(f: &Finding) -> String {
    let mut m = f.title.clone();
    if !f.evidence.is_empty() {
        m.push_str("\n\nEvidence:\n");
        for e in &f.evidence {
            let _ = writeln!(m, "- {e}");
        }
    }
    m
}

/// SARIF 2.1.0: one run, the catalogue as the tool's rules, one result per finding located at
/// the node (a logical location: findings are about a machine, not a line of code).
pub fn sarif(report: &CheckReport, version: &str) -> String {
    let rules: Vec<Value> = CAUSES
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": netdoctor_model::camel_case(c.id),
                "shortDescription": {"text": c.title},
                "fullDescription": {"text": c.explanation},
                "help": {"text": c.fix.join("\n")},
                "defaultConfiguration": {"level": level(c.severity)},
                "properties": {"step": c.step.as_str(), "tags": ["kubernetes", "network", c.step.as_str()]}
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut r = json!({
                "ruleId": f.id,
                "level": level(f.severity),
                "message": {"text": message(f)},
                "locations": [{"logicalLocations": [{"name": report.node, "kind": "node"}]}],
                "properties": {
                    "severity": f.severity.as_str(),
                    "explanation": f.explanation,
                    "fix": {"runtime": f.fix.runtime, "persistent": f.fix.persistent}
                }
            });
            if let Some(i) = CAUSES.iter().position(|c| c.id == f.id) {
                r["ruleIndex"] = json!(i);
            }
            r
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "netdoctor",
                "version": version,
                "informationUri": INFO_URI,
                "rules": rules
            }},
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": report.not_checked.iter().map(|n| json!({
                    "level": "note",
                    "message": {"text": format!("{} not checked: {}", n.check, n.reason)},
                    "descriptor": {"id": n.check}
                })).collect::<Vec<_>>()
            }],
            "results": results,
            "properties": {"node": report.node}
        }]
    });
    let mut s =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// JUnit XML: one test case per root cause. A finding at or above `fail_on` is a failure, one
/// below it passes with its text in `system-out`, a cause that could not be checked is
/// skipped with why, and the rest pass.
pub fn junit(report: &CheckReport, fail_on: Severity) -> String {
    let mut cases = String::new();
    let (mut failures, mut skipped) = (0, 0);
    for c in CAUSES {
        let class = format!("netdoctor.{}", c.step.as_str());
        let _ = write!(
            cases,
            "    <testcase classname=\"{}\" name=\"{}\"",
            escape(class.as_str()),
            escape(c.id)
        );
        let found: Vec<&Finding> = report.findings.iter().filter(|f| f.id == c.id).collect();
        // Not checked: said of this cause, or nothing in its reasoning step could be checked.
        let step_unchecked = report
            .steps
            .iter()
            .any(|st| st.step == c.step.as_str() && st.status == StepStatus::NotChecked);
        let not_checked = report
            .not_checked
            .iter()
            .find(|n| n.check == c.id)
            .map(|n| n.reason.clone())
            .or_else(|| {
                step_unchecked.then(|| {
                    format!(
                        "nothing in the {} step could be checked with these inputs",
                        c.step.as_str()
                    )
                })
            })
            .or_else(|| {
                let had = c.needs.iter().any(|n| report.available_inputs.contains(n));
                (!had).then(|| {
                    let needs: Vec<&str> = c.needs.iter().map(|n| n.as_str()).collect();
                    format!("none of its inputs was given ({})", needs.join(", "))
                })
            });
        if let Some(worst) = found.iter().max_by_key(|f| f.severity) {
            let body: String = found
                .iter()
                .map(|f| {
                    format!(
                        "[{}] {}\n{}\nWhy: {}\nFix now: {}\nFix for good: {}\n",
                        f.severity,
                        f.title,
                        f.evidence.join("\n"),
                        f.explanation,
                        f.fix.runtime.join("; "),
                        f.fix.persistent.join("; ")
                    )
                })
                .collect();
            if worst.severity >= fail_on {
                failures += 1;
                let _ = write!(
                    cases,
                    ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                    worst.severity,
                    escape(worst.title.as_str()),
                    escape(body.as_str())
                );
            } else {
                let _ = write!(
                    cases,
                    ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                    escape(body.as_str())
                );
            }
        } else if let Some(n) = not_checked {
            skipped += 1;
            let _ = write!(
                cases,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                escape(format!("not checked: {n}").as_str())
            );
        } else {
            cases.push_str("/>\n");
        }
    }
    let total = CAUSES.len();
    let suite = format!("netdoctor check {}", report.node);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"netdoctor\" tests=\"{total}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n  \
         <testsuite name=\"{}\" tests=\"{total}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n\
         {cases}  </testsuite>\n</testsuites>\n",
        escape(suite.as_str())
    )
}
