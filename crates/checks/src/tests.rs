//! Checks on hand-built snapshots and on the real sysctl files from the fixtures.
#![allow(clippy::field_reassign_with_default)]

use crate::{run, Options};
use netdoctor_model::{
    Address, ConfigFile, Link, Modules, NodeSnapshot, Route, RouteKind, Severity, Source, Sourced,
    VxlanInfo, TABLE_MAIN,
};

const SYSCTL_FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/realworld/sysctl/"
);

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{SYSCTL_FIXTURES}{name}"))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A healthy flannel node: forwarding on, bridge-nf on, boot files from the kubeadm docs.
fn healthy() -> NodeSnapshot {
    let mut s = NodeSnapshot::default();
    s.hostname = Some("n1".into());
    s.sysctls = Some(
        [
            ("net.ipv4.ip_forward", "1"),
            ("net.bridge.bridge-nf-call-iptables", "1"),
            ("net.ipv4.conf.all.rp_filter", "2"),
            ("net.ipv4.conf.flannel/1.rp_filter", "0"),
            ("net.ipv4.conf.all.forwarding", "1"),
            ("net.ipv4.conf.cni0.forwarding", "1"),
        ]
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                Sourced::new(v.to_string(), Source::at("sysctl.txt", 1)),
            )
        })
        .collect(),
    );
    s.bridge_nf_present = Some(Sourced::new(true, Source::live("/proc/sys/net/bridge")));
    s.links = Some(vec![
        link("eth0", None, 1500),
        link("cni0", Some("bridge"), 1450),
        Link {
            vxlan: Some(VxlanInfo {
                id: Some(1),
                dev: Some("eth0".into()),
                dstport: Some(8472),
                ..Default::default()
            }),
            ..link("flannel.1", Some("vxlan"), 1450)
        },
    ]);
    s.addresses = Some(vec![
        addr("eth0", "192.168.56.11", 24),
        addr("cni0", "10.244.1.1", 24),
        addr("flannel.1", "10.244.1.0", 32),
    ]);
    s.routes = Some(vec![
        route("0.0.0.0/0", Some("192.168.56.1"), "eth0"),
        route("192.168.56.0/24", None, "eth0"),
        route("10.244.1.0/24", None, "cni0"),
        Route {
            onlink: true,
            ..route("10.244.2.0/24", Some("10.244.2.0"), "flannel.1")
        },
    ]);
    s.files_collected = true;
    s.files = vec![conf(
        "/etc/sysctl.d/k8s.conf",
        &fixture("kubernetes_docs_etc_sysctl.d_k8s.conf_current"),
    )];
    s.hints.cluster_cidr = Some(Sourced::new(
        "10.244.0.0/16".parse().expect("cidr"),
        Source::live("test"),
    ));
    s.hints.service_cidr = Some(Sourced::new(
        "10.96.0.0/12".parse().expect("cidr"),
        Source::live("test"),
    ));
    s
}

fn link(name: &str, kind: Option<&str>, mtu: u32) -> Link {
    Link {
        index: None,
        name: name.into(),
        kind: kind.map(Into::into),
        mtu: Some(mtu),
        flags: vec!["UP".into(), "LOWER_UP".into()],
        operstate: Some("UP".into()),
        mac: None,
        master: None,
        peer_index: None,
        parent: None,
        vxlan: None,
        source: Source::at("ip-link.txt", 1),
    }
}

fn addr(ifname: &str, a: &str, len: u8) -> Address {
    Address {
        ifname: ifname.into(),
        addr: a.parse().expect("ip"),
        prefix_len: len,
        scope: None,
        peer: None,
        source: Source::at("ip-addr.txt", 1),
    }
}

fn route(dst: &str, via: Option<&str>, dev: &str) -> Route {
    Route {
        table: TABLE_MAIN,
        kind: RouteKind::Unicast,
        dst: dst.parse().expect("dst"),
        gateway: via.map(|g| g.parse().expect("gw")),
        dev: Some(dev.into()),
        prefsrc: None,
        scope: None,
        protocol: None,
        metric: None,
        onlink: false,
        mtu: None,
        source: Source::at("ip-route.txt", 1),
    }
}

