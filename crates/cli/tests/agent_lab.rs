//! `netdoctor agent` in a network namespace of its own: a fault that netlink does not announce
//! (ip_forward) is found by the check the next netlink change starts, well before the
//! interval, and shows in /metrics; repaired, it clears.

use netdoctor_testkit::{require_lab, Netns, Processes};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn metrics(ns: &Netns) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, "curl", "-s", "--max-time", "5"])
        .arg("http://127.0.0.1:9469/metrics")
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(ns: &Netns, agent: &mut Processes, needle: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let m = metrics(ns);
        if m.contains(needle) {
            return m;
        }
        if let Some(Ok(Some(status))) = agent.children.first_mut().map(|c| c.try_wait()) {
            panic!("the agent exited ({status}) before {needle:?} appeared");
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} not in /metrics within {within:?}:\n{m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn agent_sees_a_fault_on_the_next_netlink_change_and_its_repair() {
    require_lab!("agent_lab", "ip", "curl");
    let ns = Netns::new("agent");
    ns.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    let root = tempfile::tempdir().expect("tempdir");
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            env!("CARGO_BIN_EXE_netdoctor"),
            "agent",
        ])
        .args([
            "--listen",
            "127.0.0.1:9469",
            "--interval",
            "1h",
            "--debounce",
            "200ms",
        ])
        .arg("--root")
        .arg(root.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the agent");
    let mut agent = Processes::default();
    agent.push(child);
    let first = wait_for(
        &ns,
        &mut agent,
        "netdoctor_checks_total{trigger=\"start\"} 1",
        Duration::from_secs(20),
    );
    assert!(
        !first.contains("netdoctor_finding{id=\"ip-forward-disabled\""),
        "{first}"
    );
    // The fault: netlink does not announce a sysctl, and the interval is an hour away.
    ns.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    // Any link change starts a check (as a pod's new veth would).
    ns.exec(&[
        "ip", "link", "add", "ndta", "type", "veth", "peer", "name", "ndtb",
    ]);
    let on = "netdoctor_finding{id=\"ip-forward-disabled\",severity=\"critical\"} 1";
    let m = wait_for(&ns, &mut agent, on, Duration::from_secs(5));
    assert!(
        m.contains("netdoctor_checks_total{trigger=\"netlink\"}"),
        "{m}"
    );
    // Repaired; the next change clears it.
    ns.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    ns.exec(&["ip", "link", "set", "ndta", "up"]);
    let off = "netdoctor_finding{id=\"ip-forward-disabled\",severity=\"critical\"} 0";
    wait_for(&ns, &mut agent, off, Duration::from_secs(5));
}
