//! The healthy lab looks like a kubeadm + flannel (vxlan) node to every tool that inspects it:
//! the kernel's own view (`ip -j`, `bridge -j`, sysctls, iptables-save), the kube JSON and the
//! fake roots. Needs root; skipped otherwise unless NETDOCTOR_REQUIRE_LAB=1.

use netdoctor_lab::{ClusterSpec, Lab};
use serde_json::Value;
use std::process::Command;

fn lab_available() -> bool {
    netdoctor_testkit::lab_available("topology", &["ip"])
}

fn in_ns(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .expect("run ip netns exec");
    assert!(
        out.status.success(),
        "{args:?} in {ns}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_in_ns(ns: &str, args: &[&str]) -> Value {
    serde_json::from_str(&in_ns(ns, args)).expect("json from ip/bridge")
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

#[test]
fn healthy_lab_looks_like_a_flannel_vxlan_cluster() {
    if !lab_available() {
        return;
    }
    let lab = Lab::build(&ClusterSpec {
        nodes: 3,
        ..ClusterSpec::default()
    })
    .expect("build lab");
    assert_eq!(lab.nodes().len(), 3);
    assert_eq!(lab.pods().len(), 6);
    let n0 = lab.node(0);

    // flannel.1 as flanneld creates it.
    let links = json_in_ns(&n0.netns, &["ip", "-d", "-j", "link", "show", "flannel.1"]);
    let vx = &links[0];
    assert_eq!(vx["mtu"], 1450);
    assert_eq!(vx["address"], n0.vtep_mac.as_str());
    let info = &vx["linkinfo"]["info_data"];
    assert_eq!(vx["linkinfo"]["info_kind"], "vxlan");
    assert_eq!(info["id"], 1);
    assert_eq!(info["port"], 8472);
    assert_eq!(info["learning"], false);
    assert_eq!(info["local"], n0.ip.to_string());

    // Routes, neighbours and FDB entries for both remote nodes.
    let routes = json_in_ns(&n0.netns, &["ip", "-j", "route", "show"]);
    let neigh = json_in_ns(
        &n0.netns,
        &["ip", "-j", "neigh", "show", "dev", "flannel.1"],
    );
    let fdb = json_in_ns(
        &n0.netns,
        &["bridge", "-j", "fdb", "show", "dev", "flannel.1"],
    );
    for m in &lab.nodes()[1..] {
        let r = routes
            .as_array()
            .expect("routes")
            .iter()
            .find(|r| r["dst"] == m.pod_cidr.as_str())
            .unwrap_or_else(|| panic!("no route to {}: {routes}", m.pod_cidr));
        assert_eq!(r["gateway"], m.vtep_ip.to_string());
        assert_eq!(r["dev"], "flannel.1");
        assert!(r["flags"].to_string().contains("onlink"), "{r}");
        let nb = neigh
            .as_array()
            .expect("neigh")
            .iter()
            .find(|n| n["dst"] == m.vtep_ip.to_string())
            .unwrap_or_else(|| panic!("no neighbour {}: {neigh}", m.vtep_ip));
        assert_eq!(nb["lladdr"], m.vtep_mac.as_str());
        assert!(nb["state"].to_string().contains("PERMANENT"), "{nb}");
        assert!(
            fdb.as_array()
                .expect("fdb")
                .iter()
                .any(|f| f["mac"] == m.vtep_mac.as_str() && f["dst"] == m.ip.to_string()),
            "no fdb for {}: {fdb}",
            m.name
        );
    }

    // Forwarding and bridge-nf on inside the node, whatever the host has.
    assert_eq!(
        in_ns(&n0.netns, &["cat", "/proc/sys/net/ipv4/ip_forward"]).trim(),
        "1"
    );
    assert_eq!(
        in_ns(
            &n0.netns,
            &["cat", "/proc/sys/net/bridge/bridge-nf-call-iptables"]
        )
        .trim(),
        "1"
    );

    // cni0 carries the gateway; pods sit in the node's subnet with flannel's routes.
    let cni0 = json_in_ns(&n0.netns, &["ip", "-j", "addr", "show", "cni0"]);
    assert!(
        cni0.to_string().contains(&n0.bridge_ip.to_string()),
        "{cni0}"
    );
    let p = lab.pod(0, 0).expect("pod");
    assert!(p.ip.to_string().starts_with("10.244.0."));
    let pod_routes = in_ns(&p.netns, &["ip", "route", "show"]);
    assert!(
        pod_routes.contains("default via 10.244.0.1"),
        "{pod_routes}"
    );
    assert!(
        pod_routes.contains("10.244.0.0/16 via 10.244.0.1"),
        "{pod_routes}"
    );

    // kube-proxy's rules in the nft backend, nothing in legacy.
    let save = in_ns(&n0.netns, &["iptables-nft-save"]);
    assert!(save.contains("-j KUBE-SERVICES"));
    assert!(save.contains("default/web-remote:http cluster IP"));
    assert!(save.contains("--dport 30080"));
    assert!(save.contains("FLANNEL-FWD"));
    assert!(!save.contains("iptables-legacy tables present"), "{save}");

    // kubectl JSON.
    let nodes = read_json(&lab.kube_dir().join("nodes.json"));
    let item = &nodes["items"][1];
    assert_eq!(item["spec"]["podCIDR"], "10.244.1.0/24");
    let backend: Value = serde_json::from_str(
        item["metadata"]["annotations"]["flannel.alpha.coreos.com/backend-data"]
            .as_str()
            .expect("backend-data"),
    )
    .expect("backend-data json");
    assert_eq!(backend["VtepMAC"], lab.node(1).vtep_mac.as_str());
    assert_eq!(backend["VNI"], 1);
    let slices = read_json(&lab.kube_dir().join("endpointslices.json"));
    let remote = slices["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] == "web-remote")
        .expect("web-remote slice");
    assert_eq!(
        remote["endpoints"][0]["addresses"][0],
        lab.pod(1, 0).expect("pod").ip.to_string()
    );
    let pods = read_json(&lab.kube_dir().join("pods.json"));
    assert_eq!(pods["items"].as_array().expect("pods").len(), 6);
    let services = read_json(&lab.kube_dir().join("services.json"));
    assert_eq!(services["items"].as_array().expect("svcs").len(), 3);

    // The fake root and cluster.json.
    let root = n0.root_dir();
    let subnet = std::fs::read_to_string(root.join("run/flannel/subnet.env")).expect("subnet.env");
    assert!(subnet.contains("FLANNEL_SUBNET=10.244.0.1/24"), "{subnet}");
    assert!(subnet.contains("FLANNEL_MTU=1450"));
    let k8s = std::fs::read_to_string(root.join("etc/sysctl.d/k8s.conf")).expect("k8s.conf");
    assert!(k8s.contains("net.ipv4.ip_forward = 1"));
    assert!(root.join("etc/modules-load.d/k8s.conf").is_file());
    assert!(root.join("etc/cni/net.d/10-flannel.conflist").is_file());
    let cluster = read_json(&n0.cluster_json());
    assert_eq!(cluster["node_name"], "n0");
    assert_eq!(cluster["cluster_cidr"], "10.244.0.0/16");

    // Namespaces are the lab's alone, and go with it.
    let prefix = lab.prefix().to_string();
    let listed = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("ip")
            .stdout,
    )
    .into_owned();
    assert_eq!(listed.matches(&prefix).count(), 1 + 3 + 6, "{listed}");
    drop(lab);
    let listed = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("ip")
            .stdout,
    )
    .into_owned();
    assert!(!listed.contains(&prefix), "{listed}");
}

#[test]
fn cleanup_prefix_removes_a_crashed_runs_namespaces() {
    if !lab_available() {
        return;
    }
    let lab = Lab::build(&ClusterSpec {
        prefix_base: "ndcrash".into(),
        ..ClusterSpec::default()
    })
    .expect("build lab");
    let prefix = lab.prefix().to_string();
    // Simulate a crash: the process never runs Drop for this lab.
    std::mem::forget(lab);
    let removed = netdoctor_lab::cleanup_prefix(&prefix).expect("cleanup");
    assert!(
        removed.iter().filter(|r| r.starts_with("netns ")).count() >= 7,
        "{removed:?}"
    );
    let listed = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("ip")
            .stdout,
    )
    .into_owned();
    assert!(!listed.contains(&prefix), "{listed}");
    assert!(netdoctor_lab::cleanup_prefix("nd").is_err());
}

#[test]
fn ip_fallback_wires_the_same_cluster() {
    if !lab_available() {
        return;
    }
    let lab = Lab::build(&ClusterSpec {
        force_ip_fallback: true,
        ..ClusterSpec::default()
    })
    .expect("build lab");
    assert!(matches!(
        lab.cni_mode(),
        netdoctor_lab::CniMode::Fallback(_)
    ));
    let results = lab.run_all_flows();
    assert!(results.iter().all(|r| r.ok), "{results:#?}");
    let p = lab.pod(1, 1).expect("pod");
    assert_eq!(p.ip.to_string(), "10.244.1.3");
    assert!(lab.node(0).dir.join("kube/nodes.json").is_file());
}
