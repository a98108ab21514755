//! Terminal manners: colour only where asked or on a terminal, NO_COLOR, `--version` with the
//! commit, shell completions and the man page from the CLI definition.

use std::process::Command;

const CASE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/cases/nixpkgs118656_systemd_sysctl_restart_resets_forwarding"
);

fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_netdoctor"));
    c.args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    // Piped (as here): no escape codes.
    let (_, piped) = run(&["check", "--from", CASE], &[]);
    assert!(!piped.contains('\u{1b}'), "{piped}");
    let (_, always) = run(&["check", "--from", CASE, "--color", "always"], &[]);
    assert!(always.contains("\u{1b}["), "{always}");
    // The flag is accepted before the subcommand too, and `never` wins over CLICOLOR_FORCE.
    let (_, never) = run(
        &["--color", "never", "check", "--from", CASE],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert!(!never.contains('\u{1b}'), "{never}");
    // auto with CLICOLOR_FORCE colours even when piped; NO_COLOR beats it (no-color.org).
    let (_, forced) = run(&["check", "--from", CASE], &[("CLICOLOR_FORCE", "1")]);
    assert!(forced.contains("\u{1b}["), "{forced}");
    let (_, no) = run(
        &["check", "--from", CASE],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
    );
    assert!(!no.contains('\u{1b}'), "{no}");
    // JSON never has colour.
    let (_, json) = run(
        &["check", "--from", CASE, "-o", "json", "--color", "always"],
        &[],
    );
    assert!(!json.contains('\u{1b}'));
}

#[test]
fn version_names_the_build() {
    let (code, v) = run(&["--version"], &[]);
    assert_eq!(code, Some(0));
    assert!(
        v.starts_with(&format!("netdoctor {} (", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, s) = run(&["completions", shell], &[]);
        assert_eq!(code, Some(0), "{shell}");
        for word in ["check", "explain", "fleet", "packet", "fail-on-drop"] {
            assert!(s.contains(word), "{shell} completion lacks {word}");
        }
    }
    let (code, man) = run(&["man"], &[]);
    assert_eq!(code, Some(0));
    assert!(man.contains(".TH netdoctor 1"), "{man}");
    // One page per subcommand follows, with its examples.
    for sub in ["check", "trace", "explain", "agent", "fleet", "pcap"] {
        assert!(
            man.contains(&format!(".TH {sub} 1")) || man.contains(&format!("netdoctor {sub}")),
            "{sub}"
        );
    }
    assert!(man.contains("Examples:"), "the examples are in the pages");
}

#[test]
fn every_subcommand_help_ends_with_examples() {
    let (_, top) = run(&["--help"], &[]);
    let subs: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|s| s != "help")
        .collect();
    assert!(subs.len() >= 10, "{subs:?}");
    for sub in subs {
        let (code, help) = run(&[&sub, "--help"], &[]);
        assert_eq!(code, Some(0), "{sub}");
        assert!(
            help.contains("Examples:"),
            "`netdoctor {sub} --help` has no examples"
        );
    }
}

/// Standard error of a run with these arguments and environment (RUST_LOG removed unless set).
fn stderr_of(args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_netdoctor"));
    c.args(args).env_remove("RUST_LOG").env_remove("NO_COLOR");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn diagnostics_go_to_stderr_with_v_or_rust_log_and_only_then() {
    let json = ["check", "--from", CASE, "-o", "json"];
    let (out, err) = stderr_of(&json, &[]);
    assert!(
        !err.contains("INFO") && !err.contains("DEBUG"),
        "quiet by default: {err}"
    );
    serde_json::from_str::<serde_json::Value>(&out).expect("stdout stays JSON");
    let (out, err) = stderr_of(&["-v", "check", "--from", CASE, "-o", "json"], &[]);
    assert!(err.contains("INFO") && err.contains("checks run"), "{err}");
    assert!(!err.contains("DEBUG"), "{err}");
    serde_json::from_str::<serde_json::Value>(&out).expect("stdout stays JSON with -v");
    // -vv: every file of the bundle, as it was read.
    let (_, err) = stderr_of(&["check", "--from", CASE, "-vv"], &[]);
    assert!(
        err.contains("DEBUG") && err.contains("bundle file"),
        "{err}"
    );
    // RUST_LOG wins, per crate.
    let (_, err) = stderr_of(&json, &[("RUST_LOG", "netdoctor_bundle=debug")]);
    assert!(
        err.contains("bundle file") && !err.contains("checks run"),
        "{err}"
    );
    // Piped: no escape codes in the diagnostics either.
    assert!(!err.contains('\u{1b}'), "{err}");
}

/// Progress is drawn on a terminal (a pty from `script`) and never into a pipe.
#[test]
fn progress_only_on_a_terminal() {
    if !netdoctor_testkit::have("script") {
        assert!(
            !netdoctor_testkit::lab_required(),
            "script (util-linux) is missing"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("snap.json");
    let cmd = format!(
        "{} collect -o {}",
        env!("CARGO_BIN_EXE_netdoctor"),
        out.display()
    );
    let tty = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .expect("script");
    let shown = String::from_utf8_lossy(&tty.stdout);
    assert!(shown.contains("reading this node's state"), "{shown}");
    let (_, err) = stderr_of(&["collect", "-o", out.to_str().expect("utf8")], &[]);
    assert!(!err.contains("reading this node's state"), "{err}");
    assert!(err.contains("wrote"), "{err}");
}