fn conf(path: &str, content: &str) -> ConfigFile {
    ConfigFile {
        path: path.into(),
        symlink_target: None,
        content: content.into(),
        source: Source::live(format!("root{path}")),
    }
}

fn set(s: &mut NodeSnapshot, key: &str, v: &str) {
    s.sysctls.as_mut().expect("sysctls").insert(
        key.into(),
        Sourced::new(v.into(), Source::at("sysctl.txt", 9)),
    );
}

fn log(s: &mut NodeSnapshot, name: &str, line: u32, text: &str) {
    s.logs.push(netdoctor_model::LogFile {
        name: name.into(),
        lines: vec![(line, text.into())],
    });
}

fn ids(s: &NodeSnapshot) -> Vec<(String, Severity)> {
    run(s, &Options::default())
        .findings
        .into_iter()
        .map(|f| (f.id, f.severity))
        .collect()
}

fn has(s: &NodeSnapshot, id: &str) -> bool {
    ids(s).iter().any(|(i, _)| i == id)
}

#[test]
fn healthy_node_has_no_finding() {
    let r = run(&healthy(), &Options::default());
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert_eq!(r.node, "n1");
}

#[test]
fn ip_forward_off_is_critical_with_evidence_and_persistent_fix() {
    let mut s = healthy();
    set(&mut s, "net.ipv4.ip_forward", "0");
    let r = run(&s, &Options::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "ip-forward-disabled")
        .expect("found");
    assert_eq!(f.severity, Severity::Critical);
    assert!(
        f.evidence[0].contains("net.ipv4.ip_forward = 0") && f.evidence[0].contains("sysctl.txt:9"),
        "{:?}",
        f.evidence
    );
    assert_eq!(f.fix.runtime, ["sysctl -w net.ipv4.ip_forward=1"]);
    assert!(
        f.fix.persistent[0].contains("/etc/sysctl.d/z99-netdoctor.conf"),
        "sorts after k8s.conf: {:?}",
        f.fix.persistent
    );
    // Per-interface values are rewritten by the global switch: no second finding.
    assert!(!r
        .findings
        .iter()
        .any(|f| f.id == "iface-forwarding-disabled"));
}

#[test]
fn ipv6_forwarding_only_matters_on_ipv6_clusters() {
    let mut s = healthy();
    set(&mut s, "net.ipv6.conf.all.forwarding", "0");
    assert!(!has(&s, "ip-forward-disabled"));
    s.hints.cluster_cidr = Some(Sourced::new(
        "fd00:10:244::/56".parse().expect("cidr"),
        Source::live("t"),
    ));
    assert!(has(&s, "ip-forward-disabled"));
}

#[test]
fn per_interface_forwarding_off_on_the_pod_bridge() {
    let mut s = healthy();
    set(&mut s, "net.ipv4.conf.cni0.forwarding", "0");
    assert!(ids(&s).contains(&("iface-forwarding-disabled".into(), Severity::Critical)));
    // An unrelated management interface is not ours to judge.
    let mut s = healthy();
    set(&mut s, "net.ipv4.conf.mgmt0.forwarding", "0");
    assert!(!has(&s, "iface-forwarding-disabled"));
}

#[test]
fn default_forwarding_off_warns_for_interfaces_created_later() {
    let mut s = healthy();
    set(&mut s, "net.ipv4.conf.default.forwarding", "1");
    assert!(!has(&s, "iface-forwarding-disabled"));
    set(&mut s, "net.ipv4.conf.default.forwarding", "0");
    assert!(ids(&s).contains(&("iface-forwarding-disabled".into(), Severity::Warning)));
    // With the global switch off, that is the one finding.
    set(&mut s, "net.ipv4.ip_forward", "0");
    assert!(!has(&s, "iface-forwarding-disabled"));
}

