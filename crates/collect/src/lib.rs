//! Collection: every source of node state becomes one [`NodeSnapshot`].
//!
//! - [`live`]: the network namespace this process runs in (netlink, `/proc`, `/sys`,
//!   `iptables-save` per backend) plus configuration files under a root directory.
//! - [`snapshot_io`]: the JSON (optionally zstd) snapshot that `netdoctor collect` writes.
//!
//! Evidence bundles (pasted text) are read by the `netdoctor-bundle` crate, which reuses
//! [`rootfs`] for a bundle's `root/`.
//!
//! This crate does not judge what it reads: that is the `checks` crate's job.

pub mod live;
pub mod rootfs;
pub mod snapshot_io;

pub use netdoctor_model::NodeSnapshot;
