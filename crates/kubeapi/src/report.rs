//! What the agent writes into the cluster, and nothing else: the Node condition
//! `NetworkProblem` of its own node (status patch, merged by type as kubelet and
//! node-problem-detector do) and an Event on that Node when a finding appears or clears.
//! RBAC: `patch` on `nodes/status`, `create` on `events`.

use crate::{err, Access, ApiError};
use k8s_openapi::api::core::v1::{Event, Node, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;

/// The condition type the agent owns.
pub const CONDITION: &str = "NetworkProblem";

/// What the condition says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub problem: bool,
    /// CamelCase: the leading finding's id (`IpForwardDisabled`), or `NoNetworkProblem`.
    pub reason: String,
    pub message: String,
}

/// A finding that appeared (`Warning` event) or cleared (`Normal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: String,
    pub appeared: bool,
    pub message: String,
}

pub use netdoctor_model::camel_case as camel;

/// Writes one node's condition and events. Blocking: it runs its own runtime.
pub struct NodeReporter {
    rt: tokio::runtime::Runtime,
    client: Client,
    node: String,
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

impl NodeReporter {
    pub fn connect(access: &Access, node: &str) -> Result<NodeReporter, ApiError> {
        let (rt, client) = crate::connect(access)?;
        Ok(NodeReporter {
            rt,
            client,
            node: node.to_string(),
        })
    }

    /// Set `NetworkProblem` on the node (a strategic merge of one condition: the others stay).
    pub fn set_condition(&self, c: &Condition) -> Result<(), ApiError> {
        let t = now();
        let patch = json!({"status": {"conditions": [{
            "type": CONDITION,
            "status": if c.problem { "True" } else { "False" },
            "reason": c.reason,
            "message": c.message,
            "lastHeartbeatTime": t,
            "lastTransitionTime": t,
        }]}});
        let nodes: Api<Node> = Api::all(self.client.clone());
        self.rt
            .block_on(nodes.patch_status(
                &self.node,
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            ))
            .map(|_| ())
            .map_err(|e| err(format!("patch node {} status", self.node), e))
    }

    /// Record `change` as an Event on the node (namespace `default`, as kubelet's node events).
    pub fn event(&self, change: &Change) -> Result<(), ApiError> {
        let t = now();
        let reason = if change.appeared {
            camel(&change.id)
        } else {
            format!("{}Cleared", camel(&change.id))
        };
        let ev = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}.netdoctor-", self.node)),
                namespace: Some("default".into()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                kind: Some("Node".into()),
                api_version: Some("v1".into()),
                name: Some(self.node.clone()),
                uid: Some(self.node.clone()),
                ..ObjectReference::default()
            },
            reason: Some(reason),
            message: Some(change.message.clone()),
            type_: Some(if change.appeared { "Warning" } else { "Normal" }.into()),
            first_timestamp: Some(t.clone()),
            last_timestamp: Some(t),
            count: Some(1),
            source: Some(k8s_openapi::api::core::v1::EventSource {
                component: Some("netdoctor".into()),
                host: Some(self.node.clone()),
            }),
            reporting_component: Some("netdoctor".into()),
            reporting_instance: Some(self.node.clone()),
            ..Event::default()
        };
        let events: Api<Event> = Api::namespaced(self.client.clone(), "default");
        self.rt
            .block_on(events.create(&PostParams::default(), &ev))
            .map(|_| ())
            .map_err(|e| err(format!("create an event on node {}", self.node), e))
    }
}

/// What to write after a check, given the previous findings and the new ones (`(id, severity,
/// title)`, the report's order: the leading finding first). `None` for the condition when it
/// did not change.
pub fn transitions(
    before: Option<&[(String, String, String)]>,
    after: &[(String, String, String)],
) -> (Option<Condition>, Vec<Change>) {
    let condition_of = |f: &[(String, String, String)]| match f.iter().find(|x| x.1 == "critical") {
        Some((id, _, title)) => Condition {
            problem: true,
            reason: camel(id),
            message: title.clone(),
        },
        None => Condition {
            problem: false,
            reason: "NoNetworkProblem".into(),
            message: "netdoctor finds no critical network problem on this node".into(),
        },
    };
    let new = condition_of(after);
    let old = before.map(condition_of);
    let condition = (old.as_ref() != Some(&new)).then_some(new);
    let mut changes = Vec::new();
    let had = |id: &str| before.is_some_and(|b| b.iter().any(|x| x.0 == id));
    for (id, severity, title) in after {
        if !had(id) {
            changes.push(Change {
                id: id.clone(),
                appeared: true,
                message: format!("netdoctor found {id} ({severity}): {title}"),
            });
        }
    }
    if let Some(b) = before {
        for (id, _, title) in b {
            if !after.iter().any(|x| &x.0 == id) {
                changes.push(Change {
                    id: id.clone(),
                    appeared: false,
                    message: format!("{id} cleared: {title}"),
                });
            }
        }
    }
    (condition, changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(id: &str, sev: &str) -> (String, String, String) {
        (id.into(), sev.into(), format!("{id} title"))
    }

    #[test]
    fn camel_case_reasons() {
        assert_eq!(camel("ip-forward-disabled"), "IpForwardDisabled");
        assert_eq!(camel("mtu-mismatch"), "MtuMismatch");
    }

    #[test]
    fn the_condition_follows_the_leading_critical_finding_and_events_the_changes() {
        // First check: a warning and a critical; the critical one leads the condition.
        let first = [
            f("conntrack-tool-missing", "warning"),
            f("ip-forward-disabled", "critical"),
        ];
        let (c, ev) = transitions(None, &first);
        let c = c.expect("set at start");
        assert!(c.problem);
        assert_eq!(c.reason, "IpForwardDisabled");
        assert_eq!(ev.len(), 2);
        assert!(ev.iter().all(|e| e.appeared));
        // Nothing changed: nothing written.
        let (c, ev) = transitions(Some(&first), &first);
        assert!(c.is_none() && ev.is_empty());
        // Repaired: the condition goes False, one event says it cleared.
        let second = [f("conntrack-tool-missing", "warning")];
        let (c, ev) = transitions(Some(&first), &second);
        assert_eq!(
            c.map(|c| (c.problem, c.reason)),
            Some((false, "NoNetworkProblem".into()))
        );
        assert_eq!(ev.len(), 1);
        assert!(!ev[0].appeared && ev[0].id == "ip-forward-disabled");
    }
}
