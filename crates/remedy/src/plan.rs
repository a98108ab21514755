//! Building the plan.

use netdoctor_bootconf::{canonical_key, dropin_name, BootSysctl, Order};
use netdoctor_model::{Action, CheckReport, NodeSnapshot};

/// Marks lines netdoctor wrote into a file it does not own (`/etc/sysctl.conf`).
pub const DROPIN_MARK: &str = "# added by netdoctor";

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
/// from `/etc/sysctl.conf` last, an appended line there (existing lines kept).
fn sysctl_files(p: &mut Plan, snap: &NodeSnapshot, wanted: &[(String, String, String)]) {
    let path = format!("/etc/sysctl.d/{}", dropin_name(&snap.files));
    let before = snap.file(&path).map(|f| f.content.clone());
    let mut lines: Vec<String> = before
        .as_deref()
        .unwrap_or("")
        .lines()
        .map(String::from)
        .collect();
    let mut added = Vec::new();
    let mut replaces = Vec::new();
    for (key, value, _) in wanted {
        let line = format!("{key} = {value}");
        let ck = canonical_key(key);
        let same_key = |l: &String| {
            l.split_once('=')
                .is_some_and(|(k, _)| canonical_key(k.trim()) == ck)
        };
        if lines
            .iter()
            .any(|l| same_key(l) && l.split_once('=').is_some_and(|(_, v)| v.trim() == value))
        {
            continue;
        }
        if lines.iter().any(same_key) {
            // The drop-in is netdoctor's own file: its earlier line for this key is replaced.
            lines.retain(|l| !same_key(l));
            replaces.push(key.clone());
        }
        lines.push(line.clone());
        added.push(line);
    }
    let findings: Vec<String> = wanted
        .iter()
        .map(|(_, _, id)| id.clone())
        .fold(Vec::new(), dedup);
    if !added.is_empty() {
        if before.is_none() {
            lines.insert(
                0,
                "# Written by netdoctor fix: Kubernetes networking needs these at boot.".into(),
            );
            lines.insert(1, "# The name sorts after every other sysctl.d file on this node, so these values win.".into());
        }
        p.steps.push(Step::File(FileChange {
            path: path.clone(),
            before,
            after: lines.join("\n") + "\n",
            added,
            replaces,
            why: "make the values win at boot (systemd-sysctl and sysctl --system)".into(),
            findings: findings.clone(),
        }));
    }
    // procps `sysctl --system` reads /etc/sysctl.conf after every drop-in.
    let Some(conf) = snap.file("/etc/sysctl.conf") else {
        return;
    };
    let mut with_dropin = snap.files.clone();
    if let Some(Step::File(fc)) = p
        .steps
        .iter()
        .rev()
        .find(|s| matches!(s, Step::File(f) if f.path == path))
    {
        with_dropin.retain(|f| f.path != path);
        with_dropin.push(netdoctor_model::ConfigFile {
            path: path.clone(),
            symlink_target: None,
            content: fc.after.clone(),
            source: netdoctor_model::Source::live(path.clone()),
        });
    }
    let procps = BootSysctl::evaluate(&with_dropin, Order::Procps);
    let mut append = Vec::new();
    for (key, value, _) in wanted {
        if procps
            .value(key)
            .is_some_and(|a| a.file == "/etc/sysctl.conf" && a.value != *value)
        {
            append.push(format!(
                "{key} = {value}   {DROPIN_MARK}: sysctl --system reads this file last"
            ));
        }
    }
    if !append.is_empty() {
        let mut after = conf.content.clone();
        if !after.is_empty() && !after.ends_with('\n') {
            after.push('\n');
        }
        for l in &append {
            after.push_str(l);
            after.push('\n');
        }
        p.steps.push(Step::File(FileChange {
            path: "/etc/sysctl.conf".into(),
            before: Some(conf.content.clone()),
            after,
            added: append,
            replaces: vec![],
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
    let before = snap.file(&path).map(|f| f.content.clone());
    let mut lines: Vec<String> = before
        .as_deref()
        .unwrap_or("")
        .lines()
        .map(String::from)
        .collect();
    let mut added = Vec::new();
    for (name, _) in wanted {
        if lines
            .iter()
            .any(|l| l.split_whitespace().next() == Some(name))
        {
            continue;
        }
        lines.push(name.clone());
        added.push(name.clone());
    }
    if added.is_empty() {
        return;
    }
    if before.is_none() {
        lines.insert(
            0,
            "# Written by netdoctor fix: modules Kubernetes networking needs at boot.".into(),
        );
    }
    p.steps.push(Step::File(FileChange {
        path,
        before,
        after: lines.join("\n") + "\n",
        added,
        replaces: vec![],
        why: "load the modules at every boot, before systemd-sysctl applies their settings".into(),
        findings: wanted
            .iter()
            .map(|(_, id)| id.clone())
            .fold(Vec::new(), dedup),
    }));
}
