//! A bundle's `root/` (a copy of the node's configuration files) and `kube/` (kubectl JSON).

use crate::bundle::{input, read_text};
use crate::error::BundleError;
use crate::hints;
use netdoctor_collect::rootfs;
use netdoctor_model::{NodeSnapshot, Source};
use std::path::{Path, PathBuf};

/// Read `root/` with the node-file reader, quoting bundle-relative paths (`root/etc/...`).
pub fn read_root(dir: &Path, snap: &mut NodeSnapshot) -> Result<(), BundleError> {
    let root = dir.join("root");
    if !root.is_dir() {
        return Ok(());
    }
    let (mut files, not_collected) = rootfs::read_node_files(&root);
    for f in &mut files {
        f.source = Source {
            file: format!("root{}", f.path),
            line: None,
        };
    }
    let read: Vec<String> = files.iter().map(|f| format!("root{}", f.path)).collect();
    let mut all = Vec::new();
    walk(&root, dir, 0, &mut all)?;
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
    snap.files.extend(files);
    snap.not_collected.extend(not_collected);
    snap.files_collected = true;
    Ok(())
}

/// Record every file of `kube/` as kubectl JSON, checking that it is JSON.
pub fn read_kube(dir: &Path, snap: &mut NodeSnapshot) -> Result<(), BundleError> {
    let kube = dir.join("kube");
    if !kube.is_dir() {
        return Ok(());
    }
    let mut all = Vec::new();
    walk(&kube, dir, 0, &mut all)?;
    for rel in all {
        let shown = rel.to_string_lossy().into_owned();
        if shown.ends_with(".yaml") || shown.ends_with(".yml") {
            snap.inputs
                .push(input(&shown, "not recognised (YAML: save with `-o json`)"));
            continue;
        }
        let text = read_text(&dir.join(&rel))?;
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&text) {
            return Err(BundleError::Json {
                file: shown,
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            });
        }
        snap.inputs.push(input(&shown, "kubectl JSON"));
    }
    Ok(())
}

/// Regular files (and symlinks) under `dir`, relative to `base`, sorted.
fn walk(dir: &Path, base: &Path, depth: u32, out: &mut Vec<PathBuf>) -> Result<(), BundleError> {
    let io = |e| BundleError::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let ft = entry.file_type().map_err(io)?;
        if ft.is_dir() {
            if depth < 8 {
                walk(&path, base, depth + 1, out)?;
            }
        } else {
            out.push(path.strip_prefix(base).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}
