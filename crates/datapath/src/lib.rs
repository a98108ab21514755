//! netdoctor-datapath: one model of a node's datapath, below both the checks and the trace.
//!
//! ```text
//!   model (snapshot types)   netfilter (rule readers, evaluator)
//!            \                  /
//!             netdoctor-datapath
//!   routing: the tables, the derived local table, the policy rules, `fib_lookup`, rp_filter
//!   rules:   every backend's IPv4 rule sets of a node, gathered once, with their caveats
//!   hook:    a packet through all the sets a hook runs, as the kernel runs them
//!   overlay: tunnel overheads and the UDP/IP protocols the overlays use
//!   devices: bridges (also unnamed by the source), VXLAN ports, br_netfilter
//!   kube_proxy: kube-proxy's own rule texts ("has no endpoints")
//!            /                  \
//!     checks (findings)        sim (the multi-node trace)
//! ```
//!
//! A check asks this crate what the kernel would do ("which route does a packet to this pod
//! take?", "what does FORWARD do to a pod's packet?") instead of deriving it again, so the
//! checks and `trace` answer alike. It reads [`netdoctor_model::NodeSnapshot`]s only: no I/O,
//! no findings.

pub mod devices;
pub mod hook;
pub mod kube_proxy;
pub mod overlay;
pub mod routing;
pub mod rules;

pub use hook::{run_hook, HookOutcome};
pub use overlay::{tunnel_overhead, IPIP_OVERHEAD, VXLAN_OVERHEAD};
pub use routing::{Flow, Lookup, Routing};
pub use rules::{NodeRules, RuleSet};
