//! Every file netdoctor reads or writes goes through this crate, so that hostile or broken input
//! cannot make it hang, use unbounded memory, or touch anything outside the tree it was given.
//!
//! - [`read_regular`]: a file found by listing a directory (an evidence bundle, `kube/`): only a
//!   regular file, opened without blocking (a FIFO is refused, not waited on), at most `limit`
//!   bytes.
//! - [`read_input`]: a file the user named on the command line (`explain iptables FILE`,
//!   `--snapshot FILE`, `-` for stdin): pipes and process substitution are welcome, but the read
//!   stops at `limit` bytes with an error that names the file and the limit.
//! - [`Root`]: a directory treated as a node's `/` (`--root`, a bundle's `root/`, a mounted disk
//!   image). Paths are resolved the way the node itself would resolve them: an absolute symlink
//!   starts again at the root, `..` stops at it, so nothing outside the root is read or written.
//!   Writes are atomic (a unique temporary file, then rename), keep a backup that never overwrites
//!   an earlier one, edit a symlinked file through to its target inside the root, and are made
//!   under a lock on the root so that two `fix --apply` runs do not interleave.
//!
//! This crate knows files; it does not know what is in them.

mod error;
mod read;
mod root;

pub use error::FsError;
pub use read::{read_input, read_limited, read_regular, MiB};
pub use root::{Entry, EntryKind, Root, RootLock, Written};
