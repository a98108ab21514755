//! `netdoctor probe` and `check --probe` in the namespace lab, against what real traffic shows:
//! every probe passes on the healthy cluster; a host firewall that drops VXLAN is
//! `overlay-port-blocked` with its rule, while the same drop in the underlay switch (outside the
//! node, as a cloud security group would) is `overlay-blocked-outside-node`; a narrowed underlay
//! is measured; a Service without endpoints is refused and tied to its finding.

mod support;

use netdoctor_lab::{ClusterSpec, Fault, Lab, NodeHandle, CLUSTER_CIDR};
use serde_json::Value;
use std::process::Command;
use support::lab_available;

/// `netdoctor ARGS...` in `node` with the lab's cluster facts and a short probe timeout.
fn netdoctor_in(node: &NodeHandle, args: &[&str]) -> (Option<i32>, Value) {
    let facts = support::lab_facts(node);
    let mut all: Vec<&str> = args.to_vec();
    all.extend(facts.iter().map(String::as_str));
    all.extend(["--timeout", "500ms"]);
    support::in_node(node, &all)
}

fn probe(node: &NodeHandle) -> (Option<i32>, Value) {
    netdoctor_in(node, &["probe"])
}

fn results<'a>(v: &'a Value, kind: &str) -> Vec<&'a Value> {
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["kind"] == kind)
        .collect()
}

fn only<'a>(v: &'a Value, kind: &str) -> &'a Value {
    let r = results(v, kind);
    assert_eq!(r.len(), 1, "one {kind} result expected: {v:#}");
    r[0]
}

fn all_ok(v: &Value) -> bool {
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .all(|r| r["ok"] == true)
}

