//! What a trace returns, in the shape of the contract's `netdoctor.trace/v1`, and its text form.

use serde::Serialize;
use std::fmt::Write as _;

/// Schema tag of the JSON output.
pub const TRACE_SCHEMA: &str = "netdoctor.trace/v1";

/// The fate of the whole exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TraceVerdict {
    Delivered,
    Dropped,
    Unknown,
}

/// Which way a hop's packet travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Request,
    Reply,
}

/// One decision on the way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Hop {
    pub node: String,
    pub stage: String,
    pub detail: String,
    pub direction: Direction,
}

/// Where and why the packet died.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Drop {
    pub node: String,
    pub stage: String,
    pub direction: Direction,
    /// The contract finding id that explains it, when one does.
    pub finding: Option<String>,
    pub detail: String,
}

/// One way the exchange can go (a service has one per endpoint its rules can choose).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TracePath {
    /// The endpoint chosen by DNAT on this path (`10.244.1.2:8080`), when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Probability of this path, when every choice on it has a known one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    pub verdict: TraceVerdict,
    pub drop: Option<Drop>,
    /// Why the model could not decide (for `unknown`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
    pub hops: Vec<Hop>,
}

/// A trace: the contract's fields, then every path.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Trace {
    pub schema: &'static str,
    /// `dropped` when any path is dropped (some connections fail, which a user sees as
    /// "the service is flaky"), else `unknown` when any path is undecided, else `delivered`.
    pub verdict: TraceVerdict,
    /// The hops of the path that decided the verdict.
    pub hops: Vec<Hop>,
    pub drop: Option<Drop>,
    pub paths: Vec<TracePath>,
    /// Problems reading the inputs and assumptions the model made.
    pub notes: Vec<String>,
}

impl Trace {
    pub(crate) fn from_paths(mut paths: Vec<TracePath>, notes: Vec<String>) -> Trace {
        paths.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        let pick = paths
            .iter()
            .position(|p| p.verdict == TraceVerdict::Dropped)
            .or_else(|| {
                paths
                    .iter()
                    .position(|p| p.verdict == TraceVerdict::Unknown)
            })
            .unwrap_or(0);
        let (verdict, hops, drop) = match paths.get(pick) {
            Some(p) => (p.verdict, p.hops.clone(), p.drop.clone()),
            None => (TraceVerdict::Unknown, Vec::new(), None),
        };
        Trace {
            schema: TRACE_SCHEMA,
            verdict,
            hops,
            drop,
            paths,
            notes,
        }
    }

    /// The trace as Markdown: the verdict, then per path a table of hops (the drop marked where
    /// it happens, with the finding that explains it).
    pub fn render_markdown(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut out = format!("## Trace: {}\n", verdict_word(self.verdict));
        for (i, p) in self.paths.iter().enumerate() {
            let _ = writeln!(
                out,
                "\n### Path {} of {}{}{}: {}\n",
                i + 1,
                self.paths.len(),
                p.endpoint
                    .as_deref()
                    .map(|e| format!(", endpoint `{e}`"))
                    .unwrap_or_default(),
                p.probability
                    .map(|x| format!(" ({:.0}%)", x * 100.0))
                    .unwrap_or_default(),
                verdict_word(p.verdict)
            );
            let _ = writeln!(
                out,
                "| # | way | node | stage | what happened |\n|---|---|---|---|---|"
            );
            for (n, h) in p.hops.iter().enumerate() {
                let way = match h.direction {
                    Direction::Request => "request",
                    Direction::Reply => "reply",
                };
                let _ = writeln!(
                    out,
                    "| {} | {way} | {} | {} | {} |",
                    n + 1,
                    cell(&h.node),
                    cell(&h.stage),
                    cell(&h.detail)
                );
            }
            if let Some(d) = &p.drop {
                let _ = writeln!(
                    out,
                    "| **drop** | {} | {} | {} | **{}**{} |",
                    match d.direction {
                        Direction::Request => "request",
                        Direction::Reply => "reply",
                    },
                    cell(&d.node),
                    cell(&d.stage),
                    cell(&d.detail),
                    d.finding
                        .as_deref()
                        .map(|f| format!(" (finding `{f}`)"))
                        .unwrap_or_default()
                );
            }
            if let Some(u) = &p.unknown {
                let _ = writeln!(out, "\nThe model could not decide: {}", cell(u));
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\n### Notes\n");
            for n in &self.notes {
                let _ = writeln!(out, "- {}", cell(n));
            }
        }
        out
    }

    /// The readable hop list: one line per decision.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let multi = self.paths.len() > 1;
        for (i, p) in self.paths.iter().enumerate() {
            if multi {
                let _ = writeln!(
                    out,
                    "path {} of {}{}{}: {}",
                    i + 1,
                    self.paths.len(),
                    p.endpoint
                        .as_deref()
                        .map(|e| format!(", endpoint {e}"))
                        .unwrap_or_default(),
                    p.probability
                        .map(|x| format!(" (p={x:.2})"))
                        .unwrap_or_default(),
                    verdict_word(p.verdict)
                );
            }
            let w = p.hops.iter().map(|h| h.node.len()).max().unwrap_or(0);
            for h in &p.hops {
                let dir = match h.direction {
                    Direction::Request => "->",
                    Direction::Reply => "<-",
                };
                let _ = writeln!(out, "  {dir} {:w$}  {:<22} {}", h.node, h.stage, h.detail);
            }
            if let Some(d) = &p.drop {
                let _ = writeln!(
                    out,
                    "  DROPPED on {} at {} ({}): {}{}",
                    d.node,
                    d.stage,
                    match d.direction {
                        Direction::Request => "request",
                        Direction::Reply => "reply",
                    },
                    d.detail,
                    d.finding
                        .as_deref()
                        .map(|f| format!("  [finding: {f}]"))
                        .unwrap_or_default()
                );
            }
            if let Some(u) = &p.unknown {
                let _ = writeln!(out, "  UNKNOWN: {u}");
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        let _ = writeln!(out, "verdict: {}", verdict_word(self.verdict));
        out
    }
}

fn verdict_word(v: TraceVerdict) -> &'static str {
    match v {
        TraceVerdict::Delivered => "delivered",
        TraceVerdict::Dropped => "dropped",
        TraceVerdict::Unknown => "unknown",
    }
}
