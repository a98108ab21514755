//! Test support: root gating and network namespaces that clean up after themselves.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// True when the test may use namespaces. Without root it skips, unless
/// NETDOCTOR_REQUIRE_LAB=1, when it fails loudly (CI must never skip silently).
pub fn lab_available(test: &str) -> bool {
    netdoctor_testkit::lab_available(test, &["ip"])
}

pub use netdoctor_testkit::sh;

/// A network namespace (netdoctor_testkit's, deleted on drop also after a panic) with the
/// ways these tests use it.
pub struct Netns(netdoctor_testkit::Netns);

impl std::ops::Deref for Netns {
    type Target = netdoctor_testkit::Netns;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        Netns(netdoctor_testkit::Netns::new(tag))
    }

    /// Run a shell command line inside the namespace; panic on failure.
    pub fn run(&self, cmd: &str) -> Output {
        sh(&["ip", "netns", "exec", &self.name, "sh", "-ec", cmd])
    }

    /// Run inside the namespace; return whether it succeeded.
    pub fn try_run(&self, cmd: &str) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-ec", cmd])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Run the netdoctor binary inside the namespace.
    pub fn netdoctor(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, env!("CARGO_BIN_EXE_netdoctor")])
            .args(args)
            .output()
            .expect("run netdoctor")
    }
}

/// A temporary fake root with the kubeadm docs' sysctl and modules files.
pub fn fake_root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    std::fs::create_dir_all(root.join("etc/sysctl.d")).expect("mkdir");
    std::fs::create_dir_all(root.join("etc/modules-load.d")).expect("mkdir");
    std::fs::write(
        root.join("etc/sysctl.d/k8s.conf"),
        "net.ipv4.ip_forward = 1\n",
    )
    .expect("write");
    std::fs::write(
        root.join("etc/modules-load.d/k8s.conf"),
        "overlay\nbr_netfilter\n",
    )
    .expect("write");
    (dir, root)
}

/// Run `netdoctor ARGS... --root <node root> --node-name <node> -o json` inside a lab node's
/// namespace, as a user on that node would; the exit code and the JSON it printed.
pub fn in_node(
    node: &netdoctor_lab::NodeHandle,
    args: &[&str],
) -> (Option<i32>, serde_json::Value) {
    let root = node.root_dir().to_string_lossy().into_owned();
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &node.netns,
            env!("CARGO_BIN_EXE_netdoctor"),
        ])
        .args(args)
        .args(["--root", &root, "--node-name", &node.name, "-o", "json"])
        .output()
        .expect("run netdoctor");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: netdoctor {args:?}: not JSON ({e}): {}\n{}",
            node.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

/// What a user tells netdoctor about the lab's cluster: its objects, CNI, CIDRs and this
/// node's pod subnet.
pub fn lab_facts(node: &netdoctor_lab::NodeHandle) -> Vec<String> {
    [
        "--kube-objects",
        &node.kube_dir().to_string_lossy(),
        "--cni",
        "flannel",
        "--cluster-cidr",
        netdoctor_lab::CLUSTER_CIDR,
        "--service-cidr",
        netdoctor_lab::SERVICE_CIDR,
        "--pod-cidr",
        &node.pod_cidr,
    ]
    .map(String::from)
    .to_vec()
}

/// `netdoctor check EXTRA...` inside a lab node ([`in_node`]); the report.
pub fn check_in_node(node: &netdoctor_lab::NodeHandle, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["check"];
    args.extend_from_slice(extra);
    in_node(node, &args).1
}

/// Finding ids of a `check --output json` report; only the critical ones if asked.
pub fn finding_ids(v: &serde_json::Value, critical_only: bool) -> Vec<String> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| !critical_only || f["severity"] == "critical")
        .filter_map(|f| f["id"].as_str().map(String::from))
        .collect()
}

/// Whether `v` validates against the committed schema `docs/schemas/NAME.schema.json`.
#[allow(dead_code)]
pub fn schema_accepts(name: &str, v: &serde_json::Value) -> bool {
    schema_errors(name, v).is_empty()
}

#[allow(dead_code)]
fn schema_errors(name: &str, v: &serde_json::Value) -> Vec<String> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/schemas")
        .join(format!("{name}.schema.json"));
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("committed schema")).expect("json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    validator
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

/// Panic unless `v` validates against the committed schema `NAME`.
#[allow(dead_code)]
pub fn assert_schema(name: &str, v: &serde_json::Value) {
    let errors = schema_errors(name, v);
    assert!(
        errors.is_empty(),
        "{name} output does not validate against docs/schemas/{name}.schema.json: {errors:#?}"
    );
}

/// The rules [`one_node`] usually carries: FORWARD drops by policy and accepts the pod range.
pub const FORWARD_ACCEPTS_PODS: &str = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -s 10.244.0.0/16 -j ACCEPT\nCOMMIT\n";

/// A one-node snapshot written by hand (no root needed), as `DIR/NAME.json`: eth0 with
/// 172.31.255.10/24, pods on the bridge cni0 (10.244.0.0/24), bridge netfilter on, this
/// `ip_forward` and these iptables-nft rules.
pub fn one_node(dir: &Path, name: &str, ip_forward: &str, rules: &str) -> PathBuf {
    let src = serde_json::json!({"file": "test"});
    let snap = serde_json::json!({
        "schema": "netdoctor.snapshot/v1",
        "hostname": name,
        "sysctls": {
            "net.ipv4.ip_forward": {"value": ip_forward, "source": src},
            "net.bridge.bridge-nf-call-iptables": {"value": "1", "source": src}
        },
        "bridge_nf_present": {"value": true, "source": src},
        "links": [
            {"name": "eth0", "mtu": 1500, "flags": ["UP", "LOWER_UP"], "source": src},
            {"name": "cni0", "kind": "bridge", "mtu": 1450, "flags": ["UP", "LOWER_UP"], "source": src}
        ],
        "addresses": [
            {"ifname": "eth0", "addr": "172.31.255.10", "prefix_len": 24, "source": src},
            {"ifname": "cni0", "addr": "10.244.0.1", "prefix_len": 24, "source": src}
        ],
        "routes": [
            {"table": 254, "kind": "unicast", "dst": "10.244.0.0/24", "dev": "cni0", "source": src},
            {"table": 254, "kind": "unicast", "dst": "172.31.255.0/24", "dev": "eth0", "source": src}
        ],
        "neighbours": [],
        "fdb": [],
        "iptables": [{"backend": "nft", "family": "ipv4", "source": src, "text": rules}]
    });
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_vec(&snap).expect("json")).expect("write the snapshot");
    p
}

/// An agent (the agent crate's server, in this process, on a free loopback port) that serves
/// `snapshot` (the JSON `collect` writes) to clients that send `token`.
pub fn snapshot_agent(snapshot: &[u8], token: &str) -> netdoctor_agent::Agent {
    let compressed = zstd::encode_all(snapshot, 3).expect("zstd");
    netdoctor_agent::Agent::start(
        netdoctor_agent::Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            interval: std::time::Duration::from_secs(3600),
            debounce: std::time::Duration::from_millis(100),
            token: Some(token.into()),
            watch_netlink: false,
            tls: None,
        },
        move || {
            Ok(netdoctor_agent::CheckResult {
                probes: Vec::new(),
                check_json: "{}".into(),
                snapshot_zstd: compressed.clone(),
                findings: Vec::new(),
            })
        },
    )
    .expect("agent")
}