#[test]
fn probes_agree_with_real_traffic_and_tell_the_host_firewall_from_the_network() {
    if !lab_available("probes_agree_with_real_traffic_and_tell_the_host_firewall_from_the_network")
    {
        return;
    }
    let lab = Lab::build(&ClusterSpec::default()).expect("lab");
    let n0 = lab.node(0);

    // Healthy: every probe passes (overlay, pod, both MTU paths at the devices' MTU, services).
    let (code, v) = probe(n0);
    assert!(all_ok(&v), "healthy: {v:#}");
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["schema"], "netdoctor.probe/v1");
    support::assert_schema("probe", &v);
    for kind in ["overlay", "pod", "mtu", "service"] {
        assert!(!results(&v, kind).is_empty(), "no {kind} probe: {v:#}");
    }
    let overlay = only(&v, "overlay");
    assert!(
        overlay["to"]
            .as_str()
            .expect("to")
            .contains("VTEP 10.244.1.0"),
        "{overlay:#}"
    );
    assert!(overlay["rtt_ms"].as_f64().is_some());
    for m in results(&v, "mtu") {
        assert_eq!(m["mtu"]["largest"], m["mtu"]["claimed"], "{m:#}");
    }

    // Pods are probed from a pod of this node, so the node forwards them as it forwards pods.
    let pod = &results(&v, "pod")[0];
    assert!(
        pod["sent"]
            .as_str()
            .is_some_and(|s| s.contains("from the pod network namespace")),
        "{pod:#}"
    );

    // FORWARD drops pod traffic: invisible to the node's own packets, seen from a pod.
    lab.inject(Fault::ForwardPolicyDrop).expect("inject");
    let (_, v) = netdoctor_in(n0, &["probe", "--kind", "overlay,pod"]);
    lab.revert(Fault::ForwardPolicyDrop).expect("revert");
    assert_eq!(only(&v, "overlay")["ok"], true, "{v:#}");
    let pod = &results(&v, "pod")[0];
    assert_eq!(pod["ok"], false, "{pod:#}");
    assert_eq!(pod["finding"], "forward-policy-drop", "{pod:#}");

    // The host firewall drops VXLAN: the overlay is silent while the underlay answers, and the
    // diagnosis names the rule, not the cloud.
    lab.inject(Fault::VxlanPortBlocked).expect("inject");
    let (code, v) = probe(n0);
    assert_eq!(code, Some(1), "{v:#}");
    let overlay = only(&v, "overlay");
    assert_eq!(overlay["ok"], false, "{overlay:#}");
    assert_eq!(overlay["underlay"], true, "{overlay:#}");
    assert_eq!(overlay["outcome"], "silence", "{overlay:#}");
    assert_eq!(overlay["finding"], "overlay-port-blocked", "{overlay:#}");
    let pod = &results(&v, "pod")[0];
    assert_eq!(pod["ok"], false, "{pod:#}");
    assert_eq!(pod["finding"], "overlay-port-blocked", "{pod:#}");
    let (_, c) = netdoctor_in(n0, &["check", "--probe", "--kind", "overlay"]);
    let f = support::finding_ids(&c, true);
    assert!(f.contains(&"overlay-port-blocked".to_string()), "{f:?}");
    assert!(
        !f.contains(&"overlay-blocked-outside-node".to_string()),
        "{f:?}"
    );
    lab.revert(Fault::VxlanPortBlocked).expect("revert");

    // The same drop in the underlay switch: nothing on the node explains it.
    let ul = lab.underlay_netns().to_string();
    let sh = |cmd: &str| {
        let ok = Command::new("ip")
            .args(["netns", "exec", &ul, "sh", "-c", cmd])
            .status()
            .expect("sh")
            .success();
        assert!(ok, "{cmd}");
    };
    sh("nft add table bridge ndprobe && nft add chain bridge ndprobe ulfwd '{ type filter hook forward priority 0; }' && nft add rule bridge ndprobe ulfwd udp dport 8472 drop");
    let (code, v) = probe(n0);
    assert_eq!(code, Some(1), "{v:#}");
    let overlay = only(&v, "overlay");
    assert_eq!(overlay["ok"], false, "{overlay:#}");
    assert_eq!(overlay["underlay"], true, "{overlay:#}");
    assert_eq!(
        overlay["finding"], "overlay-blocked-outside-node",
        "{overlay:#}"
    );
    let (code, c) = netdoctor_in(n0, &["check", "--probe", "--kind", "overlay,pod"]);
    assert_eq!(code, Some(1), "{c:#}");
    let f = support::finding_ids(&c, true);
    assert!(
        f.contains(&"overlay-blocked-outside-node".to_string()),
        "{c:#}"
    );
    assert!(!f.contains(&"overlay-port-blocked".to_string()), "{f:?}");
    assert!(
        c["probes"].as_array().is_some_and(|p| p.len() == 2),
        "{c:#}"
    );
    // The text a person reads says the same.
    let kube = n0.kube_dir().to_string_lossy().into_owned();
    let text = Command::new("ip")
        .args(["netns", "exec", &n0.netns, env!("CARGO_BIN_EXE_netdoctor")])
        .args([
            "probe",
            "--kind",
            "overlay",
            "--timeout",
            "500ms",
            "--node-name",
            &n0.name,
        ])
        .args(["--kube-objects", &kube])
        .output()
        .expect("text");
    let text = String::from_utf8_lossy(&text.stdout);
    println!("{text}");
    assert!(text.contains("FAIL overlay"), "{text}");
    assert!(
        text.contains("confirms: overlay-blocked-outside-node"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "escape codes in a pipe: {text}");
    sh("nft delete table bridge ndprobe");
    let (_, v) = probe(n0);
    assert!(all_ok(&v), "after removing the switch's drop: {v:#}");

    // A narrow underlay: the overlay path passes less than flannel.1 claims, measured.
    lab.inject(Fault::MtuUnderlay).expect("inject");
    let (_, v) = netdoctor_in(n0, &["probe", "--kind", "mtu"]);
    let overlay_mtu = results(&v, "mtu")
        .into_iter()
        .find(|r| r["to"].as_str().is_some_and(|t| t.contains("overlay")))
        .expect("overlay mtu");
    assert_eq!(overlay_mtu["ok"], false, "{overlay_mtu:#}");
    assert_eq!(overlay_mtu["mtu"]["claimed"], 1450, "{overlay_mtu:#}");
    // eth0 is 1400 now: 50 bytes of VXLAN leave 1350 for the inner packet.
    assert_eq!(overlay_mtu["mtu"]["largest"], 1350, "{overlay_mtu:#}");
    assert_eq!(overlay_mtu["finding"], "mtu-mismatch", "{overlay_mtu:#}");
    lab.revert(Fault::MtuUnderlay).expect("revert");

    // A Service without endpoints: kube-proxy rejects, and the probe says which finding.
    lab.inject(Fault::ServiceNoEndpoints).expect("inject");
    let (_, v) = netdoctor_in(
        n0,
        &[
            "probe",
            "--kind",
            "service",
            "--to",
            "svc/default/web-remote",
        ],
    );
    let refused: Vec<_> = results(&v, "service")
        .into_iter()
        .filter(|r| r["to"].as_str().is_some_and(|t| !t.contains("NodePort")))
        .collect();
    assert!(!refused.is_empty(), "{v:#}");
    for r in refused {
        assert_eq!(r["ok"], false, "{r:#}");
        assert_eq!(r["outcome"], "refused", "{r:#}");
        assert_eq!(r["finding"], "service-no-endpoints", "{r:#}");
    }
    lab.revert(Fault::ServiceNoEndpoints).expect("revert");
    lab.close().expect("close");
}

