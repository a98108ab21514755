//! Building the plan.

use crate::edit::{apply_edit, Edit};
use netdoctor_bootconf::{dropin_name, BootSysctl, Order};
use netdoctor_model::{Action, CheckReport, NodeSnapshot};

/// One change to the node, in the order it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write `/proc/sys/...` now.
    Sysctl {
        key: String,
        value: String,
        findings: Vec<String>,
    },
    /// `modprobe NAME` now.
    Modprobe { name: String, findings: Vec<String> },
    /// Run a command now.
    Command {
        argv: Vec<String>,
        why: String,
        findings: Vec<String>,
    },
    /// Make a file say what it must at boot.
    File(FileChange),
}

/// A configuration file's new content, with the old one for the backup and the diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Path on the node (`/etc/sysctl.d/99-netdoctor.conf`).
    pub path: String,
    /// The content before, if the file exists.
    pub before: Option<String>,
    pub after: String,
    /// The lines this change adds (for display and for the shell export).
    pub added: Vec<String>,
    /// Sysctl keys (or module names) whose earlier netdoctor lines this change replaces.
    pub replaces: Vec<String>,
    /// The change itself, made again on the file as it is when applied (under the lock), so a
    /// concurrent run or a changed file never gets it twice.
    pub edit: Edit,
    pub why: String,
    pub findings: Vec<String>,
}

/// The whole remediation for a node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// (service, why): restarts a person must do after the steps.
    pub restarts: Vec<(String, String)>,
    /// (finding id, instruction): what needs a person.
    pub manual: Vec<(String, String)>,
    /// Finding ids the plan addresses.
    pub findings: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.manual.is_empty() && self.restarts.is_empty()
    }
}

/// The plan for `report`'s findings on the node `snapshot` describes. `only`, when not empty,
/// limits it to those finding ids.
pub fn plan(report: &CheckReport, snapshot: &NodeSnapshot, only: &[String]) -> Plan {
    let mut p = Plan::default();
    let mut persist_sysctl: Vec<(String, String, String)> = Vec::new();
    let mut persist_modules: Vec<(String, String)> = Vec::new();
    for f in &report.findings {
        if !only.is_empty() && !only.contains(&f.id) {
            continue;
        }
        if f.actions.is_empty() {
            continue;
        }
        p.findings.push(f.id.clone());
        for a in &f.actions {
            match a {
                Action::Sysctl {
                    key,
                    value,
                    runtime,
                    persistent,
                } => {
                    if *runtime {
                        push_sysctl(&mut p.steps, key, value, &f.id);
                    }
                    if *persistent && !persist_sysctl.iter().any(|(k, _, _)| k == key) {
                        persist_sysctl.push((key.clone(), value.clone(), f.id.clone()));
                    }
                }
                Action::LoadModule {
                    name,
                    runtime,
                    persistent,
                } => {
                    if *runtime
                        && !p
                            .steps
                            .iter()
                            .any(|s| matches!(s, Step::Modprobe { name: n, .. } if n == name))
                    {
                        // A module must be there before its sysctls can be written.
                        p.steps.insert(
                            0,
                            Step::Modprobe {
                                name: name.clone(),
                                findings: vec![f.id.clone()],
                            },
                        );
                    }
                    if *persistent && !persist_modules.iter().any(|(n, _)| n == name) {
                        persist_modules.push((name.clone(), f.id.clone()));
                    }
                }
                Action::Command { argv, why } => p.steps.push(Step::Command {
                    argv: argv.clone(),
                    why: why.clone(),
                    findings: vec![f.id.clone()],
                }),
                Action::Restart { service, why } => {
                    if !p.restarts.iter().any(|(s, _)| s == service) {
                        p.restarts.push((service.clone(), why.clone()));
                    }
                }
                Action::Manual { text } => p.manual.push((f.id.clone(), text.clone())),
            }
        }
    }
    if !persist_sysctl.is_empty() {
        sysctl_files(&mut p, snapshot, &persist_sysctl);
    }
    if !persist_modules.is_empty() {
        modules_file(&mut p, snapshot, &persist_modules);
    }
    p
}

