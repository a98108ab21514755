//! Collection: every source of node state becomes one [`NodeSnapshot`].
//!
//! - [`live`]: the network namespace this process runs in (netlink, `/proc`, `/sys`,
//!   `iptables-save` per backend) plus configuration files under a root directory.
//! - [`bundle`]: an evidence bundle, a directory of pasted command outputs (see
//!   `shared/spec/evidence-bundle.md`).
//! - [`snapshot_io`]: the JSON (optionally zstd) snapshot that `netdoctor collect` writes.
//! - [`parse`]: the text importers (`ip`, `route -n`, `ifconfig`, `sysctl`, `lsmod`, ...) that
//!   bundles use; each is a pure function from text to model values plus problems.
//!
//! This crate does not judge what it reads: that is the `checks` crate's job.

pub mod bundle;
pub mod live;
pub mod parse;
pub mod rootfs;
pub mod snapshot_io;

pub use netdoctor_model::NodeSnapshot;