#[test]
fn bridge_nf_off_and_br_netfilter_missing() {
    let mut s = healthy();
    set(&mut s, "net.bridge.bridge-nf-call-iptables", "0");
    assert!(ids(&s).contains(&(
        "bridge-nf-call-iptables-disabled".into(),
        Severity::Critical
    )));
    let mut s = healthy();
    s.bridge_nf_present = Some(Sourced::new(false, Source::live("/proc/sys/net/bridge")));
    s.sysctls
        .as_mut()
        .expect("s")
        .remove("net.bridge.bridge-nf-call-iptables");
    let found = ids(&s);
    assert!(
        found.contains(&("br-netfilter-missing".into(), Severity::Critical)),
        "{found:?}"
    );
    assert!(!found
        .iter()
        .any(|(i, _)| i == "bridge-nf-call-iptables-disabled"));
}

#[test]
fn builtin_br_netfilter_is_not_missing_nor_unpersisted() {
    // Field notes: built in => no /proc/modules line, but /proc/sys/net/bridge exists.
    let mut s = healthy();
    s.modules = Some(Modules {
        loaded: Some(Default::default()),
        builtin: Some(vec!["br_netfilter".into()]),
        sys_module: None,
    });
    assert!(ids(&s).is_empty(), "{:?}", ids(&s));
    // Loaded as a module, with no modules-load.d entry: it will be missing after reboot.
    s.modules = Some(Modules {
        loaded: Some(
            [("br_netfilter".to_string(), Source::live("/proc/modules"))]
                .into_iter()
                .collect(),
        ),
        builtin: Some(vec![]),
        sys_module: None,
    });
    assert!(has(&s, "module-not-persistent"));
    s.files.push(conf(
        "/etc/modules-load.d/k8s.conf",
        "overlay\nbr_netfilter\n",
    ));
    assert!(!has(&s, "module-not-persistent"));
}

#[test]
fn centos7_vendor_file_without_override_is_sysctl_overridden() {
    let mut s = healthy();
    s.files.push(conf(
        "/usr/lib/sysctl.d/00-system.conf",
        &fixture("centos7_usr_lib_sysctl.d_00-system.conf"),
    ));
    let r = run(&s, &Options::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "sysctl-overridden")
        .expect("overridden");
    assert_eq!(
        f.severity,
        Severity::Warning,
        "right at runtime, wrong at boot"
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("/usr/lib/sysctl.d/00-system.conf:")),
        "{:?}",
        f.evidence
    );
    // The legacy kubeadm k8s.conf sorts after 00-system.conf and sets it back: clean.
    s.files.retain(|f| f.path != "/etc/sysctl.d/k8s.conf");
    s.files.push(conf(
        "/etc/sysctl.d/k8s.conf",
        &fixture("kubernetes_docs_etc_sysctl.d_k8s.conf_legacy_v1.2x"),
    ));
    let r = run(&s, &Options::default());
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}

#[test]
fn forwarding_set_only_at_runtime_is_not_persistent() {
    let mut s = healthy();
    s.files.clear();
    let r = run(&s, &Options::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "sysctl-not-persistent")
        .expect("found");
    assert!(f.title.contains("net.ipv4.ip_forward"));
    // Without the node's files the check says so rather than guessing.
    s.files_collected = false;
    let r = run(&s, &Options::default());
    assert!(!r.findings.iter().any(|f| f.id == "sysctl-not-persistent"));
    assert!(r
        .not_checked
        .iter()
        .any(|n| n.check == "sysctl-not-persistent"));
}

#[test]
fn rhel6_sysctl_conf_wins_for_procps_only() {
    let mut s = healthy();
    s.files.push(conf(
        "/etc/sysctl.conf",
        &fixture("rhel6_style_etc_sysctl.conf_real_host.conf"),
    ));
    let r = run(&s, &Options::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "sysctl-overridden")
        .expect("found");
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("sysctl --system") && e.contains("/etc/sysctl.conf:")),
        "{:?}",
        f.evidence
    );
}

