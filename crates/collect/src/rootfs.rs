//! Reading a node's configuration files (sysctl.d, modules-load.d, CNI config, flannel's
//! `subnet.env`, Docker's `daemon.json`) under a root directory: `/` on a live node, `root/` in an
//! evidence bundle, or a mounted disk image.

use netdoctor_model::{ConfigFile, NotCollected, Source};
use netdoctor_safefs::{EntryKind, Root};
#[cfg(test)]
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
    "/run/flannel/docker",
    "/etc/docker/daemon.json",
    "/etc/os-release",
];

/// Other directories read whole (CNI network configuration).
pub const OTHER_DIRS: &[&str] = &["/etc/cni/net.d"];

/// Files larger than this are not read (a config file that large is not a config file).
const MAX_FILE: u64 = 1 << 20;

/// Read every known configuration file under `root`. Missing files are simply absent; files that
/// exist but cannot be read (a FIFO, too large, unreadable without root) become
/// [`NotCollected`] entries, never errors, and never block.
pub fn read_node_files(root: &Path) -> (Vec<ConfigFile>, Vec<NotCollected>) {
    let root = Root::new(root);
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for dir in SYSCTL_DIRS
        .iter()
        .chain(MODULES_LOAD_DIRS)
        .chain(OTHER_DIRS)
    {
        let names = match root.list(dir) {
            Ok(n) => n,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                problems.push(NotCollected {
                    part: format!("files:{dir}"),
                    reason: format!("cannot list: {e}"),
                });
                continue;
            }
        };
        for name in names {
            let node_path = format!("{dir}/{name}");
            read_one(&root, &node_path, &mut files, &mut problems);
        }
    }
    for f in SINGLE_FILES {
        read_one(&root, f, &mut files, &mut problems);
    }
    (files, problems)
}

/// `root` joined with an absolute node path.
pub fn under(root: &Path, node_path: &str) -> PathBuf {
    root.join(node_path.trim_start_matches('/'))
}

fn read_one(
    root: &Root,
    node_path: &str,
    files: &mut Vec<ConfigFile>,
    problems: &mut Vec<NotCollected>,
) {
    let shown = root.display_path(node_path).display().to_string();
    let not_read = |problems: &mut Vec<NotCollected>, reason: String| {
        problems.push(NotCollected {
            part: format!("files:{node_path}"),
            reason,
        })
    };
    let entry = match root.entry(node_path) {
        Ok(e) => e,
        Err(e) => return not_read(problems, e.to_string()),
    };
    match entry.kind {
        // A link whose target is not there (an absolute link out of a mounted image, a
        // removed file): it takes the name, sets nothing at boot, and is said.
        EntryKind::Missing if entry.link.is_some() => {
            let target = entry.link.clone().unwrap_or_default();
            files.push(ConfigFile {
                path: node_path.to_string(),
                symlink_target: entry.link,
                content: String::new(),
                source: Source::live(shown.clone()),
            });
            // Known to set nothing: not an unread file (which could set anything).
            problems.push(NotCollected {
                part: format!("dangling-link:{node_path}"),
                reason: format!(
                    "{shown}: a link to {target}, which does not exist under the root: it sets nothing at boot"
                ),
            });
            return;
        }
        EntryKind::Missing | EntryKind::Dir => return,
        // systemd's way of masking a vendor file: same name, link to /dev/null.
        EntryKind::Masked => {
            files.push(ConfigFile {
                path: node_path.to_string(),
                symlink_target: entry.link,
                content: String::new(),
                source: Source::live(shown),
            });
            return;
        }
        EntryKind::Other(kind) => {
            return not_read(
                problems,
                format!("{shown}: is a {kind}, not a regular file; not read"),
            )
        }
        EntryKind::File => {}
    }
    match root.read(node_path, MAX_FILE, "a configuration file") {
        Ok(bytes) => files.push(ConfigFile {
            path: node_path.to_string(),
            symlink_target: entry.link,
            content: String::from_utf8_lossy(&bytes).into_owned(),
            source: Source::live(shown),
        }),
        Err(e) => not_read(problems, e.to_string()),
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

    /// A FIFO where a sysctl file should be is reported at once, not waited on; a directory
    /// linked outside the root is read inside it.
    #[test]
    fn fifos_are_reported_and_links_stay_inside_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        let outside = dir.path().join("host-etc");
        fs::create_dir_all(root.join("etc")).expect("mkdir");
        fs::create_dir_all(&outside).expect("mkdir");
        fs::write(outside.join("k8s.conf"), "net.ipv4.ip_forward = 0\n").expect("write");
        std::os::unix::fs::symlink(&outside, root.join("etc/sysctl.d")).expect("symlink");
        fs::create_dir_all(root.join("usr/lib/sysctl.d")).expect("mkdir");
        let fifo = root.join("usr/lib/sysctl.d/50-fifo.conf");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success());
        let start = std::time::Instant::now();
        let (files, problems) = read_node_files(&root);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert!(
            problems
                .iter()
                .any(|p| p.part == "files:/usr/lib/sysctl.d/50-fifo.conf"
                    && p.reason.contains("FIFO")),
            "{problems:?}"
        );
        assert!(
            files.iter().all(|f| !f.content.contains("ip_forward = 0")),
            "the host's file outside the root was not read: {files:?}"
        );
    }

    #[test]
    fn a_dangling_link_takes_its_name_and_sets_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("etc/sysctl.d")).expect("mkdir");
        std::os::unix::fs::symlink(
            "/nowhere/99-k8s.conf",
            root.join("etc/sysctl.d/99-k8s.conf"),
        )
        .expect("symlink");
        let (files, problems) = read_node_files(root);
        let f = files
            .iter()
            .find(|f| f.path == "/etc/sysctl.d/99-k8s.conf")
            .expect("the link is listed");
        assert_eq!(f.symlink_target.as_deref(), Some("/nowhere/99-k8s.conf"));
        assert!(f.content.is_empty());
        assert!(
            problems
                .iter()
                .any(|p| p.part.starts_with("dangling-link:") && p.reason.contains("sets nothing")),
            "{problems:?}"
        );
    }
}
