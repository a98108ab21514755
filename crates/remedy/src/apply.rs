//! Making the changes: each step printed before it is made; the first failure stops the run and
//! the report says exactly what was done.

use crate::plan::{Plan, Step};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why an apply stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// A step failed; `done` lists the steps completed before it.
    #[error("step {step} failed: {message}; completed before it: {done:?}")]
    Step {
        step: String,
        message: String,
        done: Vec<String>,
    },
}

/// What an apply did.
#[derive(Debug, Default, Clone)]
pub struct Applied {
    /// One line per completed step.
    pub done: Vec<String>,
    /// Backups made: (file changed, backup path), both real paths.
    pub backups: Vec<(PathBuf, PathBuf)>,
}

/// The `/proc/sys` path of a dotted sysctl key (a `/` inside a key component is a dot in the
/// interface's name).
pub fn proc_sys_path(key: &str) -> PathBuf {
    let rel: String = key
        .chars()
        .map(|c| match c {
            '.' => '/',
            '/' => '.',
            c => c,
        })
        .collect();
    Path::new("/proc/sys").join(rel)
}

/// Apply `plan`: runtime changes to the running kernel (in this process's network namespace),
/// files under `root`. `stamp` names backups (a timestamp). Progress goes to `log`.
pub fn apply(
    plan: &Plan,
    root: &Path,
    stamp: &str,
    log: &mut dyn Write,
) -> Result<Applied, ApplyError> {
    let mut applied = Applied::default();
    for step in &plan.steps {
        let what = describe(step);
        let _ = writeln!(log, "-> {what}");
        let result = match step {
            Step::Sysctl { key, value, .. } => {
                std::fs::write(proc_sys_path(key), format!("{value}\n"))
                    .map_err(|e| format!("writing {}: {e}", proc_sys_path(key).display()))
            }
            Step::Modprobe { name, .. } => run(&["modprobe".to_string(), name.clone()]),
            Step::Command { argv, .. } => run(argv),
            Step::File(fc) => write_file(root, &fc.path, &fc.after, stamp).map(|b| {
                if let Some(b) = b {
                    let _ = writeln!(log, "   backup: {}", b.1.display());
                    applied.backups.push(b);
                }
            }),
        };
        if let Err(message) = result {
            return Err(ApplyError::Step {
                step: what,
                message,
                done: applied.done,
            });
        }
        applied.done.push(what);
    }
    Ok(applied)
}

/// A one-line description of a step, as printed before it is made.
pub fn describe(step: &Step) -> String {
    match step {
        Step::Sysctl { key, value, .. } => format!("sysctl -w {key}={value}"),
        Step::Modprobe { name, .. } => format!("modprobe {name}"),
        Step::Command { argv, .. } => argv.join(" "),
        Step::File(fc) => format!(
            "{} {}: add {}",
            if fc.before.is_some() {
                "update"
            } else {
                "create"
            },
            fc.path,
            fc.added.join("; ")
        ),
    }
}

fn run(argv: &[String]) -> Result<(), String> {
    let (prog, args) = argv.split_first().ok_or("empty command")?;
    let out = Command::new(prog)
        .args(args)
        .output()
        .map_err(|e| format!("{prog}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} exited {}: {}",
            argv.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Write `content` to `root/path` atomically (temp file in the same directory, then rename),
/// backing up an existing file first. Returns the backup made, if any.
fn write_file(
    root: &Path,
    path: &str,
    content: &str,
    stamp: &str,
) -> Result<Option<(PathBuf, PathBuf)>, String> {
    let real = root.join(path.trim_start_matches('/'));
    let dir = real
        .parent()
        .ok_or_else(|| format!("{}: no parent directory", real.display()))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut backup = None;
    if real.exists() {
        let name = real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let b = dir.join(format!(".{name}.netdoctor-{stamp}.bak"));
        std::fs::copy(&real, &b).map_err(|e| format!("backing up {}: {e}", real.display()))?;
        backup = Some((real.clone(), b));
    }
    let tmp = dir.join(format!(
        ".{}.netdoctor-tmp",
        real.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, content).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(&real) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, &real).map_err(|e| format!("renaming into {}: {e}", real.display()))?;
    Ok(backup)
}
