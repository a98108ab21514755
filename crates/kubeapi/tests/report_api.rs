//! The agent's report on its node against a mocked API server at the HTTP layer: the exact
//! requests the real kube client sends for the Node condition and the Events.

use netdoctor_kubeapi::report::{transitions, NodeReporter};
use netdoctor_kubeapi::Access;
use netdoctor_testkit::mock_http::{MockHttp, Request, Response};
use serde_json::{json, Value};

/// Answer a status patch with the node and an event with itself, named.
fn api() -> MockHttp {
    MockHttp::start(|r: &Request| {
        if r.path.ends_with("/status") {
            return Response::ok(
                json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}).to_string(),
            );
        }
        let mut ev: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        ev["metadata"]["name"] = json!("n1.netdoctor-abcde");
        Response::created(ev.to_string())
    })
}

fn body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

#[test]
fn condition_and_events_are_the_requests_kubelet_would_accept() {
    let server = api();
    let r = NodeReporter::connect(&Access::Url(server.url()), "n1").expect("connect");

    let findings = vec![(
        "ip-forward-disabled".to_string(),
        "critical".to_string(),
        "IPv4 forwarding is off".to_string(),
    )];
    let (condition, changes) = transitions(None, &findings);
    r.set_condition(&condition.expect("condition"))
        .expect("patch");
    for c in &changes {
        r.event(c).expect("event");
    }
    let (_, cleared) = transitions(Some(&findings), &[]);
    r.event(&cleared[0]).expect("event");

    let seen = server.requests();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    let patch = &seen[0];
    assert_eq!(
        (patch.method.as_str(), patch.path.as_str()),
        ("PATCH", "/api/v1/nodes/n1/status")
    );
    assert_eq!(patch.content_type, "application/strategic-merge-patch+json");
    let c = &body(patch)["status"]["conditions"][0];
    assert_eq!(c["type"], "NetworkProblem");
    assert_eq!(c["status"], "True");
    assert_eq!(c["reason"], "IpForwardDisabled");
    assert_eq!(c["message"], "IPv4 forwarding is off");
    let ev = &seen[1];
    assert_eq!(
        (ev.method.as_str(), ev.path.as_str()),
        ("POST", "/api/v1/namespaces/default/events")
    );
    let ev = body(ev);
    assert_eq!(ev["involvedObject"]["kind"], "Node");
    assert_eq!(ev["involvedObject"]["name"], "n1");
    assert_eq!(ev["type"], "Warning");
    assert_eq!(ev["reason"], "IpForwardDisabled");
    assert_eq!(body(&seen[2])["type"], "Normal");
    assert_eq!(body(&seen[2])["reason"], "IpForwardDisabledCleared");
    // Nothing but the node's status and events was touched.
    assert!(seen
        .iter()
        .all(|s| s.method != "GET" && s.method != "DELETE"));
}
