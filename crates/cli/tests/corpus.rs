//! The development corpus: every real case under `tests/cases/` (a bundle of what the thread's
//! authors pasted, and a `case.toml` with the thread, the ids that name its cause and how
//! strongly the files alone establish it) diagnosed end to end by the binary, and scored.
//!
//! Run with `cargo test -p netdoctor --test corpus -- --nocapture` to see the table; it is also
//! written to `target/corpus-score.md`.

use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/cases/");

#[derive(Debug, Deserialize)]
struct Case {
    urls: Vec<String>,
    kind: String,
    expect: Vec<String>,
    strength: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The expected cause is the first finding, critical or warning.
    Hit,
    /// The expected cause is found, but not first (or only as info).
    Found,
    Missed,
    /// A healthy or after-fix bundle without a critical finding.
    Clean,
    FalseCritical,
    /// The tool could not run (exit 2 or a crash).
    Error,
}

struct Scored {
    name: String,
    case: Case,
    verdict: Verdict,
    first: String,
    code: Option<i32>,
}

fn cases() -> Vec<(String, PathBuf, Case)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(CASES).expect("tests/cases") {
        let path = entry.expect("entry").path();
        let toml = path.join("case.toml");
        if !toml.is_file() {
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&toml).expect("read case.toml");
        let case: Case = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push((name, path, case));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn diagnose(dir: &Path) -> (Option<i32>, Option<Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(["check", "--output", "json", "--from"])
        .arg(dir)
        .output()
        .expect("run netdoctor");
    (out.status.code(), serde_json::from_slice(&out.stdout).ok())
}

fn score(case: &Case, code: Option<i32>, report: Option<&Value>) -> (Verdict, String) {
    let healthy = case.kind != "incident";
    let Some(v) = report else {
        // Nothing to check is an honest answer for a bundle with no node evidence.
        return match code {
            Some(2) if healthy => (Verdict::Clean, "(nothing to check)".into()),
            Some(2) if case.strength == "not-in-files" => {
                (Verdict::Missed, "(nothing to check)".into())
            }
            _ => (Verdict::Error, format!("exit {code:?}")),
        };
    };
    let findings = v["findings"].as_array().cloned().unwrap_or_default();
    let first = findings
        .first()
        .map(|f| {
            format!(
                "{} ({})",
                f["id"].as_str().unwrap_or("?"),
                f["severity"].as_str().unwrap_or("?")
            )
        })
        .unwrap_or_else(|| "-".into());
    if healthy {
        let critical = findings.iter().any(|f| f["severity"] == "critical");
        return (
            if critical {
                Verdict::FalseCritical
            } else {
                Verdict::Clean
            },
            first,
        );
    }
    let named = |f: &Value| {
        case.expect
            .iter()
            .any(|e| f["id"].as_str() == Some(e.as_str()))
    };
    let ranked_first = findings.first().is_some_and(|f| {
        named(f) && matches!(f["severity"].as_str(), Some("critical" | "warning"))
    });
    let verdict = if ranked_first {
        Verdict::Hit
    } else if findings.iter().any(named) {
        Verdict::Found
    } else {
        Verdict::Missed
    };
    (verdict, first)
}

#[test]
fn the_corpus_is_diagnosed_as_its_threads_concluded() {
    let mut scored = Vec::new();
    for (name, dir, case) in cases() {
        let (code, report) = diagnose(&dir);
        let (verdict, first) = score(&case, code, report.as_ref());
        scored.push(Scored {
            name,
            case,
            verdict,
            first,
            code,
        });
    }
    let table = render(&scored);
    eprintln!("{table}");
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/corpus-score.md");
    let _ = std::fs::write(target, &table);

    assert!(scored.len() >= 90, "{} cases", scored.len());
    let healthy = scored.iter().filter(|s| s.case.kind != "incident").count();
    assert!(healthy >= 15, "{healthy} healthy or after-fix cases");
    let failures: Vec<String> = scored
        .iter()
        .filter(|s| {
            matches!(s.verdict, Verdict::Error | Verdict::FalseCritical)
                || (s.case.kind == "incident"
                    && s.case.strength == "established"
                    && s.verdict != Verdict::Hit)
        })
        .map(|s| {
            format!(
                "{}: {:?} (expected {:?}, first {}, exit {:?}) {}",
                s.name,
                s.verdict,
                s.case.expect,
                s.first,
                s.code,
                s.case.urls.first().map_or("", |u| u.as_str())
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} case(s) not diagnosed as their threads concluded:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn render(scored: &[Scored]) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let count = |f: &dyn Fn(&Scored) -> bool| scored.iter().filter(|s| f(s)).count();
    let _ = writeln!(o, "# Corpus score ({} cases)\n", scored.len());
    let _ = writeln!(
        o,
        "| group | cases | named first | found, not first | missed |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|");
    for strength in ["established", "suggested", "not-in-files"] {
        let group = |s: &Scored| s.case.kind == "incident" && s.case.strength == strength;
        let _ = writeln!(
            o,
            "| incidents, cause {strength} | {} | {} | {} | {} |",
            count(&group),
            count(&|s| group(s) && s.verdict == Verdict::Hit),
            count(&|s| group(s) && s.verdict == Verdict::Found),
            count(&|s| group(s) && matches!(s.verdict, Verdict::Missed | Verdict::Error)),
        );
    }
    let healthy = |s: &Scored| s.case.kind != "incident";
    let _ = writeln!(
        o,
        "\n| healthy and after-fix | cases | no critical finding | false critical |\n|---|---|---|---|\n| | {} | {} | {} |",
        count(&healthy),
        count(&|s| healthy(s) && s.verdict == Verdict::Clean),
        count(&|s| healthy(s) && s.verdict == Verdict::FalseCritical),
    );
    let _ = writeln!(
        o,
        "\nCould not run (exit 2 or crash): {}\n",
        count(&|s| s.verdict == Verdict::Error)
    );
    let _ = writeln!(
        o,
        "| case | kind | strength | expected | first finding | verdict |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for s in scored {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {:?} |",
            s.name,
            s.case.kind,
            s.case.strength,
            s.case.expect.join(", "),
            s.first,
            s.verdict
        );
    }
    o
}