#[test]
fn strict_rp_filter_on_vxlan_and_loose_for_calico() {
    let mut s = healthy();
    set(&mut s, "net.ipv4.conf.flannel/1.rp_filter", "1");
    assert!(
        !has(&s, "rp-filter-strict"),
        "all=2 makes the effective value max(2, 1) = loose"
    );
    set(&mut s, "net.ipv4.conf.all.rp_filter", "0");
    assert!(has(&s, "rp-filter-strict"));
    // Effective value is max(all, iface): all=1 makes flannel.1 strict too.
    let mut s = healthy();
    set(&mut s, "net.ipv4.conf.all.rp_filter", "1");
    assert!(has(&s, "rp-filter-strict"));
    // Loose is fine for flannel, fatal for old Calico.
    let s = healthy();
    assert!(!has(&s, "rp-filter-loose"));
    let r = run(
        &s,
        &Options {
            cni: Some("calico".into()),
            ..Options::default()
        },
    );
    assert!(r.findings.iter().any(|f| f.id == "rp-filter-loose"));
}

#[test]
fn conntrack_near_full() {
    let mut s = healthy();
    s.conntrack = Some(netdoctor_model::Conntrack {
        count: Some(Sourced::new(
            786_000,
            Source::live("/proc/sys/net/netfilter/nf_conntrack_count"),
        )),
        max: Some(Sourced::new(
            786_432,
            Source::live("/proc/sys/net/netfilter/nf_conntrack_max"),
        )),
    });
    assert!(ids(&s).contains(&("conntrack-table-full".into(), Severity::Critical)));
}

/// tcp_tw_recycle: on with timestamps on (the default) is the fault; off, absent from a whole
/// `sysctl -a` (a kernel since 4.12), or harmless without timestamps is not.
#[test]
fn tcp_tw_recycle_drops_nat_clients_only_with_timestamps() {
    let id = "tcp-tw-recycle-enabled";
    let healthy_run = run(&healthy(), &Options::default());
    assert!(!healthy_run.not_checked.iter().any(|n| n.check == id));
    let mut s = healthy();
    set(&mut s, "net.ipv4.tcp_tw_recycle", "1");
    let r = run(&s, &Options::default());
    let f = r.findings.iter().find(|f| f.id == id).expect("finding");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.evidence.iter().any(|e| e.contains("tcp_tw_recycle = 1")),
        "{f:#?}"
    );
    assert!(
        f.fix
            .persistent
            .iter()
            .any(|c| c.contains("tcp_tw_recycle = 0")),
        "{f:#?}"
    );
    set(&mut s, "net.ipv4.tcp_timestamps", "0");
    assert!(!has(&s, id), "without timestamps nothing is compared");
    set(&mut s, "net.ipv4.tcp_timestamps", "1");
    set(&mut s, "net.ipv4.tcp_tw_recycle", "0");
    assert!(!has(&s, id));
    s.sysctls = None;
    let r = run(&s, &Options::default());
    assert!(
        r.not_checked.iter().any(|n| n.check == id),
        "{:#?}",
        r.not_checked
    );
}

#[test]
fn tunl0_holding_another_nodes_subnet_is_stale() {
    let mut s = healthy();
    s.links
        .as_mut()
        .expect("l")
        .push(link("tunl0", Some("ipip"), 1480));
    s.addresses
        .as_mut()
        .expect("a")
        .push(addr("tunl0", "10.244.2.0", 32));
    s.routes
        .as_mut()
        .expect("r")
        .retain(|r| r.dst.to_string() != "10.244.2.0/24");
    let r = run(&s, &Options::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "stale-interface-address")
        .expect("found");
    assert!(
        f.title
            .contains("10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink"),
        "{}",
        f.title
    );
    assert!(f
        .evidence
        .iter()
        .any(|e| e.contains("no route to 10.244.2.0/24")));
}

#[test]
fn host_network_inside_the_pod_range_is_overlap_not_stale() {
    let mut s = healthy();
    s.hints.cluster_cidr = Some(Sourced::new(
        "192.168.0.0/16".parse().expect("cidr"),
        Source::at("cluster.json", 1),
    ));
    let found = ids(&s);
    assert!(
        found.contains(&("pod-cidr-overlap".into(), Severity::Critical)),
        "{found:?}"
    );
    assert!(!found.iter().any(|(i, _)| i == "stale-interface-address"));
}

