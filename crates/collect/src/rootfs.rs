//! Reading a node's configuration files (sysctl.d, modules-load.d, CNI config, flannel's
//! `subnet.env`, Docker's `daemon.json`) under a root directory: `/` on a live node, `root/` in an
//! evidence bundle, or a mounted disk image.

use netdoctor_model::{ConfigFile, NotCollected, Source};
use std::fs;
use std::path::{Path, PathBuf};

/// Directories whose `*.conf` files take part in boot-time sysctl (the union of the
/// systemd-sysctl and procps lists; `bootconf` owns the precedence), and modules-load.d(5).
pub use netdoctor_bootconf::{MODULES_LOAD_DIRS, SYSCTL_DIRS_PROCPS as SYSCTL_DIRS};

/// Single files read when present.
pub const SINGLE_FILES: &[&str] = &[
    "/etc/sysctl.conf",
    "/etc/modules",
    "/run/flannel/subnet.env",
    "/etc/docker/daemon.json",
    "/etc/os-release",
];

/// Other directories read whole (CNI network configuration).
pub const OTHER_DIRS: &[&str] = &["/etc/cni/net.d"];

/// Files larger than this are not read (a config file that large is not a config file).
const MAX_FILE: u64 = 1 << 20;

/// Read every known configuration file under `root`. Missing files are simply absent; files that
/// exist but cannot be read become [`NotCollected`] entries, never errors.
pub fn read_node_files(root: &Path) -> (Vec<ConfigFile>, Vec<NotCollected>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for dir in SYSCTL_DIRS
        .iter()
        .chain(MODULES_LOAD_DIRS)
        .chain(OTHER_DIRS)
    {
        let real = under(root, dir);
        let entries = match fs::read_dir(&real) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                problems.push(NotCollected {
                    part: format!("files:{dir}"),
                    reason: format!("cannot list {}: {e}", real.display()),
                });
                continue;
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let node_path = format!("{dir}/{name}");
            read_one(root, &node_path, &mut files, &mut problems);
        }
    }
    for f in SINGLE_FILES {
        read_one(root, f, &mut files, &mut problems);
    }
    (files, problems)
}

/// `root` joined with an absolute node path.
pub fn under(root: &Path, node_path: &str) -> PathBuf {
    root.join(node_path.trim_start_matches('/'))
}

fn read_one(
    root: &Path,
    node_path: &str,
    files: &mut Vec<ConfigFile>,
    problems: &mut Vec<NotCollected>,
) {
    let real = under(root, node_path);
    let meta = match fs::symlink_metadata(&real) {
        Ok(m) => m,
        Err(_) => return,
    };
    let mut symlink_target = None;
    let mut target_real = real.clone();
    if meta.file_type().is_symlink() {
        let Ok(t) = fs::read_link(&real) else {
            return;
        };
        let t_str = t.to_string_lossy().into_owned();
        if t_str == "/dev/null" {
            // systemd's way of masking a vendor file: same name, link to /dev/null.
            files.push(ConfigFile {
                path: node_path.to_string(),
                symlink_target: Some(t_str),
                content: String::new(),
                source: Source::live(real.display().to_string()),
            });
            return;
        }
        // Resolve inside the root, not on the collecting machine.
        target_real = if t.is_absolute() {
            under(root, &t_str)
        } else {
            real.parent().map(|p| p.join(&t)).unwrap_or(t.clone())
        };
        symlink_target = Some(t_str);
    } else if meta.is_dir() {
        return;
    }
    match fs::metadata(&target_real) {
        Ok(m) if m.is_dir() => return,
        Ok(m) if m.len() > MAX_FILE => {
            problems.push(NotCollected {
                part: format!("files:{node_path}"),
                reason: format!("{} is larger than 1 MiB; not read", real.display()),
            });
            return;
        }
        _ => {}
    }
    match fs::read(&target_real) {
        Ok(bytes) => files.push(ConfigFile {
            path: node_path.to_string(),
            symlink_target,
            content: String::from_utf8_lossy(&bytes).into_owned(),
            source: Source::live(real.display().to_string()),
        }),
        Err(e) => problems.push(NotCollected {
            part: format!("files:{node_path}"),
            reason: format!("cannot read {}: {e}", real.display()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sysctl_dirs_symlinks_and_masks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("etc/sysctl.d")).expect("mkdir");
        fs::create_dir_all(root.join("usr/lib/sysctl.d")).expect("mkdir");
        fs::write(root.join("etc/sysctl.conf"), "net.ipv4.ip_forward = 1\n").expect("write");
        fs::write(
            root.join("usr/lib/sysctl.d/00-system.conf"),
            "net.bridge.bridge-nf-call-iptables = 0\n",
        )
        .expect("write");
        std::os::unix::fs::symlink("../sysctl.conf", root.join("etc/sysctl.d/99-sysctl.conf"))
            .expect("symlink");
        std::os::unix::fs::symlink("/dev/null", root.join("etc/sysctl.d/50-default.conf"))
            .expect("symlink");
        let (files, problems) = read_node_files(root);
        assert!(problems.is_empty(), "{problems:?}");
        let linked = files
            .iter()
            .find(|f| f.path == "/etc/sysctl.d/99-sysctl.conf")
            .expect("symlink read");
        assert_eq!(linked.content, "net.ipv4.ip_forward = 1\n");
        assert_eq!(linked.symlink_target.as_deref(), Some("../sysctl.conf"));
        let masked = files
            .iter()
            .find(|f| f.path == "/etc/sysctl.d/50-default.conf")
            .expect("mask read");
        assert_eq!(masked.symlink_target.as_deref(), Some("/dev/null"));
        assert!(files
            .iter()
            .any(|f| f.path == "/usr/lib/sysctl.d/00-system.conf"));
    }
}
