//! The demo's library half runs end to end: the `check` callback is called for the broken node,
//! inside whose namespace the fault is visible, and the runtime fix heals every flow. Needs
//! root; skipped otherwise unless NETDOCTOR_REQUIRE_LAB=1.

use netdoctor_lab::demo::{self, DemoCheck, DemoOptions};
use netdoctor_lab::{Fault, NodeHandle};
use std::cell::RefCell;
use std::process::Command;

fn lab_available() -> bool {
    netdoctor_testkit::lab_available("demo", &["ip"])
}

#[test]
fn demo_calls_check_on_the_broken_node_and_heals_it() {
    if !lab_available() {
        return;
    }
    let seen = RefCell::new(Vec::new());
    let check = |node: &NodeHandle| -> Result<DemoCheck, netdoctor_lab::LabError> {
        // What the CLI's closure does, with `cat` standing in for `netdoctor check`.
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &node.netns,
                "cat",
                "/proc/sys/net/ipv4/ip_forward",
            ])
            .output()
            .map_err(|e| netdoctor_lab::LabError::Spawn {
                cmd: "ip netns exec cat".into(),
                source: e,
            })?;
        let text = format!(
            "net.ipv4.ip_forward = {}",
            String::from_utf8_lossy(&out.stdout).trim()
        );
        seen.borrow_mut().push((node.name.clone(), text.clone()));
        assert!(node.root_dir().join("etc/sysctl.d/k8s.conf").is_file());
        let findings = if text.ends_with("= 0") {
            vec![(
                "ip-forward-disabled".to_string(),
                vec!["sysctl -w net.ipv4.ip_forward=1".to_string()],
            )]
        } else {
            Vec::new()
        };
        Ok(DemoCheck { text, findings })
    };
    let opts = DemoOptions {
        fault: Fault::IpForwardOff,
        ..DemoOptions::default()
    };
    demo::run(&opts, &check).expect("demo runs and the fix heals every flow");
    let seen = seen.into_inner();
    assert_eq!(
        seen,
        vec![("n0".to_string(), "net.ipv4.ip_forward = 0".to_string())]
    );
    assert!(demo::fault_names().contains(&"stale-tunl0"));
}

#[test]
fn no_fix_is_shown_for_a_fault_the_check_did_not_name() {
    if !lab_available() {
        return;
    }
    let blind = |_: &NodeHandle| -> Result<DemoCheck, netdoctor_lab::LabError> {
        Ok(DemoCheck {
            text: "all good".into(),
            findings: Vec::new(),
        })
    };
    let opts = DemoOptions {
        fault: Fault::IpForwardOff,
        ..DemoOptions::default()
    };
    let err = demo::run(&opts, &blind).expect_err("a fault not found is not fixed");
    assert!(
        err.to_string().contains("did not name ip-forward-disabled"),
        "{err}"
    );
}
