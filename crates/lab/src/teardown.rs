//! Removing a lab: on drop, on [`Lab::close`], and by prefix after a crash.

use crate::cni::{self, CniMode};
use crate::exec::run;
use crate::{Lab, LabError};

impl Lab {
    /// Tear the lab down now and report every step that failed (dropping does the same
    /// silently). Each step runs even when an earlier one failed.
    pub fn close(mut self) -> Result<(), LabError> {
        let errors = self.teardown();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(LabError::Teardown(errors))
        }
    }

    /// Idempotent: a second call finds nothing left to remove.
    fn teardown(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        // Threads first: a thread inside a namespace keeps it (and its devices) alive.
        self.echo.clear();
        if self.cni == CniMode::Plugins {
            for p in std::mem::take(&mut self.pods) {
                let conf = self.cni_conf(p.node);
                if let Err(e) =
                    cni::del(&self.nodes[p.node].netns, &p.netns, &p.container_id, &conf)
                {
                    errors.push(format!("CNI DEL {}: {e}", p.name));
                }
            }
        }
        for ns in std::mem::take(&mut self.namespaces).iter().rev() {
            if let Err(e) = run("ip", &["netns", "del", ns]) {
                errors.push(e.to_string());
            }
        }
        if self.dir.exists() {
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                errors.push(format!("{}: {e}", self.dir.display()));
            }
        }
        errors
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

/// Remove every namespace, host link and lab directory whose name starts with `prefix` (the
/// leftovers of a crashed run). Returns what was removed. Do not pass a prefix that a running
/// lab of another process also uses.
pub fn cleanup_prefix(prefix: &str) -> Result<Vec<String>, LabError> {
    if prefix.len() < 3 {
        return Err(LabError::Spec(format!(
            "refusing to clean up the short prefix {prefix:?}"
        )));
    }
    let mut removed = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/run/netns") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) && run("ip", &["netns", "del", &name]).is_ok() {
                removed.push(format!("netns {name}"));
            }
        }
    }
    // The lab creates no link in the host namespace; this catches one a crash mid-way left.
    if let Ok(entries) = std::fs::read_dir("/sys/class/net") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) && run("ip", &["link", "del", &name]).is_ok() {
                removed.push(format!("link {name}"));
            }
        }
    }
    let tmp = std::env::temp_dir();
    let dir_prefix = format!("netdoctor-lab-{prefix}");
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&dir_prefix) && std::fs::remove_dir_all(e.path()).is_ok() {
                removed.push(format!("dir {}", e.path().display()));
            }
        }
    }
    Ok(removed)
}
