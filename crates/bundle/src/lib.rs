//! Evidence bundles: a directory of what a customer pasted (`route -n`, `ifconfig -a`,
//! `sysctl -a`, half an `iptables-save`, three log lines) becomes a [`NodeSnapshot`], the same
//! model a live node gives. See `docs/evidence-bundle.md`.
//!
//! Each importer module is a pure function from text (and the file name to quote in provenance)
//! to model values plus the lines it could not read, numbered as in the original file:
//!
//! ```
//! let (routes, problems) =
//!     netdoctor_bundle::iproute::parse_ip_route("default via 10.0.0.1 dev eth0\n", "ip-route.txt");
//! assert_eq!(routes[0].source.to_string(), "ip-route.txt:1");
//! assert!(problems.is_empty());
//! ```
//!
//! [`read_bundle`] splits dirty pastes (prompts, several commands in one file, cut lines, CRLF)
//! into sections, dispatches each by its command or its content, and merges what several files
//! say about the same link or route.
//!
//! This crate reads text; it does not judge it (that is `checks`), parse iptables rules (that
//! is `netfilter`, which gets the dumps raw) or interpret Kubernetes objects (`kube/` files are
//! only checked to be JSON and listed in `inputs`).

mod bundle;
pub mod command;
mod error;
pub mod fdb;
pub mod flags;
pub mod forms;
pub mod hairpin;
pub mod hints;
pub mod ifconfig;
mod import;
pub mod ipaddr;
pub mod ipjson;
pub mod iplink;
pub mod iproute;
pub mod iprule;
pub mod lsmod;
mod merge;
pub mod neigh;
mod node_dirs;
pub mod raw;
pub mod routen;
pub mod sections;
pub mod sysctl;
pub mod text;

pub use bundle::{kind_by_name, read_bundle, read_file};
pub use error::BundleError;
pub use netdoctor_model::NodeSnapshot;

/// Node paths whose `cat` output in a paste is kept as a configuration file.
pub const NODE_FILE_PREFIXES: &[&str] = &[
    "/etc/sysctl.conf",
    "/etc/sysctl.d/",
    "/run/sysctl.d/",
    "/usr/lib/sysctl.d/",
    "/usr/local/lib/sysctl.d/",
    "/lib/sysctl.d/",
    "/etc/modules",
    "/run/modules-load.d/",
    "/usr/lib/modules-load.d/",
    "/usr/local/lib/modules-load.d/",
    "/lib/modules-load.d/",
    "/etc/cni/net.d/",
    "/run/flannel/subnet.env",
    "/run/flannel/docker",
    "/etc/docker/daemon.json",
];
