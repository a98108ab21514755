//! `lsmod` and `/proc/modules`: which loadable modules are loaded.

use crate::text::{self, Line};
use netdoctor_model::{ParseProblem, Source};
use std::collections::BTreeMap;

/// Parse `lsmod` output (or `cat /proc/modules`) into module name -> where it was seen.
pub fn parse_lsmod(text: &str, file: &str) -> (BTreeMap<String, Source>, Vec<ParseProblem>) {
    parse_lsmod_lines(&text::numbered(text), file)
}

/// Parse numbered lines of `lsmod` output.
pub fn parse_lsmod_lines(
    lines: &[Line<'_>],
    file: &str,
) -> (BTreeMap<String, Source>, Vec<ParseProblem>) {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for line in lines {
        let t = line.text.trim();
        if text::skip(line, file, "lsmod", &mut problems) || t.starts_with("Module ") {
            continue;
        }
        let mut words = t.split_whitespace();
        let name = words.next().unwrap_or("");
        let number = |w: Option<&str>| {
            w.is_some_and(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
        };
        // Size and use count are numbers in both `lsmod` and `/proc/modules`.
        let size_ok = number(words.next()) && number(words.next());
        let name_ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if name_ok && size_ok {
            // modprobe treats '-' and '_' alike; the kernel lists '_'.
            out.insert(name.replace('-', "_"), Source::at(file, line.no));
        } else {
            problems.push(text::unreadable(
                file,
                line,
                "lsmod",
                "expected `name size used-by`",
            ));
        }
    }
    (out, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsmod_and_proc_modules() {
        let text = "Module                  Size  Used by\r\nbr_netfilter           22256  0 \r\nbridge                151336  1 br_netfilter\r\nvxlan 65536 0 - Live 0xffffffffc0a1d000\nnot a module line\n";
        let (m, p) = parse_lsmod(text, "lsmod.txt");
        assert_eq!(m.len(), 3);
        assert_eq!(m["br_netfilter"], Source::at("lsmod.txt", 2));
        assert!(m.contains_key("vxlan"));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].source.line, Some(5));
    }
}
