//! Running the lab's tools (`ip`, `iptables-*`, CNI plugins, `ping`) and entering a network
//! namespace from a thread.

use crate::LabError;
use std::fs::File;
use std::io::Write;
use std::process::{Command, Stdio};

/// Run a program; its stdout on success, a [`LabError::Command`] naming it on failure.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<String, LabError> {
    run_with(program, args, &[], None)
}

/// Run a program with extra environment variables and optional standard input.
pub(crate) fn run_with(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Result<String, LabError> {
    let cmdline = format!("{program} {}", args.join(" "));
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| LabError::Spawn {
        cmd: cmdline.clone(),
        source: e,
    })?;
    if let Some(input) = stdin {
        if let Some(mut pipe) = child.stdin.take() {
            // A plugin that exits early closes its stdin; its exit status tells the story.
            let _ = pipe.write_all(input.as_bytes());
        }
    }
    let out = child.wait_with_output().map_err(|e| LabError::Spawn {
        cmd: cmdline.clone(),
        source: e,
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if stderr.is_empty() {
            stderr = stdout.trim().to_string();
        }
        Err(LabError::Command {
            cmd: cmdline,
            status: out.status.code(),
            stderr,
        })
    }
}

/// `ip -n NS ARGS...`
pub(crate) fn ip(ns: &str, args: &[&str]) -> Result<String, LabError> {
    let mut full = vec!["-n", ns];
    full.extend_from_slice(args);
    run("ip", &full)
}

/// `ip netns exec NS sh -c LINE`: the lab's fault and fix steps are shell lines so the demo
/// can print exactly what it runs.
pub(crate) fn ns_sh(ns: &str, line: &str) -> Result<String, LabError> {
    run("ip", &["netns", "exec", ns, "sh", "-c", line])
}

/// `ip netns exec NS PROGRAM ARGS...` with optional stdin.
pub(crate) fn ns_run(
    ns: &str,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Result<String, LabError> {
    let mut full = vec!["netns", "exec", ns, program];
    full.extend_from_slice(args);
    run_with("ip", &full, env, stdin)
}

/// Move the calling thread into the named network namespace. Sockets created afterwards by
/// this thread live there for good, even once the thread moves on or ends.
pub(crate) fn enter_netns(ns: &str) -> Result<(), LabError> {
    let path = format!("/run/netns/{ns}");
    let f = File::open(&path).map_err(|e| LabError::Io {
        path: path.clone(),
        source: e,
    })?;
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| LabError::Netns {
        ns: ns.to_string(),
        errno: e.to_string(),
    })
}

/// Whether a program can be found on PATH (or is an existing path).
pub(crate) fn have_program(name: &str) -> bool {
    if name.contains('/') {
        return std::path::Path::new(name).is_file();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

/// Effective user id, from `/proc/self/status` (no libc call needed).
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
