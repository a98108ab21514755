//! `netdoctor probe` and `check --probe`: real packets from this node, folded into the
//! diagnosis.

use crate::args::{OutputFormat, ProbeArgs, ProbeFlags, ProbeKindArg};
use crate::check::{load_cluster, options};
use anyhow::{Context as _, Result};
use netdoctor_collect::live::{collect_live, LiveOptions};
use netdoctor_kube::Cluster;
use netdoctor_model::{CheckReport, NodeSnapshot, ProbeKind, ProbeReport, PROBE_SCHEMA};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

pub fn options_of(flags: &ProbeFlags) -> netdoctor_probe::Options {
    netdoctor_probe::Options {
        kinds: flags
            .kind
            .iter()
            .map(|k| match k {
                ProbeKindArg::Overlay => ProbeKind::Overlay,
                ProbeKindArg::Pod => ProbeKind::Pod,
                ProbeKindArg::Mtu => ProbeKind::Mtu,
                ProbeKindArg::Service => ProbeKind::Service,
                ProbeKindArg::Dns => ProbeKind::Dns,
            })
            .collect(),
        only: flags.to.clone(),
        timeout: flags.timeout,
        pods_per_node: flags.pods_per_node,
        max_targets: flags.max_targets,
        cluster_domain: flags.cluster_domain.clone(),
        ..netdoctor_probe::Options::default()
    }
}

/// Plan and send the probes; the results in plan order, and what was not probed.
pub fn send(
    snapshot: &NodeSnapshot,
    cluster: Option<&Cluster>,
    node_hint: Option<&str>,
    opts: &netdoctor_probe::Options,
) -> Result<(String, Vec<netdoctor_model::ProbeRun>, Vec<String>)> {
    // Raw sockets first: without them nothing can be sent, and the user must hear why once.
    netdoctor_probe::echo(
        std::net::Ipv4Addr::LOCALHOST,
        netdoctor_probe::HEADERS,
        false,
        std::time::Duration::from_millis(200),
    )
    .context("netdoctor probe")?;
    let local: Vec<std::net::IpAddr> = snapshot
        .addresses
        .iter()
        .flatten()
        .map(|a| a.addr)
        .collect();
    let me = cluster.and_then(|c| c.identify(node_hint, snapshot.hostname.as_deref(), &local));
    let name = me
        .map(|n| n.name.clone())
        .or_else(|| node_hint.map(str::to_string))
        .or_else(|| snapshot.hostname.clone())
        .unwrap_or_else(|| "this node".into());
    let view = netdoctor_probe::NodeView { me, snapshot };
    let (mut planned, skipped) = netdoctor_probe::plan(&view, cluster, opts);
    // Pods are probed from a pod of this node when one is reachable: its packets are forwarded
    // by the node (FORWARD, ip_forward, the bridge), which the node's own are not.
    let pod_cidr = me
        .and_then(|n| n.pod_cidr_v4())
        .or_else(|| snapshot.hints.pod_cidr.as_ref().map(|c| c.value));
    let first_pod = planned.iter().find_map(|p| match (&p.kind, &p.action) {
        (ProbeKind::Pod, netdoctor_probe::Action::Echo { dst }) => Some(*dst),
        _ => None,
    });
    // This node's address in its pod network (the bridge's), which a pod reaches directly.
    let node_addr = |cidr: ipnet::Ipv4Net| {
        snapshot
            .addresses
            .iter()
            .flatten()
            .find_map(|a| match a.addr {
                std::net::IpAddr::V4(v) if cidr.contains(&v) && v != cidr.network() => Some(v),
                _ => None,
            })
    };
    if let (Some(ipnet::IpNet::V4(cidr)), Some(towards)) = (pod_cidr, first_pod) {
        if let Some(from) =
            node_addr(cidr).and_then(|addr| netdoctor_probe::netns::pod_netns(cidr, towards, addr))
        {
            for p in planned.iter_mut().filter(|p| p.kind == ProbeKind::Pod) {
                p.from_netns = Some(from.clone());
            }
        }
    }
    if !planned.is_empty() && std::io::stderr().is_terminal() {
        let _ = writeln!(
            std::io::stderr(),
            "netdoctor: sending {} probe(s), {} at a time, waiting up to {:?} for each answer…",
            planned.len(),
            opts.parallel,
            opts.timeout
        );
    }
    let runs = netdoctor_probe::run(&name, &planned, opts);
    Ok((name, runs, skipped))
}

/// Add the probes' results to a live diagnosis.
pub fn fold_into(
    report: &mut CheckReport,
    snapshot: &NodeSnapshot,
    cluster: Option<&Cluster>,
    node_hint: Option<&str>,
    flags: &ProbeFlags,
) -> Result<()> {
    let (_, runs, skipped) = send(snapshot, cluster, node_hint, &options_of(flags))?;
    for s in skipped {
        report.not_checked.push(netdoctor_model::NotChecked {
            check: "probe".into(),
            reason: s,
        });
    }
    netdoctor_checks::fold_probes(report, runs);
    Ok(())
}

pub fn run_probe(args: &ProbeArgs, colour: bool) -> Result<ExitCode> {
    if !args.root.is_dir() {
        anyhow::bail!("--root {}: not a directory", args.root.display());
    }
    let snapshot = collect_live(&LiveOptions {
        root: args.root.clone(),
        ..LiveOptions::default()
    });
    let mut opts = options(&args.cluster);
    opts.cluster = load_cluster(&args.cluster.objects, &[&snapshot])?;
    let cluster = opts.cluster.clone();
    let hint = args.cluster.node_name.as_deref();
    let (name, runs, skipped) = send(
        &snapshot,
        cluster.as_deref(),
        hint,
        &options_of(&args.probe),
    )?;
    // The diagnosis names what each failure confirms.
    let mut report = netdoctor_checks::run(&snapshot, &opts);
    netdoctor_checks::fold_probes(&mut report, runs);
    let out = ProbeReport {
        schema: PROBE_SCHEMA.into(),
        node: name,
        results: report.probes,
        skipped,
    };
    let text = match args.output {
        OutputFormat::Text => netdoctor_report::probe_text(&out, colour),
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(&out).context("writing JSON")?;
            s.push('\n');
            s
        }
        OutputFormat::Markdown => netdoctor_report::probe_markdown(&out),
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .context("writing the results")?;
    if out.results.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "netdoctor: nothing was probed: give the cluster's objects (--kube-objects, --kubeconfig) or name targets with --to"
        );
        return Ok(ExitCode::from(2));
    }
    Ok(if out.results.iter().any(|r| !r.ok) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
