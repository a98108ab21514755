//! Cross-node checks on the real flannel and Calico outputs in the fixtures, with the cluster
//! objects written to match (or contradict) them.

use super::tests::{finding, fixture, ids, opts};
use crate::run;
use netdoctor_kube::Cluster;
use netdoctor_model::NodeSnapshot;
use std::sync::Arc;

/// k3s#1719: master 192.168.1.72 and worker .73, one FDB entry each. If the worker's
/// annotation announces another MAC than the master's FDB holds, the master cannot reach it.
#[test]
fn k3s1719_two_nodes_fdb() {
    let text = fixture("flannel/k3s_two_nodes_fdb_and_ipaddr__k3s1719.txt");
    let master_fdb = text
        .lines()
        .skip_while(|l| !l.contains("[root@k3s-master ~]# bridge fdb show"))
        .nth(1)
        .expect("master fdb line");
    // `bridge fdb show dev flannel.1` leaves the device out of each line; put it back.
    let line = master_fdb.replacen(" dst ", " dev flannel.1 dst ", 1);
    let (fdb, problems) =
        netdoctor_bundle::fdb::parse_bridge_fdb(&format!("{line}\n"), "bridge-fdb.txt");
    assert!(problems.is_empty(), "{problems:?}");
    let node = |name: &str, ip: &str, mac: &str, cidr: &str| {
        format!(
            r#"{{"kind":"Node","metadata":{{"name":"{name}","annotations":{{"flannel.alpha.coreos.com/backend-data":"{{\"VNI\":1,\"VtepMAC\":\"{mac}\"}}","flannel.alpha.coreos.com/backend-type":"vxlan","flannel.alpha.coreos.com/public-ip":"{ip}"}}}},"spec":{{"podCIDR":"{cidr}"}},"status":{{"addresses":[{{"type":"InternalIP","address":"{ip}"}}]}}}}"#
        )
    };
    let mk = |worker_mac: &str| {
        Arc::new(
            Cluster::from_documents(&[(
                "nodes.json".into(),
                format!(
                    "{}{}",
                    node(
                        "k3s-master",
                        "192.168.1.72",
                        "ca:a3:3a:8f:57:36",
                        "10.42.0.0/24"
                    ),
                    node("k3s-worker", "192.168.1.73", worker_mac, "10.42.1.0/24")
                ),
            )])
            .expect("cluster"),
        )
    };
    let mut s = NodeSnapshot {
        hostname: Some("k3s-master".into()),
        ..NodeSnapshot::default()
    };
    s.fdb = Some(fdb);
    // The MAC in the master's FDB is the worker's: fine.
    let r = run(&s, &opts(&mk("d6:ad:6b:77:37:eb")));
    assert!(!ids(&r).contains(&"vxlan-fdb-missing"), "{:?}", r.findings);
    // The reporter: "the MAC addresses in FDB don't correspond to anything on those two machines".
    let r = run(&s, &opts(&mk("5a:00:00:00:00:01")));
    let f = finding(&r, "vxlan-fdb-missing");
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("no FDB entry `5a:00:00:00:00:01 dev flannel.1 dst 192.168.1.73`")),
        "{:?}",
        f.evidence
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("d6:ad:6b:77:37:eb dst 192.168.1.73 matches no Node's VtepMAC")),
        "{:?}",
        f.evidence
    );
}

/// flannel#1119: two MACs per remote node (a previous flannel.1's entries stayed). With the
/// current MACs present, that is not a fault; two nodes announcing one MAC is.
#[test]
fn flannel1119_stale_and_duplicate_vtep_macs() {
    let text = fixture("flannel/bridge_fdb_show_dev_flannel.1__flannel1119.txt");
    // `bridge fdb show dev flannel.1` leaves the device out of each line; put it back.
    let text: String = text
        .lines()
        .filter(|l| l.contains(" dst ") && !l.starts_with('#'))
        .map(|l| l.replacen(" dst ", " dev flannel.1 dst ", 1) + "\n")
        .collect();
    let (fdb, _) = netdoctor_bundle::fdb::parse_bridge_fdb(&text, "bridge-fdb.txt");
    assert_eq!(fdb.len(), 4);
    let node = |name: &str, ip: &str, mac: &str, cidr: &str| {
        format!(
            r#"{{"kind":"Node","metadata":{{"name":"{name}","annotations":{{"flannel.alpha.coreos.com/backend-data":"{{\"VtepMAC\":\"{mac}\"}}","flannel.alpha.coreos.com/backend-type":"vxlan","flannel.alpha.coreos.com/public-ip":"{ip}"}}}},"spec":{{"podCIDR":"{cidr}"}}}}"#
        )
    };
    let mk = |m2: &str, m3: &str| {
        Arc::new(
            Cluster::from_documents(&[(
                "nodes.json".into(),
                format!(
                    "{}{}{}",
                    node(
                        "k8s-master01",
                        "192.168.56.101",
                        "11:22:33:44:55:66",
                        "10.244.0.0/24"
                    ),
                    node("k8s-node01", "192.168.56.102", m2, "10.244.1.0/24"),
                    node("k8s-node02", "192.168.56.103", m3, "10.244.2.0/24")
                ),
            )])
            .expect("cluster"),
        )
    };
    let mut s = NodeSnapshot {
        hostname: Some("k8s-master01".into()),
        ..NodeSnapshot::default()
    };
    s.fdb = Some(fdb);
    let r = run(&s, &opts(&mk("8e:32:8d:27:ac:9a", "0e:22:e2:f3:09:04")));
    assert!(!ids(&r).contains(&"vxlan-fdb-missing"), "{:?}", r.findings);
    let r = run(&s, &opts(&mk("0e:22:e2:f3:09:04", "0e:22:e2:f3:09:04")));
    let f = finding(&r, "vxlan-fdb-missing");
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("all announce VtepMAC 0e:22:e2:f3:09:04")),
        "{:?}",
        f.evidence
    );
}

