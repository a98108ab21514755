//! State that only a tool can report: `iptables-save` per backend and family,
//! `iptables --version`, the kernel log via `dmesg`, and whether `conntrack` is installed.
//!
//! Each command runs once; the caller runs independent ones on separate threads.

use netdoctor_model::{Backend, Family, IptablesDump, LogFile, NotCollected, Source, Sourced};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where tools live when `PATH` is minimal (a cron job, `ip netns exec` under sudo).
const EXTRA_DIRS: &[&str] = &["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin"];

/// The first executable file called `name` on `PATH` or in the usual system directories.
pub(crate) fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// How long a tool may run before it is killed and its part reported as not collected. A
/// node in trouble is exactly where `iptables-save` can hang (a stuck xtables lock, an nft
/// kernel bug); `collect` must still finish and say so. `NETDOCTOR_COMMAND_TIMEOUT` (seconds)
/// changes it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest `NETDOCTOR_COMMAND_TIMEOUT` accepted: a day.
const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// The most a tool may print. The largest real output is a big cluster's `iptables-save` (a
/// 110k-rule dump is 16 MiB); a tool that floods more is killed and reported.
pub(crate) const MAX_OUTPUT: usize = 256 << 20;

/// Why `NETDOCTOR_COMMAND_TIMEOUT` is not a time limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeoutError {
    #[error("NETDOCTOR_COMMAND_TIMEOUT={0:?} is not a number of seconds (for example 30 or 2.5)")]
    NotANumber(String),
    #[error("NETDOCTOR_COMMAND_TIMEOUT={0:?}: the time limit must be more than 0 seconds")]
    NotPositive(String),
    #[error("NETDOCTOR_COMMAND_TIMEOUT={value:?}: at most {max} seconds (a day)")]
    TooLong { value: String, max: u64 },
}

/// The time limit from `NETDOCTOR_COMMAND_TIMEOUT`, or why its value is not one. The CLI checks
/// it before collecting anything, so a typo is an error, never a silent 30 s.
pub fn command_timeout_from_env() -> Result<Duration, TimeoutError> {
    let Ok(v) = std::env::var("NETDOCTOR_COMMAND_TIMEOUT") else {
        return Ok(COMMAND_TIMEOUT);
    };
    let secs: f64 = v
        .trim()
        .parse()
        .map_err(|_| TimeoutError::NotANumber(v.clone()))?;
    if !(secs.is_finite() && secs > 0.0) {
        return Err(TimeoutError::NotPositive(v));
    }
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d <= MAX_TIMEOUT => Ok(d),
        _ => Err(TimeoutError::TooLong {
            value: v,
            max: MAX_TIMEOUT.as_secs(),
        }),
    }
}

fn command_timeout() -> Duration {
    command_timeout_from_env().unwrap_or(COMMAND_TIMEOUT)
}

/// Run a tool to completion; its stdout on success, otherwise why not.
pub(crate) fn run(tool: &Path, args: &[&str]) -> Result<String, String> {
    run_for(tool, args, command_timeout(), MAX_OUTPUT)
}

