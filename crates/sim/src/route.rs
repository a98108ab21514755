//! Route lookups for the walk, through the node's [`netdoctor_datapath::Routing`].

use crate::node::NodeModel;
pub use netdoctor_datapath::routing::{describe, table_name, Flow, Lookup};
use std::net::IpAddr;

/// Look `flow` up through the node's rules and tables.
pub fn lookup<'a>(node: &'a NodeModel, flow: &Flow) -> Lookup<'a> {
    node.routing.lookup(flow)
}

/// The source address `node` gives a packet it sends to `dst`.
pub fn source_for(node: &NodeModel, dst: IpAddr) -> Option<IpAddr> {
    node.routing.source_for(&node.ctx, dst)
}

/// Reverse-path filtering (`fib_validate_source`): `Err` says why the source is refused.
pub fn rp_filter(
    node: &NodeModel,
    src: IpAddr,
    dst: IpAddr,
    iif: &str,
    mark: u32,
    mode: i64,
) -> Result<String, String> {
    node.routing.rp_filter(src, dst, iif, mark, mode)
}
