//! A directory treated as a node's `/`.

use crate::read::{kind_name, open_regular, read_limited, MiB};
use crate::FsError;
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Symlinks followed in one path before giving up (the kernel's limit, `MAXSYMLINKS`).
const MAX_LINKS: u32 = 40;

/// A file copied for a backup is never larger than this (a sysctl or modules file is a few KiB).
const MAX_BACKUP: u64 = 16 * MiB;

/// A directory treated as a node's root. See the crate documentation.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

/// What a node path is, inside the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Missing,
    File,
    Dir,
    /// A symlink to `/dev/null` (systemd's mask).
    Masked,
    /// A FIFO, socket or device: never read or written.
    Other(&'static str),
}

/// A node path, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where it is on this machine, every symlink followed inside the root.
    pub real: PathBuf,
    pub kind: EntryKind,
    /// When the path itself is a symlink: its target as written in the link.
    pub link: Option<String>,
}

/// What [`Root::write_atomic`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The file written, on this machine (a symlink's target when the path was a link).
    pub real: PathBuf,
    /// The copy of the previous content, when the file existed.
    pub backup: Option<PathBuf>,
}

/// Held while changes are made under a root; released when dropped.
#[derive(Debug)]
pub struct RootLock {
    _file: File,
}

impl Root {
    pub fn new(dir: impl Into<PathBuf>) -> Root {
        Root { dir: dir.into() }
    }

    /// The directory on this machine.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path on this machine of `node_path` taken literally (no symlink followed): for
    /// messages and provenance.
    pub fn display_path(&self, node_path: &str) -> PathBuf {
        self.dir.join(node_path.trim_start_matches('/'))
    }

