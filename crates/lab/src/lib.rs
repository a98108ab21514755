//! netdoctor-lab: real multi-node Kubernetes data planes in network namespaces, broken on
//! purpose. It is the project's ground truth: tests and `netdoctor demo` build a cluster, inject
//! a seed fault, and watch real packets fail.
//!
//! A [`Lab`] is an underlay bridge in its own namespace, N node namespaces (eth0 on the
//! underlay, `cni0` with pods wired by the real CNI `bridge` + `host-local` plugins, flannel's
//! `flannel.1` VXLAN with its routes, neighbours and FDB entries, kube-proxy's iptables rules),
//! a TCP echo server in every pod, kubectl-style JSON and a fake root per node. [`Fault`]s are
//! data with a declared set of broken [`FlowKind`]s; [`Lab::run_flow`] checks with real sockets.
//!
//! Everything is named with a per-run prefix and removed when the `Lab` is dropped (also on
//! panic); [`cleanup_prefix`] removes what a killed process left. Traffic never leaves the lab's
//! namespaces. Needs root, `ip`, `bridge`, `iptables-nft`, `iptables-legacy`, `ping`
//! (iputils-ping) and, for the CNI path, `/usr/lib/cni/{bridge,host-local}`.
//!
//! This crate must not know how netdoctor diagnoses: it only builds, breaks and measures. The
//! expected finding id of each fault is data for other crates' tests.

mod cni;
pub mod demo;
mod echo;
mod exec;
mod faults;
mod flows;
mod inject;
mod kube_json;
mod kubeproxy;
mod plan;
mod teardown;
mod topology;

pub use cni::{CniMode, CNI_PATH};
pub use echo::FLOW_TIMEOUT;
pub use exec::effective_uid;
pub use faults::{Fault, FaultSpec, CENTOS7_00_SYSTEM_CONF, FAULTS};
pub use flows::{Flow, FlowKind, FlowResult, Probe, NEAR_MTU_PACKET};
pub use plan::*;
pub use teardown::cleanup_prefix;
pub use topology::Lab;

/// Why the lab could not be built or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// The demo could not go on.
    #[error("{0}")]
    Demo(String),
    /// A step of the demo failed.
    #[error("{step}: {source}")]
    During {
        step: &'static str,
        #[source]
        source: Box<LabError>,
    },
    /// The process is not root; namespaces, veths and iptables need it.
    #[error("the lab needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN to create network namespaces): run as root, e.g. with sudo")]
    NotRoot,
    /// Tools the lab runs are not installed.
    #[error("the lab needs these programs on PATH: {0} (Debian: iproute2 iptables iputils-ping)")]
    MissingTools(String),
    /// The requested cluster cannot be built, or the kernel lacks a feature.
    #[error("{0}")]
    Spec(String),
    /// A command could not be started.
    #[error("could not run `{cmd}`: {source}")]
    Spawn {
        cmd: String,
        #[source]
        source: std::io::Error,
    },
    /// A command failed.
    #[error("`{cmd}` failed (exit {status:?}): {stderr}")]
    Command {
        cmd: String,
        status: Option<i32>,
        stderr: String,
    },
    /// A file or socket operation failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Entering a network namespace failed.
    #[error("cannot enter network namespace {ns}: {errno}")]
    Netns { ns: String, errno: String },
    /// Tearing the lab down failed in these steps (all were attempted).
    #[error("teardown incomplete: {}", .0.join("; "))]
    Teardown(Vec<String>),
    /// The kernel or a plugin did something the lab did not expect.
    #[error("{0}")]
    Unexpected(String),
}

impl LabError {
    /// `source`, as the failure of `step`.
    pub fn during(step: &'static str, source: LabError) -> LabError {
        LabError::During {
            step,
            source: Box::new(source),
        }
    }
}
