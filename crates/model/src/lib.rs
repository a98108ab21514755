//! The data model every other netdoctor crate speaks: what a node's network state looks like
//! ([`NodeSnapshot`]), where each value came from ([`Source`]), and what a diagnosis says
//! ([`Finding`], [`CheckReport`]).
//!
//! This crate knows nothing about how the state was obtained (live netlink, a saved snapshot, a
//! pasted evidence bundle) and does no I/O. Every part of a snapshot is optional, because pasted
//! evidence is partial: `None` means "not collected", an empty list means "collected, and empty".

mod catalogue;
mod evidence;
mod finding;
mod net;
mod probe;
mod provenance;
mod snapshot;

pub use catalogue::{camel_case, Cause, CauseInfo, Input, Step, CAUSES};
pub use evidence::{
    BgpPeer, ConntrackStats, IpSet, IpvsReal, IpvsService, LinkStats, Offload, ProbeResult,
};
pub use finding::{
    Action, CheckReport, Finding, Fix, InputRead, NotChecked, ReasoningStep, Severity, StepStatus,
    Symptom, CHECK_SCHEMA,
};
pub use net::{
    Address, BridgePort, FdbEntry, Link, Neighbour, Route, RouteKind, RoutingRule, VxlanInfo,
    TABLE_LOCAL, TABLE_MAIN,
};
pub use probe::{MtuMeasure, ProbeKind, ProbeOutcome, ProbeReport, ProbeRun, PROBE_SCHEMA};
pub use provenance::{Source, Sourced};
pub use snapshot::{
    Backend, ClusterHints, ConfigFile, Conntrack, Family, InputSummary, IptablesDump, LogFile,
    Modules, NodeSnapshot, NotCollected, ParseProblem, SNAPSHOT_SCHEMA,
};
