//! The deployment in `deploy/`: every Kubernetes manifest read into the Kubernetes API's own
//! types (k8s-openapi) and written back unchanged (a misspelt or misplaced field is lost on the
//! way and fails the comparison), the DaemonSet's arguments accepted by this netdoctor, the
//! Operator's objects consistent with the Service, the alert rules unit-tested by promtool, and
//! the Helm chart rendering the same objects as the manifest.

use netdoctor_testkit::{have, lab_required, repo_root};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::process::Command;

fn docs(rel: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo_root().join(rel)).expect(rel);
    serde_saphyr::from_multiple::<Value>(&text)
        .expect("yaml")
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

fn round_trip<T: DeserializeOwned + Serialize>(v: &Value) {
    let typed: T = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{} {}: {e}", v["kind"], v["metadata"]["name"]));
    let back = serde_json::to_value(&typed).expect("serialise");
    assert_eq!(&back, v, "{} changed through the API types", v["kind"]);
}

#[test]
fn manifests_are_valid_kubernetes_objects() {
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core, rbac::v1 as rbac};
    let all = docs("deploy/netdoctor.yaml");
    let kinds: Vec<&str> = all.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "DaemonSet",
            "Service",
            "ClusterRole"
        ]
    );
    for d in &all {
        match d["kind"].as_str() {
            Some("Namespace") => round_trip::<core::Namespace>(d),
            Some("ServiceAccount") => round_trip::<core::ServiceAccount>(d),
            Some("DaemonSet") => round_trip::<apps::DaemonSet>(d),
            Some("Service") => round_trip::<core::Service>(d),
            Some("ClusterRole") => round_trip::<rbac::ClusterRole>(d),
            Some("ClusterRoleBinding") => round_trip::<rbac::ClusterRoleBinding>(d),
            other => panic!("unexpected kind {other:?}"),
        }
    }
    let ds = &all[4];
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["tolerations"][0]["operator"], "Exists");
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
    let host = c["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["mountPath"] == "/host")
        .expect("/host mounted");
    assert_eq!(
        host["readOnly"], true,
        "the node's root is mounted read-only"
    );
    // The arguments are ones this netdoctor accepts: parsing gets as far as checking --root.
    let args: Vec<String> = c["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| {
            a.as_str()
                .expect("arg")
                .replace("$(NODE_NAME)", "node-1")
                .replace("--root=/host", "--root=/nonexistent-netdoctor-root")
        })
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(&args)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--root /nonexistent-netdoctor-root: not a directory"),
        "{err}"
    );
    // The least RBAC the agent needs: its node's status and events, written; nothing read.
    let role = &all[2];
    assert_eq!(
        role["rules"],
        serde_json::json!([
            {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}
        ])
    );
    // The Service selects the DaemonSet's pods and names the port the ServiceMonitor scrapes.
    let svc = &all[5];
    assert_eq!(
        svc["spec"]["selector"],
        ds["spec"]["template"]["metadata"]["labels"]
    );
    // `fleet` looks for the agents where the DaemonSet puts them, on the nodes it selects.
    let help = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(["fleet", "--help"])
        .output()
        .expect("fleet --help");
    let help = String::from_utf8_lossy(&help.stdout);
    let selector = |m: &Value| -> String {
        let m = m.as_object().expect("labels");
        m.iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().expect("label")))
            .collect::<Vec<_>>()
            .join(",")
    };
    for (flag, want) in [
        (
            "--agent-namespace",
            ds["metadata"]["namespace"]
                .as_str()
                .expect("ns")
                .to_string(),
        ),
        (
            "--agent-selector",
            selector(&ds["spec"]["selector"]["matchLabels"]),
        ),
        ("--node-selector", selector(&pod["nodeSelector"])),
    ] {
        let line = help
            .split("\n      --")
            .find(|s| s.starts_with(&flag[2..]))
            .unwrap_or_else(|| panic!("{flag} not in fleet --help"));
        assert!(
            line.contains(&format!("[default: {want}]")),
            "{flag}: {line}"
        );
    }
    // The fleet's own role lists, and only lists.
    let fleet_role = &all[6];
    assert_eq!(fleet_role["metadata"]["name"], "netdoctor-fleet");
    for rule in fleet_role["rules"].as_array().expect("rules") {
        assert_eq!(rule["verbs"], serde_json::json!(["list"]), "{rule}");
    }
    let sm = &docs("deploy/prometheus/servicemonitor.yaml")[0];
    assert_eq!(sm["kind"], "ServiceMonitor");
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"],
        svc["metadata"]["labels"]
    );
    assert_eq!(
        sm["spec"]["endpoints"][0]["port"],
        svc["spec"]["ports"][0]["name"]
    );
}

#[test]
fn the_operator_rule_is_the_rule_file() {
    let rules = &docs("deploy/prometheus/netdoctor-rules.yaml")[0];
    let pr = &docs("deploy/prometheus/prometheusrule.yaml")[0];
    assert_eq!(pr["kind"], "PrometheusRule");
    assert_eq!(pr["spec"]["groups"], rules["groups"]);
}

