//! The library half of `netdoctor demo`: build a lab, show healthy flows, break it, show the
//! damage, let the caller's `check` diagnose the broken node, repair it, show it healed, and
//! clean up (also on Ctrl-C).

use crate::{
    cleanup_prefix, ClusterSpec, CniMode, Fault, FlowResult, Lab, LabError, NodeHandle, DEMO_PREFIX,
};
use std::io::Write;
use std::time::Instant;

/// What the demo does.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub fault: Fault,
    pub spec: ClusterSpec,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            fault: Fault::IpForwardOff,
            spec: ClusterSpec {
                prefix_base: DEMO_PREFIX.to_string(),
                ..ClusterSpec::default()
            },
        }
    }
}

/// What the caller's check said about the broken node.
#[derive(Debug, Clone, Default)]
pub struct DemoCheck {
    /// The report as a person reads it.
    pub text: String,
    /// `(finding id, its fix lines: now, then for good)`, in the report's order.
    pub findings: Vec<(String, Vec<String>)>,
}

/// The fault names `--fault` accepts, in table order.
pub fn fault_names() -> Vec<&'static str> {
    crate::FAULTS.iter().map(|s| s.name).collect()
}

/// Remove the leftovers of a crashed demo (`netdoctor demo --cleanup`). Returns what was removed.
pub fn cleanup() -> Result<Vec<String>, LabError> {
    cleanup_prefix(DEMO_PREFIX)
}

fn say(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// Run the lab's flows and print one line each; returns how many failed.
fn show_flows(lab: &Lab) -> usize {
    let flows = lab.flows();
    let results: Vec<FlowResult> = lab.run_flows(&flows);
    for (f, r) in flows.iter().zip(&results) {
        let mark = if r.ok { "✓" } else { "✗" };
        say(&format!(
            "  {mark} {:<24} from {}: {}  ({} ms)",
            r.kind.name(),
            f.src,
            r.detail,
            r.millis
        ));
    }
    results.iter().filter(|r| !r.ok).count()
}

/// Run the demo. `check` diagnoses a node (the CLI runs `netdoctor check` inside the node's
/// namespace) and returns the text to print. Progress goes to stderr.
pub fn run(
    opts: &DemoOptions,
    check: &dyn Fn(&NodeHandle) -> Result<DemoCheck, LabError>,
) -> Result<(), LabError> {
    if crate::effective_uid() != Some(0) {
        return Err(LabError::Demo(
            "netdoctor demo builds a cluster out of network namespaces, veth pairs, a VXLAN device \
             and iptables rules, which needs root: run it as root (e.g. `sudo netdoctor demo`)"
                .into(),
        ));
    }
    // Ctrl-C, SIGTERM, SIGHUP: the Drop guard does not run on a signal, so remove this
    // process's namespaces here. `set_handler` also replaces an inherited "ignore" (a shell
    // starts background jobs with SIGINT ignored), so a demo can always be stopped cleanly.
    let stem = format!("{}{}x", opts.spec.prefix_base, std::process::id());
    let handler_stem = stem.clone();
    if ctrlc::set_handler(move || {
        say("\ninterrupted: removing the lab");
        let _ = cleanup_prefix(&handler_stem);
        std::process::exit(130);
    })
    .is_err()
    {
        say("(could not install a Ctrl-C handler; after an interrupt run `netdoctor demo --cleanup`)");
    }

    let fault = opts.fault;
    let spec = fault.spec();
    say(&format!("netdoctor demo: {} — {}", spec.name, spec.summary));
    say(&format!(
        "… building a {}-node flannel (vxlan) cluster in network namespaces",
        opts.spec.nodes
    ));
    let t = Instant::now();
    let lab = Lab::build(&opts.spec).map_err(|e| LabError::during("building the lab", e))?;
    say(&format!(
        "✓ built in {:.1}s (namespaces {}-*)",
        t.elapsed().as_secs_f32(),
        lab.prefix()
    ));
    for n in lab.nodes() {
        let pods: Vec<String> = lab
            .pods()
            .iter()
            .filter(|p| p.node == n.index)
            .map(|p| format!("{} {}", p.name, p.ip))
            .collect();
        say(&format!(
            "  node {} eth0 {} pods {} [{}]",
            n.name,
            n.ip,
            n.pod_cidr,
            pods.join(", ")
        ));
    }
    match lab.cni_mode() {
        CniMode::Plugins => say("  pods wired by the CNI bridge + host-local plugins"),
        CniMode::Fallback(why) => say(&format!("  pods wired with `ip` (CNI fallback: {why})")),
    }

    say("\nhealthy cluster:");
    let healthy_failures = show_flows(&lab);
    if healthy_failures > 0 {
        return Err(LabError::Demo(format!(
            "{healthy_failures} flow(s) fail on the healthy cluster: the lab itself is broken here"
        )));
    }

    let node = lab.node(fault.node()).clone();
    say(&format!("\nbreaking node {}:", node.name));
    for step in lab
        .inject(fault)
        .map_err(|e| LabError::during("injecting the fault", e))?
    {
        say(&format!("  $ {step}"));
    }
    say("\nafter the fault:");
    let broken = show_flows(&lab);
    if broken == 0 {
        say("  (no flow breaks now: this fault bites at the next boot)");
    }

    say(&format!(
        "\nrunning netdoctor check on node {} (inside its namespace):",
        node.name
    ));
    let report = match check(&node) {
        Ok(r) => r,
        Err(e) => {
            return Err(LabError::Demo(format!(
                "the check could not run ({e}): no fix is shown for a fault netdoctor has not found"
            )))
        }
    };
    for line in report.text.lines() {
        say(&format!("  │ {line}"));
    }
    // A fix is shown only for a fault netdoctor named.
    let Some((_, advice)) = report.findings.iter().find(|(id, _)| id == spec.finding) else {
        let found: Vec<&str> = report.findings.iter().map(|(id, _)| id.as_str()).collect();
        return Err(LabError::Demo(format!(
            "netdoctor did not name {} on node {} (it found: {}): the demo stops without a fix",
            spec.finding,
            node.name,
            if found.is_empty() {
                "nothing".to_string()
            } else {
                found.join(", ")
            }
        )));
    };
    say(&format!(
        "
✓ netdoctor named {}; its advice:",
        spec.finding
    ));
    for line in advice {
        say(&format!("  - {line}"));
    }

    say(&format!(
        "
applying the runtime fix on node {}:",
        node.name
    ));
    let fix = lab
        .apply_runtime_fix(fault)
        .map_err(|e| LabError::during("applying the runtime fix", e))?;
    if fix.is_empty() {
        say("  no command on the node repairs this: a person does what the advice above says (here the lab plays that part)");
    }
    for line in fix {
        say(&format!("  $ {line}"));
    }
    say("\nafter the fix:");
    let still = show_flows(&lab);

    say("\ncleaning up…");
    let prefix = lab.prefix().to_string();
    drop(lab);
    let leftovers: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    if leftovers.is_empty() {
        say("✓ every namespace, device and thread of the lab is gone");
    } else {
        say(&format!("✗ left behind: {}", leftovers.join(", ")));
    }
    if still > 0 {
        return Err(LabError::Demo(format!(
            "{still} flow(s) still fail after the runtime fix"
        )));
    }
    Ok(())
}
