//! The reasoning, in the order an expert goes when "the pod can't reach the service" (the
//! seeds' lesson): is the app there? is the IP reachable? is there a route? do the rules let
//! it through? are the kernel switches right? Each step is passed, failed or not checked, so a
//! user sees why the conclusion follows.

use netdoctor_model::{Finding, NotChecked, ReasoningStep, Severity, StepStatus};

const STEPS: &[(&str, &str, &[&str])] = &[
    (
        "app",
        "Does the Service have ready endpoints, and kube-proxy rules for them?",
        &["service-no-endpoints", "kube-proxy-rules-missing"],
    ),
    (
        "ip",
        "Are this node's addresses, overlay device and MTU right for reaching other pods?",
        &[
            "podcidr-not-allocated",
            "pod-cidr-overlap",
            "service-cidr-overlap",
            "stale-interface-address",
            "bridge-address-mismatch",
            "leftover-cni-interface",
            "wrong-node-ip",
            "vxlan-device-down",
            "mtu-mismatch",
            "vxlan-checksum-offload",
        ],
    ),
    (
        "route",
        "Is there a route, neighbour and FDB entry for every other node's pods?",
        &[
            "pod-route-missing",
            "pod-route-conflict",
            "vxlan-fdb-missing",
        ],
    ),
    (
        "rules",
        "Do the firewall rules let pod, overlay and Service traffic through?",
        &[
            "forward-policy-drop",
            "overlay-port-blocked",
            "nodeport-blocked",
            "iptables-backend-mismatch",
            "iptables-version-buggy",
            "conntrack-tool-missing",
        ],
    ),
    (
        "kernel",
        "Are the kernel switches right, now and after a reboot?",
        &[
            "ip-forward-disabled",
            "iface-forwarding-disabled",
            "br-netfilter-missing",
            "bridge-nf-call-iptables-disabled",
            "rp-filter-strict",
            "rp-filter-loose",
            "conntrack-table-full",
            "sysctl-not-persistent",
            "sysctl-overridden",
            "module-not-persistent",
        ],
    ),
];

/// Every id the steps know, in step order (a test keeps this in line with FINDING_IDS).
#[cfg(test)]
pub fn step_ids() -> impl Iterator<Item = &'static str> {
    STEPS.iter().flat_map(|(_, _, ids)| ids.iter().copied())
}

pub fn reasoning(findings: &[Finding], not_checked: &[NotChecked]) -> Vec<ReasoningStep> {
    STEPS
        .iter()
        .map(|(step, question, ids)| {
            let hit: Vec<&Finding> = findings
                .iter()
                .filter(|f| ids.contains(&f.id.as_str()))
                .collect();
            let skipped: Vec<String> = ids
                .iter()
                .filter(|id| not_checked.iter().any(|n| n.check == **id))
                .map(|id| id.to_string())
                .collect();
            let status = if hit.iter().any(|f| f.severity == Severity::Critical) {
                StepStatus::Failed
            } else if hit.iter().any(|f| f.severity == Severity::Warning) {
                StepStatus::Warning
            } else if skipped.len() == ids.len() {
                StepStatus::NotChecked
            } else {
                StepStatus::Passed
            };
            ReasoningStep {
                step: step.to_string(),
                question: question.to_string(),
                status,
                findings: hit.iter().map(|f| f.id.clone()).collect(),
                not_checked: skipped,
            }
        })
        .collect()
}
