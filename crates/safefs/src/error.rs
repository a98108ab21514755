//! Why a file could not be read or written. Every variant names the path.

use std::path::PathBuf;

/// Why a file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// The path does not exist.
    #[error("{}: no such file", path.display())]
    NotFound { path: PathBuf },

    /// The path is a FIFO, a socket, a device or a directory where a regular file was needed.
    #[error("{}: is a {kind}, not a regular file; not read", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },

    /// More bytes than the limit for this kind of input.
    #[error("{}: larger than the {limit_mib} MiB allowed for {what}; not read", path.display())]
    TooLarge {
        path: PathBuf,
        what: String,
        limit_mib: u64,
    },

    /// Symbolic links that do not end (more than 40 in one path, as the kernel's ELOOP).
    #[error("{}: too many levels of symbolic links", path.display())]
    Loop { path: PathBuf },

    /// A symlink to `/dev/null`: systemd's mask. Writing through it would change nothing the node
    /// reads.
    #[error("{}: is masked (a symlink to /dev/null); not written", path.display())]
    Masked { path: PathBuf },

    /// The lock on the root is held by another process for longer than the wait allows.
    #[error("{}: another netdoctor holds the lock on this root (waited {waited_secs} s)", path.display())]
    Locked { path: PathBuf, waited_secs: u64 },

    /// Any other I/O error, with the operation that failed.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },
}

impl FsError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            return FsError::NotFound { path };
        }
        FsError::Io { path, op, source }
    }

    /// Whether the file simply does not exist (not an error for optional files).
    pub fn is_not_found(&self) -> bool {
        matches!(self, FsError::NotFound { .. })
    }
}
