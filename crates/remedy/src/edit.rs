//! Editing a configuration file's text: pure functions, so the plan (from what was collected)
//! and the apply (from what is on disk at that moment, under the lock) make the same change.
//!
//! The rules, from how remediations went wrong:
//! - Every line netdoctor adds is preceded by a mark line (`# netdoctor fix: <finding>`); only
//!   a marked line (or an older netdoctor's) is ever netdoctor's, whatever the file is called.
//! - A line netdoctor did not write is never removed or changed.
//! - Netdoctor's own earlier line for a key is replaced, not repeated; when the right value is
//!   already there (marked), nothing changes. Re-reading a written line gives its value.

use netdoctor_bootconf::{canonical_key, is_own_line, LEGACY_HEADER, LEGACY_INLINE, OWN_MARK};

/// What a file must say: sysctl assignments or module names, each with the finding it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// `key = value` lines (a sysctl.d file or /etc/sysctl.conf).
    Sysctl(Vec<(String, String, String)>),
    /// Module names (a modules-load.d file).
    Modules(Vec<(String, String)>),
}

/// The result of an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub after: String,
    /// The lines added (marks not included), for display.
    pub added: Vec<String>,
    /// Keys (or modules) whose earlier netdoctor line was replaced.
    pub replaced: Vec<String>,
}

impl Edited {
    pub fn changed(&self) -> bool {
        !self.added.is_empty() || !self.replaced.is_empty()
    }
}

/// The first lines of a file netdoctor creates.
pub const NEW_FILE_HEADER: [&str; 2] = [
    "# Kubernetes networking needs these at boot (netdoctor fix). Lines netdoctor adds are marked;",
    "# every other line is yours and is never changed.",
];

/// The value line of a sysctl assignment as netdoctor writes it.
pub fn sysctl_line(key: &str, value: &str) -> String {
    format!("{key} = {value}")
}

/// Apply `edit` to `before` (`None`: the file does not exist).
pub fn apply_edit(before: Option<&str>, edit: &Edit) -> Edited {
    let text = before.unwrap_or("");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut added = Vec::new();
    let mut replaced = Vec::new();
    match edit {
        Edit::Sysctl(wanted) => {
            for (key, value, finding) in wanted {
                let ck = canonical_key(key);
                let line = sysctl_line(key, value);
                let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                // Netdoctor's own lines for this key, with the value each gives.
                let own: Vec<(usize, bool)> = refs
                    .iter()
                    .enumerate()
                    .filter(|(i, l)| {
                        is_own_line(&refs, *i) && key_of(l).is_some_and(|k| canonical_key(k) == ck)
                    })
                    .map(|(i, l)| {
                        (
                            i,
                            value_of(l) == Some(value.as_str()) && !l.contains(LEGACY_INLINE),
                        )
                    })
                    .collect();
                if own.len() == 1 && own[0].1 {
                    continue;
                }
                // Remove netdoctor's stale lines for the key (with their marks); then add.
                let mut drop: Vec<usize> = Vec::new();
                for (i, _) in &own {
                    drop.push(*i);
                    if *i > 0 && lines[*i - 1].trim_start().starts_with(OWN_MARK) {
                        drop.push(*i - 1);
                    }
                }
                drop.sort_unstable();
                drop.dedup();
                for i in drop.into_iter().rev() {
                    lines.remove(i);
                }
                if !own.is_empty() {
                    replaced.push(key.clone());
                }
                lines.push(format!("{OWN_MARK} {finding}"));
                lines.push(line.clone());
                added.push(line);
            }
        }
        Edit::Modules(wanted) => {
            for (name, finding) in wanted {
                let present = lines.iter().any(|l| {
                    let t = l.trim();
                    !t.starts_with('#')
                        && !t.starts_with(';')
                        && t.split_whitespace().next() == Some(name.as_str())
                });
                if present {
                    continue;
                }
                lines.push(format!("{OWN_MARK} {finding}"));
                lines.push(name.clone());
                added.push(name.clone());
            }
        }
    }
    if before.is_none() && !added.is_empty() {
        lines.insert(0, NEW_FILE_HEADER[0].into());
        lines.insert(1, NEW_FILE_HEADER[1].into());
    }
    let mut after = lines.join("\n");
    if !after.is_empty() {
        after.push('\n');
    }
    // Keep the file exactly as it was when nothing changes (a missing final newline included).
    if added.is_empty() && replaced.is_empty() {
        after = text.to_string();
    }
    Edited {
        after,
        added,
        replaced,
    }
}

