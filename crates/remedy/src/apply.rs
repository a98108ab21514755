//! Making the changes: each step printed before it is made; the first failure stops the run and
//! the report says exactly what was done.

use crate::edit::apply_edit;
use crate::plan::{FileChange, Plan, Step};
use netdoctor_safefs::Root;
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

/// How long `apply` waits for another netdoctor that holds the lock on the same root.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The most a configuration file may hold to be edited.
const MAX_CONFIG: u64 = 16 << 20;

/// Apply `plan`: runtime changes to the running kernel (in this process's network namespace),
/// files under `root`. `stamp` names backups (a timestamp). Progress goes to `log`.
///
/// Made as a transaction on the root: under a lock (a second `fix --apply` waits), each file
/// change is made again on the file as it is then (so a change another run made is not made
/// twice), written atomically beside a backup that never overwrites an earlier one, through
/// symlinks to their target inside the root; nothing outside the root is touched.
pub fn apply(
    plan: &Plan,
    root: &Path,
    stamp: &str,
    log: &mut dyn Write,
) -> Result<Applied, ApplyError> {
    let root = Root::new(root);
    let mut applied = Applied::default();
    let _lock = root.lock(LOCK_WAIT).map_err(|e| ApplyError::Step {
        step: "lock the root".into(),
        message: e.to_string(),
        done: Vec::new(),
    })?;
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
            Step::File(fc) => write_file(&root, fc, stamp).map(|b| match b {
                Some((real, backup)) => {
                    if let Some(backup) = backup {
                        let _ = writeln!(log, "   backup: {}", backup.display());
                        applied.backups.push((real, backup));
                    }
                }
                None => {
                    let _ = writeln!(
                        log,
                        "   already there (another run made it): nothing to write"
                    );
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

/// Make a file change on the file as it is now. `None` when there is nothing left to change;
/// else the file written and its backup.
fn write_file(
    root: &Root,
    fc: &FileChange,
    stamp: &str,
) -> Result<Option<(PathBuf, Option<PathBuf>)>, String> {
    let current = match root.read(&fc.path, MAX_CONFIG, "a configuration file") {
        Ok(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.to_string()),
    };
    let edited = apply_edit(current.as_deref(), &fc.edit);
    if !edited.changed() {
        return Ok(None);
    }
    let w = root
        .write_atomic(&fc.path, edited.after.as_bytes(), stamp)
        .map_err(|e| e.to_string())?;
    Ok(Some((w.real, w.backup)))
}
