//! `fix --apply` as a transaction, on temporary roots (only boot files: no runtime change is
//! made here). Property tests over random sets of existing sysctl files: applying twice equals
//! applying once, every original line is still there, nothing outside the root changes, and the
//! result wins at boot under both systemd and procps precedence. And two applies at once.

use netdoctor_bootconf::{BootSysctl, Order};
use netdoctor_model::{
    Action, CheckReport, ConfigFile, Finding, Fix, NodeSnapshot, Severity, Source,
};
use netdoctor_remedy::{apply, plan};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A report asking for these keys at boot (no runtime change).
fn report(wanted: &[(&str, &str)]) -> CheckReport {
    CheckReport {
        available_inputs: Vec::new(),
        probes: Vec::new(),
        schema: "netdoctor.check/v1".into(),
        node: "n".into(),
        findings: vec![Finding {
            id: "sysctl-not-persistent".into(),
            severity: Severity::Warning,
            title: "t".into(),
            evidence: vec![],
            explanation: String::new(),
            fix: Fix::default(),
            actions: wanted
                .iter()
                .map(|(k, v)| Action::Sysctl {
                    key: (*k).into(),
                    value: (*v).into(),
                    runtime: false,
                    persistent: true,
                })
                .collect(),
        }],
        not_checked: vec![],
        inputs: vec![],
        input_problems: vec![],
        steps: vec![],
        symptoms: vec![],
    }
}

/// Every regular file under `dir` (links not followed), with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        let ft = e.file_type().expect("type");
        if ft.is_dir() {
            out.extend(tree(&p));
        } else if ft.is_file() {
            out.insert(p.clone(), std::fs::read(&p).expect("read"));
        }
    }
    out
}

/// The node's sysctl files as the collector reads them.
fn snapshot(root: &Path) -> NodeSnapshot {
    let (files, _) = netdoctor_collect::rootfs::read_node_files(root);
    NodeSnapshot {
        files,
        files_collected: true,
        ..NodeSnapshot::default()
    }
}

fn boot(root: &Path, order: Order) -> BootSysctl {
    BootSysctl::evaluate(&snapshot(root).files, order)
}

const WANTED: &[(&str, &str)] = &[
    ("net.ipv4.ip_forward", "1"),
    ("net.bridge.bridge-nf-call-iptables", "1"),
];

/// One existing file: where, its name, its lines, and whether it is a symlink (to a file
/// inside the root, or an absolute link outside it).
#[derive(Debug, Clone)]
struct Existing {
    dir: &'static str,
    name: String,
    lines: Vec<String>,
    link: u8,
}

fn existing() -> impl Strategy<Value = Existing> {
    let dir = prop::sample::select(vec!["etc/sysctl.d", "usr/lib/sysctl.d", "run/sysctl.d"]);
    let name = prop::sample::select(vec![
        "00-system.conf",
        "50-default.conf",
        "99-sysctl.conf",
        "99-netdoctor.conf",
        "k8s.conf",
        "zz-last.conf",
        "~old.conf",
        "\u{e9}t\u{e9}.conf",
    ])
    .prop_map(String::from);
    let line = prop::sample::select(vec![
        "net.ipv4.ip_forward = 0",
        "net.ipv4.ip_forward=1",
        "net.bridge.bridge-nf-call-iptables = 0",
        "-net.ipv4.ip_forward = 0",
        "# a comment",
        "; another",
        "",
        "vm.swappiness = 10",
        "net.ipv4.ip_forward = 1   # added by netdoctor: sysctl --system reads this file last",
        "kernel.x = \u{fffd}\u{1}",
    ])
    .prop_map(String::from);
    (dir, name, prop::collection::vec(line, 0..6), 0u8..4).prop_map(|(dir, name, lines, link)| {
        Existing {
            dir,
            name,
            lines,
            link,
        }
    })
}

