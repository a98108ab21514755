//! Every real-world fixture of iproute/, flannel/ and calico/ goes through `read_bundle` under
//! its own name (so it is sniffed, not recognised by name) and is read as what it holds.

use netdoctor_bundle::read_bundle;
use netdoctor_model::{NodeSnapshot, RouteKind};
use std::path::Path;

const REAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/realworld/"
);

fn bundle_of(rel: &str) -> NodeSnapshot {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(REAL).join(rel);
    let name = src.file_name().expect("name");
    std::fs::copy(&src, dir.path().join(name)).expect("copy");
    read_bundle(dir.path()).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// What each fixture must be read as (every kind listed must appear in `inputs`).
const EXPECTED: &[(&str, &[&str])] = &[
    ("iproute/calico_ipip_route_n__calico281.txt", &["route -n"]),
    (
        "iproute/calico_vxlan_route_n__calico4134.txt",
        &["route -n"],
    ),
    (
        "iproute/flannel959_ip_link_after_reinstall.txt",
        &["ip link"],
    ),
    ("iproute/flannel_node_route_n__k8s97357.txt", &["route -n"]),
    (
        "iproute/flannel_udp_ifconfig_docker113__flannel603.txt",
        &["ifconfig"],
    ),
    (
        "flannel/bridge_fdb_full__flannel342.txt",
        &["arp", "bridge fdb"],
    ),
    (
        "flannel/bridge_fdb_show_dev_flannel.1__flannel1119.txt",
        &["bridge fdb"],
    ),
    (
        "flannel/etcd_subnet_leases_and_ip_route__k8s23683.txt",
        &["ip route"],
    ),
    (
        "flannel/ip_-d_link_show_flannel.1__flannel1757.txt",
        &["ip link"],
    ),
    (
        "flannel/ip_link_flannel.1_down_and_flannel_cli_flags__flannel1039.txt",
        &["ip link", "log"],
    ),
    (
        "flannel/iptables_TRACE_flannel.1_to_cni0__flannel636.txt",
        &["log"],
    ),
    (
        "flannel/k3s_two_nodes_fdb_and_ipaddr__k3s1719.txt",
        &["ip addr", "bridge fdb"],
    ),
    (
        "flannel/logs_fdb_already_populated__flannel260.txt",
        &["log"],
    ),
    (
        "flannel/logs_vxlanRoute_invalid_argument__rke194.txt",
        &["log"],
    ),
    (
        "flannel/node_annotations__k3s3932_flannel1122_tectonic41.txt",
        &["kubectl objects"],
    ),
    (
        "calico/aks_kubenet_calico_node_state__excerpt.txt",
        &["ip addr", "route -n", "iptables-save"],
    ),
    (
        "calico/k8s57558_iptables-save_calico_kubeproxy_docker__fragments.txt",
        &["iptables-save"],
    ),
    ("calico/tunl0_and_ipip_routes.txt", &["ip addr", "route -n"]),
];

#[test]
fn every_fixture_reads_without_error_and_as_what_it_holds() {
    let mut seen = 0;
    for dir in ["iproute", "flannel", "calico"] {
        for entry in std::fs::read_dir(Path::new(REAL).join(dir)).expect("fixture dir") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            let rel = format!("{dir}/{name}");
            let snap = bundle_of(&rel);
            assert!(
                snap.inputs.iter().all(|i| i.source.starts_with(&name)),
                "{rel}: {:?}",
                snap.inputs
            );
            let (_, kinds) = EXPECTED
                .iter()
                .find(|(f, _)| *f == rel)
                .unwrap_or_else(|| panic!("{rel}: new fixture, add it to EXPECTED"));
            for kind in *kinds {
                assert!(
                    snap.inputs.iter().any(|i| i.read_as.starts_with(kind)),
                    "{rel}: not read as {kind}: {:?}",
                    snap.inputs
                );
            }
            seen += 1;
        }
    }
    assert_eq!(seen, EXPECTED.len());
}

#[test]
fn calico281_blackholes_and_pod_route() {
    let snap = bundle_of("iproute/calico_ipip_route_n__calico281.txt");
    let routes = snap.routes.expect("routes");
    assert_eq!(routes.len(), 8);
    assert_eq!(
        routes
            .iter()
            .filter(|r| r.kind == RouteKind::Blackhole)
            .count(),
        2
    );
    assert!(!snap.routes_all_tables);
    assert!(snap.problems.is_empty(), "{:?}", snap.problems);
}

#[test]
fn k3s1719_two_sections_per_node() {
    let snap = bundle_of("flannel/k3s_two_nodes_fdb_and_ipaddr__k3s1719.txt");
    let fdb = snap.fdb.expect("fdb");
    assert_eq!(fdb.len(), 2);
    assert!(fdb.iter().all(|e| e.dev == "flannel.1"));
    assert_eq!(fdb[0].source.line, Some(14));
    let addrs = snap.addresses.expect("addresses");
    let v4: Vec<String> = addrs
        .iter()
        .filter(|a| a.addr.is_ipv4())
        .map(|a| a.addr.to_string())
        .collect();
    assert_eq!(v4, ["192.168.1.72", "192.168.1.73"]);
    // The same interface name on both nodes: one link, not two.
    assert_eq!(snap.links.expect("links").len(), 1);
    assert_eq!(
        snap.hostname, None,
        "two hosts in the prompts: no single hostname"
    );
}

#[test]
fn flannel1039_down_vxlan_and_log_lines() {
    let snap = bundle_of("flannel/ip_link_flannel.1_down_and_flannel_cli_flags__flannel1039.txt");
    let flannel = snap.link("flannel.1").expect("flannel.1");
    assert!(flannel.is_down());
    assert_eq!(snap.logs.len(), 1);
    assert!(snap.logs[0]
        .lines
        .iter()
        .any(|(_, l)| l.contains("CLI flags config")));
}

#[test]
fn aks_excerpt_all_parts() {
    let snap = bundle_of("calico/aks_kubenet_calico_node_state__excerpt.txt");
    assert_eq!(snap.links.as_ref().expect("links").len(), 8);
    assert_eq!(snap.routes.as_ref().expect("routes").len(), 11);
    // `iptables --list-rules` is iptables-save's syntax: read as a dump of the filter table.
    assert_eq!(snap.iptables.len(), 1);
    assert!(snap.iptables[0].text.contains("-A cali-FORWARD"));
    assert_eq!(
        snap.hostname.as_deref(),
        Some("aks-nodepool1-12355964-vmss000000")
    );
    assert!(snap.problems.is_empty(), "{:?}", snap.problems);
}

#[test]
fn k8s57558_dump_is_kept_raw() {
    let snap = bundle_of("calico/k8s57558_iptables-save_calico_kubeproxy_docker__fragments.txt");
    assert_eq!(snap.iptables.len(), 1);
    let dump = &snap.iptables[0];
    assert!(dump.text.contains("*raw") && dump.text.contains("*nat"));
    assert_eq!(dump.backend, netdoctor_model::Backend::Unknown);
}
