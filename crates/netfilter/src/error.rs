//! Errors of the readers: each names the file and line it is about.

use serde::Serialize;
use std::fmt;

/// A line (or range of lines) that could not be read. Reading goes on after it: a parse returns
/// what it could read together with every error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseError {
    /// The name given to the parser (`iptables-save.txt`, `-`).
    pub file: String,
    /// 1-based line; for nft JSON, 0 (the document has no useful lines) and `message` says
    /// which object.
    pub line: u32,
    /// The last line of a run of unreadable lines reported together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<u32>,
    pub kind: ErrorKind,
    pub message: String,
}

/// What sort of problem a [`ParseError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The line is cut short (a `[...]` marker, an unclosed quote, an option without value).
    Truncated,
    /// The line is iptables syntax but something in it is wrong (bad address, unknown option).
    Malformed,
    /// The lines are not iptables-save syntax at all (an `iptables -L` listing, prose, JSON).
    NotADump,
    /// Read, with an assumption the reader had to make (a table inferred for rules outside any
    /// `*table` section; a chain referenced but never declared is *not* reported this way, it
    /// is recorded on the chain).
    Assumption,
}

impl ParseError {
    pub(crate) fn new(file: &str, line: u32, kind: ErrorKind, message: impl Into<String>) -> Self {
        ParseError {
            file: file.to_string(),
            line,
            end_line: None,
            kind,
            message: message.into(),
        }
    }
}

impl ParseError {
    /// Renumber the lines (a reader that generated the text it parsed maps them back).
    pub(crate) fn remap_lines(&mut self, map: impl Fn(u32) -> u32) {
        if self.line > 0 {
            self.line = map(self.line);
        }
        self.end_line = self.end_line.map(&map);
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end_line {
            Some(end) if end != self.line => {
                write!(f, "{}:{}-{}: {}", self.file, self.line, end, self.message)
            }
            _ => write!(f, "{}:{}: {}", self.file, self.line, self.message),
        }
    }
}

impl std::error::Error for ParseError {}