#[test]
fn alert_rules_pass_promtool() {
    if !have("promtool") {
        assert!(
            !lab_required(),
            "NETDOCTOR_REQUIRE_LAB=1 but promtool (Debian's prometheus package) is missing"
        );
        eprintln!("alert_rules_pass_promtool: skipped (no promtool)");
        return;
    }
    let dir = repo_root().join("deploy/prometheus");
    for args in [
        ["check", "rules", "netdoctor-rules.yaml"],
        ["test", "rules", "netdoctor-rules.test.yaml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("promtool");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A YAML or JSON value as the template engine's value.
fn to_gtmpl(v: &Value) -> gtmpl::Value {
    match v {
        Value::Null => gtmpl::Value::Nil,
        Value::Bool(b) => gtmpl::Value::Bool(*b),
        Value::Number(n) => n.as_i64().map_or_else(
            || gtmpl::Value::from(n.as_f64().unwrap_or(0.0)),
            gtmpl::Value::from,
        ),
        Value::String(s) => gtmpl::Value::String(s.clone()),
        Value::Array(a) => gtmpl::Value::Array(a.iter().map(to_gtmpl).collect()),
        Value::Object(o) => gtmpl::Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), to_gtmpl(v)))
                .collect::<std::collections::HashMap<_, _>>(),
        ),
    }
}

fn from_gtmpl(v: &gtmpl::Value) -> Value {
    match v {
        gtmpl::Value::Bool(b) => Value::Bool(*b),
        gtmpl::Value::String(s) => Value::String(s.clone()),
        gtmpl::Value::Number(n) => n.as_i64().map_or(Value::Null, Value::from),
        gtmpl::Value::Array(a) => a.iter().map(from_gtmpl).collect(),
        gtmpl::Value::Object(o) | gtmpl::Value::Map(o) => o
            .iter()
            .map(|(k, v)| (k.clone(), from_gtmpl(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        _ => Value::Null,
    }
}

/// Helm's (Sprig's) `toJson`, the one function the chart's templates use beyond
/// text/template's own.
fn to_json(args: &[gtmpl::Value]) -> Result<gtmpl::Value, gtmpl::FuncError> {
    let v = args.first().map(from_gtmpl).unwrap_or(Value::Null);
    Ok(gtmpl::Value::String(v.to_string()))
}

/// `helm template netdoctor deploy/helm/netdoctor -n NAMESPACE [--set ...]`, by a Go
/// text/template engine (gtmpl) with Helm's `toJson`: the templates use nothing else, so both
/// render them alike. `set` overrides values (a JSON object merged at the top).
fn render_chart(namespace: &str, set: &Value) -> Vec<Value> {
    let dir = repo_root().join("deploy/helm/netdoctor");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect(f);
    let chart: Value = serde_saphyr::from_str(&read("Chart.yaml")).expect("Chart.yaml");
    assert_eq!(chart["apiVersion"], "v2");
    let mut values: Value = serde_saphyr::from_str(&read("values.yaml")).expect("values.yaml");
    for (k, v) in set.as_object().into_iter().flatten() {
        match (values.get_mut(k), v) {
            (Some(Value::Object(into)), Value::Object(from)) => {
                into.extend(from.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            _ => values[k] = v.clone(),
        }
    }
    let context = serde_json::json!({
        "Values": values,
        "Release": {"Name": "netdoctor", "Namespace": namespace, "Service": "Helm"},
        "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
    });
    let mut names: Vec<_> = std::fs::read_dir(dir.join("templates"))
        .expect("templates")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for path in names {
        let mut t = gtmpl::Template::default();
        t.add_func("toJson", to_json);
        t.parse(std::fs::read_to_string(&path).expect("template"))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = t
            .render(&gtmpl::Context::from(to_gtmpl(&context)))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.extend(
            serde_saphyr::from_multiple::<Value>(&text)
                .unwrap_or_else(|e| panic!("{} renders bad YAML: {e}\n{text}", path.display()))
                .into_iter()
                .filter(|v| !v.is_null()),
        );
    }
    out
}

fn key(v: &Value) -> String {
    format!("{} {}", v["kind"], v["metadata"]["name"])
}

#[test]
fn the_helm_chart_renders_the_manifest() {
    let mut manifest: Vec<Value> = docs("deploy/netdoctor.yaml")
        .into_iter()
        .filter(|d| d["kind"] != "Namespace")
        .collect();
    let mut chart = render_chart("netdoctor", &serde_json::json!({}));
    manifest.sort_by_key(key);
    chart.sort_by_key(key);
    assert_eq!(
        chart.iter().map(key).collect::<Vec<_>>(),
        manifest.iter().map(key).collect::<Vec<_>>()
    );
    for (c, m) in chart.iter().zip(&manifest) {
        assert_eq!(c, m, "{} differs from deploy/netdoctor.yaml", key(m));
    }
    // Values reach the objects: another namespace, port, image and no Node condition.
    let other = render_chart(
        "monitoring",
        &serde_json::json!({"agent": {"port": 9470, "nodeCondition": false}, "image": {"tag": "0.2.0"}}),
    );
    let ds = other
        .iter()
        .find(|d| d["kind"] == "DaemonSet")
        .expect("DaemonSet");
    assert_eq!(ds["metadata"]["namespace"], "monitoring");
    let c = &ds["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "ghcr.io/netdoctor/netdoctor:0.2.0");
    assert_eq!(c["ports"][0]["containerPort"], 9470);
    let args: Vec<&str> = c["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        args.contains(&"--listen=:9470") && !args.contains(&"--node-condition"),
        "{args:?}"
    );
    assert!(
        !other
            .iter()
            .any(|d| d["metadata"]["name"] == "netdoctor-agent"),
        "no RBAC for a report that is not made"
    );
    for d in &other {
        if d["kind"] == "DaemonSet" {
            round_trip::<k8s_openapi::api::apps::v1::DaemonSet>(d);
        }
    }
}