/// The lab's `pod-cidr-overlaps-host` fault: a second address on the uplink, which is a veth (as
/// in a VM or a container). It is a host network in the pod range, never a leftover device:
/// no advice may delete the node's uplink.
#[test]
fn an_extra_pod_range_address_on_a_veth_uplink_is_never_a_device_to_delete() {
    let mut s = healthy();
    for l in s.links.as_mut().expect("l") {
        if l.name == "eth0" {
            l.kind = Some("veth".into());
        }
    }
    s.addresses
        .as_mut()
        .expect("a")
        .push(addr("eth0", "10.244.2.126", 25));
    let r = run(&s, &Options::default());
    assert!(
        r.findings.iter().any(|f| f.id == "pod-cidr-overlap"),
        "{:?}",
        r.findings.iter().map(|f| &f.id).collect::<Vec<_>>()
    );
    assert!(!r.findings.iter().any(|f| f.id == "stale-interface-address"));
    for f in &r.findings {
        for line in f.fix.runtime.iter().chain(&f.fix.persistent) {
            assert!(!line.contains("link delete eth0"), "{}: {line}", f.id);
        }
    }
}

#[test]
fn service_range_overlapping_pods() {
    let r = run(
        &healthy(),
        &Options {
            service_cidr: Some("10.244.128.0/17".parse().expect("c")),
            ..Options::default()
        },
    );
    assert!(r.findings.iter().any(|f| f.id == "service-cidr-overlap"));
}

#[test]
fn cni0_from_an_old_lease() {
    // kubo-release#228: cni0 10.200.29.1/24 while flannel.1 holds 10.200.78.0.
    let mut s = healthy();
    s.hints = Default::default();
    s.addresses = Some(vec![
        addr("cni0", "10.200.29.1", 24),
        addr("flannel.1", "10.200.78.0", 32),
    ]);
    assert!(has(&s, "bridge-address-mismatch"));
    s.hints.pod_cidr = Some(Sourced::new(
        "10.200.78.0/24".parse().expect("c"),
        Source::at("root/run/flannel/subnet.env", 2),
    ));
    let r = run(&s, &Options::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "bridge-address-mismatch")
        .expect("found");
    assert!(
        f.evidence.iter().any(|e| e.contains("subnet.env:2")),
        "{:?}",
        f.evidence
    );
}

#[test]
fn vxlan_mtu_above_underlay() {
    let mut s = healthy();
    s.links.as_mut().expect("l")[0].mtu = Some(1400);
    let r = run(&s, &Options::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "mtu-mismatch")
        .expect("found");
    assert_eq!(f.severity, Severity::Critical);
    assert!(f.title.contains("1450 + 50"), "{}", f.title);
    assert_eq!(f.fix.runtime, ["ip link set flannel.1 mtu 1350"]);
}

#[test]
fn log_signatures_merge_into_the_root_cause() {
    let mut s = healthy();
    set(&mut s, "net.ipv4.ip_forward", "0");
    s.logs.push(netdoctor_model::LogFile {
        name: "dockerd.log".into(),
        lines: vec![(
            3,
            "WARNING: IPv4 forwarding is disabled. Networking will not work.".into(),
        )],
    });
    let r = run(&s, &Options::default());
    let f: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.id == "ip-forward-disabled")
        .collect();
    assert_eq!(f.len(), 1, "one id per root cause");
    assert_eq!(f[0].evidence.len(), 2);
    assert!(f[0].evidence[1].starts_with("dockerd.log:3: "));
}

