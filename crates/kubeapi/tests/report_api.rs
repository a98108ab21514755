//! The agent's report on its node against a mocked API server at the HTTP layer: the exact
//! requests the real kube client sends for the Node condition and the Events.

use netdoctor_kubeapi::report::{transitions, NodeReporter};
use netdoctor_kubeapi::Access;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    content_type: String,
    body: Value,
}

fn serve(listener: TcpListener, seen: Arc<Mutex<Vec<Seen>>>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { return };
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            loop {
                let mut request = String::new();
                if reader.read_line(&mut request).unwrap_or(0) == 0 {
                    return;
                }
                let (mut length, mut ctype) = (0usize, String::new());
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 {
                        return;
                    }
                    if h == "\r\n" {
                        break;
                    }
                    let lower = h.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if let Some(v) = lower.strip_prefix("content-type:") {
                        ctype = v.trim().to_string();
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let mut parts = request.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let path = parts
                    .next()
                    .unwrap_or("")
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .to_string();
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                seen.lock().expect("lock").push(Seen {
                    method: method.clone(),
                    path: path.clone(),
                    content_type: ctype,
                    body: body.clone(),
                });
                let reply = if path.ends_with("/status") {
                    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
                } else {
                    let mut ev = body;
                    ev["metadata"]["name"] = json!("n1.netdoctor-abcde");
                    ev
                };
                let text = reply.to_string();
                let r = write!(
                    stream,
                    "HTTP/1.1 {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
                    if method == "POST" { "201 Created" } else { "200 OK" },
                    text.len()
                );
                if r.is_err() || stream.flush().is_err() {
                    return;
                }
            }
        });
    }
}

#[test]
fn condition_and_events_are_the_requests_kubelet_would_accept() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    std::thread::spawn(move || serve(listener, s2));
    let r = NodeReporter::connect(&Access::Url(format!("http://{addr}")), "n1").expect("connect");

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

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    let patch = &seen[0];
    assert_eq!(
        (patch.method.as_str(), patch.path.as_str()),
        ("PATCH", "/api/v1/nodes/n1/status")
    );
    assert_eq!(patch.content_type, "application/strategic-merge-patch+json");
    let c = &patch.body["status"]["conditions"][0];
    assert_eq!(c["type"], "NetworkProblem");
    assert_eq!(c["status"], "True");
    assert_eq!(c["reason"], "IpForwardDisabled");
    assert_eq!(c["message"], "IPv4 forwarding is off");
    let ev = &seen[1];
    assert_eq!(
        (ev.method.as_str(), ev.path.as_str()),
        ("POST", "/api/v1/namespaces/default/events")
    );
    assert_eq!(ev.body["involvedObject"]["kind"], "Node");
    assert_eq!(ev.body["involvedObject"]["name"], "n1");
    assert_eq!(ev.body["type"], "Warning");
    assert_eq!(ev.body["reason"], "IpForwardDisabled");
    assert_eq!(seen[2].body["type"], "Normal");
    assert_eq!(seen[2].body["reason"], "IpForwardDisabledCleared");
    // Nothing but the node's status and events was touched.
    assert!(seen
        .iter()
        .all(|s| s.method != "GET" && s.method != "DELETE"));
}
