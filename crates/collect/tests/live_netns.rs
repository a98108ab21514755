//! Live collection against the real kernel: a network namespace with a bridge, a veth pair,
//! a flannel-style VXLAN device, routes of several kinds and tables, a policy rule, a
//! permanent neighbour, an FDB entry and per-namespace sysctls; then `collect_live` runs
//! inside that namespace and every value is checked.
//!
//! Needs root. Without it the test is skipped, unless `NETDOCTOR_REQUIRE_LAB=1`.

use netdoctor_collect::live::{collect_live, LiveOptions};
use netdoctor_model::{Backend, Family, NodeSnapshot, RouteKind, TABLE_LOCAL, TABLE_MAIN};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where the inner test writes its snapshot.
const OUT_ENV: &str = "NETDOCTOR_TEST_COLLECT_OUT";

/// Runs inside the namespace (started by the outer test through `ip netns exec`).
#[test]
#[ignore = "run inside a network namespace by live_collection_in_netns"]
fn inner_collect_into_file() {
    let Some(out) = std::env::var_os(OUT_ENV) else {
        eprintln!("{OUT_ENV} not set: nothing to do outside live_collection_in_netns");
        return;
    };
    let snap = collect_live(&LiveOptions::default());
    let json = serde_json::to_vec(&snap).expect("snapshot serialises");
    std::fs::write(&out, json).expect("write the snapshot");
}

fn lab_available() -> bool {
    netdoctor_testkit::lab_available("live_netns", &["ip"])
}

