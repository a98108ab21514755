//! The agent over real HTTP on loopback, with a check function the test controls.

use netdoctor_agent::{Agent, CheckResult, Config, FindingSummary};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "tok-7f3a9c";

fn get(addr: SocketAddr, path: &str, auth: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n");
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    (status, body.unwrap_or_default())
}

/// An agent whose check reports the findings in `state`.
fn agent(state: Arc<Mutex<Vec<&'static str>>>, token: Option<&str>) -> Agent {
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        interval: Duration::from_secs(3600),
        debounce: Duration::from_millis(50),
        token: token.map(str::to_string),
        watch_netlink: false,
        tls: None,
    };
    Agent::start(config, move || {
        let ids = state.lock().expect("state").clone();
        Ok(CheckResult {
            probes: Vec::new(),
            check_json: format!("{{\"schema\":\"netdoctor.check/v1\",\"ids\":{ids:?}}}"),
            snapshot_zstd: zstd::encode_all(&b"{\"schema\":\"netdoctor.snapshot/v1\"}"[..], 3)
                .expect("zstd"),
            findings: ids
                .iter()
                .map(|id| FindingSummary {
                    id: id.to_string(),
                    severity: "critical".into(),
                    title: format!("{id} title"),
                })
                .collect(),
        })
    })
    .expect("start")
}

fn wait_for(addr: SocketAddr, path: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = get(addr, path, None);
        if body.contains(needle) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} never appeared in:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn metrics_follow_the_findings() {
    let state = Arc::new(Mutex::new(vec!["ip-forward-disabled"]));
    let a = agent(state.clone(), Some(TOKEN));
    let on = "netdoctor_finding{id=\"ip-forward-disabled\",severity=\"critical\"} 1";
    let body = wait_for(a.addr(), "/metrics", on);
    assert!(
        body.contains("netdoctor_last_check_timestamp_seconds"),
        "{body}"
    );
    assert_eq!(get(a.addr(), "/healthz", None), (200, "ok\n".into()));
    // The fault is repaired; a check (as a netlink change would start) clears it.
    state.lock().expect("state").clear();
    a.trigger();
    let off = "netdoctor_finding{id=\"ip-forward-disabled\",severity=\"critical\"} 0";
    let body = wait_for(a.addr(), "/metrics", off);
    assert!(
        body.contains("netdoctor_findings{severity=\"critical\"} 0"),
        "{body}"
    );
    assert!(
        body.contains("netdoctor_checks_total{trigger=\"request\"} 1"),
        "{body}"
    );
}

