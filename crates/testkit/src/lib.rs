//! Test support shared by every crate's tests (a dev-dependency only):
//!
//! - [`lab_available`] / [`require_lab!`]: a test that needs root (network namespaces, real
//!   packets) and some tools skips without them, saying why, unless `NETDOCTOR_REQUIRE_LAB=1`,
//!   when it fails: CI never skips silently;
//! - [`Netns`]: a scratch network namespace, deleted on drop, also when the test panics;
//! - [`fixture`] / [`read_fixture`]: the real-world fixtures kept in `tests/fixtures/`;
//! - [`mock_http::MockHttp`]: a mocked server at the HTTP layer (the Kubernetes API, agents).

pub mod flannel_node;
pub mod kube_dump;
pub mod mock_http;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The effective user is root (from `/proc/self/status`).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// `NETDOCTOR_REQUIRE_LAB=1`: lab tests must run.
pub fn lab_required() -> bool {
    std::env::var("NETDOCTOR_REQUIRE_LAB").as_deref() == Ok("1")
}

/// An executable named `tool` on `PATH`.
pub fn have(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(tool))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Whether `test` can use the lab: root, and every tool in `tools`. Otherwise it skips
/// (printing why), or panics under `NETDOCTOR_REQUIRE_LAB=1`.
///
/// # Panics
/// When the lab cannot run and `NETDOCTOR_REQUIRE_LAB=1`.
pub fn lab_available(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have(t)).collect();
    let why = if !is_root() {
        Some("not root".to_string())
    } else if !missing.is_empty() {
        Some(format!("missing tools: {}", missing.join(", ")))
    } else {
        None
    };
    match why {
        None => true,
        Some(w) if lab_required() => {
            panic!("{test}: NETDOCTOR_REQUIRE_LAB=1 but the lab cannot run: {w}")
        }
        Some(w) => {
            eprintln!("{test}: skipped ({w}; set NETDOCTOR_REQUIRE_LAB=1 to make this a failure)");
            false
        }
    }
}

/// Return from the test unless the lab can run: `require_lab!("name", "ip", "nft");`.
#[macro_export]
macro_rules! require_lab {
    ($test:expr $(, $tool:expr)* $(,)?) => {
        if !$crate::lab_available($test, &[$($tool),*]) {
            return;
        }
    };
}

/// Run a command; panic with its output if it fails.
///
/// # Panics
/// When the command cannot start or exits non-zero.
pub fn sh(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace named with this process's id and a counter (tests in one process run
/// in parallel), deleted on drop, also after a panic.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Create it, with `lo` up.
    ///
    /// # Panics
    /// When `ip netns add` fails.
    pub fn new(tag: &str) -> Netns {
        let name = format!(
            "ndt{}-{}-{tag}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// Run `args` inside the namespace; panic if it fails; its standard output.
    ///
    /// # Panics
    /// When the command fails.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", self.name.as_str()];
        all.extend_from_slice(args);
        String::from_utf8_lossy(&sh(&all).stdout).into_owned()
    }

    /// A shell command line inside the namespace.
    ///
    /// # Panics
    /// When the command fails.
    pub fn run(&self, cmd: &str) -> String {
        self.exec(&["sh", "-c", cmd])
    }

    /// A shell command line inside the namespace; whether it succeeded (for polling).
    pub fn try_run(&self, cmd: &str) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", cmd])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Processes a test started (an agent, a server, a capture), ended by their PID when the test
/// ends, also after a panic. `interrupt` ends them with SIGINT first (tcpdump then writes out
/// what it holds), else they are killed.
#[derive(Default)]
pub struct Processes {
    pub children: Vec<std::process::Child>,
    pub interrupt: bool,
}

impl Processes {
    pub fn push(&mut self, c: std::process::Child) {
        self.children.push(c);
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.children {
            if self.interrupt {
                let _ = Command::new("kill")
                    .args(["-INT", &c.id().to_string()])
                    .status();
            } else {
                let _ = c.kill();
            }
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
    }
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A path under `tests/fixtures/` (`fixture("realworld/sysctl/...")`).
pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(rel)
}

/// A fixture's text.
///
/// # Panics
/// When it cannot be read.
pub fn read_fixture(rel: &str) -> String {
    let p = fixture(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_are_found_inside_the_repository() {
        let p = fixture("realworld/INDEX.md");
        assert!(p.is_file(), "{}", p.display());
        let root = repo_root().canonicalize().expect("root");
        assert!(p.canonicalize().expect("fixture").starts_with(&root));
    }

    #[test]
    fn a_namespace_is_gone_after_drop() {
        require_lab!("a_namespace_is_gone_after_drop", "ip");
        let name = {
            let ns = Netns::new("kit");
            assert!(ns.exec(&["ip", "-o", "link"]).contains("lo"));
            ns.name.clone()
        };
        let list = String::from_utf8_lossy(&sh(&["ip", "netns", "list"]).stdout).into_owned();
        assert!(!list.contains(&name), "{list}");
    }
}
