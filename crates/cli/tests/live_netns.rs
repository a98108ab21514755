//! `netdoctor check` against the real kernel: a flannel-like node is built in a fresh network
//! namespace, one fault is set, and the live check (run inside the namespace) must name it and
//! nothing else critical.

mod support;

use serde_json::Value;
use support::{fake_root, lab_available, Netns};

/// A flannel vxlan node: eth0 (a veth, the underlay), cni0 with this node's gateway, flannel.1
/// with the route, neighbour and FDB entry flanneld programs for a second node.
fn flannel_node() -> Netns {
    let ns = Netns::new("node");
    ns.run(
        "ip link add eth0 type veth peer name eth0p
         ip addr add 172.31.254.2/24 dev eth0
         ip link set eth0 up; ip link set eth0p up
         ip route add default via 172.31.254.1 dev eth0
         ip link add cni0 type bridge
         ip addr add 10.244.1.1/24 dev cni0
         ip link set cni0 up
         ip link add flannel.1 type vxlan id 1 local 172.31.254.2 dev eth0 dstport 8472 nolearning
         ip link set flannel.1 mtu 1450 address 0a:00:00:00:01:01 up
         ip addr add 10.244.1.0/32 dev flannel.1
         ip route add 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink
         ip neigh add 10.244.2.0 lladdr 0a:00:00:00:02:02 dev flannel.1 nud permanent
         bridge fdb append 0a:00:00:00:02:02 dev flannel.1 dst 172.31.254.3 self permanent
         sysctl -qw net.ipv4.ip_forward=1
         sysctl -qw net.bridge.bridge-nf-call-iptables=1
         sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
         sysctl -qw net.ipv4.conf.flannel/1.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0",
    );
    ns
}

fn check(ns: &Netns) -> (Value, i32) {
    let (_dir, root) = fake_root();
    let root = root.to_string_lossy().into_owned();
    let out = ns.netdoctor(&[
        "check",
        "--output",
        "json",
        "--root",
        &root,
        "--cni",
        "flannel",
        "--cluster-cidr",
        "10.244.0.0/16",
        "--service-cidr",
        "10.96.0.0/12",
        "--pod-cidr",
        "10.244.1.0/24",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap_or(-1))
}

fn critical_ids(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "critical")
        .map(|f| f["id"].as_str().unwrap_or("").to_string())
        .collect()
}

fn finding<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["id"] == id))
        .unwrap_or_else(|| panic!("no {id} in {v:#}"))
}

#[test]
fn healthy_namespace_has_no_critical_finding() {
    if !lab_available("healthy_namespace_has_no_critical_finding") {
        return;
    }
    let ns = flannel_node();
    let (v, code) = check(&ns);
    assert_eq!(critical_ids(&v), Vec::<String>::new(), "{v:#}");
    assert_eq!(code, 0);
    // The collector saw the topology it must reason about.
    assert!(!v["not_checked"]
        .as_array()
        .expect("nc")
        .iter()
        .any(|n| n["check"] == "mtu-mismatch"));
}

#[test]
fn ip_forward_off() {
    if !lab_available("ip_forward_off") {
        return;
    }
    let ns = flannel_node();
    ns.run("sysctl -qw net.ipv4.ip_forward=0");
    let (v, code) = check(&ns);
    assert_eq!(critical_ids(&v), ["ip-forward-disabled"], "{v:#}");
    assert_eq!(code, 1);
    let f = finding(&v, "ip-forward-disabled");
    assert_eq!(
        f["evidence"][0],
        "net.ipv4.ip_forward = 0 (runtime, /proc/sys/net/ipv4/ip_forward)"
    );
}

#[test]
fn bridge_nf_call_iptables_off() {
    if !lab_available("bridge_nf_call_iptables_off") {
        return;
    }
    let ns = flannel_node();
    ns.run("sysctl -qw net.bridge.bridge-nf-call-iptables=0");
    let (v, _) = check(&ns);
    assert_eq!(
        critical_ids(&v),
        ["bridge-nf-call-iptables-disabled"],
        "{v:#}"
    );
}

#[test]
fn strict_rp_filter_on_the_vxlan_device() {
    if !lab_available("strict_rp_filter_on_the_vxlan_device") {
        return;
    }
    let ns = flannel_node();
    ns.run("sysctl -qw net.ipv4.conf.flannel/1.rp_filter=1");
    let (v, _) = check(&ns);
    let f = finding(&v, "rp-filter-strict");
    assert!(
        f["title"].as_str().unwrap_or("").contains("flannel.1"),
        "{f:#}"
    );
    assert_eq!(
        critical_ids(&v),
        Vec::<String>::new(),
        "a symmetric overlay: a warning, not critical"
    );
    // Make it asymmetric: the other node's pod subnet is now routed via the uplink, so its
    // packets arriving on flannel.1 fail the strict check.
    ns.run("ip route del 10.244.2.0/24; ip route add 10.244.2.0/24 via 172.31.254.1 dev eth0");
    let (v, _) = check(&ns);
    assert_eq!(critical_ids(&v), ["rp-filter-strict"], "{v:#}");
}

