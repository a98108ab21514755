//! Cross-node checks: what this node's routes, FDB, neighbours, devices and kube-proxy rules
//! should look like given the other nodes' Node objects and the cluster's Services.
//!
//! Each check compares the node's real state with what the CNI programs for every remote node
//! (flannel: a route `X.0/24 via X.0 dev flannel.1 onlink`, an FDB entry `VtepMAC dst public-ip`
//! and a neighbour `X.0 lladdr VtepMAC`; Calico: a route per IPAM block via tunl0,
//! vxlan.calico or the underlay), quoting the route or entry and the annotation it contradicts.

use netdoctor_model::Cause;

mod devices;
mod routes;
mod services;
mod vxlan;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod tests;

use crate::context::{Context, Options};
use crate::outcome::Outcome;
use ipnet::IpNet;
use netdoctor_kube::{Cluster, Node};
use netdoctor_model::{CheckReport, NodeSnapshot, Route};
use std::net::IpAddr;
use std::sync::Arc;

/// Ids that need to know which Node this is.
const PER_NODE: &[&str] = &[
    Cause::PodRouteMissing.id(),
    Cause::PodRouteConflict.id(),
    Cause::VxlanFdbMissing.id(),
    Cause::PodcidrNotAllocated.id(),
    Cause::WrongNodeIp.id(),
];

/// The catalogue entry.
pub fn check(ctx: &Context, out: &mut Outcome) {
    // Devices of another CNI need only the CNI's name, not the cluster.
    devices::leftover(ctx, out);
    let Some(cluster) = ctx.cluster() else {
        for id in PER_NODE.iter().chain(&[
            Cause::VxlanDeviceDown.id(),
            Cause::KubeProxyRulesMissing.id(),
        ]) {
            out.not_checked(id, "no cluster objects: pass --kube-objects");
        }
        return;
    };
    services::check(ctx, cluster, out);
    devices::pod_cidr_overlap(ctx, cluster, out);
    devices::node_addresses(cluster, out);
    let Some(me) = ctx.kube_node() else {
        for id in PER_NODE.iter().chain(&[Cause::VxlanDeviceDown.id()]) {
            out.not_checked(
                id,
                format!(
                    "this node ({}) is not among the cluster's {} Node objects: pass --node-name",
                    ctx.node_name(),
                    cluster.nodes.len()
                ),
            );
        }
        return;
    };
    let view = View::new(ctx, cluster, me);
    devices::check(&view, out);
    routes::check(&view, out);
    vxlan::check(&view, out);
}

/// Run every check on every node's snapshot, with the cluster shared: the cross-node view of a
/// whole cluster at once. Each snapshot is matched to its Node by `opts.node_name` (only
/// sensible with one snapshot), its hostname or its addresses.
pub fn run_cluster(
    snapshots: &[NodeSnapshot],
    cluster: Arc<Cluster>,
    opts: &Options,
) -> Vec<CheckReport> {
    let opts = Options {
        cluster: Some(cluster),
        ..opts.clone()
    };
    snapshots.iter().map(|s| crate::run(s, &opts)).collect()
}

/// What the cross-node checks of one node share: who this node is, the CNI and backend, the
/// other nodes, and an index of this node's main-table routes.
pub(crate) struct View<'a> {
    pub ctx: &'a Context<'a>,
    pub cluster: &'a Cluster,
    pub me: &'a Node,
    /// `flannel`, `calico`, ... (flag, snapshot, this Node's annotations, then most nodes').
    pub cni: Option<String>,
    pub backend: Option<String>,
    /// Main-table routes by (network, prefix length), sorted, for range lookups.
    pub routes: Vec<(IpAddr, u8, &'a Route)>,
}

impl<'a> View<'a> {
    fn new(ctx: &'a Context<'a>, cluster: &'a Cluster, me: &'a Node) -> Self {
        let cni = ctx
            .hints
            .cni
            .as_ref()
            .map(|c| c.value.clone())
            .or_else(|| cluster.cni().map(str::to_string));
        let backend = ctx
            .hints
            .backend
            .as_ref()
            .map(|c| c.value.clone())
            .or_else(|| cluster.backend().map(str::to_string));
        let mut routes: Vec<(IpAddr, u8, &Route)> = ctx
            .routes()
            .iter()
            .filter(|r| r.table == netdoctor_model::TABLE_MAIN)
            .map(|r| (r.dst.network(), r.dst.prefix_len(), r))
            .collect();
        routes.sort_by_key(|(a, l, _)| (*a, *l));
        View {
            ctx,
            cluster,
            me,
            cni,
            backend,
            routes,
        }
    }

    /// Every other node.
    pub fn remotes(&self) -> impl Iterator<Item = &'a Node> + '_ {
        let me = self.me.name.as_str();
        self.cluster.nodes.iter().filter(move |n| n.name != me)
    }

    pub fn is_flannel(&self) -> bool {
        self.cni.as_deref() == Some("flannel")
    }

    pub fn is_calico(&self) -> bool {
        self.cni.as_deref() == Some("calico")
    }

    /// Main-table routes whose destination is inside `net` (or equal to it). Routes covering
    /// `net` are not wrong for it: the longest prefix wins over them.
    pub fn inside(&self, net: &IpNet) -> &[(IpAddr, u8, &'a Route)] {
        let key = (net.network(), net.prefix_len());
        // Routes inside `net` sort contiguously from its network address.
        let start = self.routes.partition_point(|(a, l, _)| (*a, *l) < key);
        let len = self.routes[start..]
            .iter()
            .take_while(|(a, _, _)| net.contains(a))
            .count();
        &self.routes[start..start + len]
    }
}

/// A route as `ip route` prints it, with where it was read.
pub(crate) fn route_text(r: &Route) -> String {
    format!("{} [{}]", r.ip_route_words(), r.source)
}

/// The underlay address a remote node is reached at.
pub(crate) fn underlay(n: &Node) -> Option<IpAddr> {
    n.underlay_ip()
}
