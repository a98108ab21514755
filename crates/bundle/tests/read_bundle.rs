//! `read_bundle` on small hand-written bundles: names, dirty pastes, merging, hard errors.

use netdoctor_bundle::{read_bundle, BundleError};
use netdoctor_model::{Backend, Family, NodeSnapshot, Source};
use std::path::Path;

fn bundle(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<NodeSnapshot, BundleError>) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let snap = read_bundle(dir.path());
    (dir, snap)
}

fn ok(files: &[(&str, &str)]) -> NodeSnapshot {
    bundle(files).1.expect("bundle reads")
}

fn read_as<'a>(snap: &'a NodeSnapshot, source: &str) -> &'a str {
    snap.inputs
        .iter()
        .find(|i| i.source == source)
        .map(|i| i.read_as.as_str())
        .unwrap_or_else(|| panic!("{source} not in {:?}", snap.inputs))
}

#[test]
fn missing_and_non_directory_bundles_are_errors() {
    let err = read_bundle(Path::new("/nonexistent/netdoctor-bundle")).expect_err("missing");
    assert!(matches!(err, BundleError::NotFound { .. }), "{err}");
    let file = tempfile::NamedTempFile::new().expect("file");
    let err = read_bundle(file.path()).expect_err("a file");
    assert!(matches!(err, BundleError::NotADirectory { .. }), "{err}");
}

#[test]
fn prompt_crlf_and_named_file() {
    let snap = ok(&[(
        "ip-route.txt",
        "[root@host188 ~]# ip route\r\ndefault via 10.0.0.1 dev eth0 proto dhcp metric 100\r\n10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink\r\n[root@host188 ~]# ",
    )]);
    let routes = snap.routes.as_ref().expect("routes");
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[1].source, Source::at("ip-route.txt", 3));
    assert_eq!(read_as(&snap, "ip-route.txt"), "ip route");
    assert_eq!(snap.hostname.as_deref(), Some("host188"));
    assert!(snap.problems.is_empty(), "{:?}", snap.problems);
}

#[test]
fn named_file_with_nothing_readable_is_reported_and_the_rest_read() {
    // Alone, nothing structured is read; its text is kept to be scanned for known messages
    // (`check` says "nothing to check" when none is found).
    let snap = ok(&[(
        "ip-route.txt",
        "# my routes\nthe node has no route to 10.244.2.0\n",
    )]);
    assert_eq!(snap.routes, None);
    assert_eq!(
        snap.logs[0].lines,
        [(2, "the node has no route to 10.244.2.0".to_string())]
    );
    // Beside readable evidence, it is a problem, and it proves nothing (no "empty" routes).
    let snap = ok(&[
        (
            "ip-route.txt",
            "# my routes\nthe node has no route to 10.244.2.0\n",
        ),
        ("sysctl.txt", "net.ipv4.ip_forward = 1\n"),
    ]);
    assert_eq!(snap.routes, None);
    assert!(read_as(&snap, "ip-route.txt").starts_with("not read"));
    assert!(snap
        .problems
        .iter()
        .any(|p| p.source == Source::at("ip-route.txt", 2)));
    // Only comments or prompts: nothing claimed, nothing wrong.
    let snap = ok(&[
        ("ip-route.txt", "# nothing here\n$ ip route\n"),
        ("sysctl.txt", "net.ipv4.ip_forward = 1\n"),
    ]);
    assert_eq!(snap.routes, None);
    // `ip -j route` of an empty table is an empty list, not an error.
    let snap = ok(&[("ip-route.txt", "[]\n")]);
    assert_eq!(snap.routes, Some(Vec::new()));
}

#[test]
fn truncation_joined_lines_and_problems_keep_line_numbers() {
    let snap = ok(&[(
        "ip-route.txt",
        "default via 10.0.0.1 dev eth0 10.244.0.0/24 via 10.244.0.0 dev flannel.1 onlink\n10.244.3.0/24 via 10.2[... truncated ...]\nblackhole 10.244.9.0/24 proto bird\n",
    )]);
    let routes = snap.routes.as_ref().expect("routes");
    assert_eq!(routes.len(), 3);
    assert_eq!(routes[1].source.line, Some(1));
    assert_eq!(routes[2].source.line, Some(3));
    assert_eq!(snap.problems.len(), 1);
    assert_eq!(snap.problems[0].source, Source::at("ip-route.txt", 2));
}

