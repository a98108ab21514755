//! Finding the node agents through the API, for `netdoctor fleet`: the agent pods (the
//! DaemonSet's, by label) and the nodes that should each have one. Two `list` requests, nothing
//! else (RBAC: `list pods` in the agents' namespace, `list nodes`).

use crate::{err, Access, ApiError};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ListParams};
use kube::Client;
use std::collections::BTreeMap;

/// Which pods are the agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentQuery {
    /// The agents' namespace (`netdoctor` in deploy/netdoctor.yaml).
    pub namespace: String,
    /// The agents' pods' label selector (`app.kubernetes.io/name=netdoctor`).
    pub selector: String,
    /// The nodes that should each run an agent (the DaemonSet's node selector), as a label
    /// selector; empty for every node.
    pub node_selector: String,
    /// The agents' port; `None`: the pod's container port named `metrics`, else 9469.
    pub port: Option<u16>,
}

/// One node's agent as the API describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundAgent {
    pub node: String,
    /// `namespace/name` of the pod.
    pub pod: String,
    /// `http://ADDR:PORT` when the pod runs and has an address.
    pub url: Option<String>,
    /// Why it cannot be read, when it cannot (pending, crash-looping, not ready).
    pub problem: Option<String>,
}

/// What the API says about the agents.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Discovery {
    /// One per node that has an agent pod, by node name.
    pub agents: Vec<FoundAgent>,
    /// The nodes (of the node selector) without an agent pod; `None` when the nodes could not
    /// be listed (then this is not known).
    pub without_agent: Option<Vec<String>>,
    /// Why the nodes could not be listed.
    pub nodes_error: Option<String>,
}

/// The kubelet's own words for a pod that does not run: the first container's waiting reason
/// (CrashLoopBackOff, ImagePullBackOff, ...), else the pod's phase.
fn not_running(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Unknown");
    let waiting = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone());
    if pod.metadata.deletion_timestamp.is_some() {
        return Some("is terminating".into());
    }
    match (phase, waiting) {
        ("Running", None) => None,
        (_, Some(w)) => Some(format!("is {phase} ({w})")),
        (p, None) => Some(format!("is {p}")),
    }
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The pod's agent port: the container port named `metrics`, else 9469 (the agent's default).
fn port_of(pod: &Pod) -> u16 {
    pod.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some("metrics"))
        .and_then(|p| u16::try_from(p.container_port).ok())
        .unwrap_or(9469)
}

fn url(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("http://[{ip}]:{port}")
    } else {
        format!("http://{ip}:{port}")
    }
}

/// How good a pod is as its node's agent: running and ready first, then running, then the
/// newest.
fn rank(pod: &Pod) -> (bool, bool, Option<Time>) {
    (
        not_running(pod).is_none(),
        ready(pod),
        pod.metadata.creation_timestamp.clone(),
    )
}

/// One agent per node from the pods and the nodes the API listed.
pub fn assemble(pods: &[Pod], nodes: Option<&[String]>, query: &AgentQuery) -> Discovery {
    let mut best: BTreeMap<String, &Pod> = BTreeMap::new();
    for pod in pods {
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            continue; // not scheduled yet: it belongs to no node
        };
        match best.get(&node) {
            Some(b) if rank(b) >= rank(pod) => {}
            _ => {
                best.insert(node, pod);
            }
        }
    }
    let agents: Vec<FoundAgent> = best
        .iter()
        .map(|(node, pod)| {
            let name = format!(
                "{}/{}",
                pod.metadata
                    .namespace
                    .as_deref()
                    .unwrap_or(&query.namespace),
                pod.metadata.name.as_deref().unwrap_or("?")
            );
            let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone());
            let problem = match (not_running(pod), &ip) {
                (Some(why), _) => Some(format!("its agent pod {name} {why}")),
                (None, None) => Some(format!("its agent pod {name} has no address yet")),
                (None, Some(_)) => None,
            };
            FoundAgent {
                node: node.clone(),
                url: ip.map(|ip| url(&ip, query.port.unwrap_or_else(|| port_of(pod)))),
                pod: name,
                problem,
            }
        })
        .collect();
    let without_agent = nodes.map(|ns| {
        ns.iter()
            .filter(|n| !best.contains_key(*n))
            .cloned()
            .collect()
    });
    Discovery {
        agents,
        without_agent,
        nodes_error: None,
    }
}

async fn list(client: Client, query: &AgentQuery) -> Result<Discovery, ApiError> {
    let pods = Api::<Pod>::namespaced(client.clone(), &query.namespace)
        .list(&ListParams::default().labels(&query.selector))
        .await
        .map_err(|e| {
            err(
                format!("list pods -n {} -l {}", query.namespace, query.selector),
                e,
            )
        })?;
    let mut lp = ListParams::default();
    if !query.node_selector.is_empty() {
        lp = lp.labels(&query.node_selector);
    }
    let nodes = Api::<Node>::all(client).list_metadata(&lp).await;
    let (names, nodes_error) = match nodes {
        Ok(list) => (
            Some(
                list.items
                    .into_iter()
                    .filter_map(|n| n.metadata.name)
                    .collect::<Vec<_>>(),
            ),
            None,
        ),
        Err(e) => (None, Some(format!("list nodes: {e}"))),
    };
    let mut d = assemble(&pods.items, names.as_deref(), query);
    d.nodes_error = nodes_error;
    Ok(d)
}

/// Ask the API for the agents. Blocking, like [`crate::load`].
pub fn discover(access: &Access, query: &AgentQuery) -> Result<Discovery, ApiError> {
    let (rt, client) = crate::connect(access)?;
    rt.block_on(list(client, query))
}
