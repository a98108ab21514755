//! The differential test of `netdoctor trace` against the lab: for the healthy cluster and for
//! every fault, each flow is sent with real packets and traced through the two nodes'
//! snapshots (`netdoctor collect` run inside each node's namespace); the verdicts must agree.
//! `unknown` counts as a disagreement. It runs twice: with kube-proxy in iptables mode, and in
//! nftables mode (kube-proxy's own `table ip kube-proxy` loaded with `nft -f`, flannel's rules
//! in iptables-nft: the trace runs both together at each hook, as the kernel does). Needs
//! root; skipped otherwise unless NETDOCTOR_REQUIRE_LAB=1.

use netdoctor_lab::{ClusterSpec, Fault, Flow, FlowKind, Lab, Probe, ProxyMode};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_netdoctor");

fn lab_available() -> bool {
    netdoctor_testkit::lab_available("the trace differential test", &["ip"])
}

fn collect(lab: &Lab, i: usize, dir: &Path) -> PathBuf {
    let n = lab.node(i);
    let out = dir.join(format!("{}.json", n.name));
    let st = Command::new("ip")
        .args(["netns", "exec", &n.netns, BIN, "collect", "--root"])
        .arg(n.root_dir())
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run netdoctor collect");
    assert!(
        st.status.success(),
        "collect on {} failed: {}",
        n.name,
        String::from_utf8_lossy(&st.stderr)
    );
    out
}

/// The source address of a flow: pod 0 of node 0, or node 1 for the NodePort flow.
fn flow_src(lab: &Lab, f: &Flow) -> String {
    match f.kind {
        FlowKind::NodeToNodePort => lab.node(1).ip.to_string(),
        _ => lab.pod(0, 0).expect("client pod").ip.to_string(),
    }
}

fn trace(lab: &Lab, files: &[PathBuf], f: &Flow) -> (String, serde_json::Value) {
    let mut cmd = Command::new(BIN);
    cmd.arg("trace");
    for s in files {
        cmd.arg("--snapshot").arg(s);
    }
    cmd.arg("--from").arg(flow_src(lab, f));
    match &f.probe {
        Probe::TcpEcho { dst, .. } => {
            cmd.args(["--to", &dst.to_string(), "--proto", "tcp"]);
        }
        Probe::DfPing { dst, size } => {
            cmd.args([
                "--to",
                &dst.to_string(),
                "--proto",
                "icmp",
                "--size",
                &size.to_string(),
            ]);
        }
    }
    cmd.arg("--kube-objects").arg(lab.kube_dir());
    cmd.args(["--output", "json"]);
    let out = cmd.output().expect("run netdoctor trace");
    assert_eq!(
        out.status.code(),
        Some(0),
        "trace exits 0 whatever the verdict: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("trace JSON");
    assert_eq!(v["schema"], "netdoctor.trace/v1");
    let verdict = v["verdict"].as_str().unwrap_or("?").to_string();
    (verdict, v)
}

/// `pod/NS/NAME` and `svc/NS/NAME:PORT` resolve through the lab's kubectl JSON, and the
/// service's DNAT picks the endpoint the lab declares.
fn named_trace_resolves_through_the_cluster_objects(lab: &Lab, files: &[PathBuf]) {
    let client = lab.pod(0, 0).expect("client pod");
    let svc = lab.service("web-remote").expect("web-remote");
    let backend = lab.pod_by_name(&svc.endpoints[0]).expect("endpoint pod");
    let mut cmd = Command::new(BIN);
    cmd.arg("trace");
    for s in files {
        cmd.arg("--snapshot").arg(s);
    }
    cmd.arg("--kube-objects").arg(lab.kube_dir());
    cmd.args([
        "--from",
        &format!("pod/{}/{}", client.namespace, client.name),
        "--to",
        &format!("svc/{}/{}:{}", svc.namespace, svc.name, svc.port_name),
        "-o",
        "json",
    ]);
    let out = cmd.output().expect("run trace");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["verdict"], "delivered", "{v}");
    assert_eq!(
        v["paths"][0]["endpoint"].as_str(),
        Some(format!("{}:{}", backend.ip, svc.target_port).as_str())
    );
    let nodes: Vec<&str> = v["hops"]
        .as_array()
        .expect("hops")
        .iter()
        .filter_map(|h| h["node"].as_str())
        .collect();
    assert!(
        nodes.contains(&lab.node(0).name.as_str()) && nodes.contains(&lab.node(1).name.as_str()),
        "{nodes:?}"
    );
}

