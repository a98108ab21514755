//! Hard errors: the bundle cannot be read at all. A file or line that cannot be read is not an
//! error; it becomes one of `snapshot.problems` and the rest is still read.

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

    /// Not one file of the bundle could be read as evidence: there is nothing to check.
    #[error("{}: nothing to check: no file in this bundle could be read as evidence{}", path.display(), problems_text(problems))]
    NothingToCheck {
        path: PathBuf,
        /// Why each file was not read (`file:line: why`).
        problems: Vec<String>,
    },
}

fn problems_text(problems: &[String]) -> String {
    if problems.is_empty() {
        return String::new();
    }
    let mut out = String::from(":");
    for p in problems.iter().take(20) {
        out.push_str("\n  ");
        out.push_str(p);
    }
    if problems.len() > 20 {
        out.push_str(&format!("\n  ... and {} more", problems.len() - 20));
    }
    out
}
