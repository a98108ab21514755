//! Collecting findings: one per id, evidence merged.

use netdoctor_model::{Action, Cause, Finding, Fix, NotChecked, Severity, Symptom};

/// What the checks found so far.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub not_checked: Vec<NotChecked>,
    pub symptoms: Vec<Symptom>,
    /// Evidence lines not kept per finding id (beyond [`MAX_EVIDENCE`]), counted for a note.
    omitted: std::collections::HashMap<String, usize>,
}

/// Evidence lines kept per finding: enough to see the pattern and check it; a log repeating
/// one message 20,000 times adds a count, not 20,000 lines.
pub const MAX_EVIDENCE: usize = 40;

impl Outcome {
    /// Add a finding; if one with the same id exists, merge: the higher severity and title win,
    /// evidence and fix lines are appended without duplicates.
    pub fn add(&mut self, f: Finding) {
        let Some(existing) = self.findings.iter_mut().find(|e| e.id == f.id) else {
            let mut f = f;
            if f.evidence.len() > MAX_EVIDENCE {
                *self.omitted.entry(f.id.clone()).or_default() += f.evidence.len() - MAX_EVIDENCE;
                f.evidence.truncate(MAX_EVIDENCE);
            }
            self.findings.push(f);
            return;
        };
        if f.severity > existing.severity {
            existing.severity = f.severity;
            existing.title = f.title;
            existing.explanation = f.explanation;
        }
        let room = MAX_EVIDENCE.saturating_sub(existing.evidence.len());
        let mut evidence = f.evidence;
        evidence.retain(|l| !existing.evidence.contains(l));
        if evidence.len() > room {
            *self.omitted.entry(f.id.clone()).or_default() += evidence.len() - room;
            evidence.truncate(room);
        }
        merge(&mut existing.evidence, evidence);
        merge(&mut existing.fix.runtime, f.fix.runtime);
        merge(&mut existing.fix.persistent, f.fix.persistent);
        merge(&mut existing.actions, f.actions);
    }

    /// Record that `check` could not run.
    pub fn not_checked(&mut self, check: &str, reason: impl Into<String>) {
        let reason = reason.into();
        if !self
            .not_checked
            .iter()
            .any(|n| n.check == check && n.reason == reason)
        {
            self.not_checked.push(NotChecked {
                check: check.to_string(),
                reason,
            });
        }
    }

    /// Record a symptom (once per message).
    pub fn symptom(&mut self, s: Symptom) {
        if !self
            .symptoms
            .iter()
            .any(|x| x.evidence == s.evidence && x.signature == s.signature)
        {
            self.symptoms.push(s);
        }
    }

    /// Say, in each finding that had evidence left out, how much.
    pub fn note_omitted(&mut self) {
        for f in &mut self.findings {
            if let Some(n) = self.omitted.get(&f.id) {
                f.evidence.push(format!(
                    "... and {n} more lines of evidence like the above (not listed)"
                ));
            }
        }
    }

    /// Whether a finding of this cause exists.
    pub fn has(&self, cause: Cause) -> bool {
        self.findings.iter().any(|f| f.id == cause.id())
    }
}

fn merge<T: PartialEq>(into: &mut Vec<T>, from: Vec<T>) {
    for line in from {
        if !into.contains(&line) {
            into.push(line);
        }
    }
}

/// Build a finding. `explanation` should say what the symptom looks like, why this causes it,
/// and how to verify.
pub fn finding(
    cause: Cause,
    severity: Severity,
    title: impl Into<String>,
    evidence: Vec<String>,
    explanation: impl Into<String>,
    runtime: Vec<String>,
    persistent: Vec<String>,
) -> Finding {
    Finding {
        id: cause.id().to_string(),
        severity,
        title: title.into(),
        evidence,
        explanation: explanation.into(),
        fix: Fix {
            runtime,
            persistent,
        },
        actions: Vec::new(),
    }
}

/// Attach the structured remedy to a finding.
pub trait WithActions {
    fn with(self, actions: Vec<Action>) -> Self;
}

impl WithActions for Finding {
    fn with(mut self, actions: Vec<Action>) -> Self {
        self.actions = actions;
        self
    }
}

/// `Action::Sysctl` shorthand.
pub fn sysctl(key: &str, value: &str, runtime: bool, persistent: bool) -> Action {
    Action::Sysctl {
        key: key.into(),
        value: value.into(),
        runtime,
        persistent,
    }
}

/// `Action::Command` shorthand.
pub fn command(argv: &[&str], why: &str) -> Action {
    Action::Command {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        why: why.into(),
    }
}

/// `Action::Manual` shorthand.
pub fn manual(text: impl Into<String>) -> Action {
    Action::Manual { text: text.into() }
}

/// `Action::Restart` shorthand.
pub fn restart(service: &str, why: &str) -> Action {
    Action::Restart {
        service: service.into(),
        why: why.into(),
    }
}