fn build(root: &Path, outside: &Path, files: &[Existing], conf: &[String]) {
    std::fs::create_dir_all(root.join("etc")).expect("mkdir");
    std::fs::write(root.join("etc/sysctl.conf"), conf.join("\n")).expect("write");
    for f in files {
        let dir = root.join(f.dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join(&f.name);
        if path.exists() || std::fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        let content = f.lines.join("\n") + "\n";
        match f.link {
            // A link to a file inside the root (relative).
            1 => {
                let target = root.join("etc").join(format!("target-{}", f.name));
                std::fs::write(&target, &content).expect("write");
                std::os::unix::fs::symlink(format!("../../etc/target-{}", f.name), &path)
                    .or_else(|_| std::os::unix::fs::symlink(&target, &path))
                    .expect("symlink");
            }
            // An absolute link to a file outside the root: inside the root it resolves to a
            // path that does not exist.
            2 => {
                let target = outside.join(&f.name);
                std::fs::write(&target, &content).expect("write");
                std::os::unix::fs::symlink(&target, &path).expect("symlink");
            }
            _ => std::fs::write(&path, &content).expect("write"),
        }
    }
}

fn apply_once(root: &Path) -> Vec<String> {
    let snap = snapshot(root);
    let p = plan(&report(WANTED), &snap, &[]);
    let mut log = Vec::new();
    apply(&p, root, "20260101000000", &mut log).expect("apply");
    p.steps.iter().map(|s| format!("{s:?}")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn applying_is_idempotent_keeps_every_line_and_wins_at_boot(
        files in prop::collection::vec(existing(), 0..6),
        conf in prop::collection::vec(prop::sample::select(vec![
            "net.ipv4.ip_forward = 0".to_string(),
            "vm.max_map_count = 262144".to_string(),
            "# sysctl.conf".to_string(),
        ]), 0..4),
    ) {
        let t = tempfile::tempdir().expect("tempdir");
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(&outside).expect("mkdir");
        build(&root, &outside, &files, &conf);
        let outside_before = tree(&outside);
        let before = tree(&root);

        apply_once(&root);
        let once = tree(&root);
        // Every line of every file that was there is still there.
        for (path, bytes) in &before {
            let after = once.get(path).expect("no file removed");
            let after_text = String::from_utf8_lossy(after);
            for line in String::from_utf8_lossy(bytes).lines() {
                prop_assert!(
                    after_text.lines().any(|l| l == line)
                        || line.contains("# added by netdoctor"),
                    "{} lost {line:?}", path.display()
                );
            }
        }
        prop_assert_eq!(tree(&outside), outside_before, "nothing outside the root changed");
        // Wins at boot under both orders.
        for order in [Order::Systemd, Order::Procps] {
            let b = boot(&root, order);
            for (k, v) in WANTED {
                let a = b.value(k);
                prop_assert_eq!(a.map(|a| a.value.as_str()), Some(*v), "{:?} {}", order, k);
            }
        }
        // A second apply plans nothing for the files, and changes nothing.
        let visible = |t: BTreeMap<PathBuf, Vec<u8>>| -> BTreeMap<PathBuf, Vec<u8>> {
            t.into_iter()
                .filter(|(p, _)| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
                .collect()
        };
        let steps = apply_once(&root);
        prop_assert!(steps.is_empty(), "second plan: {steps:?}");
        prop_assert_eq!(visible(tree(&root)), visible(once));
    }
}

/// Two `fix --apply` at once on one root (a fleet rollout with retries): the lock makes them
/// take turns, the second finds the change made, backups never overwrite each other.
#[test]
fn two_applies_at_once() {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().to_path_buf();
    std::fs::create_dir_all(root.join("etc/sysctl.d")).expect("mkdir");
    std::fs::write(root.join("etc/sysctl.conf"), "net.ipv4.ip_forward = 0\n").expect("write");
    let snap = snapshot(&root);
    let p = plan(&report(WANTED), &snap, &[]);
    assert!(!p.steps.is_empty());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (p, root) = (p.clone(), root.clone());
            std::thread::spawn(move || {
                let mut log = Vec::new();
                apply(&p, &root, "20260101000000", &mut log).expect("apply")
            })
        })
        .collect();
    for th in threads {
        th.join().expect("thread");
    }
    let conf = std::fs::read_to_string(root.join("etc/sysctl.conf")).expect("read");
    assert_eq!(
        conf.matches("net.ipv4.ip_forward = 1").count(),
        1,
        "appended once: {conf}"
    );
    let names: Vec<String> = std::fs::read_dir(root.join("etc"))
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("tmp")), "{names:?}");
    let backups = names.iter().filter(|n| n.ends_with(".bak")).count();
    assert_eq!(backups, 1, "one change, one backup: {names:?}");
    // Four applies, one file written in sysctl.d: the other three found nothing left to do.
    let _ = ConfigFile {
        path: String::new(),
        symlink_target: None,
        content: String::new(),
        source: Source::live(""),
    };
}

/// Found by the property test: a dangling absolute link named like netdoctor's drop-in, in
/// both /usr/lib and /etc. The collector once left such links out, so the second apply chose
/// a new name and wrote again.
#[test]
fn dangling_links_named_like_the_drop_in_keep_apply_idempotent() {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("root");
    let outside = t.path().join("outside");
    std::fs::create_dir_all(&outside).expect("mkdir");
    let link = |dir: &'static str| Existing {
        dir,
        name: "99-netdoctor.conf".into(),
        lines: vec![],
        link: 2,
    };
    build(
        &root,
        &outside,
        &[link("usr/lib/sysctl.d"), link("etc/sysctl.d")],
        &[],
    );
    apply_once(&root);
    let once = tree(&root);
    let steps = apply_once(&root);
    assert!(steps.is_empty(), "second plan: {steps:?}");
    assert_eq!(tree(&root).len(), once.len());
}
