//! Where a flow is captured on a flannel VXLAN node, and what its drops confirm.

use super::*;
use netdoctor_pcap::{LostAt, Where};

use netdoctor_testkit::flannel_node::{write_bundle, IP_ROUTE as ROUTES};

fn snapshot(routes: &str) -> NodeSnapshot {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(dir.path(), routes);
    netdoctor_bundle::read_bundle(dir.path()).expect("bundle")
}

#[test]
fn a_pod_to_a_remote_pod_is_captured_on_the_bridge_the_overlay_and_the_underlay() {
    let s = snapshot(ROUTES);
    let p = points(
        &s,
        Ipv4Addr::new(10, 244, 0, 5),
        Ipv4Addr::new(10, 244, 1, 7),
    );
    let names: Vec<&str> = p.iter().map(|p| p.interface.as_str()).collect();
    assert_eq!(names, vec!["cni0", "flannel.1", "eth0"]);
    assert_eq!(p[0].filter, "host 10.244.0.5 or host 10.244.1.7");
    // The underlay sees the flow encapsulated: its filter takes the VXLAN port.
    assert_eq!(
        p[2].filter,
        "host 10.244.0.5 or host 10.244.1.7 or udp port 8472"
    );
}

#[test]
fn direct_routing_captures_encapsulated_replies_on_the_uplink_too() {
    let s = snapshot(&ROUTES.replace(
        "10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink",
        "10.244.1.0/24 via 10.0.0.12 dev eth0",
    ));
    let p = points(
        &s,
        Ipv4Addr::new(10, 244, 0, 5),
        Ipv4Addr::new(10, 244, 1, 7),
    );
    let names: Vec<&str> = p.iter().map(|p| p.interface.as_str()).collect();
    assert_eq!(names, vec!["cni0", "eth0"]);
    assert!(p[1].filter.ends_with("or udp port 8472"), "{p:?}");
    // From the node itself: no source device.
    let p = points(
        &s,
        Ipv4Addr::new(10, 0, 0, 11),
        Ipv4Addr::new(10, 244, 1, 7),
    );
    assert_eq!(p.len(), 1);
}

fn dropped(direction: &'static str, last: &str) -> FlowReport {
    FlowReport {
        flow: "tcp 10.244.0.5:40000 -> 10.244.1.7:8080".into(),
        verdict: "dropped",
        direction: Some(direction),
        last_seen: Some(Where {
            node: "n0".into(),
            interface: last.into(),
        }),
        lost_at: Some(LostAt {
            node: "n0".into(),
            stage: "after".into(),
        }),
        finding: None,
        points: vec![],
        requests: 1,
        replies: 0,
        retransmissions: 0,
        resets: vec![],
        icmp_errors: vec![],
        notes: vec![],
    }
}

#[test]
fn a_netfilter_drop_of_a_reply_at_the_underlay_is_the_overlay_port_not_forward() {
    let d = vec![DropCount {
        reason: "NETFILTER_DROP".into(),
        function: "nf_hook_slow".into(),
        count: 3,
    }];
    let under = vec!["eth0".to_string()];
    let all = |_: Cause| true;
    assert_eq!(
        explain(&dropped("reply", "eth0"), &d, &all, &under),
        Some(Cause::OverlayPortBlocked)
    );
    assert_eq!(
        explain(&dropped("request", "cni0"), &d, &all, &under),
        Some(Cause::ForwardPolicyDrop)
    );
    // Only what the diagnosis found is confirmed.
    let only_rp = |c: Cause| c == Cause::RpFilterStrict;
    assert_eq!(
        explain(&dropped("request", "cni0"), &d, &only_rp, &under),
        None
    );
    let rp = vec![DropCount {
        reason: "IP_RPFILTER".into(),
        function: "ip_rcv_finish_core".into(),
        count: 1,
    }];
    assert_eq!(
        explain(&dropped("reply", "eth0"), &rp, &only_rp, &under),
        Some(Cause::RpFilterStrict)
    );
    // A delivered flow confirms nothing.
    let mut ok = dropped("request", "cni0");
    ok.verdict = "delivered";
    assert_eq!(explain(&ok, &d, &all, &under), None);
}