#[test]
fn several_commands_in_a_named_file_are_dispatched_by_command() {
    let snap = ok(&[(
        "ip-addr.txt",
        "$ ip addr show cni0\n5: cni0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 state UP\n    inet 10.244.1.1/24 brd 10.244.1.255 scope global cni0\n$ bridge fdb show dev flannel.1\n0e:22:e2:f3:09:04 dst 192.168.56.102 self permanent\n$ ip neigh\n10.244.2.0 dev flannel.1 lladdr 0e:22:e2:f3:09:04 PERMANENT\n",
    )]);
    assert_eq!(read_as(&snap, "ip-addr.txt:1"), "ip addr");
    assert_eq!(read_as(&snap, "ip-addr.txt:4"), "bridge fdb");
    assert_eq!(read_as(&snap, "ip-addr.txt:6"), "ip neigh");
    assert_eq!(snap.fdb.as_ref().expect("fdb")[0].dev, "flannel.1");
    assert_eq!(
        snap.neighbours.as_ref().expect("neigh")[0].source.line,
        Some(7)
    );
    assert_eq!(
        snap.addresses.as_ref().expect("addrs")[0].source.line,
        Some(3)
    );
}

#[test]
fn ip_addr_and_ifconfig_merge_into_one_link_each() {
    let snap = ok(&[
        (
            "ip-addr.txt",
            "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP\n    link/ether 06:95:16:e6:7f:5b brd ff:ff:ff:ff:ff:ff\n    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\n",
        ),
        (
            "ifconfig.txt",
            "eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500\n        inet 10.0.0.5  netmask 255.255.255.0  broadcast 10.0.0.255\n\ndocker0: flags=4099<UP,BROADCAST,MULTICAST>  mtu 1500\n        inet 172.17.0.1  netmask 255.255.0.0\n",
        ),
        (
            "route-n.txt",
            "Kernel IP routing table\nDestination Gateway Genmask Flags Metric Ref Use Iface\n10.0.0.0 0.0.0.0 255.255.255.0 U 0 0 0 eth0\n",
        ),
        ("ip-route.txt", "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5\n"),
    ]);
    let links = snap.links.as_ref().expect("links");
    assert_eq!(links.len(), 2, "{links:?}");
    let eth0 = snap.link("eth0").expect("eth0");
    assert_eq!(eth0.source.file, "ip-addr.txt");
    assert_eq!(eth0.operstate.as_deref(), Some("UP"));
    assert_eq!(snap.addresses.as_ref().expect("addrs").len(), 2);
    let routes = snap.routes.as_ref().expect("routes");
    assert_eq!(routes.len(), 1, "{routes:?}");
    assert_eq!(routes[0].protocol.as_deref(), Some("kernel"));
}

#[test]
fn bridge_nf_presence() {
    let with = ok(&[(
        "sysctl.txt",
        "net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\n",
    )]);
    let p = with.bridge_nf_present.expect("known");
    assert!(p.value);
    assert_eq!(p.source, Source::at("sysctl.txt", 2));
    let partial = ok(&[("sysctl.txt", "net.ipv4.ip_forward = 1\n")]);
    assert_eq!(partial.bridge_nf_present, None);
    let full = ok(&[(
        "sysctl.txt",
        "net.core.somaxconn = 4096\nnet.ipv4.conf.all.forwarding = 1\nnet.ipv4.ip_forward = 1\n",
    )]);
    assert!(!full.bridge_nf_present.expect("full dump").value);
    let many: String = (0..201)
        .map(|i| format!("net.ipv4.conf.veth{i}.forwarding = 1\n"))
        .collect();
    assert!(
        !ok(&[("sysctl.txt", &many)])
            .bridge_nf_present
            .expect("large")
            .value
    );
    let lsmod = ok(&[
        ("sysctl.txt", &many),
        (
            "lsmod.txt",
            "Module Size Used by\nbr_netfilter 22256 0\nbridge 151336 1 br_netfilter\n",
        ),
    ]);
    let p = lsmod.bridge_nf_present.expect("lsmod");
    assert!(p.value);
    assert_eq!(p.source, Source::at("lsmod.txt", 2));
}

