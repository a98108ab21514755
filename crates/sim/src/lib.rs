//! netdoctor-sim: the multi-node trace. It walks a packet through each node's datapath (policy
//! routing, rp_filter and the netfilter hooks come from [`netdoctor_datapath`], the model the
//! checks ask too; bridges and veths, br_netfilter, forwarding, VXLAN and IP in IP, MTU and the
//! conntrack reply direction are followed here) and chains nodes through their underlay
//! addresses.
//!
//! It reads [`netdoctor_model::NodeSnapshot`]s and, optionally, a few cluster objects; it does
//! no I/O beyond reading kubectl JSON in [`objects`]. It must not know how snapshots are
//! collected, nor diagnose nodes on its own: a drop names the contract finding id that explains
//! it, and `unknown` names the rule or the missing data that stopped the model.
//!
//! # What a verdict means
//!
//! - The request is followed from SRC; where it is delivered (a pod, or a node's own stack),
//!   the reply is built (TCP: the SYN-ACK; ICMP: the echo reply; UDP: none) and followed back,
//!   through the conntrack entries the request left on each node (un-SNAT before routing,
//!   un-DNAT on the way out). Hops carry their direction.
//! - Every choice the rules can make (kube-proxy's `statistic` branches, the order of two
//!   iptables backends) forks a path; each path reports its endpoint and probability.
//!   `--endpoint` keeps one. The overall verdict is `dropped` when **any** path is dropped
//!   (a service where one connection in three fails is broken, and flaky is how users see it),
//!   else `unknown` when any path is undecided, else `delivered`; the top-level hops and drop
//!   are those of the first dropped (else unknown) path.
//! - A drop names the contract finding id that explains it, when one does. `unknown` names the
//!   rule the netfilter engine could not decide, or the data the snapshot lacks (routes,
//!   sysctls, rules, neighbours, FDB), or where the packet left the nodes given.
//! - A pod is the far end of a veth on a bridge: an address no interface of the node holds but
//!   inside a bridge's subnet. With cluster objects, an address no pod holds gets no ARP answer
//!   (dropped); without them, the pod is assumed and the hop says so.
//! - Between nodes, a packet whose next hop is another node's underlay address goes to that
//!   node. One sent to a gateway no snapshot holds reaches the node owning its destination
//!   when there is one (the routers between nodes are assumed to route node addresses, and the
//!   hop says so); a pod address sent that way is dropped with the finding for the route that
//!   sent it there; anything else leaves the nodes given and is `unknown`.
//! - Calico's routed pods (a `/32` route to a veth with no bridge and no address) and IP in IP
//!   through `tunl0` are modelled too; so are flannel host-gw routes via a node address.
//! - IPv4 only for now: an IPv6 trace is `unknown`.
//!
//! ```no_run
//! # use netdoctor_sim::*;
//! # let snapshots = Vec::new();
//! let cluster = Cluster::new(snapshots, None);
//! let req = TraceRequest {
//!     src: "10.244.0.2".parse().unwrap(),
//!     dst: "10.244.1.2".parse().unwrap(),
//!     dport: Some(8080),
//!     proto: Proto::Tcp,
//!     size: 60,
//!     endpoint: None,
//! };
//! println!("{}", trace(&cluster, &req).render_text());
//! ```

pub mod cluster;
pub mod node;
pub mod objects;
pub mod report;
pub mod route;
mod walk;

pub use cluster::{Cluster, Place, PlaceError, ResolveError};
pub use netdoctor_datapath::{IPIP_OVERHEAD, VXLAN_OVERHEAD};
pub use node::RulesLoader;
pub use objects::ClusterObjects;
pub use report::{Direction, Drop, Hop, Trace, TracePath, TraceVerdict, TRACE_SCHEMA};
pub use walk::{trace, Proto, TraceRequest, CLIENT_PORT};
