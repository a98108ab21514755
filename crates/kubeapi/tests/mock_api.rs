//! The live path against a mocked API server at the HTTP layer: a tiny HTTP/1.1 server on
//! 127.0.0.1 answers the list requests with the objects the lab's kubectl JSON holds
//! (crates/lab/src/kube_json.rs), and the cluster view read through the real kube client must
//! equal the one read from the same JSON as files. The server also records every request, so
//! the test proves the client only reads.

use netdoctor_kube::Cluster;
use netdoctor_kubeapi::{load, Access};
use netdoctor_testkit::mock_http::{MockHttp, Request, Response};
use serde_json::{json, Value};
use std::net::TcpListener;

fn node(i: u8) -> Value {
    let backend = json!({"VNI": 1, "VtepMAC": format!("0e:6e:64:00:00:{:02x}", i + 1)}).to_string();
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": format!("n{i}"), "annotations": {
            "flannel.alpha.coreos.com/backend-data": backend,
            "flannel.alpha.coreos.com/backend-type": "vxlan",
            "flannel.alpha.coreos.com/kube-subnet-manager": "true",
            "flannel.alpha.coreos.com/public-ip": format!("172.31.255.{}", 10 + i)}},
        "spec": {"podCIDR": format!("10.244.{i}.0/24"), "podCIDRs": [format!("10.244.{i}.0/24")]},
        "status": {"addresses": [{"type": "InternalIP", "address": format!("172.31.255.{}", 10 + i)},
                                 {"type": "Hostname", "address": format!("n{i}")}],
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

fn objects() -> Vec<(&'static str, &'static str, Vec<Value>)> {
    let pods = (0..2u8)
        .map(|i| {
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("echo-n{i}-0"), "namespace": "default", "labels": {"app": "echo"}},
                "spec": {"nodeName": format!("n{i}"), "containers": [{"name": "echo"}]},
                "status": {"phase": "Running", "podIP": format!("10.244.{i}.2"), "podIPs": [{"ip": format!("10.244.{i}.2")}],
                           "conditions": [{"type": "Ready", "status": "True"}]}})
        })
        .collect();
    let svc = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "echo", "namespace": "default"},
        "spec": {"type": "NodePort", "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}],
                 "selector": {"app": "echo"}}});
    let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "echo-lab01", "namespace": "default", "labels": {"kubernetes.io/service-name": "echo"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.0.2"], "conditions": {"ready": true}, "nodeName": "n0",
                       "targetRef": {"kind": "Pod", "name": "echo-n0-0", "namespace": "default"}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]});
    vec![
        ("/api/v1/nodes", "NodeList", vec![node(0), node(1)]),
        ("/api/v1/pods", "PodList", pods),
        ("/api/v1/services", "ServiceList", vec![svc]),
        (
            "/apis/discovery.k8s.io/v1/endpointslices",
            "EndpointSliceList",
            vec![slice],
        ),
    ]
}

/// Answer the list requests with [`objects`], anything else with 404.
fn api() -> MockHttp {
    MockHttp::start(|r: &Request| {
        let found = objects().into_iter().find(|(p, _, _)| *p == r.path);
        match found {
            Some((_, kind, items)) if r.method == "GET" => {
                let apiv = items
                    .first()
                    .and_then(|i| i["apiVersion"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "v1".into());
                Response::ok(
                    json!({"apiVersion": apiv, "kind": kind, "metadata": {"resourceVersion": "7"}, "items": items})
                        .to_string(),
                )
            }
            _ => Response::status(404, "NotFound"),
        }
    })
}

#[test]
fn live_path_reads_what_the_files_say() {
    let server = api();
    let live = load(&Access::Url(server.url())).expect("live load");

    let docs: Vec<(String, String)> = objects()
        .into_iter()
        .map(|(p, kind, items)| {
            (
                p.to_string(),
                json!({"kind": kind, "items": items}).to_string(),
            )
        })
        .collect();
    let files = Cluster::from_documents(&docs).expect("file load");

    assert!(live.problems.is_empty(), "{:?}", live.problems);
    assert_eq!(
        live.nodes,
        files
            .nodes
            .iter()
            .map(|n| netdoctor_kube::Node {
                source: "api: nodes".into(),
                ..n.clone()
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(live.pods.len(), 2);
    let n1 = live.node("n1").expect("n1");
    assert_eq!(
        n1.flannel.as_ref().and_then(|f| f.vtep_mac.as_deref()),
        Some("0e:6e:64:00:00:02")
    );
    let svc = live.service("default", "echo").expect("svc");
    assert_eq!(svc.ready_endpoints().count(), 1);
    assert_eq!(
        svc.port(Some("http")).and_then(|p| p.node_port),
        Some(30080)
    );

    let seen: Vec<String> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect();
    assert!(
        seen.iter().all(|r| r.starts_with("GET ")),
        "only reads: {seen:?}"
    );
    for p in [
        "/api/v1/nodes",
        "/api/v1/pods",
        "/api/v1/services",
        "/apis/discovery.k8s.io/v1/endpointslices",
    ] {
        assert!(
            seen.iter().any(|r| r.contains(p)),
            "{p} not requested: {seen:?}"
        );
    }
}

#[test]
fn unreachable_server_is_an_error_not_a_panic() {
    // A port nobody listens on: bind, note it, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let e = load(&Access::Url(format!("http://127.0.0.1:{port}"))).expect_err("must fail");
    assert!(e.to_string().contains("list nodes"), "{e}");
}

/// `--context NAME` picks that context of the kubeconfig, not its current one.
#[test]
fn a_named_context_is_used_instead_of_the_current_one() {
    let server = api();
    let addr = server.addr();
    let dead = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let dir = std::env::temp_dir().join(format!("netdoctor-kubeconfig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let kc = dir.join("config");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: dead\n\
             clusters:\n- name: dead\n  cluster:\n    server: http://127.0.0.1:{dead}\n\
             - name: live\n  cluster:\n    server: http://{addr}\n\
             users:\n- name: u\n  user: {{}}\n\
             contexts:\n- name: dead\n  context:\n    cluster: dead\n    user: u\n\
             - name: live\n  context:\n    cluster: live\n    user: u\n"
        ),
    )
    .expect("kubeconfig");
    let current = load(&Access::Kubeconfig(kc.clone()));
    assert!(current.is_err(), "the current context's server is down");
    let live = load(&Access::Context {
        kubeconfig: Some(kc.clone()),
        context: "live".into(),
    })
    .expect("the named context");
    assert_eq!(live.nodes.len(), 2);
    let missing = load(&Access::Context {
        kubeconfig: Some(kc),
        context: "nope".into(),
    })
    .expect_err("an unknown context is an error");
    assert!(missing.to_string().contains("nope"), "{missing}");
    let _ = std::fs::remove_dir_all(dir);
}
