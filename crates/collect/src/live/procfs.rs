//! Values read from `/proc` and `/sys`: runtime sysctls, kernel modules, conntrack counters,
//! hostname and kernel release.

use netdoctor_model::{Conntrack, Modules, NotCollected, Source, Sourced};
use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub(crate) const PROC_SYS: &str = "/proc/sys";
const EIO: i32 = 5;

/// Every readable key below `/proc/sys/net`. A file without any read permission bit is
/// write-only by design (`net.ipv4.route.flush`) and skipped; any other failure is reported.
pub(crate) fn read_net_sysctls(
    problems: &mut Vec<NotCollected>,
) -> Option<BTreeMap<String, Sourced<String>>> {
    let top = Path::new(PROC_SYS).join("net");
    if let Err(e) = fs::metadata(&top) {
        problems.push(NotCollected {
            part: "sysctls".into(),
            reason: format!("cannot read {}: {e}", top.display()),
        });
        return None;
    }
    let mut walk = Walk {
        out: BTreeMap::new(),
        problems,
        unset_secrets: 0,
    };
    walk.dir(&top, &["net".to_string()]);
    if walk.unset_secrets > 0 {
        // Reading `stable_secret` fails with EIO until one is set, which is the usual state:
        // one entry for all interfaces rather than one per interface.
        walk.problems.push(NotCollected {
            part: "sysctl:net.ipv6.conf.*.stable_secret".into(),
            reason: format!(
                "{} stable_secret keys read as EIO: no secret is set on those interfaces",
                walk.unset_secrets
            ),
        });
    }
    Some(walk.out)
}

struct Walk<'a> {
    out: BTreeMap<String, Sourced<String>>,
    problems: &'a mut Vec<NotCollected>,
    unset_secrets: usize,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, components: &[String]) {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                self.problems.push(NotCollected {
                    part: format!("sysctl:{}", sysctl_key(components)),
                    reason: format!("cannot list {}: {e}", dir.display()),
                });
                return;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.problems.push(NotCollected {
                        part: format!("sysctl:{}", sysctl_key(components)),
                        reason: format!("cannot list {}: {e}", dir.display()),
                    });
                    continue;
                }
            };
            let path = entry.path();
            let mut comps = components.to_vec();
            comps.push(entry.file_name().to_string_lossy().into_owned());
            let key = sysctl_key(&comps);
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    // An interface can vanish while it is walked.
                    if e.kind() != ErrorKind::NotFound {
                        self.problems.push(NotCollected {
                            part: format!("sysctl:{key}"),
                            reason: format!("cannot stat {}: {e}", path.display()),
                        });
                    }
                    continue;
                }
            };
            if meta.is_dir() {
                self.dir(&path, &comps);
                continue;
            }
            match fs::read(&path) {
                Ok(bytes) => {
                    let value = sysctl_value(&String::from_utf8_lossy(&bytes));
                    self.out.insert(
                        key,
                        Sourced::new(value, Source::live(path.display().to_string())),
                    );
                }
                Err(e) if e.raw_os_error() == Some(EIO) && entry.file_name() == "stable_secret" => {
                    self.unset_secrets += 1;
                }
                Err(e)
                    if e.kind() == ErrorKind::PermissionDenied
                        && meta.permissions().mode() & 0o444 == 0 => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => self.problems.push(NotCollected {
                    part: format!("sysctl:{key}"),
                    reason: format!("cannot read {}: {e}", path.display()),
                }),
            }
        }
    }
}

/// The sysctl(8) name of a path below `/proc/sys`, given as its components: dots join the
/// components, and a dot inside a component (an interface called `eth0.100`) becomes `/`.
pub fn sysctl_key<S: AsRef<str>>(components: &[S]) -> String {
    components
        .iter()
        .map(|c| c.as_ref().replace('.', "/"))
        .collect::<Vec<_>>()
        .join(".")
}

/// A value as sysctl(8) would compare it: trimmed, and the tab between the numbers of a
/// multi-value key (`ip_local_port_range`) written as one space.
pub fn sysctl_value(raw: &str) -> String {
    raw.trim()
        .split('\t')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A one-line file below `/proc/sys`, trimmed.
pub(crate) fn read_proc_line(path: &str) -> Result<String, String> {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("cannot read {path}: {e}"))
}

pub(crate) fn bridge_nf_present() -> Sourced<bool> {
    let path = "/proc/sys/net/bridge";
    Sourced::new(Path::new(path).is_dir(), Source::live(path))
}

