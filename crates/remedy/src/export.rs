//! The plan as text for a person, a POSIX shell script, or Ansible tasks, so the same repair
//! runs across a fleet.

use crate::apply::{describe, proc_sys_path};
use crate::plan::{Plan, Step};
use std::fmt::Write;

/// Single-quote for POSIX sh.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Double-quoted YAML scalar (JSON escaping is valid YAML).
fn yq(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The plan for a person: every change, then restarts and what needs a human.
pub fn text(plan: &Plan, node: &str) -> String {
    let mut o = String::new();
    if plan.is_empty() {
        let _ = writeln!(o, "netdoctor fix, node {node}: nothing to do.");
        return o;
    }
    let _ = writeln!(
        o,
        "netdoctor fix, node {node}: plan for {} (dry run; nothing was changed)\n",
        plan.findings.join(", ")
    );
    for (i, s) in plan.steps.iter().enumerate() {
        let (why, ids) = match s {
            Step::Sysctl { findings, .. } | Step::Modprobe { findings, .. } => {
                ("now, in the running kernel", findings)
            }
            Step::Command { why, findings, .. } => (why.as_str(), findings),
            Step::File(fc) => (fc.why.as_str(), &fc.findings),
        };
        let _ = writeln!(
            o,
            "{:>2}. {}\n    why: {why} [{}]",
            i + 1,
            describe(s),
            ids.join(", ")
        );
        if let Step::File(fc) = s {
            for l in &fc.added {
                let _ = writeln!(o, "    + {l}");
            }
        }
    }
    if !plan.restarts.is_empty() {
        let _ = writeln!(
            o,
            "\nThen restart (netdoctor does not restart services itself):"
        );
        for (svc, why) in &plan.restarts {
            let _ = writeln!(o, "  - {svc}: {why}");
        }
    }
    if !plan.manual.is_empty() {
        let _ = writeln!(o, "\nNeeds a person:");
        for (id, t) in &plan.manual {
            let _ = writeln!(o, "  - [{id}] {t}");
        }
    }
    let _ = writeln!(o, "\nRun `netdoctor fix --apply` (as root) to make these changes, or `--format shell|ansible` to export them.");
    o
}

/// A POSIX `set -eu` script with the same effect as `--apply`, safe to run twice. `ROOT` in the
/// environment redirects file changes (a mounted image); runtime changes hit the running kernel.
pub fn shell(plan: &Plan, node: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "#!/bin/sh\n# netdoctor fix for node {node}: {}",
        plan.findings.join(", ")
    );
    let _ = writeln!(
        o,
        "# Idempotent: a second run changes nothing. File changes go under $ROOT (default /)."
    );
    let _ = writeln!(
        o,
        "set -eu\nROOT=\"${{ROOT:-}}\"\nstamp=$(date +%Y%m%d%H%M%S)\n"
    );
    let _ = writeln!(o, "backup() {{\n  if [ -e \"$1\" ]; then cp -p \"$1\" \"$(dirname \"$1\")/.$(basename \"$1\").netdoctor-$stamp.bak\"; fi\n}}\n");
    for s in &plan.steps {
        match s {
            Step::Sysctl {
                key,
                value,
                findings,
            } => {
                let p = proc_sys_path(key);
                let _ = writeln!(
                    o,
                    "# [{}]\nprintf '%s\\n' {} > {}",
                    findings.join(", "),
                    sq(value),
                    sq(&p.to_string_lossy())
                );
            }
            Step::Modprobe { name, findings } => {
                let _ = writeln!(o, "# [{}]\nmodprobe {}", findings.join(", "), sq(name));
            }
            Step::Command {
                argv,
                why,
                findings,
            } => {
                let cmd: Vec<String> = argv.iter().map(|a| sq(a)).collect();
                let _ = writeln!(o, "# [{}] {why}", findings.join(", "));
                let _ = writeln!(o, "{}", guarded(argv, &cmd.join(" ")));
            }
            Step::File(fc) => {
                let own = fc.path != "/etc/sysctl.conf";
                let _ = writeln!(
                    o,
                    "# [{}] {}\nf=\"$ROOT\"{}\nmkdir -p \"$(dirname \"$f\")\"",
                    fc.findings.join(", "),
                    fc.why,
                    sq(&fc.path)
                );
                let header: Vec<String> = if fc.before.is_none() {
                    fc.after
                        .lines()
                        .take_while(|l| l.starts_with('#'))
                        .map(sq)
                        .collect()
                } else {
                    Vec::new()
                };
                for line in &fc.added {
                    let _ = writeln!(
                        o,
                        "if ! grep -qxF {} \"$f\" 2>/dev/null; then\n  backup \"$f\"",
                        sq(line)
                    );
                    if !header.is_empty() {
                        let _ = writeln!(
                            o,
                            "  [ -e \"$f\" ] || printf '%s\\n' {} > \"$f\"",
                            header.join(" ")
                        );
                    }
                    let key = line.split('=').next().unwrap_or("").trim();
                    if own && line.contains('=') {
                        // netdoctor's own drop-in: its earlier line for the key is replaced.
                        let pat = format!("^{} *=", regex_escape(key));
                        let _ = writeln!(o, "  {{ grep -v {} \"$f\" 2>/dev/null || true; printf '%s\\n' {}; }} > \"$f.netdoctor-tmp\"", sq(&pat), sq(line));
                    } else {
                        // Not netdoctor's file: every existing line is kept, the new one appended.
                        let _ = writeln!(o, "  {{ cat \"$f\" 2>/dev/null || true; printf '%s\\n' {}; }} > \"$f.netdoctor-tmp\"", sq(line));
                    }
                    let _ = writeln!(o, "  mv \"$f.netdoctor-tmp\" \"$f\"\nfi");
                }
            }
        }
        o.push('\n');
    }
    for (svc, why) in &plan.restarts {
        let _ = writeln!(
            o,
            "echo {}",
            sq(&format!("netdoctor: now restart {svc} ({why})"))
        );
    }
    for (id, t) in &plan.manual {
        let _ = writeln!(
            o,
            "echo {}",
            sq(&format!("netdoctor: needs a person [{id}]: {t}"))
        );
    }
    o
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if ".[]*^$\\".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Commands that are not idempotent by themselves get a guard, so a second run is a no-op.
fn guarded(argv: &[String], cmd: &str) -> String {
    let a: Vec<&str> = argv.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["ip", "addr", "del", addr, "dev", dev] => format!(
            "if ip -o addr show dev {} 2>/dev/null | grep -qF {}; then {cmd}; fi",
            sq(dev),
            sq(&format!(" {addr} "))
        ),
        ["ip", "link", "delete", dev] => format!(
            "if ip link show {} >/dev/null 2>&1; then {cmd}; fi",
            sq(dev)
        ),
        _ => cmd.to_string(),
    }
}

