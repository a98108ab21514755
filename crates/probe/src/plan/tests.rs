//! The plan on a flannel VXLAN node as the commands print it, with the cluster's objects.

use super::*;
use netdoctor_kube::Cluster;
use serde_json::json;

use netdoctor_testkit::flannel_node::{write_bundle, IP_ROUTE};

fn snapshot(route: &str) -> NodeSnapshot {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(dir.path(), route);
    netdoctor_bundle::read_bundle(dir.path()).expect("bundle")
}

fn node(name: &str, ip: &str, cidr: &str) -> serde_json::Value {
    json!({"kind": "Node", "metadata": {"name": name, "annotations": {
            "flannel.alpha.coreos.com/backend-type": "vxlan",
            "flannel.alpha.coreos.com/public-ip": ip}},
        "spec": {"podCIDR": cidr},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}]}})
}

fn cluster() -> Cluster {
    let list = json!({"kind": "List", "items": [
        node("node-0", "10.0.0.11", "10.244.0.0/24"),
        node("node-1", "10.0.0.12", "10.244.1.0/24"),
        {"kind": "Pod", "metadata": {"namespace": "default", "name": "web-1"},
         "spec": {"nodeName": "node-1"}, "status": {"phase": "Running", "podIP": "10.244.1.5"}},
        {"kind": "Pod", "metadata": {"namespace": "default", "name": "web-0"},
         "spec": {"nodeName": "node-0"}, "status": {"phase": "Running", "podIP": "10.244.0.5"}},
        {"kind": "Service", "metadata": {"namespace": "default", "name": "web"},
         "spec": {"type": "NodePort", "clusterIP": "10.96.0.20",
                  "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}},
        {"kind": "Service", "metadata": {"namespace": "kube-system", "name": "kube-dns"},
         "spec": {"clusterIP": "10.96.0.10", "selector": {"k8s-app": "kube-dns"},
                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}}
    ]});
    Cluster::from_values(vec![("cluster.json".into(), list)])
}

#[test]
fn a_flannel_node_probes_the_other_vtep_its_pods_services_and_dns() {
    let snap = snapshot(IP_ROUTE);
    let c = cluster();
    let view = NodeView {
        me: c.node("node-0"),
        snapshot: &snap,
    };
    let (p, skipped) = plan(&view, Some(&c), &Options::default());
    assert!(skipped.is_empty(), "{skipped:?}");
    let overlay = p
        .iter()
        .find(|p| p.kind == ProbeKind::Overlay)
        .expect("overlay");
    match &overlay.action {
        Action::Overlay {
            underlay,
            vtep: Some(v),
            bgp: false,
        } => {
            assert_eq!(*underlay, Ipv4Addr::new(10, 0, 0, 12));
            assert_eq!(v.address, Ipv4Addr::new(10, 244, 1, 0));
            assert_eq!(v.device, "flannel.1");
            assert!(v.transport.contains("VXLAN UDP 8472"), "{}", v.transport);
        }
        other => panic!("{other:?}"),
    }
    // Never itself: node-0's own pod and address are not probed.
    assert!(p.iter().all(|p| p.node.as_deref() != Some("node-0")));
    let mtus: Vec<_> = p
        .iter()
        .filter(|p| p.kind == ProbeKind::Mtu)
        .map(|p| &p.action)
        .collect();
    assert_eq!(
        mtus,
        vec![
            &Action::Mtu {
                dst: Ipv4Addr::new(10, 0, 0, 12),
                device: "eth0".into(),
                claimed: 1500
            },
            &Action::Mtu {
                dst: Ipv4Addr::new(10, 244, 1, 0),
                device: "flannel.1".into(),
                claimed: 1450
            },
        ]
    );
    let pods: Vec<_> = p
        .iter()
        .filter(|p| p.kind == ProbeKind::Pod)
        .map(|p| p.to.as_str())
        .collect();
    assert_eq!(pods, vec!["pod default/web-1 10.244.1.5"]);
    let svcs: Vec<_> = p
        .iter()
        .filter(|p| p.kind == ProbeKind::Service)
        .map(|p| &p.action)
        .collect();
    assert_eq!(
        svcs,
        vec![
            &Action::Connect {
                dst: "10.96.0.20:80".parse().expect("sa")
            },
            &Action::Connect {
                dst: "10.0.0.11:30080".parse().expect("sa")
            },
            &Action::Connect {
                dst: "10.96.0.10:53".parse().expect("sa")
            },
        ]
    );
    let dns = p.iter().find(|p| p.kind == ProbeKind::Dns).expect("dns");
    assert_eq!(
        dns.action,
        Action::Dns {
            server: "10.96.0.10:53".parse().expect("sa"),
            name: "kubernetes.default.svc.cluster.local".into()
        }
    );
}

#[test]
fn a_missing_route_still_probes_the_vtep_and_says_the_packet_takes_the_default_route() {
    let snap = snapshot("default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.11\n");
    let c = cluster();
    let view = NodeView {
        me: c.node("node-0"),
        snapshot: &snap,
    };
    let (p, _) = plan(&view, Some(&c), &Options::default());
    let overlay = p
        .iter()
        .find(|p| p.kind == ProbeKind::Overlay)
        .expect("overlay");
    let Action::Overlay { vtep: Some(v), .. } = &overlay.action else {
        panic!("{overlay:?}")
    };
    assert_eq!(v.address, Ipv4Addr::new(10, 244, 1, 0));
    assert!(
        v.transport.contains("no route to 10.244.1.0/24"),
        "{}",
        v.transport
    );
}

#[test]
fn only_named_targets_are_probed() {
    let snap = snapshot(IP_ROUTE);
    let c = cluster();
    let view = NodeView {
        me: c.node("node-0"),
        snapshot: &snap,
    };
    let opts = Options {
        only: vec![
            "svc/default/web".parse().expect("t"),
            "192.0.2.7".parse().expect("t"),
            "pod/default/nope".parse().expect("t"),
        ],
        ..Options::default()
    };
    let (p, skipped) = plan(&view, Some(&c), &opts);
    let to: Vec<_> = p.iter().map(|p| p.to.as_str()).collect();
    assert_eq!(
        to,
        vec![
            "svc default/web 10.96.0.20:80",
            "svc default/web NodePort 10.0.0.11:30080",
            "192.0.2.7"
        ]
    );
    assert_eq!(
        skipped,
        vec!["pod/default/nope: no such Pod in the cluster objects".to_string()]
    );
    let kinds = Options {
        kinds: vec![ProbeKind::Overlay],
        ..Options::default()
    };
    let (p, _) = plan(&view, Some(&c), &kinds);
    assert!(
        p.iter().all(|p| p.kind == ProbeKind::Overlay) && p.len() == 1,
        "{p:?}"
    );
}

#[test]
fn targets_parse_or_say_what_is_expected() {
    assert_eq!("node/n1".parse::<Target>(), Ok(Target::Node("n1".into())));
    assert_eq!(
        "pod/kube-system/coredns-1".parse::<Target>(),
        Ok(Target::Pod {
            namespace: "kube-system".into(),
            name: "coredns-1".into()
        })
    );
    assert_eq!(
        "svc/web".parse::<Target>(),
        Ok(Target::Service {
            namespace: "default".into(),
            name: "web".into()
        })
    );
    assert_eq!(
        "10.0.0.1:443".parse::<Target>(),
        Ok(Target::AddrPort("10.0.0.1:443".parse().expect("sa")))
    );
    for bad in ["", "node/", "pod/a/", "fe80::1", "web", "10.0.0.300"] {
        let e = bad.parse::<Target>().expect_err(bad);
        assert!(e.contains("expected"), "{e}");
    }
}