#[test]
fn trace_agrees_with_real_packets_on_every_fault_and_flow() {
    if !lab_available() {
        return;
    }
    agreement(ProxyMode::Iptables);
}

#[test]
fn trace_agrees_with_real_packets_with_kube_proxy_in_nftables_mode() {
    if !lab_available() {
        return;
    }
    agreement(ProxyMode::Nftables);
}

fn agreement(mode: ProxyMode) {
    let start = Instant::now();
    let lab = Lab::build(&ClusterSpec {
        proxy_mode: mode,
        ..ClusterSpec::default()
    })
    .expect("build lab");
    assert_eq!(lab.proxy_mode(), mode);
    let tmp = tempfile::tempdir().expect("tempdir");
    let flows = lab.flows();
    assert_eq!(flows.len(), FlowKind::ALL.len());

    let mut scenarios: Vec<Option<Fault>> = vec![None];
    scenarios.extend(Fault::all().filter(|f| f.fully_reversible()).map(Some));
    if mode == ProxyMode::Iptables {
        // Stale iptables-legacy rules beside kube-proxy's nftables table both DNAT at the same
        // priority, and which runs first depends on the order the kernel registered them,
        // which no snapshot records: the trace rightly forks there, real packets take one way.
        scenarios.extend(Fault::all().filter(|f| !f.fully_reversible()).map(Some));
    }

    let mut rows = Vec::new();
    let mut disagreements = Vec::new();
    let mut wrong_finding = Vec::new();
    let keep = std::env::var_os("NETDOCTOR_TRACE_KEEP").map(PathBuf::from);
    let (mut agree, mut total) = (0usize, 0usize);
    for sc in &scenarios {
        let name = sc.map(|f| f.name()).unwrap_or("healthy");
        if let Some(f) = sc {
            lab.inject(*f).expect("inject");
        }
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let files = vec![collect(&lab, 0, &dir), collect(&lab, 1, &dir)];
        if let Some(k) = &keep {
            // Keep the snapshots for fixtures and debugging.
            let to = k.join(name);
            std::fs::create_dir_all(&to).expect("mkdir keep");
            for f in &files {
                std::fs::copy(f, to.join(f.file_name().expect("name"))).expect("copy snapshot");
            }
        }
        let real = lab.run_flows(&flows);
        if sc.is_none() {
            named_trace_resolves_through_the_cluster_objects(&lab, &files);
        }
        let mut cells = Vec::new();
        for (f, r) in flows.iter().zip(&real) {
            let (verdict, json) = trace(&lab, &files, f);
            let expected = if r.ok { "delivered" } else { "dropped" };
            total += 1;
            let ok = verdict == expected;
            if ok {
                agree += 1;
            } else {
                disagreements.push(format!(
                    "{name} / {}: real packets {} ({}), trace says {verdict}\n{}",
                    f.kind,
                    expected,
                    r.detail,
                    serde_json::to_string_pretty(&json["paths"]).unwrap_or_default()
                ));
            }
            let finding = json["drop"]["finding"].as_str().unwrap_or("-").to_string();
            // A drop under a fault must be explained by that fault's finding.
            if let (Some(fault), "dropped") = (sc, verdict.as_str()) {
                if finding != fault.finding() {
                    wrong_finding.push(format!(
                        "{name} / {}: finding {finding}, expected {}",
                        f.kind,
                        fault.finding()
                    ));
                }
            }
            cells.push(format!(
                "{}{}",
                if ok { "" } else { "MISMATCH " },
                if verdict == "dropped" {
                    format!("dropped[{finding}]")
                } else {
                    verdict
                }
            ));
        }
        rows.push(format!("{name:24} {}", cells.join(" | ")));
        if let Some(f) = sc {
            lab.revert(*f).expect("revert");
        }
    }
    eprintln!(
        "trace vs real packets, kube-proxy {mode:?} ({} scenarios x {} flows, {:.1}s):\n{:24} {}\n{}",
        scenarios.len(),
        flows.len(),
        start.elapsed().as_secs_f32(),
        "scenario",
        flows
            .iter()
            .map(|f| f.kind.name())
            .collect::<Vec<_>>()
            .join(" | "),
        rows.join("\n")
    );
    eprintln!(
        "agreement: {agree}/{total} ({:.1}%)",
        100.0 * agree as f64 / total as f64
    );
    assert!(
        disagreements.is_empty(),
        "trace disagrees with real packets on {} of {total}:\n{}",
        disagreements.len(),
        disagreements.join("\n\n")
    );
    assert!(
        wrong_finding.is_empty(),
        "drops explained by the wrong finding:\n{}",
        wrong_finding.join("\n")
    );
}
