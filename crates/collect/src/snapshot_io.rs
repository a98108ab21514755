//! Reading and writing snapshot files: JSON, zstd-compressed when the name ends in `.zst`.

use netdoctor_model::{NodeSnapshot, SNAPSHOT_SCHEMA};
use netdoctor_safefs::{read_input, read_limited, FsError, MiB};
use std::path::Path;

/// Why a snapshot could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The file could not be read (missing, not a file, larger than [`MAX_SNAPSHOT`]).
    #[error(transparent)]
    File(#[from] FsError),
    /// The file could not be decompressed or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The file is not valid JSON, or not shaped like a snapshot.
    #[error("{path}:{line}:{column}: not a netdoctor snapshot: {message}")]
    Json {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The file is a snapshot of a schema this version does not read.
    #[error("{path}: snapshot schema {found:?} is not supported (this netdoctor reads {SNAPSHOT_SCHEMA:?})")]
    Schema { path: String, found: String },
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The most a snapshot may hold, compressed or not, once decompressed. A node with 100k rules
/// and 500 pods writes about 20 MiB; a decompression bomb stops here instead of filling memory.
pub const MAX_SNAPSHOT: u64 = 256 * MiB;

/// Read a snapshot; zstd is detected by its magic number, whatever the file's name. `-` reads
/// stdin.
pub fn read_snapshot(path: &Path) -> Result<NodeSnapshot, SnapshotError> {
    let shown = path.display().to_string();
    let raw = read_input(path, MAX_SNAPSHOT, "a snapshot")?;
    let bytes = if raw.starts_with(&ZSTD_MAGIC) {
        let decoder = zstd::stream::read::Decoder::new(raw.as_slice()).map_err(|source| {
            SnapshotError::Io {
                path: shown.clone(),
                source,
            }
        })?;
        read_limited(decoder, MAX_SNAPSHOT, path, "a decompressed snapshot")?
    } else {
        raw
    };
    parse_snapshot(&bytes, &shown)
}

/// Parse snapshot JSON; `name` is used in error messages.
pub fn parse_snapshot(bytes: &[u8], name: &str) -> Result<NodeSnapshot, SnapshotError> {
    // Check the schema tag first so an old or foreign file gets a clear message rather than a
    // complaint about some field deep inside.
    #[derive(serde::Deserialize)]
    struct Head {
        schema: Option<String>,
    }
    let head: Head = serde_json::from_slice(bytes).map_err(|e| json_error(name, &e))?;
    match head.schema.as_deref() {
        Some(SNAPSHOT_SCHEMA) => {}
        Some(other) => {
            return Err(SnapshotError::Schema {
                path: name.to_string(),
                found: other.to_string(),
            })
        }
        None => {
            return Err(SnapshotError::Json {
                path: name.to_string(),
                line: 1,
                column: 1,
                message: "no \"schema\" field (is this a file written by `netdoctor collect`?)"
                    .into(),
            })
        }
    }
    serde_json::from_slice(bytes).map_err(|e| json_error(name, &e))
}

fn json_error(name: &str, e: &serde_json::Error) -> SnapshotError {
    SnapshotError::Json {
        path: name.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

/// Write a snapshot as pretty JSON, or zstd-compressed JSON when `path` ends in `.zst`.
pub fn write_snapshot(snapshot: &NodeSnapshot, path: &Path) -> Result<(), SnapshotError> {
    let shown = path.display().to_string();
    let json = serde_json::to_vec_pretty(snapshot).map_err(|e| json_error(&shown, &e))?;
    let bytes = if path.extension().is_some_and(|e| e == "zst") {
        zstd::bulk::compress(&json, 3).map_err(|source| SnapshotError::Io {
            path: shown.clone(),
            source,
        })?
    } else {
        json
    };
    std::fs::write(path, bytes).map_err(|source| SnapshotError::Io {
        path: shown,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netdoctor_model::{Source, Sourced};

    #[test]
    fn round_trips_plain_and_zstd() {
        let dir = tempfile::tempdir().expect("tempdir");
        let snap = NodeSnapshot {
            sysctls: Some(
                [(
                    "net.ipv4.ip_forward".to_string(),
                    Sourced::new(
                        "0".to_string(),
                        Source::live("/proc/sys/net/ipv4/ip_forward"),
                    ),
                )]
                .into_iter()
                .collect(),
            ),
            ..NodeSnapshot::default()
        };
        for name in ["n.json", "n.json.zst"] {
            let p = dir.path().join(name);
            write_snapshot(&snap, &p).expect("write");
            assert_eq!(read_snapshot(&p).expect("read"), snap);
        }
        let zst = std::fs::read(dir.path().join("n.json.zst")).expect("read");
        assert!(zst.starts_with(&ZSTD_MAGIC));
    }

    #[test]
    fn bad_json_names_line_and_column() {
        let err = parse_snapshot(
            b"{\n  \"schema\": \"netdoctor.snapshot/v1\",\n  \"links\": 3\n}",
            "x.json",
        )
        .expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.starts_with("x.json:3:"), "{msg}");
    }

    #[test]
    fn foreign_schema_is_refused() {
        let err = parse_snapshot(br#"{"schema":"other/v9"}"#, "y.json").expect_err("must fail");
        assert!(err.to_string().contains("other/v9"));
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("bomb.json.zst");
        let mut out = Vec::new();
        let zeros = std::io::Read::take(std::io::repeat(b' '), MAX_SNAPSHOT + 4096);
        zstd::stream::copy_encode(zeros, &mut out, 1).expect("encode");
        assert!(out.len() < (1 << 20), "a small file: {}", out.len());
        std::fs::write(&p, out).expect("write");
        let err = read_snapshot(&p).expect_err("refused");
        let msg = err.to_string();
        assert!(
            msg.contains("bomb.json.zst") && msg.contains("256 MiB"),
            "{msg}"
        );
    }
}