#[test]
fn raw_dumps_logs_and_unrecognised_files() {
    let snap = ok(&[
        ("iptables-save.txt", "# Generated by iptables-save v1.8.7 (nf_tables) on Mon\n*filter\n:FORWARD DROP [0:0]\nCOMMIT\n"),
        ("iptables-legacy-save.txt", "$ iptables-legacy-save\n*nat\nCOMMIT\n"),
        ("ip6tables-save.txt", "*filter\nCOMMIT\n"),
        ("dmesg.txt", "[Tue Nov 20 22:30:22 2018] nf_conntrack: table full, dropping packet\r\n\r\n[Tue Nov 20 22:30:27 2018] nf_conntrack: table full, dropping packet\r\n"),
        ("kubelet.log", "I0530 18:36:44.303997 1 main.go:474] x\n"),
        ("notes.md", "The customer says pods cannot reach DNS.\n"),
        ("iptables-list.txt", "Chain FORWARD (policy DROP)\n"),
        ("nft.txt", "table inet filter {\n}\n"),
    ]);
    let by = |b: Backend, f: Family| {
        snap.iptables
            .iter()
            .find(|d| d.backend == b && d.family == f)
    };
    assert!(by(Backend::Nft, Family::Ipv4).is_some());
    let legacy = by(Backend::Legacy, Family::Ipv4).expect("legacy");
    assert!(
        !legacy.text.contains("iptables-legacy-save"),
        "prompt line dropped"
    );
    assert_eq!(
        legacy.text.lines().nth(1),
        Some("*nat"),
        "line numbers kept"
    );
    assert!(by(Backend::Unknown, Family::Ipv6).is_some());
    let dmesg = snap
        .logs
        .iter()
        .find(|l| l.name == "dmesg.txt")
        .expect("dmesg");
    assert_eq!(dmesg.lines[2].0, 3);
    assert!(dmesg.lines[2].1.ends_with("dropping packet"));
    assert!(snap.logs.iter().any(|l| l.name == "kubelet.log"));
    assert!(read_as(&snap, "notes.md").starts_with("not recognised"));
    assert_eq!(snap.iptables_listings.len(), 1);
    assert!(snap.nft_text.is_some());
}

#[test]
fn cluster_json_root_and_kube() {
    let snap = ok(&[
        (
            "cluster.json",
            "{\"cluster_cidr\": \"10.244.0.0/16\", \"node_name\": \"n2\"}",
        ),
        (
            "root/run/flannel/subnet.env",
            "FLANNEL_NETWORK=10.0.0.0/8\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\n",
        ),
        ("root/etc/sysctl.d/k8s.conf", "net.ipv4.ip_forward = 1\n"),
        ("root/etc/hosts", "127.0.0.1 localhost\n"),
        (
            "kube/nodes.json",
            "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": []}",
        ),
    ]);
    assert!(snap.files_collected);
    let k8s = snap.file("/etc/sysctl.d/k8s.conf").expect("file");
    assert_eq!(k8s.source.file, "root/etc/sysctl.d/k8s.conf");
    let h = &snap.hints;
    assert_eq!(
        h.cluster_cidr.as_ref().expect("cidr").source.file,
        "cluster.json"
    );
    assert_eq!(
        h.cluster_cidr.as_ref().expect("cidr").value.to_string(),
        "10.244.0.0/16"
    );
    let pod = h.pod_cidr.as_ref().expect("pod cidr");
    assert_eq!(pod.value.to_string(), "10.244.1.0/24");
    assert_eq!(pod.source, Source::at("root/run/flannel/subnet.env", 2));
    assert_eq!(h.mtu.as_ref().expect("mtu").value, 1450);
    assert_eq!(h.cni.as_ref().expect("cni").value, "flannel");
    assert_eq!(read_as(&snap, "kube/nodes.json"), "kubectl JSON");
    assert!(read_as(&snap, "root/etc/hosts").starts_with("not recognised"));
    assert_eq!(
        read_as(&snap, "root/etc/sysctl.d/k8s.conf"),
        "node file /etc/sysctl.d/k8s.conf"
    );
}

#[test]
fn bad_json_is_a_problem_naming_file_and_line() {
    let good = ("sysctl.txt", "net.ipv4.ip_forward = 1\n");
    let problem = |files: &[(&str, &str)], at: Source| {
        let snap = ok(files);
        assert!(
            snap.problems.iter().any(|p| p.source == at),
            "{at}: {:?}",
            snap.problems
        );
        assert!(
            snap.sysctl("net.ipv4.ip_forward").is_some(),
            "the rest is read"
        );
        snap
    };
    problem(
        &[
            (
                "cluster.json",
                "{\n  \"cluster_cidr\": \"10.244.0.0/16\"\n  \"cni\": \"flannel\"\n}",
            ),
            good,
        ],
        Source::at("cluster.json", 3),
    );
    let snap = problem(
        &[("cluster.json", "{\"service_cidr\": \"10.96.0.0\"}"), good],
        Source::at("cluster.json", 1),
    );
    assert_eq!(snap.hints.service_cidr, None);
    let snap = problem(
        &[("kube/pods.json", "{\"items\": [\n}"), good],
        Source::at("kube/pods.json", 2),
    );
    assert!(snap.cluster_objects.is_empty());
    // A bundle of nothing but a broken cluster.json has nothing to check.
    let (_d, r) = bundle(&[("cluster.json", "{")]);
    assert!(r
        .expect_err("nothing")
        .to_string()
        .contains("nothing to check"));
}

