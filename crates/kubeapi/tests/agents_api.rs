//! Finding the agents through a mocked API server at the HTTP layer: the DaemonSet's pods by
//! label in their namespace, the nodes by the node selector, and for each node the agent to
//! read or why it cannot be read.

use netdoctor_kubeapi::agents::{discover, AgentQuery, FoundAgent};
use netdoctor_kubeapi::Access;
use netdoctor_testkit::mock_http::{MockHttp, Request, Response};
use serde_json::{json, Value};

fn pod(
    name: &str,
    node: &str,
    ip: Option<&str>,
    state: Value,
    created: &str,
    extra: Value,
) -> Value {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "netdoctor", "creationTimestamp": created,
                     "labels": {"app.kubernetes.io/name": "netdoctor"}},
        "spec": {"nodeName": node, "hostNetwork": true, "containers": [{"name": "agent",
                 "ports": [{"name": "metrics", "containerPort": 9469, "protocol": "TCP"}]}]},
        "status": state,
    });
    if let Some(ip) = ip {
        p["status"]["podIP"] = json!(ip);
    }
    if let Value::Object(m) = extra {
        for (k, v) in m {
            p["metadata"][k] = v;
        }
    }
    p
}

fn running() -> Value {
    json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})
}

fn api() -> MockHttp {
    let pods = vec![
        // n0: a rolling update left the old pod terminating beside the new one.
        pod(
            "netdoctor-old0",
            "n0",
            Some("10.0.0.10"),
            running(),
            "2026-11-01T00:00:00Z",
            json!({"deletionTimestamp": "2026-12-01T00:00:00Z"}),
        ),
        pod(
            "netdoctor-new0",
            "n0",
            Some("10.0.0.10"),
            running(),
            "2026-12-01T00:00:00Z",
            json!({}),
        ),
        // n1: the agent crash-loops.
        pod(
            "netdoctor-cl1",
            "n1",
            Some("10.0.0.11"),
            json!({"phase": "Running", "containerStatuses": [{"name": "agent", "ready": false,
                   "restartCount": 7, "image": "i", "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
            "2026-12-01T00:00:00Z",
            json!({}),
        ),
        // n3: an IPv6 node whose agent listens elsewhere.
        {
            let mut p = pod(
                "netdoctor-v6",
                "n3",
                Some("fd00::13"),
                running(),
                "2026-12-01T00:00:00Z",
                json!({}),
            );
            p["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(9470);
            p
        },
        // Not scheduled: it belongs to no node.
        {
            let mut p = pod(
                "netdoctor-unsched",
                "x",
                None,
                json!({"phase": "Pending"}),
                "2026-12-01T00:00:00Z",
                json!({}),
            );
            p["spec"].as_object_mut().expect("spec").remove("nodeName");
            p
        },
    ];
    let nodes: Vec<Value> = ["n0", "n1", "n2", "n3"]
        .iter()
        .map(|n| json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n}}))
        .collect();
    MockHttp::start(move |r: &Request| {
        match r.path.as_str() {
        "/api/v1/namespaces/netdoctor/pods" => Response::ok(
            json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods}).to_string(),
        ),
        "/api/v1/nodes" => Response::ok(
            json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList", "metadata": {}, "items": nodes})
                .to_string(),
        ),
        _ => Response::status(404, "NotFound"),
    }
    })
}

fn query() -> AgentQuery {
    AgentQuery {
        namespace: "netdoctor".into(),
        selector: "app.kubernetes.io/name=netdoctor".into(),
        node_selector: "kubernetes.io/os=linux".into(),
        port: None,
    }
}

#[test]
fn one_agent_per_node_and_why_a_node_cannot_be_read() {
    let server = api();
    let d = discover(&Access::Url(server.url()), &query()).expect("discover");
    let by_node = |n: &str| -> &FoundAgent {
        d.agents
            .iter()
            .find(|a| a.node == n)
            .unwrap_or_else(|| panic!("{n}: {d:#?}"))
    };
    assert_eq!(d.agents.len(), 3, "{d:#?}");
    let n0 = by_node("n0");
    assert_eq!(
        n0.pod, "netdoctor/netdoctor-new0",
        "the running pod, not the terminating one"
    );
    assert_eq!(n0.url.as_deref(), Some("http://10.0.0.10:9469"));
    assert_eq!(n0.problem, None);
    let n1 = by_node("n1");
    let why = n1.problem.as_deref().expect("crash loop");
    assert!(
        why.contains("netdoctor/netdoctor-cl1") && why.contains("CrashLoopBackOff"),
        "{why}"
    );
    let n3 = by_node("n3");
    assert_eq!(n3.url.as_deref(), Some("http://[fd00::13]:9470"));
    assert_eq!(d.without_agent.as_deref(), Some(&["n2".to_string()][..]));
    assert_eq!(d.nodes_error, None);

    // Two list requests, with the selectors, and nothing else.
    let seen = server.requests();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert!(seen.iter().all(|r| r.method == "GET"));
    assert!(
        seen[0]
            .query
            .contains("labelSelector=app.kubernetes.io/name=netdoctor"),
        "{:?}",
        seen[0]
    );
    assert!(
        seen[1]
            .query
            .contains("labelSelector=kubernetes.io/os=linux"),
        "{:?}",
        seen[1]
    );

    // A fixed port wins over the pods'.
    let d = discover(
        &Access::Url(server.url()),
        &AgentQuery {
            port: Some(9000),
            ..query()
        },
    )
    .expect("discover");
    assert!(
        d.agents
            .iter()
            .filter_map(|a| a.url.as_deref())
            .all(|u| u.ends_with(":9000")),
        "{d:#?}"
    );
}

#[test]
fn nodes_that_cannot_be_listed_leave_the_missing_agents_unknown() {
    let server = MockHttp::start(|r: &Request| {
        if r.path == "/api/v1/nodes" {
            Response::status(403, "Forbidden")
        } else {
            Response::ok(
                json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": []})
                    .to_string(),
            )
        }
    });
    let d = discover(&Access::Url(server.url()), &query()).expect("pods listed");
    assert!(d.agents.is_empty());
    assert_eq!(d.without_agent, None, "not known, not 'none'");
    assert!(
        d.nodes_error
            .as_deref()
            .is_some_and(|e| e.contains("list nodes")),
        "{d:#?}"
    );
}

#[test]
fn pods_that_cannot_be_listed_are_an_error() {
    let server = MockHttp::start(|_: &Request| Response::status(403, "Forbidden"));
    let e = discover(&Access::Url(server.url()), &query()).expect_err("forbidden");
    assert!(e.to_string().contains("list pods -n netdoctor"), "{e}");
}
