use super::*;
use std::os::unix::fs::symlink;

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("root");
    let outside = t.path().join("outside");
    std::fs::create_dir_all(root.join("etc")).expect("mkdir");
    std::fs::create_dir_all(&outside).expect("mkdir");
    (t, root, outside)
}

/// Every file under `dir`, with its content, for before/after comparisons.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            let ft = e.file_type().expect("type");
            if ft.is_dir() {
                out.extend(tree(&p));
            } else if ft.is_file() {
                out.push((p.clone(), std::fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn an_absolute_symlink_is_followed_inside_the_root() {
    let (_t, root, outside) = setup();
    // R/etc/sysctl.d -> <outside> (absolute, as on a mounted image whose link says /etc/...).
    symlink(&outside, root.join("etc/sysctl.d")).expect("symlink");
    let r = Root::new(&root);
    let before = tree(&outside);
    let w = r
        .write_atomic("/etc/sysctl.d/99-x.conf", b"a = 1\n", "s")
        .expect("write");
    assert!(w.real.starts_with(&root), "{w:?}");
    assert_eq!(tree(&outside), before, "nothing outside the root changed");
    // The link's target, re-rooted, is where the file went.
    let rerooted = root.join(outside.strip_prefix("/").expect("abs"));
    assert_eq!(
        std::fs::read(rerooted.join("99-x.conf")).expect("read"),
        b"a = 1\n"
    );
}

#[test]
fn dot_dot_stops_at_the_root() {
    let (_t, root, outside) = setup();
    std::fs::write(outside.join("secret"), "x").expect("write");
    symlink("../../../../outside/secret", root.join("etc/up")).expect("symlink");
    let r = Root::new(&root);
    assert!(r.resolve("/etc/up").expect("resolve").starts_with(&root));
    assert!(
        r.read("/etc/up", MiB, "x").is_err(),
        "the outside file is not read"
    );
    assert!(r.read("/../../outside/secret", MiB, "x").is_err());
}

#[test]
fn a_symlinked_file_is_edited_through_and_backed_up() {
    let (_t, root, _outside) = setup();
    std::fs::create_dir_all(root.join("etc/sysctl.d")).expect("mkdir");
    std::fs::write(root.join("etc/real.conf"), "user = 1\n").expect("write");
    symlink("/etc/real.conf", root.join("etc/sysctl.conf")).expect("symlink");
    let r = Root::new(&root);
    let w = r
        .write_atomic("/etc/sysctl.conf", b"user = 1\nnew = 2\n", "s")
        .expect("write");
    assert_eq!(w.real, root.join("etc/real.conf"));
    assert!(std::fs::symlink_metadata(root.join("etc/sysctl.conf"))
        .expect("meta")
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(w.backup.expect("backup")).expect("read"),
        "user = 1\n"
    );
}

#[test]
fn a_mask_and_a_fifo_are_refused() {
    let (_t, root, _outside) = setup();
    symlink("/dev/null", root.join("etc/masked.conf")).expect("symlink");
    let r = Root::new(&root);
    assert_eq!(
        r.entry("/etc/masked.conf").expect("entry").kind,
        EntryKind::Masked
    );
    assert!(matches!(
        r.write_atomic("/etc/masked.conf", b"x", "s"),
        Err(FsError::Masked { .. })
    ));
    let fifo = root.join("etc/fifo.conf");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    assert!(matches!(
        r.read("/etc/fifo.conf", MiB, "x"),
        Err(FsError::NotRegular { kind: "FIFO", .. })
    ));
    assert!(matches!(
        r.write_atomic("/etc/fifo.conf", b"x", "s"),
        Err(FsError::NotRegular { .. })
    ));
}

#[test]
fn link_loops_end() {
    let (_t, root, _outside) = setup();
    symlink("/etc/b", root.join("etc/a")).expect("symlink");
    symlink("/etc/a", root.join("etc/b")).expect("symlink");
    let r = Root::new(&root);
    assert!(matches!(
        r.read("/etc/a", MiB, "x"),
        Err(FsError::Loop { .. })
    ));
}

#[test]
fn backups_never_overwrite_each_other() {
    let (_t, root, _outside) = setup();
    let r = Root::new(&root);
    std::fs::write(root.join("etc/f.conf"), "v1\n").expect("write");
    let a = r.write_atomic("/etc/f.conf", b"v2\n", "same").expect("w1");
    let b = r.write_atomic("/etc/f.conf", b"v3\n", "same").expect("w2");
    let (a, b) = (a.backup.expect("a"), b.backup.expect("b"));
    assert_ne!(a, b);
    assert_eq!(std::fs::read_to_string(a).expect("a"), "v1\n");
    assert_eq!(std::fs::read_to_string(b).expect("b"), "v2\n");
    let leftovers: Vec<_> = std::fs::read_dir(root.join("etc"))
        .expect("ls")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left");
}

#[test]
fn the_lock_excludes_a_second_holder() {
    let (_t, root, _outside) = setup();
    let r = Root::new(&root);
    let held = r.lock(Duration::from_secs(1)).expect("first");
    let err = r
        .lock(Duration::from_millis(200))
        .expect_err("second waits");
    assert!(matches!(err, FsError::Locked { .. }), "{err}");
    drop(held);
    r.lock(Duration::from_millis(200)).expect("free again");
}
