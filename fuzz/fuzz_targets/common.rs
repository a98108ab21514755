#![allow(dead_code)]

//! Invariants every importer must keep on any input: no panic (libFuzzer catches those), and
//! every value and problem points at a line of the input.

use netdoctor_model::{ParseProblem, Source};

/// Number of lines the importers see in `text` (`split('\n')`).
pub fn line_count(text: &str) -> u32 {
    u32::try_from(text.split('\n').count()).unwrap_or(u32::MAX)
}

/// `source` names `file` and a line inside the input.
pub fn check_source(source: &Source, file: &str, lines: u32) {
    assert_eq!(source.file, file);
    if let Some(l) = source.line {
        assert!(l >= 1 && l <= lines, "line {l} outside 1..={lines}");
    }
}

/// Every problem points into the input.
pub fn check_problems(problems: &[ParseProblem], file: &str, lines: u32) {
    for p in problems {
        check_source(&p.source, file, lines);
        assert!(!p.message.is_empty());
    }
}