/// Loaded modules, `/sys/module`, and `modules.builtin` of the running kernel under `root`.
pub(crate) fn read_modules(
    root: &Path,
    kernel_release: Option<&str>,
    problems: &mut Vec<NotCollected>,
) -> Modules {
    let mut modules = Modules::default();
    let proc_modules = "/proc/modules";
    match fs::read_to_string(proc_modules) {
        Ok(text) => {
            let mut loaded = BTreeMap::new();
            for (i, line) in text.lines().enumerate() {
                if let Some(name) = line.split_whitespace().next() {
                    let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
                    loaded.insert(name.to_string(), Source::at(proc_modules, n));
                }
            }
            modules.loaded = Some(loaded);
        }
        Err(e) => problems.push(NotCollected {
            part: "modules.loaded".into(),
            reason: if e.kind() == ErrorKind::NotFound {
                "/proc/modules does not exist (a kernel without loadable-module support); \
                 judge modules by /sys/module and /proc/sys"
                    .into()
            } else {
                format!("cannot read {proc_modules}: {e}")
            },
        }),
    }
    match fs::read_dir("/sys/module") {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            modules.sys_module = Some(names);
        }
        Err(e) => problems.push(NotCollected {
            part: "modules.sys_module".into(),
            reason: format!("cannot list /sys/module: {e}"),
        }),
    }
    match kernel_release {
        Some(release) => {
            let path = root
                .join("lib/modules")
                .join(release)
                .join("modules.builtin");
            match fs::read_to_string(&path) {
                Ok(text) => modules.builtin = Some(builtin_names(&text)),
                Err(e) => problems.push(NotCollected {
                    part: "modules.builtin".into(),
                    reason: format!("cannot read {}: {e}", path.display()),
                }),
            }
        }
        None => problems.push(NotCollected {
            part: "modules.builtin".into(),
            reason: "kernel release unknown, so modules.builtin cannot be located".into(),
        }),
    }
    modules
}

/// Module names of a `modules.builtin` file: `kernel/net/bridge/br_netfilter.ko` gives
/// `br_netfilter`. The kernel treats `-` and `_` in module names alike and shows `_`.
pub fn builtin_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let base = l.rsplit('/').next().unwrap_or(l);
            let stem = base.find(".ko").map_or(base, |i| &base[..i]);
            stem.replace('-', "_")
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

pub(crate) fn read_conntrack(problems: &mut Vec<NotCollected>) -> Option<Conntrack> {
    let read = |name: &str, problems: &mut Vec<NotCollected>| {
        let path = format!("/proc/sys/net/netfilter/{name}");
        let text = match read_proc_line(&path) {
            Ok(t) => t,
            Err(reason) => {
                problems.push(NotCollected {
                    part: format!("conntrack.{name}"),
                    reason,
                });
                return None;
            }
        };
        match text.parse::<u64>() {
            Ok(v) => Some(Sourced::new(v, Source::live(path))),
            Err(e) => {
                problems.push(NotCollected {
                    part: format!("conntrack.{name}"),
                    reason: format!("{path}: {text:?} is not a number: {e}"),
                });
                None
            }
        }
    };
    let count = read("nf_conntrack_count", problems);
    let max = read("nf_conntrack_max", problems);
    if count.is_none() && max.is_none() {
        return None;
    }
    Some(Conntrack { count, max })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_interface_names_become_slashes() {
        assert_eq!(
            sysctl_key(&["net", "ipv4", "conf", "eth0.100", "forwarding"]),
            "net.ipv4.conf.eth0/100.forwarding"
        );
        assert_eq!(
            sysctl_key(&["net", "ipv4", "conf", "flannel.1", "rp_filter"]),
            "net.ipv4.conf.flannel/1.rp_filter"
        );
        assert_eq!(
            sysctl_key(&["net", "ipv4", "ip_forward"]),
            "net.ipv4.ip_forward"
        );
    }

    #[test]
    fn values_are_trimmed_and_tabs_collapsed() {
        assert_eq!(sysctl_value("32768\t60999\n"), "32768 60999");
        assert_eq!(
            sysctl_value("4096\t\t131072\t6291456\n"),
            "4096 131072 6291456"
        );
        assert_eq!(sysctl_value("1\n"), "1");
    }

    #[test]
    fn builtin_module_names() {
        let text = "kernel/net/bridge/br_netfilter.ko\nkernel/drivers/net/vxlan/vxlan.ko.xz\n\
                    kernel/net/netfilter/xt-foo.ko.zst\n";
        assert_eq!(builtin_names(text), ["br_netfilter", "vxlan", "xt_foo"]);
    }

    #[test]
    fn walks_real_proc_sys_net() {
        let mut problems = Vec::new();
        let Some(map) = read_net_sysctls(&mut problems) else {
            eprintln!("no /proc/sys/net here: {problems:?}");
            return;
        };
        let fwd = map
            .get("net.ipv4.ip_forward")
            .expect("ip_forward is always there");
        assert!(fwd.value == "0" || fwd.value == "1", "{fwd:?}");
        assert_eq!(fwd.source.file, "/proc/sys/net/ipv4/ip_forward");
        // Write-only keys are skipped silently, never reported.
        assert!(!map.contains_key("net.ipv4.route.flush"));
        assert!(!problems
            .iter()
            .any(|p| p.part == "sysctl:net.ipv4.route.flush"));
    }
}