#[test]
fn flannel_refused_route_points_at_the_device_holding_the_gateway() {
    let line = "E0530 vxlan_network.go:158] failed to add vxlanRoute (10.244.2.0/24 -> 10.244.2.0): invalid argument";
    let mut s = healthy();
    log(&mut s, "flannel.log", 7, line);
    s.links
        .as_mut()
        .expect("l")
        .push(link("tunl0", Some("ipip"), 1480));
    s.addresses
        .as_mut()
        .expect("a")
        .push(addr("tunl0", "10.244.2.0", 32));
    let r = run(&s, &Options::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "stale-interface-address")
        .expect("found");
    assert!(f.evidence.iter().any(|e| e.starts_with("flannel.log:7:")));
    assert!(f
        .evidence
        .iter()
        .any(|e| e.starts_with("tunl0 holds 10.244.2.0/32")));
    assert!(!r.findings.iter().any(|f| f.id == "pod-cidr-overlap"));
    // The same log line, when a host NIC holds the gateway, means the address plans overlap.
    let mut s = healthy();
    log(&mut s, "flannel.log", 7, line);
    s.addresses
        .as_mut()
        .expect("a")
        .push(addr("eth0", "10.244.2.0", 16));
    assert!(has(&s, "pod-cidr-overlap"));
}

#[test]
fn other_log_signatures() {
    for (line, id) in [
        ("[Tue Nov 20 22:30:22 2018] nf_conntrack: table full, dropping packet", "conntrack-table-full"),
        ("[FATAL][846] int_dataplane.go 1018: Kernel's RPF check is set to 'loose'.  This would allow", "rp-filter-loose"),
        // tcpdump on the receiver (projectcalico/calico#4865).
        ("    10.0.10.14.7103 > 10.0.10.10.4789: [bad udp cksum 0xbd67 -> 0x4e7f!] VXLAN, flags [I] (0x08), vni 4096", "vxlan-checksum-offload"),
        ("E0202 main.go:330] Error registering network: failed to acquire lease: node \"n3\" pod cidr not assigned", "podcidr-not-allocated"),
    ] {
        let mut s = healthy();
        log(&mut s, "x.log", 1, line);
        assert!(has(&s, id), "{line} -> {id}: {:?}", ids(&s));
    }
    // bad checksum on another port is not VXLAN's.
    let mut s = healthy();
    s.logs.push(netdoctor_model::LogFile {
        name: "x.log".into(),
        lines: vec![(
            1,
            "    10.0.10.14.7103 > 10.0.10.10.53: [bad udp cksum 0xbd67 -> 0x4e7f!] 41922+ A? example.com.".into(),
        )],
    });
    assert!(!has(&s, "vxlan-checksum-offload"));
}

#[test]
fn rules_in_both_backends_and_no_endpoints() {
    use netdoctor_model::{Backend, Family, IptablesDump};
    let dump = |b, text: &str| IptablesDump {
        backend: b,
        family: Family::Ipv4,
        text: text.to_string().into(),
        source: Source::live("iptables-save"),
    };
    let mut s = healthy();
    s.iptables = vec![
        dump(
            Backend::Nft,
            "*nat\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n",
        ),
        dump(
            Backend::Legacy,
            "*nat\n-A KUBE-SERVICES -d 10.96.0.10/32 -j KUBE-SVC-X\nCOMMIT\n",
        ),
    ];
    assert!(ids(&s).contains(&("iptables-backend-mismatch".into(), Severity::Critical)));
    s.iptables = vec![dump(
        Backend::Nft,
        "*filter\n-A KUBE-SERVICES -d 10.0.0.10/32 -p udp -m comment --comment \"kube-system/kube-dns:dns has no endpoints\" -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n",
    )];
    let r = run(&s, &Options::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "service-no-endpoints")
        .expect("found");
    assert!(f.title.contains("kube-system/kube-dns:dns"));
    assert!(f.evidence[0].starts_with("iptables-save:2: -A KUBE-SERVICES"));
}

#[test]
fn every_finding_id_belongs_to_one_reasoning_step() {
    let steps: Vec<&str> = crate::steps::step_ids().collect();
    for id in crate::finding_ids() {
        assert_eq!(steps.iter().filter(|s| **s == id).count(), 1, "{id}");
    }
}