/// Kill the tool's whole process group (it runs in its own), so that a helper it started does
/// not outlive it holding a lock or our pipes.
fn kill_group(child: &mut std::process::Child) {
    let pid = child.id();
    match i32::try_from(pid) {
        Ok(pgid) => {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        Err(_) => {
            let _ = child.kill();
        }
    }
    let _ = child.wait();
}

/// [`run`] with a time limit and an output limit: past either, the tool's process group (our
/// own child's, by its PID) is killed.
pub(crate) fn run_for(
    tool: &Path,
    args: &[&str],
    limit: Duration,
    max_output: usize,
) -> Result<String, String> {
    use std::os::unix::process::CommandExt;
    let shown = std::iter::once(tool.display().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    tracing::debug!(command = %shown, "running");
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    let flooded = Arc::new(AtomicBool::new(false));
    // Drain both pipes on their own threads, so that a large dump never blocks the tool; stop
    // reading (and flag it) past the limit.
    let drain = |pipe: Option<Box<dyn Read + Send>>, cap: usize| {
        let flooded = Arc::clone(&flooded);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(p) = pipe {
                let _ = p.take(cap as u64 + 1).read_to_end(&mut buf);
                if buf.len() > cap {
                    buf.truncate(cap);
                    flooded.store(true, Ordering::Relaxed);
                }
            }
            let _ = tx.send(buf);
        });
        rx
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        max_output,
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        64 << 10,
    );
    let start = Instant::now();
    let status = loop {
        if flooded.load(Ordering::Relaxed) {
            kill_group(&mut child);
            return Err(format!(
                "{shown} printed more than {} MiB: killed, its output not read",
                max_output >> 20
            ));
        }
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() >= limit => {
                kill_group(&mut child);
                return Err(format!(
                    "{shown} did not finish in {:.0} s: killed (a hung xtables lock or kernel call?)",
                    limit.as_secs_f64()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("cannot wait for {shown}: {e}")),
        }
    };
    // The tool has exited. A helper it left behind may still hold the pipes open: give it a
    // moment, then end its process group (which exists as long as such a helper does).
    let collect = |rx: std::sync::mpsc::Receiver<Vec<u8>>| {
        rx.recv_timeout(Duration::from_secs(2)).unwrap_or_else(|_| {
            if let Ok(pgid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pgid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            rx.recv_timeout(Duration::from_secs(2)).unwrap_or_default()
        })
    };
    let stdout = collect(out);
    let stderr = collect(err);
    if flooded.load(Ordering::Relaxed) {
        return Err(format!(
            "{shown} printed more than {} MiB: its output not read",
            max_output >> 20
        ));
    }
    if !status.success() {
        let stderr = String::from_utf8_lossy(&stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!("{shown} failed ({status}): {}", first.trim()));
    }
    Ok(String::from_utf8_lossy(&stdout).into_owned())
}

/// The save commands of one family.
struct SaveTools {
    family: Family,
    /// `iptables` or `ip6tables`.
    prefix: &'static str,
    /// The kernel's list of legacy (x_tables) tables in this network namespace.
    legacy_names: &'static str,
}

const V4: SaveTools = SaveTools {
    family: Family::Ipv4,
    prefix: "iptables",
    legacy_names: "/proc/net/ip_tables_names",
};
const V6: SaveTools = SaveTools {
    family: Family::Ipv6,
    prefix: "ip6tables",
    legacy_names: "/proc/net/ip6_tables_names",
};

/// What the save commands of one family produced.
#[derive(Debug, Default)]
pub(crate) struct Saved {
    pub dumps: Vec<IptablesDump>,
    pub not_collected: Vec<NotCollected>,
}

pub(crate) fn save_ipv4() -> Saved {
    save_family(&V4)
}

pub(crate) fn save_ipv6() -> Saved {
    save_family(&V6)
}

/// iptables-nft and iptables-legacy keep separate rule sets, so both are saved. Legacy is
/// judged by the kernel's table list alone: running `iptables-legacy-save` on a node without
/// legacy tables would load the x_tables modules.
fn save_family(t: &SaveTools) -> Saved {
    let mut saved = Saved::default();
    let nft_name = format!("{}-nft-save", t.prefix);
    let legacy_name = format!("{}-legacy-save", t.prefix);
    let nft_tool = find_tool(&nft_name);
    let legacy_tool = find_tool(&legacy_name);

    if nft_tool.is_none() && legacy_tool.is_none() {
        // An iptables without the variant names (older than 1.8): one save command, whose
        // header says which backend it is.
        let plain = format!("{}-save", t.prefix);
        match find_tool(&plain) {
            Some(tool) => match run(&tool, &[]) {
                Ok(text) => push_dump(&mut saved, header_backend(&text), t.family, text, &tool),
                Err(reason) => saved.not_collected.push(NotCollected {
                    part: t.prefix.to_string(),
                    reason,
                }),
            },
            None => saved.not_collected.push(NotCollected {
                part: t.prefix.to_string(),
                reason: format!("none of {nft_name}, {legacy_name}, {plain} is installed"),
            }),
        }
        return saved;
    }

    match nft_tool {
        Some(tool) => match run(&tool, &[]) {
            Ok(text) => push_dump(&mut saved, Backend::Nft, t.family, text, &tool),
            Err(reason) => saved.not_collected.push(NotCollected {
                part: format!("{}-nft", t.prefix),
                reason,
            }),
        },
        None => saved.not_collected.push(NotCollected {
            part: format!("{}-nft", t.prefix),
            reason: format!("{nft_name} is not installed"),
        }),
    }

    match legacy_tables_present(t.legacy_names) {
        Ok(false) => {}
        Ok(true) => match legacy_tool {
            Some(tool) => match run(&tool, &[]) {
                Ok(text) => push_dump(&mut saved, Backend::Legacy, t.family, text, &tool),
                Err(reason) => saved.not_collected.push(NotCollected {
                    part: format!("{}-legacy", t.prefix),
                    reason,
                }),
            },
            None => saved.not_collected.push(NotCollected {
                part: format!("{}-legacy", t.prefix),
                reason: format!(
                    "{} lists legacy tables but {legacy_name} is not installed",
                    t.legacy_names
                ),
            }),
        },
        Err(reason) => saved.not_collected.push(NotCollected {
            part: format!("{}-legacy", t.prefix),
            reason,
        }),
    }
    saved
}

/// The file exists and names at least one table. A missing file means x_tables is not
/// loaded in this kernel, so there are no legacy rules.
fn legacy_tables_present(names_file: &str) -> Result<bool, String> {
    match fs::read_to_string(names_file) {
        Ok(text) => Ok(text.lines().any(|l| !l.trim().is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("cannot read {names_file}: {e}")),
    }
}

fn push_dump(saved: &mut Saved, backend: Backend, family: Family, text: String, tool: &Path) {
    if text.trim().is_empty() {
        return;
    }
    saved.dumps.push(IptablesDump {
        backend,
        family,
        text: text.into(),
        source: Source::live(tool.display().to_string()),
    });
}

/// The backend a save command names in its header: `# Generated by iptables-save v1.8.9
/// (nf_tables)`. Releases before 1.8 print no suffix and are always legacy.
pub fn header_backend(text: &str) -> Backend {
    let header = text
        .lines()
        .find(|l| l.starts_with("# Generated by"))
        .unwrap_or("");
    if header.contains("(nf_tables)") {
        Backend::Nft
    } else {
        Backend::Legacy
    }
}

pub(crate) fn iptables_version() -> Result<Sourced<String>, NotCollected> {
    let not = |reason| NotCollected {
        part: "iptables-version".into(),
        reason,
    };
    let tool = find_tool("iptables").ok_or_else(|| not("iptables is not installed".into()))?;
    let text = run(&tool, &["--version"]).map_err(not)?;
    Ok(Sourced::new(
        text.trim().to_string(),
        Source::live(format!("{} --version", tool.display())),
    ))
}

/// Whether the `conntrack` tool is installed; the source names where it was found, or where
/// it was looked for.
pub(crate) fn conntrack_tool() -> Sourced<bool> {
    match find_tool("conntrack") {
        Some(p) => Sourced::new(true, Source::live(p.display().to_string())),
        None => Sourced::new(
            false,
            Source::live(format!("PATH and {}", EXTRA_DIRS.join(", "))),
        ),
    }
}

/// The last `keep` lines of the kernel log, numbered as in the whole output.
pub(crate) fn kernel_log(keep: usize) -> Result<LogFile, NotCollected> {
    let not = |reason| NotCollected {
        part: "logs.dmesg".into(),
        reason,
    };
    let tool = find_tool("dmesg").ok_or_else(|| not("dmesg is not installed".into()))?;
    let text = run(&tool, &[]).map_err(not)?;
    Ok(LogFile {
        name: "dmesg".into(),
        lines: last_lines(&text, keep),
    })
}

pub(crate) fn last_lines(text: &str, keep: usize) -> Vec<(u32, String)> {
    let total = text.lines().count();
    text.lines()
        .enumerate()
        .skip(total.saturating_sub(keep))
        .map(|(i, l)| (u32::try_from(i + 1).unwrap_or(u32::MAX), l.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hung_tool_is_killed_and_reported() {
        let sleep = find_tool("sleep").expect("coreutils sleep");
        let t = Instant::now();
        let e =
            run_for(&sleep, &["30"], Duration::from_millis(200), MAX_OUTPUT).expect_err("killed");
        assert!(e.contains("did not finish") && e.contains("killed"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        // A tool that finishes in time gives its output, however large.
        let seq = find_tool("seq").expect("coreutils seq");
        let out = run_for(&seq, &["200000"], Duration::from_secs(20), MAX_OUTPUT).expect("seq");
        assert_eq!(out.lines().count(), 200_000);
        let fails = find_tool("false").expect("coreutils false");
        assert!(run_for(&fails, &[], Duration::from_secs(5), MAX_OUTPUT).is_err());
    }

    #[test]
    fn a_flooding_tool_is_stopped_at_the_output_limit() {
        let yes = find_tool("yes").expect("coreutils yes");
        let t = Instant::now();
        let e = run_for(&yes, &[], Duration::from_secs(60), 1 << 20).expect_err("flood");
        assert!(e.contains("more than 1 MiB"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    }

    #[test]
    fn a_killed_tool_takes_its_children_with_it() {
        let sh = find_tool("sh").expect("sh");
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("child.pid");
        let script = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
        let e = run_for(
            &sh,
            &["-c", &script],
            Duration::from_millis(500),
            MAX_OUTPUT,
        )
        .expect_err("killed");
        assert!(e.contains("killed"), "{e}");
        let pid = fs::read_to_string(&pidfile)
            .expect("pid")
            .trim()
            .to_string();
        std::thread::sleep(Duration::from_millis(200));
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        assert!(
            status.is_empty() || status.contains("State:\tZ"),
            "the tool's child {pid} still runs: {status}"
        );
    }

    #[test]
    fn timeouts_from_the_environment_are_checked() {
        // One test owns the variable (tests in this binary run on threads).
        for (v, ok) in [
            ("2.5", true),
            ("abc", false),
            ("1e30", false),
            ("-1", false),
            ("NaN", false),
            ("0", false),
        ] {
            std::env::set_var("NETDOCTOR_COMMAND_TIMEOUT", v);
            assert_eq!(command_timeout_from_env().is_ok(), ok, "{v}");
        }
        std::env::remove_var("NETDOCTOR_COMMAND_TIMEOUT");
        assert_eq!(command_timeout_from_env(), Ok(COMMAND_TIMEOUT));
    }

    #[test]
    fn backend_from_save_header() {
        assert_eq!(
            header_backend("# Generated by iptables-save v1.8.9 (nf_tables) on Sun\n*filter\n"),
            Backend::Nft
        );
        assert_eq!(
            header_backend("# Generated by iptables-save v1.8.7 (legacy) on Sun\n"),
            Backend::Legacy
        );
        assert_eq!(
            header_backend("# Generated by iptables-save v1.6.1 on Sun\n"),
            Backend::Legacy
        );
    }

    #[test]
    fn last_lines_keep_original_numbers() {
        let kept = last_lines("a\nb\nc\nd\n", 2);
        assert_eq!(kept, [(3, "c".to_string()), (4, "d".to_string())]);
        assert_eq!(last_lines("a\n", 5), [(1, "a".to_string())]);
    }

    #[test]
    fn missing_legacy_names_file_means_no_legacy_tables() {
        assert_eq!(
            legacy_tables_present("/nonexistent/ip_tables_names"),
            Ok(false)
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("names");
        fs::write(&f, "").expect("write");
        let p = f.to_string_lossy().into_owned();
        assert_eq!(legacy_tables_present(&p), Ok(false));
        fs::write(&f, "filter\nnat\n").expect("write");
        assert_eq!(legacy_tables_present(&p), Ok(true));
    }
}
