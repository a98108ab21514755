//! The catalogue of root causes.
//!
//! Every check is a pure function over a [`Context`] (a node snapshot plus what is known about
//! the cluster) that adds [`Finding`]s or says why it could not run ([`NotChecked`]). Checks do
//! no I/O and never ask where the data came from, so they run the same on a live node, a saved
//! snapshot and a pasted evidence bundle. Finding ids are the contract's
//! (`docs/cli-contract.md`): one id per root cause, whatever evidence revealed it, so a
//! sysctl value and a log line that show the same cause merge into one finding.
//!
//! This crate knows Kubernetes networking (which interfaces pods use, what flannel and Calico
//! need); it does not know how state is collected or rendered.

mod active;
mod bridge;
mod cidr;
mod cluster;
mod conntrack;
mod context;
mod contradictions;
mod firewall;
mod firewall_log;
mod fleet;
mod forwarding;
mod hairpin;
mod iptables_text;
mod logs;
mod mtu;
mod observed;
mod outcome;
mod persistence;
mod rank;
mod routes_local;
mod rpfilter;
pub mod signatures;
mod steps;
mod unread;
mod versions;

pub use active::fold as fold_probes;
pub use cluster::run_cluster;
pub use context::{Context, Options};
pub use fleet::cross_node;
pub use outcome::Outcome;

use netdoctor_model::{CheckReport, InputRead, NodeSnapshot, CHECK_SCHEMA};

type Check = fn(&Context, &mut Outcome);

/// Every check, in the order an expert would look: kernel switches, then addresses and routes,
/// then rules, then logs (which mostly add evidence to what the state already shows).
const CATALOGUE: &[Check] = &[
    forwarding::check,
    bridge::check,
    rpfilter::check,
    conntrack::check,
    persistence::check,
    cidr::check,
    cluster::check,
    routes_local::check,
    mtu::check,
    iptables_text::check,
    firewall::check,
    firewall_log::check,
    hairpin::check,
    logs::check,
    observed::check,
    versions::check,
    contradictions::check,
];

/// Run every check on `snapshot`, with `options` taking precedence over what the snapshot says
/// about the cluster.
pub fn run(snapshot: &NodeSnapshot, options: &Options) -> CheckReport {
    let ctx = Context::new(snapshot, options);
    let mut out = Outcome::default();
    for check in CATALOGUE {
        check(&ctx, &mut out);
    }
    out.note_omitted();
    // A finding beats "could not check" for the same id (the cluster view can find what a
    // single-node check lacked data for).
    let found: Vec<String> = out.findings.iter().map(|f| f.id.clone()).collect();
    out.not_checked.retain(|n| !found.contains(&n.check));
    unread::explain(&mut out.not_checked, snapshot, &ctx.available_inputs());
    let steps = steps::reasoning(&out.findings, &out.not_checked, &ctx.available_inputs());
    let mut report = CheckReport {
        steps,
        schema: CHECK_SCHEMA.to_string(),
        node: ctx.node_name(),
        findings: out.findings,
        not_checked: out.not_checked,
        inputs: {
            let mut v = inputs(snapshot);
            v.extend(unread::inputs(snapshot));
            v
        },
        input_problems: snapshot
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.source, p.message))
            .collect(),
        symptoms: out.symptoms,
        probes: Vec::new(),
        available_inputs: ctx.available_inputs(),
    };
    rank::by_cause(&mut report);
    report
}

fn inputs(snapshot: &NodeSnapshot) -> Vec<InputRead> {
    snapshot
        .inputs
        .iter()
        .map(|i| InputRead {
            source: i.source.clone(),
            read_as: i.read_as.clone(),
        })
        .collect()
}

/// Ids of every finding this crate can raise (for `--only`, docs and tests): the catalogue's.
pub fn finding_ids() -> impl Iterator<Item = &'static str> {
    netdoctor_model::CAUSES.iter().map(|c| c.id)
}

#[cfg(test)]
mod tests;