#[test]
fn stale_tunl0_holding_another_nodes_subnet() {
    if !lab_available("stale_tunl0_holding_another_nodes_subnet") {
        return;
    }
    let ns = flannel_node();
    // What a leftover Calico tunl0 does (this kernel has no ipip: a veth named tunl0 holds the
    // address the same way). flanneld's route is refused and it removes its entries.
    ns.run(
        "ip route del 10.244.2.0/24
         ip link add tunl0 type veth peer name tunl0p
         ip addr add 10.244.2.0/32 dev tunl0
         ip link set tunl0 up",
    );
    assert!(
        !ns.try_run("ip route add 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink"),
        "the kernel must refuse the route while tunl0 holds the gateway"
    );
    let (v, _) = check(&ns);
    assert_eq!(critical_ids(&v), ["stale-interface-address"], "{v:#}");
    let f = finding(&v, "stale-interface-address");
    assert!(
        f["title"]
            .as_str()
            .unwrap_or("")
            .contains("10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink"),
        "{f:#}"
    );
}

#[test]
fn vxlan_mtu_above_its_underlay() {
    if !lab_available("vxlan_mtu_above_its_underlay") {
        return;
    }
    let ns = flannel_node();
    ns.run("ip link set eth0 mtu 1400");
    let (v, _) = check(&ns);
    assert_eq!(critical_ids(&v), ["mtu-mismatch"], "{v:#}");
    assert!(finding(&v, "mtu-mismatch")["fix"]["runtime"][0] == "ip link set flannel.1 mtu 1350");
}

/// `collect` records the policy rules of both families, each with its family; the IPv4 model
/// (and `trace`) reads only the IPv4 ones.
#[test]
fn policy_rules_of_both_families_are_collected() {
    if !lab_available("policy_rules_of_both_families_are_collected") {
        return;
    }
    let ns = Netns::new("rules");
    ns.run(
        "ip -6 rule add from fd00:10::/64 lookup 100 prio 1000
         ip rule add from 10.9.0.0/16 lookup 200 prio 1001",
    );
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("snap.json");
    let out = ns.netdoctor(&["collect", "-o", &file.to_string_lossy()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("snapshot")).expect("json");
    let rules = snap["rules"].as_array().cloned().unwrap_or_default();
    let find = |prio: u64| {
        rules
            .iter()
            .find(|r| r["priority"] == prio)
            .unwrap_or_else(|| panic!("no rule {prio}: {rules:?}"))
            .clone()
    };
    let v6 = find(1000);
    assert_eq!(v6["family"], "ipv6");
    assert_eq!(v6["from"], "fd00:10::/64");
    assert_eq!(v6["table"], 100);
    let v4 = find(1001);
    assert_eq!(v4["family"], "ipv4");
    assert_eq!(v4["from"], "10.9.0.0/16");
    // Both families' default rules are there too.
    assert!(
        rules.iter().filter(|r| r["family"] == "ipv6").count() >= 3,
        "{rules:?}"
    );
    assert!(
        rules.iter().filter(|r| r["family"] == "ipv4").count() >= 4,
        "{rules:?}"
    );
}

/// Runs `bin ARGS` inside the namespace `ns` as nobody (uid and gid 65534, no groups).
fn as_nobody(ns: &str, bin: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
        ])
        .arg("--clear-groups")
        .arg(bin)
        .args(args)
        .output()
        .expect("run")
}

/// Without root, the live check lists what it could not read and why, and the rule checks say
/// so instead of asking for a file.
#[test]
fn a_run_without_root_says_what_it_could_not_read() {
    if !lab_available("a_run_without_root_says_what_it_could_not_read")
        || !netdoctor_testkit::have("setpriv")
    {
        return;
    }
    let ns = flannel_node();
    // A copy of the binary that nobody can run (the build directory may be closed to others).
    let dir = tempfile::tempdir().expect("tempdir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let bin = dir.path().join("netdoctor");
    std::fs::copy(env!("CARGO_BIN_EXE_netdoctor"), &bin).expect("copy");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = as_nobody(
        &ns.name,
        &bin,
        &["check", "-o", "json", "--cluster-cidr", "10.244.0.0/16"],
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let unread: Vec<&Value> = v["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .filter(|i| {
            i["read_as"]
                .as_str()
                .is_some_and(|r| r.starts_with("not read"))
        })
        .collect();
    assert!(
        unread.iter().any(|i| i["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("iptables"))),
        "the rule sets are listed as not read: {v:#}"
    );
    let mismatch = v["not_checked"]
        .as_array()
        .expect("not_checked")
        .iter()
        .find(|n| n["check"] == "forward-policy-drop" || n["check"] == "iptables-backend-mismatch")
        .expect("a rule check not checked");
    let reason = mismatch["reason"].as_str().expect("reason");
    assert!(
        reason.contains("could not be read on this node") && !reason.contains(".txt"),
        "{reason}"
    );
    // And the text says it too.
    let out = as_nobody(
        &ns.name,
        &bin,
        &["check", "--cluster-cidr", "10.244.0.0/16"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("- not read:"), "{text}");
}