fn calico_node(name: &str, ip: &str, block: &str) -> String {
    format!(
        r#"{{"kind":"Node","metadata":{{"name":"{name}","annotations":{{"projectcalico.org/IPv4Address":"{ip}/24","projectcalico.org/IPv4IPIPTunnelAddr":"{tun}"}}}},"status":{{"addresses":[{{"type":"InternalIP","address":"{ip}"}}]}}}}
        {{"kind":"BlockAffinity","metadata":{{"name":"{name}-b"}},"spec":{{"cidr":"{block}","node":"{name}","state":"confirmed"}}}}"#,
        tun = block.split('/').next().unwrap_or("")
    )
}

/// calico#281, server B: `192.168.1.64/26 ... *` is B's own block (a blackhole, as Calico
/// installs for its blocks); if that block belonged to another node, it would swallow its pods.
#[test]
fn calico281_blackhole_on_star() {
    let (routes, problems) = netdoctor_bundle::routen::parse_route_n(
        &fixture("iproute/calico_ipip_route_n__calico281.txt"),
        "route-n.txt",
    );
    assert!(problems.is_empty(), "{problems:?}");
    let mut s = NodeSnapshot {
        hostname: Some("serverB".into()),
        ..NodeSnapshot::default()
    };
    s.routes = Some(routes);
    let mk = |b_blocks: &str, a_blocks: &str| {
        let mut text = calico_node("serverA", "10.211.55.18", a_blocks);
        text.push_str(&calico_node("serverB", "10.211.55.17", b_blocks));
        Arc::new(Cluster::from_documents(&[("nodes.json".into(), text)]).expect("cluster"))
    };
    let r = run(&s, &opts(&mk("192.168.1.64/26", "192.168.1.0/26")));
    assert!(
        !ids(&r).iter().any(|i| i.starts_with("pod-route")),
        "{:?}",
        r.findings
    );
    let r = run(&s, &opts(&mk("192.168.77.192/26", "192.168.1.64/26")));
    let f = finding(&r, "pod-route-conflict");
    assert!(
        f.title.contains("serverA") && f.title.contains("192.168.1.64/26"),
        "{}",
        f.title
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("expected `192.168.1.64/26 via 10.211.55.18 dev tunl0 onlink`")),
        "{:?}",
        f.evidence
    );
}

/// kubeasz#774: IPIP routes via tunl0 to four nodes' blocks; a fifth node's block has no route.
#[test]
fn kubeasz774_tunl0_routes() {
    let text = fixture("calico/tunl0_and_ipip_routes.txt");
    let section = &text[text.find("## C)").expect("section C")..];
    let (routes, _) = netdoctor_bundle::routen::parse_route_n(section, "route-n.txt");
    assert!(routes.len() >= 8, "{routes:?}");
    let mut s = NodeSnapshot {
        hostname: Some("me".into()),
        ..NodeSnapshot::default()
    };
    s.routes = Some(routes);
    let mut nodes = calico_node("me", "192.168.2.250", "172.20.32.128/26");
    for (i, (ip, b)) in [
        ("192.168.2.248", "172.20.58.192/26"),
        ("192.168.2.247", "172.20.85.192/26"),
        ("192.168.2.246", "172.20.122.128/26"),
        ("192.168.2.249", "172.20.135.128/26"),
    ]
    .iter()
    .enumerate()
    {
        nodes.push_str(&calico_node(&format!("w{i}"), ip, b));
    }
    let c = Arc::new(Cluster::from_documents(&[("n.json".into(), nodes.clone())]).expect("c"));
    let r = run(&s, &opts(&c));
    assert!(
        !ids(&r).iter().any(|i| i.starts_with("pod-route")),
        "{:?}",
        r.findings
    );
    nodes.push_str(&calico_node("w9", "192.168.2.245", "172.20.9.0/26"));
    let c = Arc::new(Cluster::from_documents(&[("n.json".into(), nodes)]).expect("c"));
    let r = run(&s, &opts(&c));
    let f = finding(&r, "pod-route-missing");
    assert!(
        f.title.contains("w9") && f.title.contains("172.20.9.0/26"),
        "{}",
        f.title
    );
}
