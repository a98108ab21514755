//! sysctl.d(5) and `sysctl --system` precedence.

use netdoctor_model::{ConfigFile, Source};
use std::collections::{BTreeMap, BTreeSet};

/// systemd-sysctl's directories, highest precedence first (sysctl.d(5), standard-conf.xml
/// "confd"). `/etc/sysctl.conf` takes part only through a symlink in `/etc/sysctl.d`.
pub const SYSCTL_DIRS_SYSTEMD: &[&str] = &[
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
];

/// procps-ng `sysctl --system` directories (man page of 2024), then `/etc/sysctl.conf` last.
pub const SYSCTL_DIRS_PROCPS: &[&str] = &[
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];

/// procps-ng of 2018 listed `/run` before `/etc`: for same-named files it preferred `/run`.
pub const SYSCTL_DIRS_PROCPS_2018: &[&str] = &[
    "/run/sysctl.d",
    "/etc/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];

/// Which program applies the files. The two disagree on details, and a node may run either
/// (systemd at boot; `sysctl --system` by hand or by kubeadm's instructions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Order {
    /// systemd-sysctl.service at boot: explicit keys beat globs whatever the order.
    Systemd,
    /// procps-ng `sysctl --system`, current: files in order, then `/etc/sysctl.conf`.
    Procps,
    /// procps-ng `sysctl --system` as documented in 2018 (`/run` before `/etc`).
    Procps2018,
}

impl Order {
    fn dirs(self) -> &'static [&'static str] {
        match self {
            Order::Systemd => SYSCTL_DIRS_SYSTEMD,
            Order::Procps => SYSCTL_DIRS_PROCPS,
            Order::Procps2018 => SYSCTL_DIRS_PROCPS_2018,
        }
    }

    /// A short name for evidence lines.
    pub fn describe(self) -> &'static str {
        match self {
            Order::Systemd => "systemd-sysctl at boot",
            Order::Procps => "sysctl --system",
            Order::Procps2018 => "sysctl --system (procps before 2019)",
        }
    }
}

/// One `key = value` line of a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The canonical key, or the glob pattern as canonicalised.
    pub key: String,
    pub value: String,
    /// The file's path on the node, as applied (a symlink's own path).
    pub file: String,
    pub line: u32,
    pub glob: bool,
    /// Where the line was read (bundle path or real path), for evidence.
    pub source: Source,
}

impl Assignment {
    /// `path:line` on the node, as a user would open it.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The result of applying a node's sysctl configuration files in one [`Order`].
#[derive(Debug, Clone)]
pub struct BootSysctl {
    pub order: Order,
    /// Files in the order they are applied (node paths).
    pub applied: Vec<String>,
    /// Files masked by a same-named `/etc` symlink to `/dev/null`, or shadowed by a same-named
    /// file of higher precedence: (shadowed path, the path that wins).
    pub shadowed: Vec<(String, String)>,
    /// Every assignment in application order.
    assignments: Vec<Assignment>,
    explicit: BTreeMap<String, usize>,
    excluded: BTreeSet<String>,
    /// Lines that are not assignments (`file:line: message`).
    pub problems: Vec<String>,
}

impl BootSysctl {
    /// Apply `files` (any node files; the ones outside sysctl directories are ignored) in
    /// `order`.
    pub fn evaluate(files: &[ConfigFile], order: Order) -> Self {
        let dirs = order.dirs();
        // basename -> (precedence rank, file)
        let mut chosen: BTreeMap<&str, (usize, &ConfigFile)> = BTreeMap::new();
        let mut shadowed = Vec::new();
        for f in files {
            let Some((dir, base)) = f.path.rsplit_once('/') else {
                continue;
            };
            let Some(rank) = dirs.iter().position(|d| *d == dir) else {
                continue;
            };
            if !base.ends_with(".conf") {
                continue;
            }
            match chosen.get(base) {
                Some((r, winner)) if *r <= rank => {
                    shadowed.push((f.path.clone(), winner.path.clone()));
                }
                Some((_, loser)) => {
                    shadowed.push((loser.path.clone(), f.path.clone()));
                    chosen.insert(base, (rank, f));
                }
                None => {
                    chosen.insert(base, (rank, f));
                }
            }
        }
        // BTreeMap iterates basenames in byte order, which is what both programs sort by.
        let mut sequence: Vec<&ConfigFile> = chosen.values().map(|(_, f)| *f).collect();
        if order != Order::Systemd {
            if let Some(conf) = files.iter().find(|f| f.path == "/etc/sysctl.conf") {
                sequence.push(conf);
            }
        }
        let mut boot = BootSysctl {
            order,
            applied: Vec::new(),
            shadowed,
            assignments: Vec::new(),
            explicit: BTreeMap::new(),
            excluded: BTreeSet::new(),
            problems: Vec::new(),
        };
        for f in sequence {
            if f.symlink_target.as_deref() == Some("/dev/null") {
                boot.shadowed
                    .push((f.path.clone(), "/dev/null (masked)".into()));
                continue;
            }
            boot.applied.push(f.path.clone());
            boot.apply_file(f);
        }
        boot
    }

