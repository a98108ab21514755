//! Installed as `kubectl-netdoctor`, the binary is the kubectl plugin `kubectl netdoctor`.

use std::process::Command;

#[test]
fn as_kubectl_netdoctor_it_names_itself_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let plugin = dir.path().join("kubectl-netdoctor");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_netdoctor"), &plugin).expect("symlink");
    let out = Command::new(&plugin).arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Usage: kubectl netdoctor"), "{help}");
    // The same commands work.
    let out = Command::new(&plugin)
        .args(["check", "--list", "-o", "json"])
        .output()
        .expect("run");
    assert!(out.status.success());
    // And the API flags are kubectl's.
    let out = Command::new(&plugin)
        .args(["check", "--help"])
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--context <NAME>") && help.contains("--kubeconfig <FILE>"),
        "{help}"
    );
}