/// The repository's copy of the contract (docs/cli-contract.md) and the catalogue list the same
/// ids: every id of the contract's table is declared, and every declared id is in the table.
#[test]
fn the_contract_and_the_catalogue_agree() {
    let doc = include_str!("../../../docs/cli-contract.md");
    let table: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(id, _)| id))
        .filter(|id| id.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .collect();
    assert!(table.len() > 30, "{table:?}");
    for id in &table {
        assert!(
            netdoctor_model::Cause::from_id(id).is_some(),
            "{id} is in the contract but not in the catalogue"
        );
    }
    for id in crate::finding_ids() {
        assert!(
            table.contains(&id),
            "{id} is in the catalogue but not in docs/cli-contract.md"
        );
    }
}

#[test]
fn reasoning_marks_the_failing_step() {
    let mut s = healthy();
    set(&mut s, "net.ipv4.ip_forward", "0");
    let r = run(&s, &Options::default());
    let kernel = r
        .steps
        .iter()
        .find(|st| st.step == "kernel")
        .expect("kernel step");
    assert_eq!(kernel.status, netdoctor_model::StepStatus::Failed);
    assert_eq!(kernel.findings, ["ip-forward-disabled"]);
    let ip = r.steps.iter().find(|st| st.step == "ip").expect("ip step");
    assert_eq!(ip.status, netdoctor_model::StepStatus::Passed);
    assert_eq!(
        r.steps.iter().map(|s| s.step.as_str()).collect::<Vec<_>>(),
        ["app", "ip", "route", "rules", "kernel"]
    );
}

/// issue #11: a boot file that could not be read (run without root) may be the one that sets a
/// key: "nothing sets it at boot" is not proven then.
#[test]
fn an_unreadable_boot_file_proves_nothing_is_missing() {
    let mut s = healthy();
    s.files_collected = true;
    s.files.clear();
    s.not_collected.push(netdoctor_model::NotCollected {
        part: "files:/etc/sysctl.d/99-k8s.conf".into(),
        reason: "Permission denied".into(),
    });
    let r = run(&s, &Options::default());
    assert!(
        !r.findings.iter().any(|f| f.id == "sysctl-not-persistent"),
        "{:?}",
        r.findings
    );
    assert!(r
        .not_checked
        .iter()
        .any(|n| n.check == "sysctl-not-persistent" && n.reason.contains("99-k8s.conf")));
}

/// kubernetes#26292: the kubelet's cluster DNS (a Service IP) inside flannel's network.
#[test]
fn a_cluster_dns_address_inside_the_pod_network_is_an_overlap() {
    let mut s = healthy();
    s.routes
        .get_or_insert_with(Vec::new)
        .push(route("192.168.0.0/16", None, "flannel0"));
    log(
        &mut s,
        "kubelet-ps.txt",
        2,
        "root 9870 /usr/bin/kubelet --api_servers=https://10.253.15.8 --cluster_dns=192.168.0.2 --cluster_domain=cluster.local",
    );
    netdoctor_bundle::flags::fill_hints(&s.logs.clone(), &mut s.hints);
    assert_eq!(
        s.hints.cluster_dns.as_ref().map(|d| d.value.to_string()),
        Some("192.168.0.2".into())
    );
    assert!(has(&s, "service-cidr-overlap"), "{:?}", ids(&s));
    // The usual plan: DNS 10.96.0.10 in the service range, pods in 10.244.0.0/16.
    let mut ok = healthy();
    log(
        &mut ok,
        "kubelet.txt",
        1,
        "kubelet --cluster-dns=10.96.0.10 --cluster-domain=cluster.local",
    );
    netdoctor_bundle::flags::fill_hints(&ok.logs.clone(), &mut ok.hints);
    ok.hints.cluster_cidr = Some(netdoctor_model::Sourced::new(
        "10.244.0.0/16".parse().expect("net"),
        netdoctor_model::Source::live("cluster.json"),
    ));
    assert!(!has(&ok, "service-cidr-overlap"), "{:?}", ids(&ok));
}