fn push_sysctl(steps: &mut Vec<Step>, key: &str, value: &str, id: &str) {
    for s in steps.iter_mut() {
        if let Step::Sysctl {
            key: k, findings, ..
        } = s
        {
            if k == key {
                if !findings.iter().any(|x| x == id) {
                    findings.push(id.to_string());
                }
                return;
            }
        }
    }
    steps.push(Step::Sysctl {
        key: key.into(),
        value: value.into(),
        findings: vec![id.into()],
    });
}

/// The drop-in that wins at boot, and, where `sysctl --system` would still read a wrong value
/// from `/etc/sysctl.conf` last, a marked line there (existing lines kept).
fn sysctl_files(p: &mut Plan, snap: &NodeSnapshot, wanted: &[(String, String, String)]) {
    let path = format!("/etc/sysctl.d/{}", dropin_name(&snap.files));
    let before = snap.file(&path).map(|f| f.content.clone());
    let edit = Edit::Sysctl(wanted.to_vec());
    let edited = apply_edit(before.as_deref(), &edit);
    let findings: Vec<String> = wanted
        .iter()
        .map(|(_, _, id)| id.clone())
        .fold(Vec::new(), dedup);
    let mut with_dropin = snap.files.clone();
    if edited.changed() {
        with_dropin.retain(|f| f.path != path);
        with_dropin.push(netdoctor_model::ConfigFile {
            path: path.clone(),
            symlink_target: None,
            content: edited.after.clone(),
            source: netdoctor_model::Source::live(path.clone()),
        });
        p.steps.push(Step::File(FileChange {
            path: path.clone(),
            before,
            after: edited.after,
            added: edited.added,
            replaces: edited.replaced,
            edit,
            why: "make the values win at boot (systemd-sysctl and sysctl --system)".into(),
            findings: findings.clone(),
        }));
    }
    // procps `sysctl --system` reads /etc/sysctl.conf after every drop-in (and the network
    // scripts of older distributions read it alone).
    let Some(conf) = snap.file("/etc/sysctl.conf") else {
        return;
    };
    let procps = BootSysctl::evaluate(&with_dropin, Order::Procps);
    let append: Vec<(String, String, String)> = wanted
        .iter()
        .filter(|(key, value, _)| {
            procps
                .value(key)
                .is_some_and(|a| a.file == "/etc/sysctl.conf" && a.value != *value)
        })
        .cloned()
        .collect();
    if append.is_empty() {
        return;
    }
    let edit = Edit::Sysctl(append);
    let edited = apply_edit(Some(&conf.content), &edit);
    if edited.changed() {
        p.steps.push(Step::File(FileChange {
            path: "/etc/sysctl.conf".into(),
            before: Some(conf.content.clone()),
            after: edited.after,
            added: edited.added,
            replaces: edited.replaced,
            edit,
            why: "`sysctl --system` reads /etc/sysctl.conf last; a later line wins (every existing line is kept)".into(),
            findings,
        }));
    }
}

fn dedup(mut v: Vec<String>, x: String) -> Vec<String> {
    if !v.contains(&x) {
        v.push(x);
    }
    v
}

fn modules_file(p: &mut Plan, snap: &NodeSnapshot, wanted: &[(String, String)]) {
    let path = "/etc/modules-load.d/netdoctor.conf".to_string();
    // A module any modules-load.d file (or /etc/modules) already lists is loaded at boot.
    let listed = |name: &str| netdoctor_bootconf::boot_modules(&snap.files).contains_key(name);
    let wanted: Vec<(String, String)> =
        wanted.iter().filter(|(n, _)| !listed(n)).cloned().collect();
    if wanted.is_empty() {
        return;
    }
    let before = snap.file(&path).map(|f| f.content.clone());
    let edit = Edit::Modules(wanted.clone());
    let edited = apply_edit(before.as_deref(), &edit);
    if !edited.changed() {
        return;
    }
    p.steps.push(Step::File(FileChange {
        path,
        before,
        after: edited.after,
        added: edited.added,
        replaces: vec![],
        edit,
        why: "load the modules at every boot, before systemd-sysctl applies their settings".into(),
        findings: wanted
            .iter()
            .map(|(_, id)| id.clone())
            .fold(Vec::new(), dedup),
    }));
}
