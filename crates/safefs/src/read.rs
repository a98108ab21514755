//! Bounded reads.

use crate::FsError;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Bytes in a MiB, for limits.
#[allow(non_upper_case_globals)]
pub const MiB: u64 = 1 << 20;

/// What kind of file `meta` describes, in words.
pub(crate) fn kind_name(ft: &std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_symlink() {
        "symbolic link"
    } else if ft.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

/// Open `path` without blocking and without following a final symlink, and accept it only if it
/// is a regular file. A FIFO with no writer would block a plain `open(2)` for ever.
pub(crate) fn open_regular(path: &Path, follow: bool) -> Result<File, FsError> {
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => FsError::NotRegular {
                path: path.to_path_buf(),
                kind: "symbolic link",
            },
            _ => FsError::io(path, "open", e),
        })?;
    let ft = file
        .metadata()
        .map_err(|e| FsError::io(path, "stat", e))?
        .file_type();
    if !ft.is_file() {
        return Err(FsError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_name(&ft),
        });
    }
    Ok(file)
}

/// Read a regular file found by listing a directory: never blocks, never more than `limit` bytes.
/// `what` names the kind of input in the error ("an evidence file").
pub fn read_regular(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, FsError> {
    let file = open_regular(path, true)?;
    read_limited(file, limit, path, what)
}

/// Read a file the user named (`-` is stdin): FIFOs, process substitution and devices are read
/// like files, but never more than `limit` bytes.
///
/// A named FIFO is opened without blocking, so one that nobody writes to (a `mkfifo` left
/// behind) reads as empty at once instead of waiting for ever; a pipe with a writer
/// (`<(iptables-save)`) is then read to its end as usual.
pub fn read_input(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, FsError> {
    if path.as_os_str() == "-" {
        return read_limited(std::io::stdin().lock(), limit, Path::new("stdin"), what);
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| FsError::io(path, "open", e))?;
    let meta = file.metadata().map_err(|e| FsError::io(path, "stat", e))?;
    if meta.is_dir() {
        return Err(FsError::NotRegular {
            path: path.to_path_buf(),
            kind: "directory",
        });
    }
    // Blocking reads from here on: a pipe whose writer is slow is waited for, as `cat` would.
    nix::fcntl::fcntl(
        &file,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
    )
    .map_err(|e| FsError::io(path, "fcntl", std::io::Error::from(e)))?;
    // A regular file's size is known: read it into one buffer of that size (a 16 MiB dump
    // read into a growing buffer is copied about twice over).
    let capacity = if meta.is_file() {
        usize::try_from(meta.len().min(limit)).unwrap_or(0)
    } else {
        0
    };
    if capacity >= PARALLEL_READ {
        return read_halves(&file, capacity, limit, path, what);
    }
    read_limited_into(
        file,
        Vec::with_capacity(capacity.saturating_add(1)),
        limit,
        path,
        what,
    )
}

/// A regular file this large is read by two threads, each into its half of the buffer: the
/// copy from the page cache and the first touch of every page are most of reading a 16 MiB
/// dump, and nothing else can start before it.
const PARALLEL_READ: usize = 4 << 20;

/// Read regular file `file`, `size` bytes long when it was opened, in two halves at once; then
/// whatever it grew by since, up to `limit` bytes in all.
fn read_halves(
    file: &File,
    size: usize,
    limit: u64,
    path: &Path,
    what: &str,
) -> Result<Vec<u8>, FsError> {
    let mut buf = vec![0u8; size];
    let half = size / 2;
    let (first, second) = buf.split_at_mut(half);
    let (a, b) = std::thread::scope(|s| {
        let b = s.spawn(|| read_at_most(file, second, half as u64));
        let a = read_at_most(file, first, 0);
        (a, b.join())
    });
    let a = a.map_err(|e| FsError::io(path, "read", e))?;
    let b = match b {
        Ok(b) => b.map_err(|e| FsError::io(path, "read", e))?,
        Err(_) => {
            return Err(FsError::io(
                path,
                "read",
                std::io::Error::other("reader thread failed"),
            ))
        }
    };
    // A file cut short while it was read ends where the first half ended.
    buf.truncate(if a < half { a } else { half + b });
    if buf.len() == size {
        // It may have grown since: read on, as a plain read would.
        let mut more = Vec::new();
        let mut at = size as u64;
        let mut piece = vec![0u8; 64 << 10];
        loop {
            let n = read_at_most(file, &mut piece, at).map_err(|e| FsError::io(path, "read", e))?;
            more.extend_from_slice(&piece[..n]);
            at += n as u64;
            if n < piece.len() || (size + more.len()) as u64 > limit {
                break;
            }
        }
        buf.extend_from_slice(&more);
    }
    within_limit(buf, limit, path, what)
}

/// Fill `buf` from `file` at `offset`, stopping early only at the end of the file; the bytes
/// read.
fn read_at_most(file: &File, buf: &mut [u8], mut offset: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset) {
            Ok(0) => break,
            Ok(n) => {
                done += n;
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Read at most `limit` bytes from `r`; one more is an error naming `path` and `what`.
pub fn read_limited(r: impl Read, limit: u64, path: &Path, what: &str) -> Result<Vec<u8>, FsError> {
    read_limited_into(r, Vec::new(), limit, path, what)
}

fn read_limited_into(
    r: impl Read,
    mut out: Vec<u8>,
    limit: u64,
    path: &Path,
    what: &str,
) -> Result<Vec<u8>, FsError> {
    r.take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| FsError::io(path, "read", e))?;
    within_limit(out, limit, path, what)
}

/// `bytes` if there are at most `limit` of them, else the error naming `path` and `what`.
fn within_limit(bytes: Vec<u8>, limit: u64, path: &Path, what: &str) -> Result<Vec<u8>, FsError> {
    if bytes.len() as u64 > limit {
        return Err(FsError::TooLarge {
            path: path.to_path_buf(),
            what: what.to_string(),
            limit_mib: limit.div_ceil(MiB),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_fifo_is_refused_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("sysctl.txt");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(status.success());
        let start = Instant::now();
        let err = read_regular(&fifo, MiB, "an evidence file").expect_err("fifo");
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(
            matches!(err, FsError::NotRegular { kind: "FIFO", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("sysctl.txt"), "{err}");
    }

    #[test]
    fn a_named_fifo_without_a_writer_reads_empty_at_once_and_with_one_reads_its_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("dump");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(status.success());
        let start = Instant::now();
        let got = read_input(&fifo, MiB, "a dump").expect("empty");
        assert!(got.is_empty());
        assert!(start.elapsed() < Duration::from_secs(2));
        // A writer that is already there (process substitution) is read to its end.
        let mut writer = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec 3>{}; sleep 0.3; echo line1 >&3; sleep 0.3; echo line2 >&3",
                fifo.display()
            ))
            .spawn()
            .expect("writer");
        // Wait until the writer holds the FIFO open (its open blocks until we open ours, so
        // retry: an early read sees no writer and is empty).
        let mut got = Vec::new();
        for _ in 0..50 {
            got = read_input(&fifo, MiB, "a dump").expect("read");
            if !got.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = writer.wait();
        assert_eq!(String::from_utf8_lossy(&got), "line1\nline2\n");
    }

    #[test]
    fn limits_name_the_file_and_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("big");
        std::fs::write(&f, vec![b'x'; 1025]).expect("write");
        let err = read_regular(&f, 1024, "a test file").expect_err("too large");
        let msg = err.to_string();
        assert!(msg.contains("big") && msg.contains("a test file"), "{msg}");
        assert_eq!(read_regular(&f, 1025, "x").expect("fits").len(), 1025);
    }

    #[test]
    fn dev_zero_stops_at_the_limit() {
        let err = read_input(Path::new("/dev/zero"), 4 * MiB, "a rule dump").expect_err("endless");
        assert!(
            matches!(err, FsError::TooLarge { limit_mib: 4, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_directory_is_not_an_input() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            read_input(dir.path(), MiB, "x"),
            Err(FsError::NotRegular { .. })
        ));
        assert!(matches!(
            read_regular(dir.path(), MiB, "x"),
            Err(FsError::NotRegular { .. })
        ));
    }

    #[test]
    fn a_large_file_is_read_whole_by_halves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("iptables-save.txt");
        // Odd-sized and patterned, so that a half read twice, shifted or cut shows.
        let data: Vec<u8> = (0..PARALLEL_READ + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).expect("write");
        let read = read_input(&path, 64 * MiB, "a dump").expect("read");
        assert!(
            read == data,
            "read {} bytes, wrote {}",
            read.len(),
            data.len()
        );
    }

    #[test]
    fn a_large_file_over_the_limit_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("iptables-save.txt");
        std::fs::write(&path, vec![b'x'; PARALLEL_READ + 2 * MiB as usize]).expect("write");
        let err = read_input(&path, PARALLEL_READ as u64 + MiB, "a dump").expect_err("too large");
        assert!(matches!(err, FsError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn a_file_that_grew_or_shrank_since_its_stat_is_read_as_it_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dump");
        let data: Vec<u8> = (0..300_000).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        let file = File::open(&path).expect("open");
        // Sizes as a stat taken before the file grew (past one 64 KiB piece) or shrank
        // (below half, and above half) would give.
        for size in [1000, 150_000, 299_999, 300_001, 400_000, 700_000] {
            let read = read_halves(&file, size, 64 * MiB, &path, "a dump").expect("read");
            assert!(read == data, "stat size {size}: read {} bytes", read.len());
        }
    }
}