/// An Ansible playbook using `ansible.posix.sysctl` and `community.general.modprobe` with a
/// sysctl file and persistence, not shell pipelines.
pub fn ansible(plan: &Plan, node: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# netdoctor fix for node {node}: {}",
        plan.findings.join(", ")
    );
    let _ = writeln!(
        o,
        "- name: {}\n  hosts: all\n  become: true\n  tasks:",
        yq("netdoctor remediation")
    );
    let dropin = plan.steps.iter().find_map(|s| match s {
        Step::File(fc) if fc.path.starts_with("/etc/sysctl.d/") => Some(fc.path.clone()),
        _ => None,
    });
    let mut tasks = 0;
    for s in &plan.steps {
        match s {
            Step::Modprobe { name, findings } => {
                let persistent = plan.steps.iter().any(|s| matches!(s, Step::File(fc) if fc.path.starts_with("/etc/modules-load.d/") && fc.added.contains(name)));
                let _ = writeln!(o, "    - name: {}\n      community.general.modprobe:\n        name: {}\n        state: present", yq(&format!("[{}] load {name}", findings.join(", "))), yq(name));
                if persistent {
                    let _ = writeln!(o, "        persistent: present");
                }
            }
            Step::Sysctl {
                key,
                value,
                findings,
            } => {
                let persisted = plan.steps.iter().any(|s| matches!(s, Step::File(fc) if fc.added.iter().any(|l| l.split('=').next().is_some_and(|k| k.trim() == key))));
                match (&dropin, persisted) {
                    (Some(file), true) => {
                        let _ = writeln!(o, "    - name: {}\n      ansible.posix.sysctl:\n        name: {}\n        value: {}\n        sysctl_file: {}\n        sysctl_set: true\n        state: present\n        reload: true", yq(&format!("[{}] {key} = {value}", findings.join(", "))), yq(key), yq(value), yq(file));
                    }
                    _ => {
                        let _ = writeln!(o, "    - name: {}\n      ansible.builtin.command:\n        argv: [\"sysctl\", \"-w\", {}]\n      changed_when: true", yq(&format!("[{}] {key} = {value} (runtime only)", findings.join(", "))), yq(&format!("{key}={value}")));
                    }
                }
            }
            Step::File(fc) => {
                for line in &fc.added {
                    let Some((k, v)) = line.split_once('=') else {
                        continue; // a module line: handled by community.general.modprobe
                    };
                    let key = k.trim();
                    let value = v.split('#').next().unwrap_or("").trim();
                    if plan
                        .steps
                        .iter()
                        .any(|s| matches!(s, Step::Sysctl { key: sk, .. } if sk == key))
                        && fc.path.starts_with("/etc/sysctl.d/")
                    {
                        continue; // already a sysctl task with this file
                    }
                    if fc.path.starts_with("/etc/sysctl.d/") {
                        let _ = writeln!(o, "    - name: {}\n      ansible.posix.sysctl:\n        name: {}\n        value: {}\n        sysctl_file: {}\n        sysctl_set: false\n        state: present\n        reload: false", yq(&format!("[{}] {key} = {value} at boot", fc.findings.join(", "))), yq(key), yq(value), yq(&fc.path));
                    } else {
                        let _ = writeln!(o, "    - name: {}\n      ansible.builtin.lineinfile:\n        path: {}\n        line: {}\n        backup: true", yq(&format!("[{}] {}", fc.findings.join(", "), fc.why)), yq(&fc.path), yq(line));
                    }
                }
                if fc.path.starts_with("/etc/modules-load.d/") {
                    for m in &fc.added {
                        if !plan
                            .steps
                            .iter()
                            .any(|s| matches!(s, Step::Modprobe { name, .. } if name == m))
                        {
                            let _ = writeln!(o, "    - name: {}\n      community.general.modprobe:\n        name: {}\n        state: present\n        persistent: present", yq(&format!("[{}] load {m} at boot", fc.findings.join(", "))), yq(m));
                        }
                    }
                }
            }
            Step::Command {
                argv,
                why,
                findings,
            } => {
                let args: Vec<String> = argv.iter().map(|a| yq(a)).collect();
                let _ = writeln!(o, "    - name: {}\n      ansible.builtin.command:\n        argv: [{}]\n      changed_when: true", yq(&format!("[{}] {why}", findings.join(", "))), args.join(", "));
            }
        }
        tasks += 1;
    }
    for (svc, why) in &plan.restarts {
        let _ = writeln!(
            o,
            "    - name: {}\n      ansible.builtin.debug:\n        msg: {}",
            yq(&format!("restart {svc}")),
            yq(&format!("restart {svc}: {why}"))
        );
        tasks += 1;
    }
    for (id, t) in &plan.manual {
        let _ = writeln!(
            o,
            "    - name: {}\n      ansible.builtin.debug:\n        msg: {}",
            yq(&format!("[{id}] needs a person")),
            yq(t)
        );
        tasks += 1;
    }
    if tasks == 0 {
        let _ = writeln!(
            o,
            "    - name: {}\n      ansible.builtin.debug:\n        msg: {}",
            yq("nothing to do"),
            yq("netdoctor found nothing to fix")
        );
    }
    o
}
