//! `netdoctor fleet` without `--agent` or `--snapshot`: the API server (a mock at the HTTP
//! layer, named by a kubeconfig) says where the agents are. Real agents (the agent crate's
//! server, in this process, on loopback) serve hand-written snapshots; the nodes whose agent
//! cannot be read are listed with the API's reason. No root needed.

mod support;

use netdoctor_agent::Agent;
use netdoctor_testkit::mock_http::{MockHttp, Request, Response};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_netdoctor");

fn agent(snapshot: &Path) -> Agent {
    support::snapshot_agent(&std::fs::read(snapshot).expect("snapshot"), "t0ken")
}

fn agent_pod(name: &str, node: &str, port: u16, status: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "netdoctor", "labels": {"app.kubernetes.io/name": "netdoctor"}},
        "spec": {"nodeName": node, "hostNetwork": true, "containers": [{"name": "agent",
                 "ports": [{"name": "metrics", "containerPort": port}]}]},
        "status": status,
    })
}

/// The API: the agent pods of n0 and n1 (on the agents' ports), n3's crash-looping one, and
/// nodes n0..n3 (n2 has no agent).
fn api(ports: [u16; 2]) -> MockHttp {
    let ok = |ip: &str| json!({"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]});
    let agents = vec![
        agent_pod("netdoctor-a", "n0", ports[0], ok("127.0.0.1")),
        agent_pod("netdoctor-b", "n1", ports[1], ok("127.0.0.1")),
        agent_pod(
            "netdoctor-c",
            "n3",
            9469,
            json!({"phase": "Pending", "containerStatuses": [{"name": "agent",
            "ready": false, "restartCount": 0, "image": "i", "imageID": "",
            "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}),
        ),
    ];
    let nodes: Vec<Value> = (0..4)
        .map(|i| {
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": format!("n{i}")},
                        "spec": {"podCIDR": format!("10.244.{i}.0/24")}})
        })
        .collect();
    MockHttp::start(move |r: &Request| {
        let list = |kind: &str, items: &[Value]| {
            Response::ok(
                json!({"apiVersion": "v1", "kind": kind, "metadata": {}, "items": items})
                    .to_string(),
            )
        };
        match r.path.as_str() {
            "/api/v1/namespaces/netdoctor/pods" => list("PodList", &agents),
            "/api/v1/pods" => list("PodList", &agents),
            "/api/v1/nodes" => list("NodeList", &nodes),
            "/api/v1/services" => list("ServiceList", &[]),
            "/apis/discovery.k8s.io/v1/endpointslices" => list("EndpointSliceList", &[]),
            _ => Response::status(404, "NotFound"),
        }
    })
}

fn kubeconfig(dir: &Path, server: &str) -> std::path::PathBuf {
    let p = dir.join("kubeconfig");
    std::fs::write(
        &p,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: lab\n\
             clusters:\n- name: lab\n  cluster:\n    server: {server}\n\
             users:\n- name: u\n  user: {{}}\n\
             contexts:\n- name: lab\n  context:\n    cluster: lab\n    user: u\n"
        ),
    )
    .expect("kubeconfig");
    p
}

fn node<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["node"] == name)
        .unwrap_or_else(|| panic!("{name} not in {v:#}"))
}

#[test]
fn the_api_names_the_agents_and_the_nodes_without_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let healthy = support::one_node(dir.path(), "n0", "1", support::FORWARD_ACCEPTS_PODS);
    let broken = support::one_node(dir.path(), "n1", "0", support::FORWARD_ACCEPTS_PODS);
    let (a0, a1) = (agent(&healthy), agent(&broken));
    let server = api([a0.addr().port(), a1.addr().port()]);
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken\n").expect("token");
    let kc = kubeconfig(dir.path(), &server.url());

    // With --kubeconfig, and with $KUBECONFIG as kubectl reads it: the same nodes.
    let by_flag = Command::new(BIN)
        .args(["fleet", "-o", "json", "--token-file"])
        .arg(&token)
        .arg("--kubeconfig")
        .arg(&kc)
        .output()
        .expect("fleet");
    let by_env = Command::new(BIN)
        .args(["fleet", "-o", "json", "--token-file"])
        .arg(&token)
        .env("KUBECONFIG", &kc)
        .env("HOME", dir.path())
        .output()
        .expect("fleet");
    for out in [&by_flag, &by_env] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "a critical finding on n1: {stderr}"
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("fleet json");
        support::assert_schema("fleet", &v);
        assert_eq!(v["nodes"].as_array().map(Vec::len), Some(4), "{v:#}");
        assert!(node(&v, "n0")["error"].is_null(), "{v:#}");
        assert!(
            support::finding_ids(node(&v, "n1"), true).contains(&"ip-forward-disabled".to_string()),
            "{v:#}"
        );
        assert!(!support::finding_ids(node(&v, "n0"), true)
            .contains(&"ip-forward-disabled".to_string()));
        let n2 = node(&v, "n2")["error"].as_str().expect("n2 has no agent");
        assert!(n2.contains("no agent pod"), "{n2}");
        let n3 = node(&v, "n3")["error"]
            .as_str()
            .expect("n3's agent does not run");
        assert!(
            n3.contains("netdoctor/netdoctor-c") && n3.contains("ImagePullBackOff"),
            "{n3}"
        );
        let summary = v["summary"].as_array().expect("summary");
        let fwd = summary
            .iter()
            .find(|s| s["id"] == "ip-forward-disabled")
            .expect("summarised");
        assert_eq!(fwd["nodes"], json!(["n1"]));
    }
    // Read-only: list requests only, the agents' by their label.
    let seen = server.requests();
    assert!(seen.iter().all(|r| r.method == "GET"), "{seen:#?}");
    assert!(seen
        .iter()
        .any(|r| r.path == "/api/v1/namespaces/netdoctor/pods"
            && r.query
                .contains("labelSelector=app.kubernetes.io/name=netdoctor")));
}

#[test]
fn no_agent_pods_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = MockHttp::start(|r: &Request| {
        Response::ok(json!({"apiVersion": "v1", "kind": if r.path.contains("pods") {"PodList"} else {"NodeList"},
                            "metadata": {}, "items": []}).to_string())
    });
    let kc = kubeconfig(dir.path(), &server.url());
    let out = Command::new(BIN)
        .args(["fleet", "--agent-namespace", "monitoring", "--kubeconfig"])
        .arg(&kc)
        .output()
        .expect("fleet");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "no agent pods match -l app.kubernetes.io/name=netdoctor in namespace monitoring"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("--agent URL"), "{stderr}");
}
