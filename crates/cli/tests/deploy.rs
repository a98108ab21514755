//! The deployment in `deploy/`: every Kubernetes manifest read into the Kubernetes API's own
//! types (k8s-openapi) and written back unchanged (a misspelt or misplaced field is lost on the
//! way and fails the comparison), the DaemonSet's arguments accepted by this netdoctor, the
//! Operator's objects consistent with the Service, and the alert rules unit-tested by promtool.

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
