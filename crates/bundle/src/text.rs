//! Line handling shared by every importer: original line numbers, CRLF, and the
//! `[... truncated ...]` markers that pasted evidence carries.

use netdoctor_model::{ParseProblem, Source};
use std::net::IpAddr;

/// One line of a pasted file, already stripped of its line ending and of any truncation marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number in the original file.
    pub no: u32,
    pub text: &'a str,
    /// The line was cut mid-way (a `[...` marker, or the paste ended without a newline inside a
    /// word). Its last word may be partial and has been removed from `text`.
    pub cut: bool,
    /// The line held a truncation or elision marker (`[... truncated]`, `...`): something was
    /// left out here.
    pub marker: bool,
}

/// Split `text` into numbered lines. CR before LF (and a lone trailing CR) is removed. A line that
/// is only a truncation marker becomes an empty line; a line cut mid-way keeps its complete words.
pub fn numbered(text: &str) -> Vec<Line<'_>> {
    text.split('\n')
        .enumerate()
        .map(|(i, raw)| {
            let no = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let raw = unmarkup(raw.trim_end_matches('\r'));
            match marker_start(raw) {
                None => Line {
                    no,
                    text: raw,
                    cut: false,
                    marker: matches!(raw.trim(), "..." | "…" | "[...]" | "(...)"),
                },
                Some(at) => {
                    let before = &raw[..at];
                    // A marker glued to a word means the word itself was cut: drop it.
                    let kept = if before.ends_with(char::is_whitespace) || before.is_empty() {
                        before
                    } else {
                        before
                            .char_indices()
                            .rev()
                            .find(|(_, c)| c.is_whitespace())
                            .map_or("", |(i, c)| &before[..i + c.len_utf8()])
                    };
                    Line {
                        no,
                        text: kept.trim_end(),
                        cut: !before.trim().is_empty(),
                        marker: true,
                    }
                }
            }
        })
        .collect()
}

/// A line without what a web page or chat added around a paste: a Markdown code fence (a line
/// of its own, or glued to the end of the last line), `**bold**` around the whole line, and the
/// `> ` of a quoted reply.
pub fn unmarkup(line: &str) -> &str {
    let mut t = line;
    let trimmed = t.trim();
    if trimmed.starts_with("```") && !trimmed[3..].contains(' ') {
        return "";
    }
    if let Some(rest) = t.trim_end().strip_suffix("```") {
        t = rest;
    }
    loop {
        let s = t.trim_start();
        match s.strip_prefix("> ").or_else(|| (s == ">").then_some("")) {
            Some(rest) => t = rest,
            None => break,
        }
    }
    let s = t.trim();
    if let Some(inner) = s.strip_prefix("**").and_then(|x| x.strip_suffix("**")) {
        if !inner.is_empty() && !inner.contains("**") {
            return inner;
        }
    }
    // `_italic_` around a whole line, and a stray backtick of inline code before a prompt.
    if let Some(inner) = s.strip_prefix('_').and_then(|x| x.strip_suffix('_')) {
        if !inner.is_empty() && !inner.contains('_') {
            return inner;
        }
    }
    if let Some(rest) = s.strip_prefix('`').filter(|r| !r.contains('`')) {
        return rest;
    }
    t
}

