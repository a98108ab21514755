//! A bundle's `root/` (a copy of the node's configuration files) and `kube/` (kubectl JSON).

use crate::bundle::{decode, input};
use crate::hints;
use netdoctor_collect::rootfs;
use netdoctor_model::{NodeSnapshot, Source, Sourced};
use netdoctor_safefs::read_regular;

/// The most one file of `kube/` may hold.
const MAX_KUBE_FILE: u64 = 512 << 20;
use std::path::{Path, PathBuf};

/// Read `root/` with the node-file reader, quoting bundle-relative paths (`root/etc/...`).
pub fn read_root(dir: &Path, snap: &mut NodeSnapshot) {
    let root = dir.join("root");
    if !root.is_dir() {
        return;
    }
    let (mut files, not_collected) = rootfs::read_node_files(&root);
    for f in &mut files {
        f.source = Source {
            file: format!("root{}", f.path),
            line: None,
        };
    }
    let read: std::collections::HashSet<String> =
        files.iter().map(|f| format!("root{}", f.path)).collect();
    let mut all = Vec::new();
    let mut skipped = 0;
    walk(&root, dir, 0, &mut all, &mut skipped, snap);
    crate::bundle::report_too_many(snap, "root", skipped);
    for rel in all {
        let shown = rel.to_string_lossy().into_owned();
        let read_as = if read.contains(&shown) {
            format!("node file {}", &shown["root".len()..])
        } else {
            "not recognised (not a node file netdoctor reads)".to_string()
        };
        snap.inputs.push(input(&shown, &read_as));
    }
    if let Some(env) = files.iter().find(|f| f.path == "/run/flannel/subnet.env") {
        let (parsed, problems) =
            hints::parse_subnet_env(&env.content, "root/run/flannel/subnet.env");
        parsed.fill_hints(&mut snap.hints);
        snap.problems.extend(problems);
    }
    // A file of root/ that could not be read is a problem of the bundle like any other.
    for n in &not_collected {
        snap.problems.push(netdoctor_model::ParseProblem {
            source: Source {
                file: format!("root{}", n.part.trim_start_matches("files:")),
                line: None,
            },
            message: n.reason.clone(),
        });
    }
    snap.files.extend(files);
    snap.not_collected.extend(not_collected);
    snap.files_collected = true;
}

/// Read `kube/`: every file is kubectl JSON or YAML. Each is kept whole in the snapshot for the
/// cluster view (`cluster_objects`); one that is not valid is reported and skipped.
pub fn read_kube(dir: &Path, snap: &mut NodeSnapshot) {
    let kube = dir.join("kube");
    if !kube.is_dir() {
        return;
    }
    let mut all = Vec::new();
    let mut skipped = 0;
    walk(&kube, dir, 0, &mut all, &mut skipped, snap);
    crate::bundle::report_too_many(snap, "kube", skipped);
    for rel in all {
        let shown = rel.to_string_lossy().into_owned();
        let yaml = shown.ends_with(".yaml") || shown.ends_with(".yml");
        let bytes = match read_regular(&dir.join(&rel), MAX_KUBE_FILE, "cluster objects") {
            Ok(b) => b,
            Err(e) => {
                let why = e.to_string();
                let why = why.rsplit_once(": ").map_or(why.as_str(), |(_, w)| w);
                snap.problems.push(netdoctor_model::ParseProblem {
                    source: Source {
                        file: shown.clone(),
                        line: None,
                    },
                    message: format!("not read: {why}"),
                });
                snap.inputs.push(input(&shown, &format!("not read: {why}")));
                continue;
            }
        };
        let text = decode(bytes);
        let ok = if yaml {
            serde_saphyr::from_multiple::<serde::de::IgnoredAny>(&text)
                .map(|_| ())
                .map_err(|e| {
                    (
                        e.location().map_or(1, |l| l.line() as usize),
                        e.to_string().lines().next().unwrap_or("").to_string(),
                    )
                })
        } else {
            let mut err = None;
            for v in serde_json::Deserializer::from_str(&text).into_iter::<serde::de::IgnoredAny>()
            {
                if let Err(e) = v {
                    err = Some((e.line(), e.to_string()));
                    break;
                }
            }
            err.map_or(Ok(()), Err)
        };
        match ok {
            Ok(()) => {
                snap.inputs.push(input(
                    &shown,
                    if yaml { "kubectl YAML" } else { "kubectl JSON" },
                ));
                snap.cluster_objects.push(Sourced::new(
                    text,
                    Source {
                        file: shown,
                        line: None,
                    },
                ));
            }
            Err((line, message)) => {
                snap.problems.push(netdoctor_model::ParseProblem {
                    source: Source::at(shown.clone(), u32::try_from(line).unwrap_or(u32::MAX)),
                    message: format!(
                        "not read: invalid {}: {message}",
                        if yaml { "YAML" } else { "JSON" }
                    ),
                });
                snap.inputs
                    .push(input(&shown, "not read: invalid kubectl output"));
            }
        }
    }
}

/// Regular files (and symlinks to them) under `dir`, relative to `base`, sorted. Anything else
/// is reported and not read.
fn walk(
    dir: &Path,
    base: &Path,
    depth: u32,
    out: &mut Vec<PathBuf>,
    skipped: &mut usize,
    snap: &mut NodeSnapshot,
) {
    let shown = |p: &Path| {
        p.strip_prefix(base)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let entries = match std::fs::read_dir(dir).and_then(|r| r.collect::<Result<Vec<_>, _>>()) {
        Ok(mut e) => {
            e.sort_by_key(|e| e.file_name());
            e
        }
        Err(e) => {
            snap.problems.push(netdoctor_model::ParseProblem {
                source: Source {
                    file: shown(dir),
                    line: None,
                },
                message: format!("not read: cannot list: {e}"),
            });
            return;
        }
    };
    for entry in entries {
        let path = entry.path();
        match crate::bundle::classify(base, &path) {
            crate::bundle::Entry::Dir => {
                if depth < 8 {
                    walk(&path, base, depth + 1, out, skipped, snap);
                }
            }
            crate::bundle::Entry::File => {
                if out.len() < crate::bundle::MAX_FILES {
                    out.push(path.strip_prefix(base).unwrap_or(&path).to_path_buf());
                } else {
                    *skipped += 1;
                }
            }
            // A FIFO, socket or device under root/ is reported by the node-file reader when it
            // is one netdoctor reads; under kube/ it is reported here.
            crate::bundle::Entry::Skip(why) => {
                if path.starts_with(base.join("kube")) {
                    snap.problems.push(netdoctor_model::ParseProblem {
                        source: Source {
                            file: shown(&path),
                            line: None,
                        },
                        message: format!("not read: {why}"),
                    });
                } else {
                    out.push(path.strip_prefix(base).unwrap_or(&path).to_path_buf());
                }
            }
        }
    }
}
