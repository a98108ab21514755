//! Live collection: the network namespace this process runs in (rtnetlink, `/proc`, `/sys`),
//! the rule sets of every iptables backend, the kernel log, and the node's configuration
//! files under a root directory.
//!
//! Collection never fails as a whole: whatever cannot be read becomes a
//! [`NotCollected`] entry saying why, and the rest is still collected.
//!
//! Cost: each save command runs once, on its own thread, while netlink, `/proc` and the files
//! are read; nothing is done per rule. On a node with a large ruleset the collection costs
//! about as much as `iptables-save` alone (`benches/collect_vs_iptables_save.sh`).

mod clock;
mod commands;
mod links;
mod neigh;
mod netlink;
mod nftables;
mod procfs;
mod routes;

pub use clock::rfc3339_utc;
pub use commands::header_backend;
pub use commands::{command_timeout_from_env, TimeoutError};
pub use nftables::{incompatible_tables, merge_listings, MergeError, NftTable};
pub use procfs::{builtin_names, sysctl_key, sysctl_value};

use crate::rootfs;
use netdoctor_model::{Backend, Family, InputSummary, NodeSnapshot, NotCollected};
use std::path::PathBuf;
use std::thread;

/// What to collect from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    /// Where the node's configuration files are read (`/` on the node itself; a mounted
    /// image or a chroot otherwise). Kernel state always comes from the running kernel.
    pub root: PathBuf,
    /// How many of the most recent kernel log lines to keep.
    pub log_lines: usize,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            root: PathBuf::from("/"),
            log_lines: 5000,
        }
    }
}

/// Everything this node's kernel and tools report, for the network namespace of the calling
/// process.
pub fn collect_live(opts: &LiveOptions) -> NodeSnapshot {
    let started = std::time::Instant::now();
    tracing::info!(root = %opts.root.display(), "reading this node's state");
    let mut snap = NodeSnapshot {
        collected_at: Some(clock::now_rfc3339()),
        ..NodeSnapshot::default()
    };
    thread::scope(|s| {
        // The save commands dominate the cost on a large ruleset; they run while the rest
        // is read.
        let v4 = s.spawn(commands::save_ipv4);
        let v6 = s.spawn(commands::save_ipv6);
        let nft = s.spawn(|| nftables::nft_json(&[]));
        let tools = s.spawn(|| {
            (
                commands::iptables_version(),
                commands::kernel_log(opts.log_lines),
                commands::conntrack_tool(),
            )
        });

        read_kernel_state(opts, &mut snap);

        for (part, handle) in [("iptables", v4), ("ip6tables", v6)] {
            match handle.join() {
                Ok(saved) => {
                    for d in &saved.dumps {
                        snap.inputs.push(InputSummary {
                            source: d.source.file.clone(),
                            read_as: format!("iptables-save ({:?}, {:?})", d.backend, d.family)
                                .to_lowercase(),
                        });
                    }
                    snap.iptables.extend(saved.dumps);
                    snap.not_collected.extend(saved.not_collected);
                }
                Err(_) => snap.not_collected.push(panicked(part)),
            }
        }
        // Native nft rules in a table named like iptables' own show up only as a warning in
        // the save output; list those tables too (rare, so done again, after the saves).
        let extra: Vec<nftables::NftTable> = snap
            .iptables
            .iter()
            .filter(|d| d.backend == Backend::Nft)
            .flat_map(|d| nftables::incompatible_tables(&d.text, d.family == Family::Ipv6))
            .collect();
        let listed = match nft.join() {
            Ok(r) if extra.is_empty() => r,
            Ok(_) => nftables::nft_json(&extra),
            Err(_) => Err(panicked("nft")),
        };
        match listed {
            Ok(json) => snap.nft_json = json,
            Err(nc) => snap.not_collected.push(nc),
        }
        match tools.join() {
            Ok((version, log, conntrack)) => {
                match version {
                    Ok(v) => snap.iptables_version = Some(v),
                    Err(nc) => snap.not_collected.push(nc),
                }
                match log {
                    Ok(l) => snap.logs.push(l),
                    Err(nc) => snap.not_collected.push(nc),
                }
                snap.conntrack_tool = Some(conntrack);
            }
            Err(_) => snap.not_collected.push(panicked("tools")),
        }
    });
    tracing::info!(
        took_ms = started.elapsed().as_millis() as u64,
        not_collected = snap.not_collected.len(),
        "read this node's state"
    );
    for n in &snap.not_collected {
        tracing::debug!(part = %n.part, reason = %n.reason, "not collected");
    }
    snap
}

