//! `netdoctor demo`: the lab as a guided tour.

use crate::args::DemoArgs;
use anyhow::{anyhow, bail, Context as _, Result};
use netdoctor_lab::demo::{cleanup, fault_names, run, DemoCheck, DemoOptions};
use netdoctor_lab::{Fault, NodeHandle, CLUSTER_CIDR, SERVICE_CIDR};
use std::process::{Command, ExitCode};

pub fn run_demo(args: &DemoArgs) -> Result<ExitCode> {
    if args.list {
        for f in Fault::all() {
            println!("{:<24} {}", f.name(), f.spec().summary);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if crate::fix::euid() != Some(0) {
        bail!("the demo builds network namespaces, veth pairs, bridges and VXLAN devices: run it as root (nothing outside its own namespaces is touched)");
    }
    if args.cleanup {
        let removed = cleanup()?;
        println!(
            "removed {} leftover(s){}",
            removed.len(),
            if removed.is_empty() {
                String::new()
            } else {
                format!(": {}", removed.join(", "))
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let fault = Fault::from_name(&args.fault).ok_or_else(|| {
        anyhow!(
            "unknown fault {:?}; choose one of: {}",
            args.fault,
            fault_names().join(", ")
        )
    })?;
    let exe = std::env::current_exe().context("locating the netdoctor binary")?;
    let check = |node: &NodeHandle| -> Result<DemoCheck, netdoctor_lab::LabError> {
        // The check as a user would run it on the node: its root and the cluster's objects.
        let run = |format: &str| -> Result<String, netdoctor_lab::LabError> {
            let out = Command::new("ip")
                .args(["netns", "exec", &node.netns])
                .arg(&exe)
                .args(["check", "--color", "never", "-o", format, "--root"])
                .arg(node.root_dir())
                .arg("--kube-objects")
                .arg(node.kube_dir())
                .args([
                    "--node-name",
                    &node.name,
                    "--cni",
                    "flannel",
                    "--pod-cidr",
                    &node.pod_cidr,
                ])
                .args([
                    "--cluster-cidr",
                    CLUSTER_CIDR,
                    "--service-cidr",
                    SERVICE_CIDR,
                ])
                .output()
                .map_err(|e| netdoctor_lab::LabError::Spawn {
                    cmd: "ip netns exec ... netdoctor check".into(),
                    source: e,
                })?;
            if out.status.code() == Some(2) {
                return Err(netdoctor_lab::LabError::Demo(format!(
                    "netdoctor check failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let text = run("text")?;
        let json: serde_json::Value = serde_json::from_str(&run("json")?)
            .map_err(|e| netdoctor_lab::LabError::Demo(format!("check -o json: {e}")))?;
        let lines = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|l| l.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let findings = json["findings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| {
                        let mut fix = lines(&f["fix"]["runtime"]);
                        fix.extend(lines(&f["fix"]["persistent"]));
                        (f["id"].as_str().unwrap_or("").to_string(), fix)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(DemoCheck { text, findings })
    };
    run(
        &DemoOptions {
            fault,
            ..DemoOptions::default()
        },
        &check,
    )?;
    Ok(ExitCode::SUCCESS)
}
