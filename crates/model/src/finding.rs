//! What a diagnosis says: the `netdoctor.check/v1` JSON contract
//! (`docs/cli-contract.md`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Schema tag of `check --output json`.
pub const CHECK_SCHEMA: &str = "netdoctor.check/v1";

/// How bad a finding is. Ordered so that `Critical > Warning > Info`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity {other:?}: expected critical, warning or info"
            )),
        }
    }
}

/// The two halves of a fix: what repairs the node now, and what makes it survive a reboot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Fix {
    pub runtime: Vec<String>,
    pub persistent: Vec<String>,
}

/// A mechanical step of a remedy, for `netdoctor fix`. An addition to the contract's finding
/// (`actions`): the `fix` strings are for people, these are for the planner.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// Set a sysctl now (`runtime`) and/or at boot (`persistent`).
    Sysctl {
        key: String,
        value: String,
        runtime: bool,
        persistent: bool,
    },
    /// Load a kernel module now and/or at boot.
    LoadModule {
        name: String,
        runtime: bool,
        persistent: bool,
    },
    /// Run a command on the node now (argv, no shell).
    Command { argv: Vec<String>, why: String },
    /// A service that must be restarted for the change to take effect.
    Restart { service: String, why: String },
    /// Something a person must do (a cloud security group, a CIDR re-plan).
    Manual { text: String },
}

/// One root cause, with the evidence that shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// A stable id from the contract's table (`ip-forward-disabled`, ...).
    pub id: String,
    pub severity: Severity,
    pub title: String,
    /// Each line quotes a value and where it came from.
    pub evidence: Vec<String>,
    pub explanation: String,
    pub fix: Fix,
    /// The structured remedy `netdoctor fix` plans from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

/// A check that could not run, and what it would need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NotChecked {
    pub check: String,
    pub reason: String,
}

/// How one input was read (`inputs` in the JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InputRead {
    pub source: String,
    pub read_as: String,
}

/// How one step of the reasoning went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Passed,
    /// Only warnings.
    Warning,
    Failed,
    /// Nothing in this step could be checked with the inputs given.
    NotChecked,
}

/// One step of the diagnosis, in the order an expert goes: app, IP, route, rules, kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReasoningStep {
    /// `app`, `ip`, `route`, `rules`, `kernel`.
    pub step: String,
    pub question: String,
    pub status: StepStatus,
    /// Ids of the findings that fail this step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    /// Checks of this step that could not run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_checked: Vec<String>,
}

/// A message in the logs that several root causes print: it says where to look, not what is
/// wrong. An addition to the contract (`symptoms`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Symptom {
    /// `file:line: the message as pasted`.
    pub evidence: String,
    /// The catalogue signature it matched.
    pub signature: String,
    pub component: String,
    pub meaning: String,
    /// The finding ids that can cause it, most likely first.
    pub causes: Vec<String>,
    /// The findings of this report that explain it (among `causes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explained_by: Vec<String>,
}

/// The whole `check --output json` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckReport {
    pub schema: String,
    pub node: String,
    pub findings: Vec<Finding>,
    pub not_checked: Vec<NotChecked>,
    pub inputs: Vec<InputRead>,
    /// Lines of input that could not be read (`file:line: message`). An addition to the
    /// contract: nothing is dropped silently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_problems: Vec<String>,
    /// The reasoning, step by step (an addition to the contract).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<ReasoningStep>,
    /// Messages several causes print (an addition to the contract).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symptoms: Vec<Symptom>,
    /// Active probes run with the diagnosis (`check --probe`; an addition to the contract).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<crate::ProbeRun>,
    /// The kinds of input the checks had (not in the JSON: the renderers that list every
    /// cause use it to tell "checked and clean" from "not checked").
    #[serde(skip)]
    pub available_inputs: Vec<crate::Input>,
}

impl CheckReport {
    /// Sort findings most severe first, then by id, so output is stable.
    pub fn sort(&mut self) {
        self.findings
            .sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    }

    /// The most severe finding, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}
