//! `netdoctor capture` in the namespace lab: for faults that break a flow, it names where the
//! flow was last seen on the broken node, in which direction, the kernel's own drop reason and
//! the finding; on the healthy cluster the flow is delivered. Nothing it started is left.

mod support;

use netdoctor_lab::{ClusterSpec, Fault, Lab, NodeHandle};
use serde_json::Value;
use std::process::Command;
use support::lab_available;

fn capture(lab: &Lab, node: &NodeHandle, extra: &[&str]) -> (Option<i32>, Value) {
    let src = lab.pod(0, 0).expect("pod").ip.to_string();
    let dst = format!("{}:8080", lab.pod(1, 0).expect("pod").ip);
    let facts = support::lab_facts(node);
    let mut args = vec![
        "capture",
        "--from",
        &src,
        "--to",
        &dst,
        "--count",
        "2",
        "--timeout",
        "500ms",
    ];
    args.extend(facts.iter().map(String::as_str));
    args.extend_from_slice(extra);
    support::in_node(node, &args)
}

/// The flows (one per connection sent), which must all agree; the first.
fn flow(v: &Value) -> &Value {
    let flows = v["flows"].as_array().expect("flows");
    assert!(!flows.is_empty(), "no flow captured: {v:#}");
    for f in flows {
        for k in ["verdict", "direction", "last_seen", "finding"] {
            assert_eq!(f[k], flows[0][k], "flows disagree on {k}: {v:#}");
        }
    }
    &flows[0]
}

fn reasons(v: &Value) -> Vec<String> {
    v["kernel_drops"]
        .as_array()
        .unwrap_or_else(|| panic!("drops not recorded: {v:#}"))
        .iter()
        .filter_map(|d| d["reason"].as_str().map(String::from))
        .collect()
}

/// (fault, direction, last seen, kernel drop reason, finding); None: not asserted.
type Expected = (
    Fault,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

#[test]
fn capture_names_where_and_why_the_kernel_dropped_the_flow() {
    if !lab_available("capture_names_where_and_why_the_kernel_dropped_the_flow") {
        return;
    }
    let lab = Lab::build(&ClusterSpec::default()).expect("lab");
    let n0 = lab.node(0);
    let (code, v) = capture(&lab, n0, &[]);
    let f = flow(&v);
    assert_eq!(f["verdict"], "delivered", "{v:#}");
    support::assert_schema("capture", &v);
    assert_eq!(code, Some(0));

    // (fault, direction, last seen, kernel drop reason, finding); None: not asserted.
    let table: &[Expected] = &[
        (
            Fault::ForwardPolicyDrop,
            "request",
            "cni0",
            Some("NETFILTER_DROP"),
            Some("forward-policy-drop"),
        ),
        (
            Fault::VxlanPortBlocked,
            "reply",
            "eth0",
            Some("NETFILTER_DROP"),
            Some("overlay-port-blocked"),
        ),
        (
            Fault::RpFilterStrict,
            "reply",
            "eth0",
            Some("IP_RPFILTER"),
            Some("rp-filter-strict"),
        ),
        (
            Fault::IpForwardOff,
            "request",
            "cni0",
            Some("IP_INADDRERRORS"),
            Some("ip-forward-disabled"),
        ),
        (
            Fault::FdbMissing,
            "request",
            "flannel.1",
            Some("NO_TX_TARGET"),
            Some("vxlan-fdb-missing"),
        ),
        // Sent by the default route: it dies at the underlay's gateway, which does not forward.
        (
            Fault::RouteMissing,
            "request",
            "eth0",
            Some("IP_INADDRERRORS"),
            Some("pod-route-missing"),
        ),
        (
            Fault::StaleTunl0,
            "request",
            "eth0",
            Some("IP_INADDRERRORS"),
            Some("stale-interface-address"),
        ),
        // On-link on eth0 now: the neighbour never resolves, so no IP packet leaves (the
        // kernel's NEIGH_FAILED comes seconds after the capture).
        (Fault::PodCidrOverlapsHost, "request", "cni0", None, None),
    ];
    let mut wrong = Vec::new();
    for (fault, direction, last, reason, finding) in table {
        lab.inject(*fault).expect("inject");
        let (code, v) = capture(&lab, n0, &[]);
        lab.revert(*fault).expect("revert");
        support::assert_schema("capture", &v);
        let f = flow(&v);
        let got = (
            f["verdict"].as_str(),
            f["direction"].as_str(),
            f["last_seen"]["interface"].as_str(),
            f["finding"].as_str(),
        );
        let r = reasons(&v);
        let ok = got.0 == Some("dropped")
            && got.1 == Some(*direction)
            && got.2 == Some(*last)
            && (finding.is_none() || got.3 == *finding)
            && reason.is_none_or(|x| r.iter().any(|y| y == x))
            && code == Some(1);
        if !ok {
            wrong.push(format!("{}: got {got:?} {r:?} exit {code:?}", fault.name()));
        }
        // A netfilter drop is confirmed by the kernel's own rule trace, naming the rule.
        let traced: Vec<&str> = v["rule_trace"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let want = match fault {
            Fault::ForwardPolicyDrop => Some("FORWARD"),
            Fault::VxlanPortBlocked => Some("8472"),
            _ => None,
        };
        println!("{}: {got:?} {r:?} rule trace {traced:?}", fault.name());
        if let Some(w) = want {
            if !traced.iter().any(|l| l.contains(w) && l.contains("drop")) {
                wrong.push(format!(
                    "{}: rule trace {traced:?} {}",
                    fault.name(),
                    v["rule_trace_not_run"]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // Nothing left behind: no trace table, no tcpdump of ours, no tracing instance.
    let tables = Command::new("ip")
        .args(["netns", "exec", &n0.netns, "nft", "list", "tables"])
        .output()
        .expect("nft");
    let tables = String::from_utf8_lossy(&tables.stdout);
    assert!(!tables.contains("netdoctor_trace"), "{tables}");
    let monitors = Command::new("pgrep")
        .args(["-f", "nft monitor trace"])
        .output()
        .expect("pgrep");
    assert!(monitors.stdout.is_empty(), "nft monitor left running");
    let mine = Command::new("pgrep")
        .args(["-f", "tcpdump --immediate-mode"])
        .output()
        .expect("pgrep");
    assert!(
        mine.stdout.is_empty(),
        "tcpdump left running: {}",
        String::from_utf8_lossy(&mine.stdout)
    );
    let t = tempfile::tempdir().expect("tempdir");
    let inst = Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(format!(
            "mount -t tracefs nodev {0} && ls {0}/instances",
            t.path().display()
        ))
        .output()
        .expect("unshare");
    let listed = String::from_utf8_lossy(&inst.stdout);
    assert!(
        inst.status.success(),
        "{}",
        String::from_utf8_lossy(&inst.stderr)
    );
    assert!(
        !listed.contains("netdoctor-"),
        "a tracing instance was left: {listed}"
    );
    lab.close().expect("close");
}
