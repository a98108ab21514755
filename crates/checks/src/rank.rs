//! Ordering a report by cause: a finding that explains another comes before it and says so, a
//! symptom joins the findings that explain it, and the rest follows the catalogue's order (kernel
//! switches and rules before what they break). Severity still sorts first, as the contract says;
//! a root cause takes the severity of what it explains, with the reason in its evidence.

use netdoctor_model::{Cause, CheckReport, Severity};

pub fn by_cause(report: &mut CheckReport) {
    let present: Vec<Cause> = report
        .findings
        .iter()
        .filter_map(|f| Cause::from_id(&f.id))
        .collect();
    // Root causes first: what each one explains among the findings present.
    let mut raise: Vec<(usize, Severity, String)> = Vec::new();
    for (i, f) in report.findings.iter().enumerate() {
        let Some(cause) = Cause::from_id(&f.id) else {
            continue;
        };
        for explained in cause.explains().iter().filter(|e| present.contains(e)) {
            let Some(other) = report.findings.iter().find(|o| o.id == explained.id()) else {
                continue;
            };
            raise.push((
                i,
                other.severity,
                format!("explains: {} ({})", other.id, other.title),
            ));
        }
    }
    for (i, severity, line) in raise {
        let f = &mut report.findings[i];
        if severity > f.severity {
            f.evidence.push(format!(
                "severity raised to {severity}: it causes a {severity} finding"
            ));
            f.severity = severity;
        }
        if !f.evidence.contains(&line) {
            f.evidence.push(line);
        }
    }
    for s in &mut report.symptoms {
        s.explained_by = s
            .causes
            .iter()
            .filter(|c| report.findings.iter().any(|f| &f.id == *c))
            .cloned()
            .collect();
        for id in &s.explained_by {
            if let Some(f) = report.findings.iter_mut().find(|f| &f.id == id) {
                let line = format!("explains the symptom {}", s.evidence);
                if !f.evidence.contains(&line) {
                    f.evidence.push(line);
                }
            }
        }
    }
    let explained = |id: &str| {
        present
            .iter()
            .any(|c| c.explains().iter().any(|e| e.id() == id))
    };
    let index = |id: &str| Cause::from_id(id).map_or(usize::MAX, |c| c as usize);
    report.findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| explained(&a.id).cmp(&explained(&b.id)))
            .then_with(|| index(&a.id).cmp(&index(&b.id)))
    });
}
