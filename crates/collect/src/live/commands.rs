//! State that only a tool can report: `iptables-save` per backend and family,
//! `iptables --version`, the kernel log via `dmesg`, and whether `conntrack` is installed.
//!
//! Each command runs once; the caller runs independent ones on separate threads.

use netdoctor_model::{Backend, Family, IptablesDump, LogFile, NotCollected, Source, Sourced};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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

fn command_timeout() -> Duration {
    std::env::var("NETDOCTOR_COMMAND_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(COMMAND_TIMEOUT, Duration::from_secs_f64)
}

/// Run a tool to completion; its stdout on success, otherwise why not.
pub(crate) fn run(tool: &Path, args: &[&str]) -> Result<String, String> {
    run_for(tool, args, command_timeout())
}

/// [`run`] with a time limit: past it, the tool (our own child, by its PID) is killed.
pub(crate) fn run_for(tool: &Path, args: &[&str], limit: Duration) -> Result<String, String> {
    let shown = std::iter::once(tool.display().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    // Drain both pipes on their own threads, so that a large dump never blocks the tool.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() >= limit => {
                let _ = child.kill();
                let _ = child.wait();
                // The pipes close with the tool (unless it left a child holding them: then
                // the readers are left behind rather than waited for).
                return Err(format!(
                    "{shown} did not finish in {:.0} s: killed (a hung xtables lock or kernel call?)",
                    limit.as_secs_f64()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("cannot wait for {shown}: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
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
        let e = run_for(&sleep, &["30"], Duration::from_millis(200)).expect_err("killed");
        assert!(e.contains("did not finish") && e.contains("killed"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        // A tool that finishes in time gives its output, however large.
        let seq = find_tool("seq").expect("coreutils seq");
        let out = run_for(&seq, &["200000"], Duration::from_secs(20)).expect("seq");
        assert_eq!(out.lines().count(), 200_000);
        let fails = find_tool("false").expect("coreutils false");
        assert!(run_for(&fails, &[], Duration::from_secs(5)).is_err());
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