fn panicked(part: &str) -> NotCollected {
    NotCollected {
        part: part.into(),
        reason: "the collector thread panicked (a bug in netdoctor)".into(),
    }
}

fn not_collected(part: &str, reason: impl ToString) -> NotCollected {
    NotCollected {
        part: part.into(),
        reason: reason.to_string(),
    }
}

/// Netlink, `/proc`, `/sys` and the configuration files: all cheap, read in this thread.
fn read_kernel_state(opts: &LiveOptions, snap: &mut NodeSnapshot) {
    match procfs::read_proc_line("/proc/sys/kernel/hostname") {
        Ok(h) => snap.hostname = Some(h),
        Err(r) => snap.not_collected.push(not_collected("hostname", r)),
    }
    match procfs::read_proc_line("/proc/sys/kernel/osrelease") {
        Ok(r) => snap.kernel_release = Some(r),
        Err(r) => snap.not_collected.push(not_collected("kernel_release", r)),
    }

    read_netlink(snap);

    snap.sysctls = procfs::read_net_sysctls(&mut snap.not_collected);
    if snap.sysctls.is_some() {
        snap.inputs.push(InputSummary {
            source: "/proc/sys/net".into(),
            read_as: "sysctls".into(),
        });
    }
    snap.bridge_nf_present = Some(procfs::bridge_nf_present());
    snap.modules = Some(procfs::read_modules(
        &opts.root,
        snap.kernel_release.as_deref(),
        &mut snap.not_collected,
    ));
    snap.conntrack = procfs::read_conntrack(&mut snap.not_collected);

    let (files, problems) = rootfs::read_node_files(&opts.root);
    snap.files = files;
    snap.not_collected.extend(problems);
    snap.files_collected = true;
}

fn read_netlink(snap: &mut NodeSnapshot) {
    const PARTS: [&str; 6] = ["links", "addresses", "routes", "rules", "neighbours", "fdb"];
    let mut socket = match netlink::RtSocket::open() {
        Ok(s) => s,
        Err(e) => {
            for part in PARTS {
                snap.not_collected.push(not_collected(part, &e));
            }
            return;
        }
    };
    let problems = &mut snap.problems;
    let names = match links::dump_links(&mut socket, problems) {
        Ok((l, names)) => {
            snap.links = Some(l);
            names
        }
        Err(e) => {
            snap.not_collected.push(not_collected("links", e));
            links::IfNames::default()
        }
    };
    match links::dump_addresses(&mut socket, &names, problems) {
        Ok(a) => snap.addresses = Some(a),
        Err(e) => snap.not_collected.push(not_collected("addresses", e)),
    }
    match routes::dump_routes(&mut socket, &names, problems) {
        Ok(r) => {
            snap.routes = Some(r);
            snap.routes_all_tables = true;
        }
        Err(e) => snap.not_collected.push(not_collected("routes", e)),
    }
    match routes::dump_rules(&mut socket, problems) {
        Ok(r) => snap.rules = Some(r),
        Err(e) => snap.not_collected.push(not_collected("rules", e)),
    }
    match neigh::dump_neighbours(&mut socket, &names, problems) {
        Ok(n) => snap.neighbours = Some(n),
        Err(e) => snap.not_collected.push(not_collected("neighbours", e)),
    }
    match neigh::dump_fdb(&mut socket, &names, problems) {
        Ok(f) => snap.fdb = Some(f),
        Err(e) => snap.not_collected.push(not_collected("fdb", e)),
    }
    snap.inputs.push(InputSummary {
        source: "netlink".into(),
        read_as: "links, addresses, routes (all tables), rules (IPv4), neighbours, bridge fdb"
            .into(),
    });
}