/// A namespace that is deleted, with everything in it, when the test ends or panics.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "ndcol{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        sh(&["ip", "netns", "add", &name]);
        Netns(name)
    }

    /// `ip -n NS ARGS...`
    fn ip(&self, args: &str) {
        let mut v = vec!["ip", "-n", &self.0];
        v.extend(args.split_whitespace());
        sh(&v);
    }

    /// A command run inside the namespace.
    fn exec(&self, args: &[&str]) -> std::process::Output {
        let mut v = vec!["netns", "exec", &self.0];
        v.extend_from_slice(args);
        Command::new("ip")
            .args(&v)
            .output()
            .expect("run ip netns exec")
    }

    fn exec_ok(&self, args: &[&str]) {
        let out = self.exec(args);
        assert!(
            out.status.success(),
            "{args:?} in {}: {}",
            self.0,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tool(name: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(name).exists())
}

/// Build the topology, collect inside it, and return the snapshot.
fn collect_in(ns: &Netns, out: &Path) -> NodeSnapshot {
    let exe = std::env::current_exe().expect("test binary path");
    let exe = exe.to_string_lossy();
    // Captured, so that the inner harness's summary does not mix with this one's.
    let run = Command::new("ip")
        .args(["netns", "exec", &ns.0, &exe])
        .args([
            "--exact",
            "inner_collect_into_file",
            "--ignored",
            "--nocapture",
        ])
        .env(OUT_ENV, out)
        .output()
        .expect("run the inner test");
    assert!(
        run.status.success(),
        "inner collection failed ({}):\n{}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let bytes = std::fs::read(out).expect("inner test wrote the snapshot");
    serde_json::from_slice(&bytes).expect("snapshot parses")
}

fn build_topology(ns: &Netns) {
    ns.ip("link set lo up");
    ns.ip("link add br0 type bridge");
    ns.ip("link add veth0 type veth peer name veth1");
    ns.ip("link set veth1 master br0");
    for dev in ["br0", "veth0", "veth1"] {
        ns.ip(&format!("link set {dev} up"));
    }
    ns.ip("addr add 192.0.2.10/24 dev veth0");
    ns.ip("addr add 10.244.0.1/24 dev br0");
    ns.ip("addr add 2001:db8::1/64 dev br0 nodad");
    // Flannel's VXLAN device, its underlay being the veth end.
    ns.ip("link add flannel.1 type vxlan id 1 dstport 8472 nolearning local 192.0.2.10 dev veth0");
    ns.ip("link set flannel.1 up");
    ns.ip("addr add 10.244.0.0/32 dev flannel.1");
    ns.ip("route add 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink");
    ns.ip("route add blackhole 10.99.0.0/16");
    ns.ip("route add 10.100.0.0/16 dev veth0 table 100");
    ns.ip("rule add from 10.244.0.0/16 fwmark 0x10/0xff lookup 100 priority 100");
    ns.ip("neigh add 10.244.1.0 lladdr 02:00:00:00:01:01 dev flannel.1 nud permanent");
    sh(&[
        "bridge",
        "-n",
        &ns.0,
        "fdb",
        "append",
        "02:00:00:00:01:01",
        "dev",
        "flannel.1",
        "dst",
        "192.0.2.20",
        "self",
        "permanent",
    ]);
    // Only this namespace's sysctls change; the host keeps its own.
    ns.exec_ok(&["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    ns.exec_ok(&["sysctl", "-q", "-w", "net.ipv4.conf.flannel/1.rp_filter=1"]);
    ns.exec_ok(&["sysctl", "-q", "-w", "net.ipv4.conf.veth0.rp_filter=2"]);
}

#[test]
fn live_collection_in_netns() {
    if !lab_available() {
        return;
    }
    let ns = Netns::new();
    build_topology(&ns);
    let nft = tool("iptables-nft");
    if nft {
        ns.exec_ok(&[
            "iptables-nft",
            "-A",
            "FORWARD",
            "-p",
            "udp",
            "--dport",
            "8472",
            "-j",
            "DROP",
        ]);
    }
    let legacy = tool("iptables-legacy");
    if legacy {
        ns.exec_ok(&[
            "iptables-legacy",
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "--dport",
            "179",
            "-j",
            "DROP",
        ]);
    }
    let nft_cli = tool("nft");
    if nft_cli {
        // A native nft table, as firewalld or kube-proxy's nftables mode make them.
        ns.exec_ok(&["nft", "add", "table", "inet", "ndtest"]);
        ns.exec_ok(&[
            "nft",
            "add",
            "chain",
            "inet",
            "ndtest",
            "input",
            "{ type filter hook input priority 0; }",
        ]);
        ns.exec_ok(&[
            "nft", "add", "rule", "inet", "ndtest", "input", "udp", "dport", "4789", "drop",
        ]);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out: PathBuf = dir.path().join("snap.json");
    let snap = collect_in(&ns, &out);

    for part in ["links", "addresses", "routes", "rules", "neighbours", "fdb"] {
        assert!(
            !snap.not_collected.iter().any(|n| n.part == part),
            "{part} not collected: {:?}",
            snap.not_collected
        );
    }
    assert!(snap.problems.is_empty(), "{:?}", snap.problems);

    // Links.
    let br = snap.link("br0").expect("br0");
    assert_eq!(br.kind.as_deref(), Some("bridge"));
    let veth0 = snap.link("veth0").expect("veth0");
    let veth1 = snap.link("veth1").expect("veth1");
    assert_eq!(veth1.kind.as_deref(), Some("veth"));
    assert_eq!(veth1.master.as_deref(), Some("br0"));
    assert_eq!(veth0.peer_index, veth1.index);
    assert_eq!(veth0.parent.as_deref(), Some("veth1"));
    assert!(veth0.flags.iter().any(|f| f == "UP"), "{:?}", veth0.flags);
    assert!(
        veth0.flags.iter().any(|f| f == "LOWER_UP"),
        "{:?}",
        veth0.flags
    );
    assert_eq!(veth0.operstate.as_deref(), Some("UP"));
    assert_eq!(veth0.mtu, Some(1500));
    assert!(veth0.mac.as_deref().is_some_and(|m| m.len() == 17));
    let vx = snap.link("flannel.1").expect("flannel.1");
    assert_eq!(vx.kind.as_deref(), Some("vxlan"));
    assert_eq!(vx.mtu, Some(1450));
    let info = vx.vxlan.as_ref().expect("vxlan details");
    assert_eq!(info.id, Some(1));
    assert_eq!(info.dstport, Some(8472));
    assert_eq!(info.learning, Some(false));
    assert_eq!(info.local, Some("192.0.2.10".parse().expect("ip")));
    assert_eq!(info.dev.as_deref(), Some("veth0"));
    let lo = snap.link("lo").expect("lo");
    assert_eq!(lo.flags.first().map(String::as_str), Some("LOOPBACK"));

    // Addresses, both families.
    let addrs = snap.addresses.as_ref().expect("addresses");
    let has = |dev: &str, ip: &str, len: u8| {
        addrs
            .iter()
            .any(|a| a.ifname == dev && a.addr.to_string() == ip && a.prefix_len == len)
    };
    assert!(has("flannel.1", "10.244.0.0", 32), "{addrs:?}");
    assert!(has("br0", "10.244.0.1", 24), "{addrs:?}");
    assert!(has("br0", "2001:db8::1", 64), "{addrs:?}");

    // Routes of every table.
    assert!(snap.routes_all_tables);
    let routes = snap.routes.as_ref().expect("routes");
    let route = |dst: &str, table: u32| {
        routes
            .iter()
            .find(|r| r.dst.to_string() == dst && r.table == table)
            .unwrap_or_else(|| panic!("no route {dst} table {table} in {routes:?}"))
    };
    let onlink = route("10.244.1.0/24", TABLE_MAIN);
    assert!(onlink.onlink);
    assert_eq!(onlink.kind, RouteKind::Unicast);
    assert_eq!(onlink.gateway, Some("10.244.1.0".parse().expect("ip")));
    assert_eq!(onlink.dev.as_deref(), Some("flannel.1"));
    assert_eq!(onlink.protocol.as_deref(), Some("boot"));
    assert_eq!(route("10.99.0.0/16", TABLE_MAIN).kind, RouteKind::Blackhole);
    let t100 = route("10.100.0.0/16", 100);
    assert_eq!(t100.dev.as_deref(), Some("veth0"));
    assert_eq!(t100.scope.as_deref(), Some("link"));
    let local = route("192.0.2.10/32", TABLE_LOCAL);
    assert_eq!(local.kind, RouteKind::Local);
    assert_eq!(local.scope.as_deref(), Some("host"));
    assert_eq!(local.prefsrc, Some("192.0.2.10".parse().expect("ip")));
    let connected = route("192.0.2.0/24", TABLE_MAIN);
    assert_eq!(connected.protocol.as_deref(), Some("kernel"));
    assert!(routes
        .iter()
        .any(|r| r.dst.to_string() == "2001:db8::/64" && r.dev.as_deref() == Some("br0")));

    // Policy rules.
    let rules = snap.rules.as_ref().expect("rules");
    let rule = rules
        .iter()
        .find(|r| r.priority == 100)
        .unwrap_or_else(|| panic!("no rule 100 in {rules:?}"));
    assert_eq!(
        rule.from.map(|n| n.to_string()).as_deref(),
        Some("10.244.0.0/16")
    );
    assert_eq!(rule.fwmark, Some((0x10, 0xff)));
    assert_eq!(rule.table, Some(100));
    assert_eq!(rule.action, "lookup");
    assert!(rules
        .iter()
        .any(|r| r.priority == 0 && r.table == Some(TABLE_LOCAL)));

    // Neighbour and FDB entry of the remote VTEP.
    let neigh = snap
        .neighbours
        .as_ref()
        .expect("neighbours")
        .iter()
        .find(|n| n.addr.to_string() == "10.244.1.0")
        .expect("permanent neighbour");
    assert_eq!(neigh.dev, "flannel.1");
    assert_eq!(neigh.lladdr.as_deref(), Some("02:00:00:00:01:01"));
    assert!(neigh.state.iter().any(|s| s == "PERMANENT"), "{neigh:?}");
    let fdb = snap.fdb.as_ref().expect("fdb");
    let vtep = fdb
        .iter()
        .find(|e| e.mac == "02:00:00:00:01:01")
        .unwrap_or_else(|| panic!("no fdb entry in {fdb:?}"));
    assert_eq!(vtep.dev, "flannel.1");
    assert_eq!(vtep.dst, Some("192.0.2.20".parse().expect("ip")));
    assert!(vtep.flags.iter().any(|f| f == "self"), "{vtep:?}");
    assert!(vtep.flags.iter().any(|f| f == "permanent"), "{vtep:?}");
    // The bridge's own entry for its port: `master br0 permanent` (the kernel sets no
    // NTF_MASTER flag on it; `master` names the bridge, as `bridge fdb` prints it).
    let port_mac = veth1.mac.clone().expect("veth1 mac");
    assert!(
        fdb.iter().any(|e| e.mac == port_mac
            && e.dev == "veth1"
            && e.master.as_deref() == Some("br0")
            && e.flags.iter().any(|f| f == "permanent")),
        "bridge port entry missing: {fdb:?}"
    );

    // Sysctls of this namespace, not the host's.
    let fwd = snap.sysctl("net.ipv4.ip_forward").expect("ip_forward");
    assert_eq!(fwd.value, "1");
    assert_eq!(fwd.source.file, "/proc/sys/net/ipv4/ip_forward");
    let rp = snap
        .sysctl("net.ipv4.conf.flannel/1.rp_filter")
        .expect("dotted interface key");
    assert_eq!(rp.value, "1");
    assert_eq!(
        rp.source.file,
        "/proc/sys/net/ipv4/conf/flannel.1/rp_filter"
    );
    let rp_veth = snap.sysctl("net.ipv4.conf.veth0.rp_filter").expect("veth0");
    assert_eq!(rp_veth.value, "2");
    let range = snap
        .sysctl("net.ipv4.ip_local_port_range")
        .expect("port range");
    assert!(
        !range.value.contains('\t') && range.value.contains(' '),
        "{range:?}"
    );
    assert!(snap.sysctl("net.ipv4.route.flush").is_none());

    let bridge_dir = ns
        .exec(&["test", "-d", "/proc/sys/net/bridge"])
        .status
        .success();
    assert_eq!(
        snap.bridge_nf_present.as_ref().map(|b| b.value),
        Some(bridge_dir)
    );

    // Node identity and tools.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(snap.hostname.as_deref(), Some(host.trim()));
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("release");
    assert_eq!(snap.kernel_release.as_deref(), Some(release.trim()));
    let at = snap.collected_at.as_deref().expect("collected_at");
    assert!(
        at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
        "{at}"
    );
    assert_eq!(
        snap.conntrack_tool.as_ref().map(|c| c.value),
        Some(tool("conntrack"))
    );
    assert!(snap.files_collected);
    assert!(snap
        .modules
        .as_ref()
        .is_some_and(|m| m.sys_module.is_some()));

    // Both iptables backends, each saved once, legacy only where it has tables.
    if nft {
        let d = snap
            .iptables
            .iter()
            .find(|d| d.backend == Backend::Nft && d.family == Family::Ipv4)
            .expect("nft dump");
        assert!(
            d.text
                .contains("-A FORWARD -p udp -m udp --dport 8472 -j DROP"),
            "{}",
            d.text
        );
        assert_eq!(
            snap.iptables_version
                .as_ref()
                .map(|v| v.value.starts_with("iptables v")),
            Some(true)
        );
    }
    if nft_cli {
        // Only the tables iptables-nft does not manage: its own are in the save output.
        let json = &snap.nft_json.as_ref().expect("nft listing").value;
        let doc: serde_json::Value = serde_json::from_str(json).expect("nft JSON");
        let items = doc["nftables"].as_array().expect("nftables array");
        let tables: Vec<(String, String)> = items
            .iter()
            .filter_map(|i| i.get("table"))
            .map(|t| (t["family"].to_string(), t["name"].to_string()))
            .collect();
        assert_eq!(
            tables,
            [("\"inet\"".to_string(), "\"ndtest\"".to_string())],
            "{json}"
        );
        assert!(json.contains("4789"), "{json}");
    }
    if legacy {
        let d = snap
            .iptables
            .iter()
            .find(|d| d.backend == Backend::Legacy && d.family == Family::Ipv4)
            .expect("legacy dump");
        assert!(d.text.contains("--dport 179 -j DROP"), "{}", d.text);
        assert!(!snap
            .iptables
            .iter()
            .any(|d| d.backend == Backend::Legacy && d.family == Family::Ipv6));
    }
}
