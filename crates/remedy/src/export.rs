//! The plan as text for a person, a POSIX shell script, or Ansible tasks, so the same repair
//! runs across a fleet.

use crate::apply::{describe, proc_sys_path};
use crate::edit::{Edit, NEW_FILE_HEADER};
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
        let (why, ids) = why_and_findings(s);
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

/// The shell functions every exported script starts with.
const SHELL_PRELUDE: &str = r##"set -eu
ROOT="${ROOT:-}"
stamp=$(date +%Y%m%d%H%M%S)
MARK='# netdoctor fix:'

# A node path resolved inside $ROOT the way the node resolves it: an absolute symlink starts
# again at $ROOT and `..` stops there, so nothing outside $ROOT is ever written.
inroot() {
  rest=${1#/}; cur=""; hops=0
  while [ -n "$rest" ]; do
    comp=${rest%%/*}
    if [ "$comp" = "$rest" ]; then rest=""; else rest=${rest#*/}; fi
    case $comp in
      ''|.) continue ;;
      ..) cur=${cur%/*}; continue ;;
    esac
    if [ -L "$ROOT$cur/$comp" ]; then
      hops=$((hops + 1))
      if [ "$hops" -gt 40 ]; then echo "netdoctor: too many symlinks in $1" >&2; return 1; fi
      t=$(readlink "$ROOT$cur/$comp")
      if [ "$t" = /dev/null ] && [ -z "$rest" ]; then echo "netdoctor: $1 is masked (a link to /dev/null): not written" >&2; return 1; fi
      case $t in
        /*) cur=""; rest="${t#/}${rest:+/$rest}" ;;
        *) rest="$t${rest:+/$rest}" ;;
      esac
    else
      cur="$cur/$comp"
    fi
  done
  printf '%s
' "$ROOT$cur"
}

# A copy of the file beside it that never overwrites an earlier one.
backup() {
  [ -f "$1" ] || return 0
  b="$(dirname "$1")/.$(basename "$1").netdoctor-$stamp"
  n=1; c="$b.bak"
  while [ -e "$c" ]; do n=$((n + 1)); c="$b-$n.bak"; done
  cp -p "$1" "$c"
}

# Whether netdoctor's marked line for the key already gives the value.
has_line() {
  [ -f "$1" ] && awk -v m="$MARK" -v l="$2" 'index(p, m) == 1 && $0 == l { f = 1 } { p = $0 } END { exit !f }' "$1"
}

# The file without netdoctor's own (marked) lines for a key; every other line kept.
without_own() {
  [ -f "$1" ] || return 0
  awk -v m="$MARK" -v k="$2" '
    held != "" { if (index($0, k " =") == 1 || index($0, k "=") == 1) { held = ""; next } print held; held = "" }
    index($0, m) == 1 { held = $0; next }
    index($0, k " =") == 1 && index($0, "# added by netdoctor") > 0 { next }
    { print }
    END { if (held != "") print held }' "$1"
}

# Set key = value in a file (netdoctor's marked line; other lines kept), atomically.
set_line() {
  f=$(inroot "$1") || return 0
  if has_line "$f" "$3 = $4"; then return 0; fi
  mkdir -p "$(dirname "$f")"
  backup "$f"
  tmp="$f.netdoctor-tmp.$$"
  { if [ -f "$f" ]; then without_own "$f" "$3"; else printf '%s\n%s\n' "$NEW1" "$NEW2"; fi
    printf '%s %s\n%s = %s\n' "$MARK" "$2" "$3" "$4"; } > "$tmp"
  mv "$tmp" "$f"
}

# Add a module to a modules-load.d file unless a line already names it.
add_module() {
  f=$(inroot "$1") || return 0
  if [ -f "$f" ] && grep -qE "^[[:space:]]*$3([[:space:]]|$)" "$f"; then return 0; fi
  mkdir -p "$(dirname "$f")"
  backup "$f"
  tmp="$f.netdoctor-tmp.$$"
  { if [ -f "$f" ]; then cat "$f"; else printf '%s\n%s\n' "$NEW1" "$NEW2"; fi
    printf '%s %s\n%s\n' "$MARK" "$2" "$3"; } > "$tmp"
  mv "$tmp" "$f"
}

# Write a value into /proc/sys.
write_proc() {
  printf '%s\n' "$2" > "$1"
}

# Runtime changes go to the running kernel. With $ROOT set (a mounted image) they are skipped,
# unless LIVE=1 says the running kernel is the one whose files are under $ROOT (a pod with the
# host's root mounted at /host).
LIVE="${LIVE:-}"
live() {
  if [ -n "$ROOT" ] && [ "$LIVE" != 1 ]; then echo "netdoctor: ROOT is set: skipped on the running system: $*"; return 0; fi
  "$@"
}
"##;

/// A POSIX `set -eu` script with the same effect as `--apply`, safe to run twice. `ROOT` in the
/// environment redirects file changes (a mounted image) and then leaves the running kernel
/// alone: runtime changes are made only when `ROOT` is empty.
pub fn shell(plan: &Plan, node: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "#!/bin/sh\n# netdoctor fix for node {node}: {}",
        plan.findings.join(", ")
    );
    let _ = writeln!(
        o,
        "# Idempotent: a second run changes nothing. File changes go under $ROOT (default /);\n# with ROOT set, the running system is not changed (LIVE=1 changes it too)."
    );
    let _ = writeln!(
        o,
        "NEW1={}\nNEW2={}",
        sq(NEW_FILE_HEADER[0]),
        sq(NEW_FILE_HEADER[1])
    );
    o.push_str(SHELL_PRELUDE);
    o.push('\n');
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
                    "# [{}]\nlive write_proc {} {}",
                    findings.join(", "),
                    sq(&p.to_string_lossy()),
                    sq(value)
                );
            }
            Step::Modprobe { name, findings } => {
                let _ = writeln!(o, "# [{}]\nlive modprobe {}", findings.join(", "), sq(name));
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
                let _ = writeln!(o, "# [{}] {}", fc.findings.join(", "), fc.why);
                let finding = fc.findings.first().cloned().unwrap_or_default();
                match &fc.edit {
                    Edit::Sysctl(wanted) => {
                        for (key, value, id) in wanted {
                            let _ = writeln!(
                                o,
                                "set_line {} {} {} {}",
                                sq(&fc.path),
                                sq(id),
                                sq(key),
                                sq(value)
                            );
                        }
                    }
                    Edit::Modules(wanted) => {
                        for (name, _) in wanted {
                            let _ = writeln!(
                                o,
                                "add_module {} {} {}",
                                sq(&fc.path),
                                sq(&finding),
                                sq(name)
                            );
                        }
                    }
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

/// Commands that are not idempotent by themselves get a guard, so a second run is a no-op;
/// every command changes the running system, so it runs only without `ROOT`.
fn guarded(argv: &[String], cmd: &str) -> String {
    let a: Vec<&str> = argv.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["ip", "addr", "del", addr, "dev", dev] => format!(
            "if {{ [ -z \"$ROOT\" ] || [ \"$LIVE\" = 1 ]; }} && ip -o addr show dev {} 2>/dev/null | grep -qF {}; then {cmd}; fi",
            sq(dev),
            sq(&format!(" {addr} "))
        ),
        ["ip", "link", "delete", dev] => format!(
            "if {{ [ -z \"$ROOT\" ] || [ \"$LIVE\" = 1 ]; }} && ip link show {} >/dev/null 2>&1; then {cmd}; fi",
            sq(dev)
        ),
        _ => format!("live {cmd}"),
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
                        // A file netdoctor does not own: a marked block, every other line kept.
                        let _ = writeln!(o, "    - name: {}\n      ansible.builtin.blockinfile:\n        path: {}\n        marker: {}\n        block: {}\n        backup: true", yq(&format!("[{}] {}", fc.findings.join(", "), fc.why)), yq(&fc.path), yq(&format!("# netdoctor fix: {{mark}} {key}")), yq(&format!("{key} = {value}")));
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

/// One step of `fix --format json`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FixStepDoc<'a> {
    Sysctl {
        key: &'a str,
        value: &'a str,
        when: &'static str,
        findings: &'a [String],
    },
    Modprobe {
        module: &'a str,
        when: &'static str,
        findings: &'a [String],
    },
    Command {
        argv: &'a [String],
        why: &'a str,
        when: &'static str,
        findings: &'a [String],
    },
    File {
        path: &'a str,
        /// Whether the file exists already (its content is not repeated).
        exists: bool,
        /// The lines it adds.
        adds: &'a [String],
        /// The lines it replaces.
        replaces: &'a [String],
        why: &'a str,
        when: &'static str,
        findings: &'a [String],
    },
}

/// A service a person must restart after the steps.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct RestartDoc<'a> {
    pub service: &'a str,
    pub why: &'a str,
}

/// What needs a person.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ManualDoc<'a> {
    pub finding: &'a str,
    pub instruction: &'a str,
}

/// The whole `fix --format json` document (`netdoctor.fix/v1`).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct FixDoc<'a> {
    pub schema: &'static str,
    pub node: &'a str,
    /// Finding ids the plan addresses.
    pub findings: &'a [String],
    pub steps: Vec<FixStepDoc<'a>>,
    pub restarts: Vec<RestartDoc<'a>>,
    pub manual: Vec<ManualDoc<'a>>,
}

/// The plan as a `netdoctor.fix/v1` document: each step with its kind, what it changes, why,
/// and the findings it addresses; then the restarts and what needs a person.
pub fn doc<'a>(plan: &'a Plan, node: &'a str) -> FixDoc<'a> {
    FixDoc {
        schema: "netdoctor.fix/v1",
        node,
        findings: &plan.findings,
        steps: plan
            .steps
            .iter()
            .map(|s| match s {
                Step::Sysctl {
                    key,
                    value,
                    findings,
                } => FixStepDoc::Sysctl {
                    key,
                    value,
                    when: "now",
                    findings,
                },
                Step::Modprobe { name, findings } => FixStepDoc::Modprobe {
                    module: name,
                    when: "now",
                    findings,
                },
                Step::Command {
                    argv,
                    why,
                    findings,
                } => FixStepDoc::Command {
                    argv,
                    why,
                    when: "now",
                    findings,
                },
                Step::File(fc) => FixStepDoc::File {
                    path: &fc.path,
                    exists: fc.before.is_some(),
                    adds: &fc.added,
                    replaces: &fc.replaces,
                    why: &fc.why,
                    when: "at boot",
                    findings: &fc.findings,
                },
            })
            .collect(),
        restarts: plan
            .restarts
            .iter()
            .map(|(service, why)| RestartDoc { service, why })
            .collect(),
        manual: plan
            .manual
            .iter()
            .map(|(finding, instruction)| ManualDoc {
                finding,
                instruction,
            })
            .collect(),
    }
}

/// The plan as JSON (`netdoctor.fix/v1`, see [`doc`]). A file step lists the lines it adds and
/// whether the file exists already (its content is not repeated).
pub fn json(plan: &Plan, node: &str) -> String {
    let mut s = serde_json::to_string_pretty(&doc(plan, node))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// The plan as Markdown, for a ticket or a change request.
pub fn markdown(plan: &Plan, node: &str) -> String {
    let mut o = String::new();
    if plan.is_empty() {
        let _ = writeln!(o, "## netdoctor fix, node `{node}`\n\nNothing to do.");
        return o;
    }
    let _ = writeln!(
        o,
        "## netdoctor fix, node `{node}`\n\nPlan for {} (dry run; nothing was changed).\n",
        plan.findings
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (i, s) in plan.steps.iter().enumerate() {
        let (why, ids) = why_and_findings(s);
        let _ = writeln!(
            o,
            "{}. {}: {why} ({})",
            i + 1,
            describe(s).replace('`', "'"),
            ids.join(", ")
        );
        if let Step::File(fc) = s {
            let _ = writeln!(
                o,
                "\n   ```\n{}   ```",
                fc.added
                    .iter()
                    .map(|l| format!("   {l}\n"))
                    .collect::<String>()
            );
        }
    }
    if !plan.restarts.is_empty() {
        let _ = writeln!(
            o,
            "\n### Then restart (netdoctor does not restart services itself)\n"
        );
        for (svc, why) in &plan.restarts {
            let _ = writeln!(o, "- {svc}: {why}");
        }
    }
    if !plan.manual.is_empty() {
        let _ = writeln!(o, "\n### Needs a person\n");
        for (id, t) in &plan.manual {
            let _ = writeln!(o, "- `{id}`: {t}");
        }
    }
    o
}

/// Why a step is made, and the findings it addresses.
fn why_and_findings(s: &Step) -> (&str, &[String]) {
    match s {
        Step::Sysctl { findings, .. } | Step::Modprobe { findings, .. } => {
            ("now, in the running kernel", findings)
        }
        Step::Command { why, findings, .. } => (why.as_str(), findings),
        Step::File(fc) => (fc.why.as_str(), &fc.findings),
    }
}