#[test]
fn results_need_the_token_and_leak_nothing_without_it() {
    let state = Arc::new(Mutex::new(vec!["secret-finding"]));
    let a = agent(state, Some(TOKEN));
    wait_for(a.addr(), "/metrics", "secret-finding");
    for path in ["/v1/check", "/v1/snapshot"] {
        for auth in [
            None,
            Some("Bearer wrong"),
            Some("Bearer tok-7f3a9"),
            Some("Basic dG9rLTdmM2E5Yw=="),
            Some(TOKEN),
        ] {
            let (code, body) = get(a.addr(), path, auth);
            assert_eq!(code, 401, "{path} {auth:?}");
            assert_eq!(body, "unauthorized\n", "{path} {auth:?}");
        }
    }
    let bearer = format!("Bearer {TOKEN}");
    let (code, body) = get(a.addr(), "/v1/check", Some(&bearer));
    assert_eq!(code, 200);
    assert!(body.contains("secret-finding"), "{body}");
    let (code, body) = get(a.addr(), "/v1/snapshot", Some(&bearer));
    assert_eq!(
        (code, body.as_str()),
        (200, "{\"schema\":\"netdoctor.snapshot/v1\"}")
    );
    assert_eq!(get(a.addr(), "/nothing", None).0, 404);
    // A client that takes zstd gets the stored bytes as they are, marked so.
    let mut s = TcpStream::connect(a.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(
        format!("GET /v1/snapshot HTTP/1.1\r\nHost: agent\r\nConnection: close\r\nAuthorization: {bearer}\r\nAccept-Encoding: gzip, zstd\r\n\r\n")
            .as_bytes(),
    )
    .expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(head.contains("content-encoding: zstd"), "{head}");
    let json = zstd::decode_all(&raw[split..]).expect("a zstd body");
    assert_eq!(json, b"{\"schema\":\"netdoctor.snapshot/v1\"}");
}

#[test]
fn without_a_token_file_the_results_are_closed() {
    let a = agent(Arc::new(Mutex::new(vec![])), None);
    wait_for(a.addr(), "/healthz", "ok");
    assert_eq!(get(a.addr(), "/v1/check", Some("Bearer ")).0, 401);
    assert_eq!(get(a.addr(), "/v1/check", None).0, 401);
}

#[test]
fn slow_and_huge_requests_do_not_stall_metrics() {
    let a = agent(Arc::new(Mutex::new(vec![])), Some(TOKEN));
    wait_for(a.addr(), "/healthz", "ok");
    // A client that starts a request and never finishes it.
    let mut slow = TcpStream::connect(a.addr()).expect("connect");
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: a")
        .expect("write");
    // A request head far over the limit.
    let mut huge = TcpStream::connect(a.addr()).expect("connect");
    huge.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut head = String::from("GET /metrics HTTP/1.1\r\nHost: a\r\n");
    while head.len() < 1 << 20 {
        head.push_str("X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    // The server may close the connection while we are still writing: that is the point.
    let _ = huge.write_all(head.as_bytes());
    let mut answer = String::new();
    let _ = huge.read_to_string(&mut answer);
    assert!(
        !answer.contains("netdoctor_findings"),
        "a huge request was served"
    );
    // Meanwhile /metrics answers.
    let (code, body) = get(a.addr(), "/metrics", None);
    assert_eq!(code, 200);
    assert!(body.contains("netdoctor_findings"), "{body}");
    // Anything but GET is refused.
    let mut post = TcpStream::connect(a.addr()).expect("connect");
    post.write_all(
        b"POST /v1/check HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .expect("write");
    let mut out = String::new();
    post.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 405"), "{out}");
    drop(slow);
}

/// With a certificate, the agent speaks HTTPS (rustls) and nothing else: a client that checks
/// the certificate gets the metrics; plain HTTP to the same port gets nothing.
#[test]
fn tls_from_a_certificate_file() {
    let have = |t: &str, arg: &str| {
        std::process::Command::new(t)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("openssl", "version") || !have("curl", "--version") {
        assert!(
            std::env::var("NETDOCTOR_REQUIRE_LAB").as_deref() != Ok("1"),
            "NETDOCTOR_REQUIRE_LAB=1 but openssl or curl is missing"
        );
        eprintln!("tls_from_a_certificate_file: skipped (no openssl or curl)");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let st = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args([
            "-days",
            "1",
            "-subj",
            "/CN=netdoctor-test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success());
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        interval: Duration::from_secs(3600),
        debounce: Duration::from_millis(50),
        token: Some(TOKEN.into()),
        watch_netlink: false,
        tls: Some((cert.clone(), key)),
    };
    let a = Agent::start(config, || {
        Ok(CheckResult {
            probes: Vec::new(),
            check_json: "{}".into(),
            snapshot_zstd: zstd::encode_all(&b"{}"[..], 3).expect("zstd"),
            findings: vec![FindingSummary {
                id: "mtu-mismatch".into(),
                severity: "critical".into(),
                title: String::new(),
            }],
        })
    })
    .expect("start with TLS");
    let url = format!("https://127.0.0.1:{}/metrics", a.addr().port());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = std::process::Command::new("curl")
            .args(["-s", "--max-time", "5", "--cacert"])
            .arg(&cert)
            .arg(&url)
            .output()
            .expect("curl");
        let body = String::from_utf8_lossy(&out.stdout);
        if body.contains("netdoctor_finding{id=\"mtu-mismatch\"") {
            break;
        }
        assert!(Instant::now() < deadline, "no metrics over TLS: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Plain HTTP to the TLS port gets no metrics.
    let mut s = TcpStream::connect(a.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(6)))
        .expect("timeout");
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(!String::from_utf8_lossy(&out).contains("netdoctor_finding"));
    // A key that does not match is refused at start, with the reason.
    let other = dir.path().join("other.pem");
    let st = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&other)
        .status()
        .expect("openssl");
    assert!(st.success());
    let bad = Agent::start(
        Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            tls: Some((cert, other)),
            watch_netlink: false,
            ..Config::default()
        },
        || Err("unused".into()),
    );
    assert!(bad.is_err(), "a mismatched key is refused");
}
