//! `sysctl -a` output (`key = value`), `key=value`, and the `/proc/sys/...: value` form that
//! `grep -r . /proc/sys/net` prints. Keys are normalised to sysctl(8)'s dotted form.

use crate::text::{self, Line};
use netdoctor_model::{ParseProblem, Source, Sourced};
use std::collections::BTreeMap;

/// Runtime sysctl values by dotted key.
pub type Sysctls = BTreeMap<String, Sourced<String>>;

/// Parse a whole sysctl paste.
pub fn parse_sysctl(text: &str, file: &str) -> (Sysctls, Vec<ParseProblem>) {
    parse_sysctl_lines(&text::numbered(text), file)
}

/// Parse numbered lines (a section of a larger file).
pub fn parse_sysctl_lines(lines: &[Line<'_>], file: &str) -> (Sysctls, Vec<ParseProblem>) {
    let mut out = Sysctls::new();
    let mut problems = Vec::new();
    for line in lines {
        let t = line.text.trim();
        if text::skip(line, file, "sysctl", &mut problems) {
            continue;
        }
        if t.starts_with("sysctl:") {
            // sysctl -a prints its own read errors inline (stable_secret, permission denied).
            problems.push(text::problem(
                file,
                line.no,
                format!("sysctl reported an error: {}", text::shorten(t, 120)),
            ));
            continue;
        }
        for piece in split_joined(t) {
            match parse_assignment(piece) {
                Ok((key, value)) => {
                    out.insert(key, Sourced::new(value, Source::at(file, line.no)));
                }
                Err(why) => problems.push(text::unreadable(file, line, "sysctl", why)),
            }
        }
    }
    (out, problems)
}

/// Normalise a sysctl key or `/proc/sys` path to the dotted form. As sysctl.d(5) says: if the
/// first separator is a slash, the path is split at slashes and any dot inside a component
/// (an interface name such as `eth0.100`) becomes `/`.
pub fn normalise_key(raw: &str) -> String {
    let raw = raw.trim();
    let raw = raw.strip_prefix("/proc/sys/").unwrap_or(raw);
    let first_sep = raw.find(['.', '/']);
    match first_sep {
        Some(i) if raw.as_bytes()[i] == b'/' => raw
            .split('/')
            .filter(|c| !c.is_empty())
            .map(|c| c.replace('.', "/"))
            .collect::<Vec<_>>()
            .join("."),
        _ => raw.to_string(),
    }
}

fn parse_assignment(t: &str) -> Result<(String, String), &'static str> {
    let (key, value) = if t.starts_with("/proc/sys/") {
        // `grep -r . /proc/sys/...` prints `path:value`; some pastes use `path = value`.
        match t.split_once(':').or_else(|| t.split_once('=')) {
            Some(kv) => kv,
            None => return Err("a /proc/sys path without a value"),
        }
    } else {
        match t.split_once('=') {
            Some(kv) => kv,
            None => return Err("no `=` between key and value"),
        }
    };
    // systemd-sysctl's `-key = value` means "ignore failures"; the value is the same.
    let key = key.trim().trim_start_matches('-');
    if key.is_empty() {
        return Err("empty key");
    }
    // A path outside /proc/sys (`/sys/class/net/...`) is not a sysctl.
    if key.starts_with('/') && !key.starts_with("/proc/sys/") {
        return Err("a path outside /proc/sys is not a sysctl");
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/:@+".contains(c))
    {
        if key.contains('*') || key.contains('?') {
            return Err("a glob pattern is configuration, not a runtime value");
        }
        return Err("not a sysctl key");
    }
    if !key.contains(['.', '/']) {
        return Err("a sysctl key has at least one `.` or `/`");
    }
    let key = normalise_key(key);
    // `a..b`, `/`, `.x`: separators without names between them.
    if key.split('.').count() < 2 || key.split('.').any(str::is_empty) {
        return Err("a sysctl key is names separated by `.` or `/`");
    }
    Ok((key, value.trim().to_string()))
}

/// Split a line into which several `key = value` lines were joined. A new assignment starts at a
/// word that looks like a dotted key and is followed by `=`.
fn split_joined(t: &str) -> Vec<&str> {
    let words: Vec<(usize, &str)> = word_offsets(t);
    let mut starts = vec![0];
    for (i, (off, w)) in words.iter().enumerate().skip(1) {
        let next_is_eq = words.get(i + 1).is_some_and(|(_, n)| *n == "=");
        let glued_eq = w.contains('=') && looks_like_key(w.split('=').next().unwrap_or(""));
        let before_eq = words.get(i - 1).is_some_and(|(_, p)| *p == "=");
        if !before_eq && ((next_is_eq && looks_like_key(w)) || (glued_eq && i > 1)) {
            starts.push(*off);
        }
    }
    let mut out = Vec::new();
    for (i, s) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(t.len());
        out.push(t[*s..end].trim());
    }
    out
}

fn looks_like_key(w: &str) -> bool {
    let w = w.trim_start_matches('-');
    let mut parts = w.split('.');
    let first = parts.next().unwrap_or("");
    matches!(
        first,
        "net" | "kernel" | "vm" | "fs" | "user" | "dev" | "abi" | "debug" | "crypto"
    ) && w.split('.').count() >= 2
}