    fn apply_file(&mut self, f: &ConfigFile) {
        for (i, raw) in f.content.lines().enumerate() {
            let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let (body, dash) = match line.strip_prefix('-') {
                Some(rest) => (rest.trim_start(), true),
                None => (line, false),
            };
            let Some((k, v)) = body.split_once('=') else {
                if dash {
                    // `-key` alone: keep globs away from this key (systemd).
                    self.excluded.insert(canonical_key(body.trim()));
                } else {
                    self.problems.push(format!(
                        "{}:{}: not a `key = value` line: {line:?}",
                        f.path, line_no
                    ));
                }
                continue;
            };
            let key = canonical_key(k.trim());
            if key.is_empty() {
                self.problems
                    .push(format!("{}:{}: empty key: {line:?}", f.path, line_no));
                continue;
            }
            let glob = key.contains(['*', '?', '[']);
            let idx = self.assignments.len();
            self.assignments.push(Assignment {
                key: key.clone(),
                value: normalise_value(v),
                file: f.path.clone(),
                line: line_no,
                glob,
                source: Source {
                    file: f.source.file.clone(),
                    line: Some(line_no),
                },
            });
            if !glob {
                self.explicit.insert(key, idx);
            }
        }
    }

    /// The assignment that gives `key` its boot-time value, or `None` when no file sets it
    /// (the kernel default, or whatever some program writes at runtime, stays).
    pub fn value(&self, key: &str) -> Option<&Assignment> {
        let key = canonical_key(key);
        match self.order {
            Order::Systemd => {
                // sysctl.d(5): "Keys for which an explicit pattern exists will be excluded
                // from any glob matching", and `-key` lines exclude a key from globs.
                if let Some(&i) = self.explicit.get(&key) {
                    return self.assignments.get(i);
                }
                if self.excluded.contains(&key) {
                    return None;
                }
                self.assignments
                    .iter()
                    .rev()
                    .find(|a| a.glob && glob_match(&a.key, &key))
            }
            Order::Procps | Order::Procps2018 => self
                .assignments
                .iter()
                .rev()
                .find(|a| a.key == key || (a.glob && glob_match(&a.key, &key))),
        }
    }

    /// Every assignment of `key` (explicit or by glob), in application order: the history
    /// that explains why the last one wins.
    pub fn history(&self, key: &str) -> Vec<&Assignment> {
        let key = canonical_key(key);
        self.assignments
            .iter()
            .filter(|a| a.key == key || (a.glob && glob_match(&a.key, &key)))
            .collect()
    }
}

/// The dotted form of a sysctl key. sysctl.d(5): "If the first separator is a slash, remaining
/// slashes and dots are left intact. If the first separator is a dot, dots and slashes are
/// interchanged." We store the dotted form, where a dot inside an interface name is a `/`.
pub fn canonical_key(key: &str) -> String {
    let key = key.trim().trim_start_matches("/proc/sys/");
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes()[i] == b'/' => key
            .chars()
            .map(|c| match c {
                '/' => '.',
                '.' => '/',
                c => c,
            })
            .collect(),
        _ => key.to_string(),
    }
}