    /// Resolve `node_path` inside the root, following every symlink as the node would: an
    /// absolute target starts again at the root, `..` never climbs above it. The result is
    /// relative to the root. With `follow_last` false the last component is not followed.
    fn resolve_rel(&self, node_path: &str, follow_last: bool) -> Result<Vec<OsString>, FsError> {
        let mut pending: VecDeque<OsString> = components(Path::new(node_path)).collect();
        let mut done: Vec<OsString> = Vec::new();
        let mut links = 0;
        while let Some(c) = pending.pop_front() {
            if c == ".." {
                done.pop();
                continue;
            }
            let last = pending.is_empty();
            let mut here = self.dir.clone();
            here.extend(&done);
            here.push(&c);
            let meta = match std::fs::symlink_metadata(&here) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    done.push(c);
                    continue;
                }
                // Not a directory on the way: the rest cannot exist.
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                    done.push(c);
                    continue;
                }
                Err(e) => return Err(FsError::io(here, "stat", e)),
            };
            if !meta.file_type().is_symlink() || (last && !follow_last) {
                done.push(c);
                continue;
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(FsError::Loop {
                    path: self.display_path(node_path),
                });
            }
            let target =
                std::fs::read_link(&here).map_err(|e| FsError::io(&here, "readlink", e))?;
            if target.is_absolute() {
                done.clear();
            }
            for t in components(&target).collect::<Vec<_>>().into_iter().rev() {
                pending.push_front(t);
            }
        }
        Ok(done)
    }

    /// The real path of `node_path`, every symlink followed inside the root.
    pub fn resolve(&self, node_path: &str) -> Result<PathBuf, FsError> {
        let rel = self.resolve_rel(node_path, true)?;
        let mut p = self.dir.clone();
        p.extend(rel);
        Ok(p)
    }

    /// What `node_path` is.
    pub fn entry(&self, node_path: &str) -> Result<Entry, FsError> {
        let unfollowed = {
            let mut p = self.dir.clone();
            p.extend(self.resolve_rel(node_path, false)?);
            p
        };
        let link = match std::fs::symlink_metadata(&unfollowed) {
            Ok(m) if m.file_type().is_symlink() => Some(
                std::fs::read_link(&unfollowed)
                    .map_err(|e| FsError::io(&unfollowed, "readlink", e))?
                    .to_string_lossy()
                    .into_owned(),
            ),
            _ => None,
        };
        if link.as_deref() == Some("/dev/null") {
            return Ok(Entry {
                real: unfollowed,
                kind: EntryKind::Masked,
                link,
            });
        }
        let real = if link.is_some() {
            self.resolve(node_path)?
        } else {
            unfollowed
        };
        let kind = match std::fs::symlink_metadata(&real) {
            Ok(m) if m.is_file() => EntryKind::File,
            Ok(m) if m.is_dir() => EntryKind::Dir,
            Ok(m) => EntryKind::Other(kind_name(&m.file_type())),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                EntryKind::Missing
            }
            Err(e) => return Err(FsError::io(real, "stat", e)),
        };
        Ok(Entry { real, kind, link })
    }

    /// Read a regular file at `node_path`: without blocking, at most `limit` bytes.
    pub fn read(&self, node_path: &str, limit: u64, what: &str) -> Result<Vec<u8>, FsError> {
        let real = self.resolve(node_path)?;
        let file = open_regular(&real, false)?;
        read_limited(file, limit, &real, what)
    }

    /// The names in directory `node_dir`, sorted.
    pub fn list(&self, node_dir: &str) -> Result<Vec<String>, FsError> {
        let real = self.resolve(node_dir)?;
        let entries = std::fs::read_dir(&real).map_err(|e| FsError::io(&real, "list", e))?;
        let mut names = Vec::new();
        for e in entries {
            let e = e.map_err(|e| FsError::io(&real, "list", e))?;
            names.push(e.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    /// Take the lock for changes under this root, waiting up to `wait` for another holder.
    pub fn lock(&self, wait: Duration) -> Result<RootLock, FsError> {
        let file = File::open(&self.dir).map_err(|e| FsError::io(&self.dir, "open", e))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(RootLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(FsError::Locked {
                        path: self.dir.clone(),
                        waited_secs: wait.as_secs(),
                    })
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(FsError::io(&self.dir, "lock", e))
                }
            }
        }
    }

    /// Replace the content of `node_path` atomically. An existing file is first copied to
    /// `.NAME.netdoctor-STAMP.bak` beside it (`-2`, `-3`, ... when that exists: an earlier backup
    /// is never overwritten). A symlink is edited through to its target inside the root; a mask
    /// (link to `/dev/null`) or anything but a regular file is refused.
    pub fn write_atomic(
        &self,
        node_path: &str,
        content: &[u8],
        stamp: &str,
    ) -> Result<Written, FsError> {
        let entry = self.entry(node_path)?;
        match entry.kind {
            EntryKind::Masked => {
                return Err(FsError::Masked {
                    path: self.display_path(node_path),
                })
            }
            EntryKind::Dir => {
                return Err(FsError::NotRegular {
                    path: entry.real,
                    kind: "directory",
                })
            }
            EntryKind::Other(kind) => {
                return Err(FsError::NotRegular {
                    path: entry.real,
                    kind,
                })
            }
            EntryKind::File | EntryKind::Missing => {}
        }
        let target = entry.real;
        let (dir, name) = match (target.parent(), target.file_name()) {
            (Some(d), Some(n)) => (d.to_path_buf(), n.to_string_lossy().into_owned()),
            _ => {
                return Err(FsError::NotRegular {
                    path: target,
                    kind: "directory",
                })
            }
        };
        std::fs::create_dir_all(&dir).map_err(|e| FsError::io(&dir, "create directory", e))?;
        let mut backup = None;
        let mut mode = None;
        if entry.kind == EntryKind::File {
            let old = open_regular(&target, false)?;
            mode = old.metadata().ok().map(|m| m.permissions().mode());
            let bytes = read_limited(old, MAX_BACKUP, &target, "a file to back up")?;
            let (path, mut f) = create_unique(&dir, &format!(".{name}.netdoctor-{stamp}"), ".bak")?;
            f.write_all(&bytes)
                .and_then(|_| f.sync_all())
                .map_err(|e| FsError::io(&path, "write backup", e))?;
            backup = Some(path);
        }
        let (tmp, mut f) = create_unique(&dir, &format!(".{name}.netdoctor-tmp"), "")?;
        let result = f
            .write_all(content)
            .and_then(|_| match mode {
                Some(m) => f.set_permissions(std::fs::Permissions::from_mode(m)),
                None => f.set_permissions(std::fs::Permissions::from_mode(0o644)),
            })
            .and_then(|_| f.sync_all())
            .map_err(|e| FsError::io(&tmp, "write", e))
            .and_then(|_| {
                std::fs::rename(&tmp, &target).map_err(|e| FsError::io(&target, "rename", e))
            });
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(Written {
            real: target,
            backup,
        })
    }
}

/// The normal components of `p` (`/` and `.` dropped, `..` kept for the resolver).
fn components(p: &Path) -> impl Iterator<Item = OsString> + '_ {
    p.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsStr::new("..").to_os_string()),
        _ => None,
    })
}

/// Create `dir/PREFIX[-N]SUFFIX` that did not exist before (never replacing anything).
fn create_unique(dir: &Path, prefix: &str, suffix: &str) -> Result<(PathBuf, File), FsError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let unique_tmp = suffix.is_empty();
    for n in 1..10_000u32 {
        let name = if unique_tmp {
            // Temporary files carry the process and a counter: two runs never share one.
            format!(
                "{prefix}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            )
        } else if n == 1 {
            format!("{prefix}{suffix}")
        } else {
            format!("{prefix}-{n}{suffix}")
        };
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(FsError::io(path, "create", e)),
        }
    }
    Err(FsError::io(
        dir,
        "create",
        std::io::Error::other(format!("no free name for {prefix}{suffix}")),
    ))
}

#[cfg(test)]
mod tests;