fn word_offsets(t: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in t.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &t[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &t[s..]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/realworld/sysctl/"
    );

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}{name}")).expect("fixture")
    }

    #[test]
    fn all_forms_and_provenance() {
        let text = "net.ipv4.ip_forward = 0\r\nnet.bridge.bridge-nf-call-iptables=1\n\n/proc/sys/net/ipv4/conf/all/rp_filter: 2\n/proc/sys/net/ipv4/conf/eth0.100/forwarding:1\nnet.ipv4.ip_local_port_range = 32768\t60999\n";
        let (m, p) = parse_sysctl(text, "sysctl.txt");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(m["net.ipv4.ip_forward"].value, "0");
        assert_eq!(m["net.ipv4.ip_forward"].source, Source::at("sysctl.txt", 1));
        assert_eq!(m["net.bridge.bridge-nf-call-iptables"].value, "1");
        assert_eq!(m["net.ipv4.conf.all.rp_filter"].value, "2");
        assert_eq!(m["net.ipv4.conf.all.rp_filter"].source.line, Some(4));
        assert_eq!(m["net.ipv4.conf.eth0/100.forwarding"].value, "1");
        assert_eq!(m["net.ipv4.ip_local_port_range"].value, "32768\t60999");
    }

    #[test]
    fn joined_lines_are_split() {
        let (m, p) = parse_sysctl(
            "net.ipv4.ip_forward = 1 net.ipv4.conf.all.rp_filter = 2 net.core.somaxconn=511",
            "s",
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(m["net.ipv4.ip_forward"].value, "1");
        assert_eq!(m["net.ipv4.conf.all.rp_filter"].value, "2");
        assert_eq!(m["net.core.somaxconn"].value, "511");
    }

    #[test]
    fn bad_lines_are_reported_not_dropped() {
        let (m, p) = parse_sysctl(
            "# comment\nhello world\nsysctl: permission denied on key 'fs.protected_hardlinks'\nnet.ipv4.conf.*.rp_filter = 2\nnet.ipv4.ip_forward = 1\n",
            "s.txt",
        );
        assert_eq!(m.len(), 1);
        let lines: Vec<_> = p.iter().map(|x| x.source.line).collect();
        assert_eq!(lines, vec![Some(2), Some(3), Some(4)]);
        assert!(p[2].message.contains("glob"));
    }

    #[test]
    fn centos7_vendor_file() {
        let (m, p) = parse_sysctl(&fixture("centos7_usr_lib_sysctl.d_00-system.conf"), "f");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(m.len(), 3);
        assert_eq!(m["net.bridge.bridge-nf-call-iptables"].value, "0");
        // The key sits on line 17 of the fixture (after its 11-line header and 5 file lines).
        let line = fixture("centos7_usr_lib_sysctl.d_00-system.conf")
            .lines()
            .position(|l| l.starts_with("net.bridge.bridge-nf-call-iptables"))
            .expect("present");
        assert_eq!(
            m["net.bridge.bridge-nf-call-iptables"].source.line,
            Some(line as u32 + 1)
        );
    }

    #[test]
    fn rhel6_and_systemd_defaults() {
        let (m, p) = parse_sysctl(&fixture("rhel6_style_etc_sysctl.conf_real_host.conf"), "f");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(m["net.ipv4.ip_forward"].value, "0");
        assert_eq!(m["net.core.somaxconn"].value, "511");
        let (m, p) = parse_sysctl(&fixture("systemd_usr_lib_sysctl.d_50-default.conf"), "f");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(m["net.ipv4.conf.all.rp_filter"].value, "2");
        assert_eq!(m["net.ipv4.ping_group_range"].value, "0 2147483647");
    }

    #[test]
    fn systemd_glob_example_reports_globs_and_exclusions() {
        let (m, p) = parse_sysctl(
            &fixture("systemd_man_example_etc_sysctl.d_20-rp_filter.conf"),
            "f",
        );
        assert_eq!(m["net.ipv4.conf.hub0.rp_filter"].value, "1");
        assert_eq!(m["net.ipv4.conf.default.rp_filter"].value, "2");
        assert_eq!(p.len(), 2, "{p:?}");
    }

    #[test]
    fn keys_without_names_are_refused() {
        // Found by the `sysctl` fuzz target: `/` normalised to an empty key.
        let (m, p) = parse_sysctl("/ = 1\nnet..x = 2\n.net = 3\n", "f");
        assert!(m.is_empty(), "{m:?}");
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn normalises_slash_keys() {
        assert_eq!(normalise_key("net/ipv4/ip_forward"), "net.ipv4.ip_forward");
        assert_eq!(
            normalise_key("/proc/sys/net/ipv4/conf/enp3s0.200/forwarding"),
            "net.ipv4.conf.enp3s0/200.forwarding"
        );
        assert_eq!(
            normalise_key("net.ipv4.conf.enp3s0/200.forwarding"),
            "net.ipv4.conf.enp3s0/200.forwarding"
        );
    }
}
