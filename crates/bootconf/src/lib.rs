//! Boot-time configuration, computed rather than guessed.
//!
//! Which value a sysctl key gets at boot is a pure function of the node's configuration files:
//! directory precedence, same-name override, lexical order of basenames, globs and `-key`
//! exclusions. [`BootSysctl::evaluate`] implements the orders documented in
//! `tests/fixtures/realworld/sysctl/PRECEDENCE_RULES.md` (systemd-sysctl; procps `sysctl
//! --system`, current and 2018). [`boot_modules`] does the same for modules-load.d(5).
//! [`dropin_name`] picks a drop-in file name that wins over every file a node has.
//!
//! This crate reads no files: it works on [`ConfigFile`]s already collected. It knows nothing of
//! Kubernetes.
//!
//! ```
//! use netdoctor_bootconf::{BootSysctl, Order};
//! use netdoctor_model::{ConfigFile, Source};
//! let file = |path: &str, content: &str| ConfigFile {
//!     path: path.into(), symlink_target: None, content: content.into(), source: Source::live(path),
//! };
//! let files = [
//!     file("/usr/lib/sysctl.d/00-system.conf", "net.bridge.bridge-nf-call-iptables = 0\n"),
//!     file("/etc/sysctl.d/k8s.conf", "net.bridge.bridge-nf-call-iptables = 1\n"),
//! ];
//! let boot = BootSysctl::evaluate(&files, Order::Systemd);
//! let won = boot.value("net.bridge.bridge-nf-call-iptables").unwrap();
//! assert_eq!((won.value.as_str(), won.file.as_str(), won.line), ("1", "/etc/sysctl.d/k8s.conf", 1));
//! ```

mod modules;
mod sysctl;

pub use modules::{boot_modules, BootModule, MODULES_LOAD_DIRS};
pub use sysctl::{
    canonical_key, dropin_name, is_own_file, is_own_line, Assignment, BootSysctl, Order,
    LEGACY_HEADER, LEGACY_INLINE, OWN_MARK, SYSCTL_DIRS_PROCPS, SYSCTL_DIRS_PROCPS_2018,
    SYSCTL_DIRS_SYSTEMD,
};
