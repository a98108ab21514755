//! `netdoctor trace`: read the snapshots, resolve SRC and DST, run the model, print the hops.

use anyhow::{bail, Context as _, Result};
use clap::{Args, ValueEnum};
use netdoctor_sim::{Cluster, ClusterObjects, Proto, TraceRequest};
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// A node's snapshot written by `netdoctor collect` (repeat for every node on the path).
    #[arg(
        long = "snapshot",
        value_name = "FILE",
        required_unless_present_any = ["bundles", "agents"]
    )]
    pub snapshots: Vec<PathBuf>,
    /// A node's agent (`netdoctor agent`): http://ADDR:PORT; its current snapshot is read from
    /// `/v1/snapshot`, as `fleet` reads it. Repeat, and mix with --snapshot and --bundle.
    #[arg(long = "agent", value_name = "URL", value_parser = crate::args::parse_agent_url)]
    pub agents: Vec<String>,
    /// The bearer token the agents require.
    #[arg(long, value_name = "FILE", requires = "agents")]
    pub token_file: Option<PathBuf>,
    /// The time limit for one agent.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::args::parse_duration)]
    pub agent_timeout: std::time::Duration,
    /// A node's evidence bundle (a directory, as for `check --from`); repeat, and mix with
    /// --snapshot, for every node on the path.
    #[arg(long = "bundle", value_name = "DIR")]
    pub bundles: Vec<PathBuf>,
    /// Where the packet starts: an IP, pod/NS/NAME or node/NAME.
    #[arg(long, value_name = "SRC")]
    pub from: String,
    /// Where it goes: an IP, IP:PORT, pod/NS/NAME[:PORT], svc/NS/NAME[:PORT] or node/NAME[:PORT].
    #[arg(long, value_name = "DST[:PORT]")]
    pub to: String,
    #[arg(long, value_enum, default_value_t = TraceProto::Tcp)]
    pub proto: TraceProto,
    /// IP total length of the request, sent with DF set (default: a small packet).
    #[arg(long, value_name = "BYTES")]
    pub size: Option<u32>,
    /// The cluster's objects, to name pods, services and nodes (as for `check`; a bundle's
    /// `kube/` directory is used when none is given).
    #[command(flatten)]
    pub objects: crate::args::ObjectFlags,
    /// Follow only the service endpoint with this address.
    #[arg(long, value_name = "IP")]
    pub endpoint: Option<IpAddr>,
    #[arg(short, long, value_enum, default_value_t = TraceOutput::Text)]
    pub output: TraceOutput,
    /// Exit with status 1 when the packet is dropped on some path (3 when the model cannot
    /// decide), for scripts; without it a trace exits 0 whatever the verdict.
    #[arg(long)]
    pub fail_on_drop: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceProto {
    Tcp,
    Udp,
    Icmp,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceOutput {
    Text,
    Json,
    Markdown,
    /// One self-contained HTML page: the path drawn as a diagram, the drop marked.
    Html,
}

/// Split `X:PORT` when PORT is a number and X is not an IPv6 address.
fn split_port(s: &str) -> Option<(&str, u16)> {
    let (a, p) = s.rsplit_once(':')?;
    if a.contains(':') && !a.contains('/') {
        return None;
    }
    Some((a, p.parse().ok()?))
}

fn resolve(cluster: &Cluster, spec: &str, what: &str) -> Result<(IpAddr, Option<u16>)> {
    match cluster.resolve(spec) {
        Ok(r) => Ok(r),
        Err(first) => match split_port(spec) {
            Some((a, p)) => {
                let (ip, _) = cluster
                    .resolve(a)
                    .map_err(|e| anyhow::anyhow!("{what} {e}"))?;
                Ok((ip, Some(p)))
            }
            None => bail!("{what} {first}"),
        },
    }
}

/// A snapshot whose rules are larger than this keeps them on disk until a trace crosses the
/// node: a trace over 500 nodes of a large cluster would otherwise hold gigabytes of rules it
/// never reads.
const LAZY_RULES_FROM: usize = 1 << 20;

pub fn run_trace(a: &TraceArgs) -> Result<ExitCode> {
    let mut snaps = Vec::new();
    let mut lazy = Vec::new();
    for f in &a.snapshots {
        let mut s = netdoctor_collect::snapshot_io::read_snapshot(f)
            .with_context(|| format!("reading snapshot {}", f.display()))?;
        let size: usize = s.iptables.iter().map(|d| d.text.len()).sum::<usize>()
            + s.nft_json.as_ref().map_or(0, |t| t.value.len());
        if size > LAZY_RULES_FROM {
            s.iptables.clear();
            s.nft_json = None;
            lazy.push((snaps.len(), f.clone()));
        }
        snaps.push(s);
    }
    for d in &a.bundles {
        let s = netdoctor_bundle::read_bundle(d)
            .with_context(|| format!("reading bundle {}", d.display()))?;
        snaps.push(s);
    }
    if !a.agents.is_empty() {
        let token = match &a.token_file {
            Some(f) => Some(crate::agent::read_token(f)?),
            None => None,
        };
        let sources: Vec<crate::fleet::Source> = a
            .agents
            .iter()
            .cloned()
            .map(crate::fleet::Source::Agent)
            .collect();
        // A node missing from the path would turn a verdict into "unknown": every agent must
        // answer.
        for (src, r) in crate::fleet::gather(&sources, token.as_deref(), 32, a.agent_timeout)? {
            snaps.push(r.map_err(|e| anyhow::anyhow!("agent {}: {e}", src.shown()))?);
        }
    }
    // One loader of cluster objects for every command: files, the live API, or the bundles'.
    let refs: Vec<&netdoctor_model::NodeSnapshot> = snaps.iter().collect();
    let objects = crate::check::load_cluster(&a.objects, &refs)?.map(|view| {
        for pr in &view.problems {
            eprintln!("netdoctor: warning: {pr}");
        }
        ClusterObjects::from_kube(&view)
    });
    let mut cluster = Cluster::new(snaps, objects);
    for (i, f) in lazy {
        if let Some(node) = cluster.nodes.get_mut(i) {
            node.set_rules_loader(Box::new(move || {
                netdoctor_collect::snapshot_io::read_snapshot(&f)
                    .map_err(|e| format!("{}: {e}", f.display()))
            }));
        }
    }
    let (src, _) = resolve(&cluster, &a.from, "--from")?;
    let (dst, port) = resolve(&cluster, &a.to, "--to")?;
    let proto = match a.proto {
        TraceProto::Tcp => Proto::Tcp,
        TraceProto::Udp => Proto::Udp,
        TraceProto::Icmp => Proto::Icmp,
    };
    if proto == Proto::Icmp && port.is_some() {
        bail!("--to {}: ICMP has no port", a.to);
    }
    let size = a.size.unwrap_or(match proto {
        Proto::Tcp => 60,
        Proto::Udp => 64,
        Proto::Icmp => 84,
    });
    if !(28..=65535).contains(&size) {
        bail!("--size {size}: an IP packet is 28 to 65535 bytes here");
    }
    let req = TraceRequest {
        src,
        dst,
        dport: match proto {
            Proto::Icmp => None,
            _ => Some(port.unwrap_or(80)),
        },
        proto,
        size,
        endpoint: a.endpoint,
    };
    let t = netdoctor_sim::trace(&cluster, &req);
    let mut out = std::io::stdout().lock();
    match a.output {
        TraceOutput::Json => {
            serde_json::to_writer_pretty(&mut out, &t)?;
            writeln!(out)?;
        }
        TraceOutput::Text => out.write_all(t.render_text().as_bytes())?,
        TraceOutput::Markdown => out.write_all(t.render_markdown().as_bytes())?,
        TraceOutput::Html => out.write_all(
            netdoctor_report::trace_html(&t, &format!("{} -> {}", a.from, a.to)).as_bytes(),
        )?,
    }
    if a.fail_on_drop {
        return Ok(match t.verdict {
            netdoctor_sim::TraceVerdict::Dropped => ExitCode::from(1),
            netdoctor_sim::TraceVerdict::Unknown => ExitCode::from(3),
            _ => ExitCode::SUCCESS,
        });
    }
    Ok(ExitCode::SUCCESS)
}
