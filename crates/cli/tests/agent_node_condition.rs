//! `netdoctor agent --node-condition` end to end: the agent runs in a network namespace of its
//! own and reports to a mocked API server at the HTTP layer (a small Python server in the same
//! namespace that records every request). A fault sets NetworkProblem=True with the finding's
//! reason and a Warning event; the repair sets it False with a Normal event.

use netdoctor_testkit::{require_lab, Netns, Processes};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MOCK: &str = r#"
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
log = open(sys.argv[2], "a")
class H(BaseHTTPRequestHandler):
    def _any(self):
        n = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(n) or b"null")
        log.write(json.dumps({"method": self.command, "path": self.path.split("?")[0],
                              "type": self.headers.get("content-type"), "body": body}) + "\n")
        log.flush()
        if self.path.startswith("/api/v1/nodes/"):
            reply, code = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "labnode"}}, 200
        elif self.command == "POST":
            reply, code = dict(body, metadata=dict(body.get("metadata", {}), name="e1")), 201
        else:
            reply, code = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}, 404
        out = json.dumps(reply).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_PATCH = do_POST = do_PUT = _any
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;

fn requests(log: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn wait_for(log: &std::path::Path, what: &str, f: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = requests(log);
        if f(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "{what}: {r:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn condition(r: &Value) -> Option<(String, String)> {
    let c = &r["body"]["status"]["conditions"][0];
    (r["method"] == "PATCH" && c["type"] == "NetworkProblem").then(|| {
        (
            c["status"].as_str().unwrap_or("").to_string(),
            c["reason"].as_str().unwrap_or("").to_string(),
        )
    })
}

#[test]
fn node_condition_and_events_follow_a_fault_and_its_repair() {
    require_lab!("agent_node_condition", "ip", "python3");
    let ns = Netns::new("ncond");
    ns.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("mock.py");
    std::fs::write(&script, MOCK).expect("script");
    let log = dir.path().join("requests.jsonl");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: mock\n  cluster:\n    server: http://127.0.0.1:18080\n\
         users:\n- name: u\n  user: {}\ncontexts:\n- name: c\n  context:\n    cluster: mock\n    user: u\n\
         current-context: c\n",
    )
    .expect("kubeconfig");
    let mut procs = Processes::default();
    procs.push(
        Command::new("ip")
            .args(["netns", "exec", &ns.name, "python3"])
            .arg(&script)
            .arg("18080")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mock api"),
    );
    std::thread::sleep(Duration::from_millis(500));
    procs.push(
        Command::new("ip")
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
            .args(["--node-condition", "--node-name", "labnode", "--root"])
            .arg(dir.path())
            .env("KUBECONFIG", &kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("agent"),
    );
    // The first check: no critical finding on a healthy namespace.
    let r = wait_for(&log, "no first condition", |r| {
        r.iter().any(|x| condition(x).is_some())
    });
    let first = r.iter().find_map(condition).expect("condition");
    assert_eq!(first.0, "False", "{r:#?}");
    let patch = r.iter().find(|x| condition(x).is_some()).expect("patch");
    assert_eq!(patch["path"], "/api/v1/nodes/labnode/status");
    assert_eq!(patch["type"], "application/strategic-merge-patch+json");

    // The fault, noticed on the next link change.
    ns.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    ns.exec(&[
        "ip", "link", "add", "nca", "type", "veth", "peer", "name", "ncb",
    ]);
    let r = wait_for(&log, "no NetworkProblem=True", |r| {
        r.iter()
            .filter_map(condition)
            .any(|c| c == ("True".into(), "IpForwardDisabled".into()))
    });
    let warning = r.iter().find(|x| {
        x["method"] == "POST"
            && x["path"] == "/api/v1/namespaces/default/events"
            && x["body"]["reason"] == "IpForwardDisabled"
    });
    let warning = warning.unwrap_or_else(|| panic!("no event: {r:#?}"));
    assert_eq!(warning["body"]["type"], "Warning");
    assert_eq!(warning["body"]["involvedObject"]["name"], "labnode");

    // Repaired.
    ns.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    ns.exec(&["ip", "link", "set", "nca", "up"]);
    let r = wait_for(&log, "no NetworkProblem=False after the repair", |r| {
        r.iter()
            .rev()
            .find_map(condition)
            .is_some_and(|c| c.0 == "False")
            && r.iter()
                .any(|x| x["body"]["reason"] == "IpForwardDisabledCleared")
    });
    // The agent only wrote: no list of the cluster, nothing deleted.
    assert!(
        r.iter()
            .all(|x| x["method"] == "PATCH" || x["method"] == "POST"),
        "{r:#?}"
    );
}
