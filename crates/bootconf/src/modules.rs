//! modules-load.d(5): which kernel modules are loaded at boot.

use netdoctor_model::{ConfigFile, Source};
use std::collections::BTreeMap;

/// modules-load.d directories, highest precedence first; `/lib` for split-usr systems.
pub const MODULES_LOAD_DIRS: &[&str] = &[
    "/etc/modules-load.d",
    "/run/modules-load.d",
    "/usr/local/lib/modules-load.d",
    "/usr/lib/modules-load.d",
    "/lib/modules-load.d",
];

/// A module named in a boot-time file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootModule {
    pub file: String,
    pub line: u32,
    pub source: Source,
}

/// Modules loaded at boot by systemd-modules-load (and Debian's `/etc/modules`), keyed by name
/// with `-` written as `_` (the kernel treats them alike).
pub fn boot_modules(files: &[ConfigFile]) -> BTreeMap<String, BootModule> {
    let mut chosen: BTreeMap<&str, (usize, &ConfigFile)> = BTreeMap::new();
    for f in files {
        let Some((dir, base)) = f.path.rsplit_once('/') else {
            continue;
        };
        let Some(rank) = MODULES_LOAD_DIRS.iter().position(|d| *d == dir) else {
            continue;
        };
        if !base.ends_with(".conf") {
            continue;
        }
        if chosen.get(base).is_none_or(|(r, _)| rank < *r) {
            chosen.insert(base, (rank, f));
        }
    }
    let mut sequence: Vec<&ConfigFile> = chosen.into_values().map(|(_, f)| f).collect();
    if let Some(etc_modules) = files.iter().find(|f| f.path == "/etc/modules") {
        sequence.push(etc_modules);
    }
    let mut out = BTreeMap::new();
    for f in sequence {
        if f.symlink_target.as_deref() == Some("/dev/null") {
            continue;
        }
        for (i, raw) in f.content.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let Some(name) = line.split_whitespace().next() else {
                continue;
            };
            let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
            out.entry(name.replace('-', "_")).or_insert(BootModule {
                file: f.path.clone(),
                line: line_no,
                source: Source::at(f.source.file.clone(), line_no),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &str) -> ConfigFile {
        ConfigFile {
            path: path.into(),
            symlink_target: None,
            content: content.into(),
            source: Source::live(path),
        }
    }

    #[test]
    fn kubeadm_modules_file_and_overrides() {
        let files = [
            file("/usr/lib/modules-load.d/k8s.conf", "ip_vs\n"),
            file(
                "/etc/modules-load.d/k8s.conf",
                "# for kube\noverlay\nbr-netfilter\n",
            ),
            file("/etc/modules", "vxlan # overlay\n"),
        ];
        let m = boot_modules(&files);
        assert_eq!(
            m.keys().collect::<Vec<_>>(),
            ["br_netfilter", "overlay", "vxlan"]
        );
        assert_eq!(m["br_netfilter"].line, 3);
        assert!(
            !m.contains_key("ip_vs"),
            "shadowed by /etc's same-named file"
        );
    }
}