fn key_of(line: &str) -> Option<&str> {
    let t = line.trim_start();
    if t.starts_with('#') || t.starts_with(';') || t.starts_with(LEGACY_HEADER) {
        return None;
    }
    Some(t.split_once('=')?.0.trim().trim_start_matches('-'))
}

fn value_of(line: &str) -> Option<&str> {
    Some(line.split_once('=')?.1.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sysctl(k: &str, v: &str) -> Edit {
        Edit::Sysctl(vec![(k.into(), v.into(), "ip-forward-disabled".into())])
    }

    #[test]
    fn adds_marked_lines_and_keeps_every_user_line() {
        let before = "# mine\nnet.ipv4.ip_forward = 0\nvm.swappiness=10";
        let e = apply_edit(Some(before), &sysctl("net.ipv4.ip_forward", "1"));
        assert_eq!(
            e.after,
            "# mine\nnet.ipv4.ip_forward = 0\nvm.swappiness=10\n# netdoctor fix: ip-forward-disabled\nnet.ipv4.ip_forward = 1\n"
        );
        for l in before.lines() {
            assert!(e.after.lines().any(|a| a == l), "{l} kept");
        }
        // Applying again changes nothing.
        let again = apply_edit(Some(&e.after), &sysctl("net.ipv4.ip_forward", "1"));
        assert!(!again.changed());
        assert_eq!(again.after, e.after);
    }

    #[test]
    fn replaces_only_its_own_earlier_line() {
        let before = "net.ipv4.ip_forward = 0\n# netdoctor fix: x\nnet.ipv4.ip_forward = 2\n";
        let e = apply_edit(Some(before), &sysctl("net.ipv4.ip_forward", "1"));
        assert_eq!(e.replaced, ["net.ipv4.ip_forward"]);
        assert_eq!(
            e.after,
            "net.ipv4.ip_forward = 0\n# netdoctor fix: ip-forward-disabled\nnet.ipv4.ip_forward = 1\n"
        );
    }

    /// An older netdoctor appended `key = 1   # added by netdoctor...`, which systemd-sysctl
    /// and procps read as the value `1   # added...`: it is repaired, once.
    #[test]
    fn repairs_the_legacy_inline_comment() {
        let before = "kernel.foo = 1\nnet.ipv4.ip_forward = 1   # added by netdoctor: sysctl --system reads this file last\n";
        let e = apply_edit(Some(before), &sysctl("net.ipv4.ip_forward", "1"));
        assert_eq!(
            e.after,
            "kernel.foo = 1\n# netdoctor fix: ip-forward-disabled\nnet.ipv4.ip_forward = 1\n"
        );
        assert!(!apply_edit(Some(&e.after), &sysctl("net.ipv4.ip_forward", "1")).changed());
    }

    #[test]
    fn a_new_file_gets_a_header_and_modules_are_listed_once() {
        let e = apply_edit(
            None,
            &Edit::Modules(vec![("br_netfilter".into(), "br-netfilter-missing".into())]),
        );
        assert!(e.after.starts_with("# Kubernetes networking"));
        assert!(e
            .after
            .ends_with("# netdoctor fix: br-netfilter-missing\nbr_netfilter\n"));
        let user = "overlay\nbr_netfilter\n";
        assert!(!apply_edit(
            Some(user),
            &Edit::Modules(vec![("br_netfilter".into(), "x".into())])
        )
        .changed());
    }
}