/// A line without a trailing shell comment a person added (`10.0.0.0/24 via x dev eth0  #<-- this
/// one`): a `#` that starts a word, after the first word.
pub fn without_comment(line: &str) -> &str {
    let mut prev_space = false;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_space && !line[..i].trim().is_empty() {
            return line[..i].trim_end();
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// Where a truncation / elision marker starts: `[...`, `[…`, `[... truncated`, `[smitted ...
/// truncated]`, `[... elided ...]`.
fn marker_start(line: &str) -> Option<usize> {
    // A marker is short (`[... 200 lines truncated ...]`): only the first MARKER_WINDOW bytes
    // after a `[` are looked at, and the next `]` is found once and reused, so a line of a
    // million `[` costs a million small looks, not a million scans to the end of the line.
    const MARKER_WINDOW: usize = 120;
    let bytes = line.as_bytes();
    let mut close: Option<usize> = None;
    let mut close_searched_from = 0;
    let mut from = 0;
    while let Some(rel) = memchr_byte(b'[', &bytes[from..]) {
        let at = from + rel;
        let rest_start = at + 1;
        if close.is_none_or(|c| c < rest_start) && close_searched_from <= rest_start {
            close = memchr_byte(b']', &bytes[rest_start..]).map(|p| rest_start + p);
            close_searched_from = close.map_or(bytes.len() + 1, |c| c + 1);
        }
        let mut end = close.unwrap_or(bytes.len()).min(rest_start + MARKER_WINDOW);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        let rest = &line[rest_start..];
        let inner = &line[rest_start..end];
        if rest.starts_with("...")
            || rest.starts_with('…')
            || inner.contains("truncated")
            || inner.contains("elided")
            || (inner.contains("...") && !inner.contains(':'))
        {
            return Some(at);
        }
        from = rest_start;
    }
    None
}

fn memchr_byte(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Blank, or a comment that no importer reads (`#` or `;` first).
pub fn is_blank_or_comment(text: &str) -> bool {
    let t = text.trim_start();
    t.is_empty() || t.starts_with('#') || t.starts_with(';')
}

/// True when a line holds nothing to read. A line that a cut left empty is reported, since
/// something was there.
pub fn skip(line: &Line<'_>, file: &str, what: &str, problems: &mut Vec<ParseProblem>) -> bool {
    if !is_blank_or_comment(line.text) {
        return false;
    }
    if line.cut && line.text.trim().is_empty() {
        problems.push(problem(
            file,
            line.no,
            format!("not read as {what}: the line was cut before anything readable"),
        ));
    }
    true
}

/// A problem at `file:no`.
pub fn problem(file: &str, no: u32, message: impl Into<String>) -> ParseProblem {
    let mut message = message.into();
    if message.len() > MAX_MESSAGE {
        message = shorten(&message, MAX_MESSAGE);
    }
    ParseProblem {
        source: Source::at(file, no),
        message,
    }
}

/// Longest problem message kept (characters): quoted input beyond it says nothing more.
const MAX_MESSAGE: usize = 400;

/// The problem to report for a line that could not be read, mentioning a cut when there was one.
pub fn unreadable(file: &str, line: &Line<'_>, what: &str, why: &str) -> ParseProblem {
    let shown = shorten(line.text.trim(), 120);
    let cut = if line.cut { " (the line was cut)" } else { "" };
    problem(
        file,
        line.no,
        format!("not read as {what}: {why}{cut}: {shown:?}"),
    )
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

/// Prefix length of a dotted netmask; `None` when the mask is not contiguous.
pub fn mask_to_prefix(mask: &str) -> Option<u8> {
    let ip: std::net::Ipv4Addr = mask.parse().ok()?;
    let bits = u32::from(ip);
    let ones = bits.leading_ones();
    if bits.checked_shl(ones).unwrap_or(0) != 0 {
        return None;
    }
    u8::try_from(ones).ok()
}

/// Parse `A` or `A/P`; a bare address is a host prefix.
pub fn parse_prefix(s: &str) -> Option<ipnet::IpNet> {
    if let Ok(net) = s.parse::<ipnet::IpNet>() {
        return Some(net);
    }
    let addr: IpAddr = s.parse().ok()?;
    Some(ipnet::IpNet::from(addr))
}

/// A MAC address as `ip` prints it (six colon-separated hex octets).
pub fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The default routing table of a name `ip` prints (`main`, `local`, `default`) or a number.
pub fn table_id(s: &str) -> Option<u32> {
    match s {
        "main" => Some(netdoctor_model::TABLE_MAIN),
        "local" => Some(netdoctor_model::TABLE_LOCAL),
        "default" => Some(253),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lines_and_strips_crlf() {
        let lines = numbered("a\r\nb\r\n\r\nc");
        let texts: Vec<_> = lines.iter().map(|l| (l.no, l.text)).collect();
        assert_eq!(texts, vec![(1, "a"), (2, "b"), (3, ""), (4, "c")]);
    }

    #[test]
    fn cuts_markers_and_partial_words() {
        let lines = numbered(
            "20.1.[... truncated in corpus]\n49 packets tran[smitted ... truncated]\n[...]\nx y [... elided ...]",
        );
        assert_eq!(lines[0].text, "");
        assert!(lines[0].cut);
        assert_eq!(lines[1].text, "49 packets");
        assert!(lines[1].cut);
        assert_eq!(lines[2].text, "");
        assert!(!lines[2].cut);
        assert_eq!(lines[3].text, "x y");
    }

    #[test]
    fn multibyte_space_before_a_cut_word() {
        // Found by the `lsmod` fuzz target: a six-per-em space (3 bytes) before a cut word.
        let lines = numbered("a\u{2006}bc[... truncated]");
        assert_eq!(lines[0].text, "a");
        assert!(lines[0].cut);
    }

    #[test]
    fn keeps_brackets_that_are_not_markers() {
        let lines = numbered("[root@host188 ~]# ip route\n[ 3774.709092] TRACE: raw");
        assert_eq!(lines[0].text, "[root@host188 ~]# ip route");
        assert_eq!(lines[1].text, "[ 3774.709092] TRACE: raw");
    }

    #[test]
    fn markup_and_comments_around_pastes() {
        assert_eq!(
            unmarkup("**10.10.176.0/20 via 172.17.8.101 dev enp0s8**"),
            "10.10.176.0/20 via 172.17.8.101 dev enp0s8"
        );
        assert_eq!(
            unmarkup("> > default via 10.0.0.1 dev eth0"),
            "default via 10.0.0.1 dev eth0"
        );
        assert_eq!(unmarkup("```bash"), "");
        assert_eq!(
            unmarkup("default-hierarchy=hybrid```"),
            "default-hierarchy=hybrid"
        );
        assert_eq!(unmarkup("[root@host ~]# ip r"), "[root@host ~]# ip r");
        assert_eq!(
            without_comment("10.187.2.0/24 via 172.16.0.104 dev eth0 #<--- \u{8fd9}"),
            "10.187.2.0/24 via 172.16.0.104 dev eth0"
        );
        assert_eq!(without_comment("# a comment"), "# a comment");
        assert_eq!(without_comment("a#b c"), "a#b c");
    }

    #[test]
    fn masks() {
        assert_eq!(mask_to_prefix("255.255.255.192"), Some(26));
        assert_eq!(mask_to_prefix("0.0.0.0"), Some(0));
        assert_eq!(mask_to_prefix("255.255.255.255"), Some(32));
        assert_eq!(mask_to_prefix("255.0.255.0"), None);
    }
}
