//! The reasoning, in the order an expert goes when "the pod can't reach the service" (the
//! seeds' lesson): is the app there? is the IP reachable? is there a route? do the rules let
//! it through? are the kernel switches right? Each step is passed, failed or not checked, so a
//! user sees why the conclusion follows.

use netdoctor_model::{
    Cause, CauseInfo, Finding, Input, NotChecked, ReasoningStep, Severity, Step, StepStatus, CAUSES,
};

/// Every id the steps know, in step order.
#[cfg(test)]
pub fn step_ids() -> impl Iterator<Item = &'static str> {
    Step::ALL
        .into_iter()
        .flat_map(|st| CAUSES.iter().filter(move |c| c.step == st).map(|c| c.id))
}

/// The reasoning, step by step. A step passes only when at least one of its causes could be
/// judged with the inputs given (`available`, logs excepted: a log proves presence, never
/// absence) and none was found.
pub fn reasoning(
    findings: &[Finding],
    not_checked: &[NotChecked],
    available: &[Input],
) -> Vec<ReasoningStep> {
    Step::ALL
        .into_iter()
        .map(|step| {
            let causes: Vec<&CauseInfo> = CAUSES.iter().filter(|c| c.step == step).collect();
            let hit: Vec<&Finding> = findings
                .iter()
                .filter(|f| Cause::from_id(&f.id).is_some_and(|c| c.step() == step))
                .collect();
            let skipped: Vec<String> = not_checked
                .iter()
                .filter(|n| Cause::from_id(&n.check).is_some_and(|c| c.step() == step))
                .map(|n| n.check.clone())
                .fold(Vec::new(), |mut v, c| {
                    if !v.contains(&c) {
                        v.push(c);
                    }
                    v
                });
            let judged = causes.iter().any(|c| {
                !skipped.iter().any(|s| s == c.id)
                    && c.needs
                        .iter()
                        .any(|n| *n != Input::Logs && available.contains(n))
            });
            let status = if hit.iter().any(|f| f.severity == Severity::Critical) {
                StepStatus::Failed
            } else if hit.iter().any(|f| f.severity == Severity::Warning) {
                StepStatus::Warning
            } else if judged {
                StepStatus::Passed
            } else {
                StepStatus::NotChecked
            };
            ReasoningStep {
                step: step.as_str().to_string(),
                question: step.question().to_string(),
                status,
                findings: hit.iter().map(|f| f.id.clone()).collect(),
                not_checked: skipped,
            }
        })
        .collect()
}