fn metrics_in(node: &NodeHandle, port: u16) -> String {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &node.netns,
            "curl",
            "-s",
            "--max-time",
            "5",
        ])
        .arg(format!("http://127.0.0.1:{port}/metrics"))
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for_metric(
    node: &NodeHandle,
    port: u16,
    agent: &mut netdoctor_testkit::Processes,
    needles: &[&str],
) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let m = metrics_in(node, port);
        if needles.iter().all(|n| m.contains(n)) {
            return m;
        }
        if let Some(Ok(Some(status))) = agent.children.first_mut().map(|c| c.try_wait()) {
            panic!("the agent exited ({status}) before {needles:?} appeared");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{needles:?} not in /metrics within 30 s:\n{m}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn the_agent_exports_its_probes_and_a_blocked_overlay_shows_in_the_metrics() {
    if !lab_available("the_agent_exports_its_probes_and_a_blocked_overlay_shows_in_the_metrics") {
        return;
    }
    let lab = Lab::build(&ClusterSpec::default()).expect("lab");
    let n0 = lab.node(0);
    let kube = n0.kube_dir().to_string_lossy().into_owned();
    let root = n0.root_dir().to_string_lossy().into_owned();
    let port = 9471;
    let mut agent = netdoctor_testkit::Processes::default();
    agent.push(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &n0.netns,
                env!("CARGO_BIN_EXE_netdoctor"),
                "agent",
            ])
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--interval",
                "1s",
                "--no-watch",
            ])
            .args([
                "--probe",
                "--probe-interval",
                "1s",
                "--kind",
                "overlay",
                "--timeout",
                "300ms",
            ])
            .args([
                "--root",
                &root,
                "--node-name",
                &n0.name,
                "--kube-objects",
                &kube,
            ])
            .args([
                "--cni",
                "flannel",
                "--cluster-cidr",
                CLUSTER_CIDR,
                "--pod-cidr",
                &n0.pod_cidr,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("agent"),
    );
    let series = "netdoctor_probe_success{kind=\"overlay\",target=\"node n1 VTEP 10.244.1.0\"}";
    wait_for_metric(n0, port, &mut agent, &[&format!("{series} 1")]);
    lab.inject(Fault::VxlanPortBlocked).expect("inject");
    wait_for_metric(
        n0,
        port,
        &mut agent,
        &[
            &format!("{series} 0"),
            "netdoctor_finding{id=\"overlay-port-blocked\",severity=\"critical\"} 1",
        ],
    );
    lab.revert(Fault::VxlanPortBlocked).expect("revert");
    wait_for_metric(
        n0,
        port,
        &mut agent,
        &[
            &format!("{series} 1"),
            "netdoctor_finding{id=\"overlay-port-blocked\",severity=\"critical\"} 0",
        ],
    );
    drop(agent);
    lab.close().expect("close");
}
