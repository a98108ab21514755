use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a value came from: a file and line of pasted evidence or node configuration, or a live
/// kernel source such as `/proc/sys/net/ipv4/ip_forward` or `netlink RTM_GETROUTE`.
///
/// Findings quote it in their evidence, so a user can check every claim.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Source {
    /// A path (relative to a bundle, or absolute on the node) or a live source name.
    pub file: String,
    /// 1-based line number, when the value came from a line of text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl Source {
    /// A value read from a live source (a `/proc` path, a netlink dump, a command).
    pub fn live(what: impl Into<String>) -> Self {
        Source {
            file: what.into(),
            line: None,
        }
    }

    /// A value read from line `line` (1-based) of `file`.
    pub fn at(file: impl Into<String>, line: u32) -> Self {
        Source {
            file: file.into(),
            line: Some(line),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}", self.file, l),
            None => f.write_str(&self.file),
        }
    }
}

/// A value together with its [`Source`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: Source) -> Self {
        Sourced { value, source }
    }
}
