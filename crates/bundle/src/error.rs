//! Hard errors: the bundle cannot be read at all, or a file the user named on purpose is wrong.
//! Lines that merely could not be parsed are not errors; they become `snapshot.problems`.

use std::path::PathBuf;

/// Why an evidence bundle could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The bundle directory does not exist.
    #[error("{}: evidence bundle directory does not exist", path.display())]
    NotFound { path: PathBuf },

    /// The bundle path exists but is a file, not a directory.
    #[error("{}: an evidence bundle is a directory, this is not one", path.display())]
    NotADirectory { path: PathBuf },

    /// The directory, or a file in it, could not be listed or read (permissions, I/O error).
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// `cluster.json` or a file under `kube/` is not valid JSON.
    #[error("{file}:{line}:{column}: invalid JSON: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },

    /// A value in `cluster.json` has the wrong type or does not parse (a CIDR that is not one).
    #[error("{file}:{line}: {key}: {message}")]
    BadValue {
        file: String,
        line: u32,
        key: String,
        message: String,
    },

    /// A file recognised by its name (`ip-route.txt`, `sysctl.txt`, ...) has content, but not one
    /// line of it could be read as what the name promises.
    #[error("{file}:{line}: named like `{read_as}` output, but nothing in it could be read as that; first unreadable line: {text:?}")]
    NothingReadable {
        file: String,
        line: u32,
        read_as: String,
        text: String,
    },
}
