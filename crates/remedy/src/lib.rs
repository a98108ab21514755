//! Remediation: from findings to a [`Plan`], from a plan to changes on the node ([`apply`]) or
//! to a script for a fleet ([`export`]).
//!
//! Principles, from how real remediations went wrong:
//! - Runtime and boot time are fixed together: a `sysctl -w` alone is lost at the next network
//!   restart, so every runtime sysctl has a persistent twin in a drop-in whose name sorts after
//!   every file the node has (computed by `bootconf`, never an edit of a vendor file in /usr/lib).
//! - Existing configuration is kept: files are written atomically (temp + rename) with a
//!   timestamped backup; a line netdoctor did not write is never removed.
//! - Idempotent: a plan made after a successful apply is empty.
//! - What needs a person (a cloud security group, a CIDR re-plan) is said, not scripted; needed
//!   service restarts are listed with the reason.
//!
//! This crate knows sysctl.d, modules-load.d and the node's tools; it does not diagnose.

mod apply;
pub mod edit;
pub mod export;
mod plan;

pub use apply::{apply, proc_sys_path, Applied, ApplyError};
pub use netdoctor_bootconf::OWN_MARK;
pub use plan::{plan, FileChange, Plan, Step};