/// A FIFO, a BOM and bytes that are not UTF-8: reported or read, never a hang.
#[test]
fn hostile_files_are_reported_not_waited_on() {
    let (d, _) = bundle(&[
        (
            "sysctl.txt",
            "\u{feff}net.ipv4.ip_forward = 0\nnet.ipv4.conf.all.rp_filter = 1\n",
        ),
        ("dmesg.txt", "ok\n"),
    ]);
    std::fs::write(
        d.path().join("route-n.txt"),
        b"Kernel IP routing table\n\xff\xfe\n",
    )
    .expect("write");
    for fifo in [
        "ip-addr.txt",
        "kube/nodes.json",
        "root/etc/sysctl.d/10-fifo.conf",
    ] {
        let p = d.path().join(fifo);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        assert!(std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .expect("mkfifo")
            .success());
    }
    let start = std::time::Instant::now();
    let snap = read_bundle(d.path()).expect("read");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(
        snap.sysctl("net.ipv4.ip_forward").expect("first key").value,
        "0",
        "the BOM does not hide the first key"
    );
    for fifo in [
        "ip-addr.txt",
        "kube/nodes.json",
        "root/etc/sysctl.d/10-fifo.conf",
    ] {
        assert!(
            snap.problems.iter().any(|p| p.source.file == fifo),
            "{fifo}: {:?}",
            snap.problems
        );
    }
}

#[test]
fn cat_of_node_files_and_proc_values_in_a_paste() {
    let snap = ok(&[(
        "evidence.txt",
        "# cat /proc/sys/net/ipv4/ip_forward\n0\n# cat /etc/sysctl.d/k8s.conf\nnet.ipv4.ip_forward = 1\n# lsmod | grep br_netfilter\nbr_netfilter           22256  0\n",
    )]);
    let v = snap.sysctl("net.ipv4.ip_forward").expect("value");
    assert_eq!(v.value, "0");
    assert_eq!(v.source, Source::at("evidence.txt", 2));
    assert_eq!(
        snap.file("/etc/sysctl.d/k8s.conf").expect("file").content,
        "net.ipv4.ip_forward = 1\n"
    );
    assert!(
        !snap.files_collected,
        "a pasted file does not mean all files were collected"
    );
    assert!(snap.bridge_nf_present.expect("lsmod").value);
}

/// issue #11: an `iptables-save.txt` with no table in it is not an empty rule set (which would
/// let the rules step "pass"), and a listing under that name is read as a listing.
#[test]
fn a_dump_file_without_tables_is_not_a_rule_set() {
    let snap = ok(&[
        ("iptables-save.txt", "iptables-save: command not found\n"),
        ("sysctl.txt", "net.ipv4.ip_forward = 1\n"),
    ]);
    assert!(snap.iptables.is_empty());
    assert!(read_as(&snap, "iptables-save.txt").starts_with("not read"));
    let snap = ok(&[(
        "iptables-save.txt",
        "Chain FORWARD (policy DROP)\ntarget     prot opt source               destination\n",
    )]);
    assert!(snap.iptables.is_empty());
    assert_eq!(snap.iptables_listings.len(), 1);
}

/// A sysctl file pasted without the `cat` that names it (comments give it away): its values
/// apply at boot, so they are kept as a configuration file, never as the node's current values.
#[test]
fn a_pasted_sysctl_configuration_is_not_runtime_state() {
    let snap = ok(&[(
        "k8s-sysctl.txt",
        "# required as per CIS benchmark\nnet.ipv4.ip_forward = 0\n",
    )]);
    assert!(snap.sysctl("net.ipv4.ip_forward").is_none());
    let f = snap
        .files
        .iter()
        .find(|f| f.path == "/etc/sysctl.d/k8s-sysctl.conf")
        .expect("kept as a boot file");
    assert!(f.content.contains("net.ipv4.ip_forward = 0"));
    assert!(snap
        .problems
        .iter()
        .any(|p| p.message.contains("its path on the node was not given")));
    // `sysctl -a` output (no comments) is runtime state as before.
    let snap = ok(&[("sysctl.txt", "net.ipv4.ip_forward = 0\n")]);
    assert_eq!(
        snap.sysctl("net.ipv4.ip_forward").map(|s| s.value.as_str()),
        Some("0")
    );
}