fn normalise_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// fnmatch(3)-style match where `*` and `?` do not cross a `.` (one key component).
fn glob_match(pattern: &str, key: &str) -> bool {
    fn go(p: &[u8], k: &[u8]) -> bool {
        match p.first() {
            None => k.is_empty(),
            Some(b'*') => (0..=k.len())
                .take_while(|&i| i == 0 || k[i - 1] != b'.')
                .any(|i| go(&p[1..], &k[i..])),
            Some(b'?') => k.first().is_some_and(|&c| c != b'.') && go(&p[1..], &k[1..]),
            Some(b'[') => match p.iter().position(|&c| c == b']') {
                Some(end) if end > 1 => {
                    let set = &p[1..end];
                    let (neg, set) = match set.first() {
                        Some(b'!') | Some(b'^') => (true, &set[1..]),
                        _ => (false, set),
                    };
                    k.first()
                        .is_some_and(|c| set.contains(c) != neg && *c != b'.')
                        && go(&p[end + 1..], &k[1..])
                }
                _ => k.first() == Some(&b'[') && go(&p[1..], &k[1..]),
            },
            Some(c) => k.first() == Some(c) && go(&p[1..], &k[1..]),
        }
    }
    go(pattern.as_bytes(), key.as_bytes())
}

/// The comment line netdoctor writes before every line it adds to a configuration file. A line
/// is netdoctor's when the line before it starts with this, whatever the file is called.
pub const OWN_MARK: &str = "# netdoctor fix:";

/// What earlier netdoctor versions wrote: a header on their drop-in, and a trailing comment on
/// lines appended to `/etc/sysctl.conf` (which made the value unreadable at boot).
pub const LEGACY_HEADER: &str = "# Written by netdoctor fix";
pub const LEGACY_INLINE: &str = "# added by netdoctor";

/// Whether line `i` of `lines` is a value line netdoctor wrote (marked, or an old version's).
pub fn is_own_line(lines: &[&str], i: usize) -> bool {
    let l = lines[i];
    if l.contains(LEGACY_INLINE) {
        return true;
    }
    i > 0 && lines[i - 1].trim_start().starts_with(OWN_MARK)
}

/// Whether a whole file is netdoctor's: every line that sets something is netdoctor's (an old
/// version's drop-in, under its header, counts).
pub fn is_own_file(content: &str) -> bool {
    let lines: Vec<&str> = content.lines().collect();
    let legacy = lines.first().is_some_and(|l| l.starts_with(LEGACY_HEADER));
    let mut any = false;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        any = true;
        if !(legacy || is_own_line(&lines, i)) {
            return false;
        }
    }
    any || legacy
}

/// A file name for a drop-in in `/etc/sysctl.d` that sorts after every sysctl file the node
/// has (so it wins under every order). netdoctor's own earlier drop-in (by content, never by
/// name) is reused when it still sorts last; a user's file of any name is never taken over.
pub fn dropin_name(files: &[ConfigFile]) -> String {
    let sysctl: Vec<(&str, &ConfigFile)> = files
        .iter()
        .filter_map(|f| f.path.rsplit_once('/').map(|(d, b)| (d, b, f)))
        .filter(|(dir, _, _)| SYSCTL_DIRS_PROCPS.contains(dir))
        .map(|(_, b, f)| (b, f))
        .collect();
    // netdoctor's own drop-ins are those in /etc/sysctl.d (the only place it writes one);
    // every other file, whoever wrote it, must be beaten.
    // (A symlink to such a file is netdoctor's too: it wrote the file through the link.)
    let own = |f: &ConfigFile| f.path.starts_with("/etc/sysctl.d/") && is_own_file(&f.content);
    let max_other = sysctl
        .iter()
        .filter(|(_, f)| !own(f))
        .map(|(b, _)| *b)
        .max();
    let beats = |name: &str| max_other.is_none_or(|m| name > m);
    if let Some((b, _)) = sysctl
        .iter()
        .filter(|(_, f)| own(f))
        .max_by_key(|(b, _)| *b)
    {
        if beats(b) {
            return (*b).to_string();
        }
    }
    let taken = |name: &str| sysctl.iter().any(|(b, f)| *b == name && !own(f));
    for candidate in ["99-netdoctor.conf", "z99-netdoctor.conf"] {
        if beats(candidate) && !taken(candidate) {
            return candidate.to_string();
        }
    }
    // Names that sort after `z` (`~old.conf`, non-ASCII): '~' sorts after '.', so the largest
    // name's stem followed by `~` sorts after it.
    let max = max_other.unwrap_or("99-netdoctor.conf");
    format!(
        "{}~netdoctor.conf",
        max.strip_suffix(".conf").unwrap_or(max)
    )
}

#[cfg(test)]
mod tests;
