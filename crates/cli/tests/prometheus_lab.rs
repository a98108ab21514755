//! The agent under a real Prometheus (Debian's package), both in a network namespace of their
//! own: PromQL sees an injected fault on the right node within an interval, the repository's
//! alert rule goes pending and then fires, and after the repair the finding is 0 and the alert
//! is gone.

use netdoctor_testkit::{repo_root, require_lab, Netns, Processes};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn query(ns: &Netns, q: &str) -> Vec<Value> {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "curl",
            "-s",
            "--max-time",
            "5",
            "-G",
        ])
        .arg("http://127.0.0.1:9090/api/v1/query")
        .args(["--data-urlencode", &format!("query={q}")])
        .output()
        .expect("curl");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn wait(ns: &Netns, what: &str, within: Duration, f: impl Fn(&Netns) -> bool) {
    let deadline = Instant::now() + within;
    while !f(ns) {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn value(r: &[Value]) -> Option<String> {
    r.first()
        .and_then(|x| x["value"][1].as_str())
        .map(str::to_string)
}

#[test]
fn prometheus_sees_the_fault_the_alert_fires_and_clears() {
    require_lab!("prometheus_lab", "ip", "curl", "prometheus");
    let ns = Netns::new("prom");
    ns.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = repo_root().join("deploy/prometheus/netdoctor-rules.yaml");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: netdoctor\n    static_configs:\n      - targets: ['127.0.0.1:9469']\n        labels:\n          node: labnode\n",
            rules.display()
        ),
    )
    .expect("config");
    let mut procs = Processes::default();
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
                "2s",
                "--debounce",
                "200ms",
                "--root",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("agent"),
    );
    procs.push(
        Command::new("ip")
            .args(["netns", "exec", &ns.name, "prometheus"])
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg("--web.listen-address=127.0.0.1:9090")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus"),
    );
    wait(&ns, "the agent scraped", Duration::from_secs(30), |ns| {
        value(&query(ns, "up{job=\"netdoctor\"}")).as_deref() == Some("1")
    });
    let series = "netdoctor_finding{id=\"ip-forward-disabled\",node=\"labnode\"}";
    assert_ne!(
        value(&query(&ns, series)).as_deref(),
        Some("1"),
        "healthy at first"
    );

    // The fault; the agent's interval (2 s) finds it even without a netlink change.
    ns.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    wait(&ns, "the finding in PromQL", Duration::from_secs(6), |ns| {
        value(&query(ns, series)).as_deref() == Some("1")
    });
    let alert = "ALERTS{alertname=\"NetdoctorCriticalFinding\",id=\"ip-forward-disabled\",node=\"labnode\"}";
    wait(&ns, "the alert pending", Duration::from_secs(10), |ns| {
        query(ns, alert)
            .iter()
            .any(|r| r["metric"]["alertstate"] == "pending")
    });
    // `for: 1m`, then it fires.
    wait(&ns, "the alert firing", Duration::from_secs(90), |ns| {
        query(ns, alert)
            .iter()
            .any(|r| r["metric"]["alertstate"] == "firing")
    });

    // Repaired: the finding goes to 0 and the alert resolves.
    ns.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    wait(&ns, "the finding cleared", Duration::from_secs(6), |ns| {
        value(&query(ns, series)).as_deref() == Some("0")
    });
    wait(&ns, "the alert resolved", Duration::from_secs(10), |ns| {
        query(ns, alert).is_empty()
    });
}
