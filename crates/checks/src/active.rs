//! Folding active probes (`check --probe`, `netdoctor probe`) into a diagnosis: each failed
//! probe is tied to the finding that explains it, and a failure that nothing on this node
//! explains becomes a finding of its own. The decisive case is the overlay: when the other node
//! answers on the underlay but not through the overlay, and this node's firewall, routes and FDB
//! are right, the packets die outside the node (a cloud security group, a network ACL, or the
//! peer's firewall), which no reading of this node's state can show.

use crate::outcome::finding;
use crate::{rank, steps};
use netdoctor_model::{Cause, CheckReport, Input, ProbeKind, ProbeOutcome, ProbeRun};

/// What can make a probe of each kind fail, most specific first. A finding of the report among
/// these is what a failure confirms.
fn candidates(kind: ProbeKind) -> &'static [Cause] {
    match kind {
        ProbeKind::Overlay => &[
            Cause::OverlayPortBlocked,
            Cause::StaleInterfaceAddress,
            Cause::PodCidrOverlap,
            Cause::PodRouteMissing,
            Cause::PodRouteConflict,
            Cause::VxlanFdbMissing,
            Cause::VxlanDeviceDown,
            Cause::WrongNodeIp,
            Cause::OverlayConfigMismatch,
            Cause::DuplicateMacAddress,
            Cause::RpFilterStrict,
            Cause::RpFilterOnCniDevice,
        ],
        ProbeKind::Pod => &[
            Cause::OverlayPortBlocked,
            Cause::StaleInterfaceAddress,
            Cause::PodCidrOverlap,
            Cause::PodRouteMissing,
            Cause::PodRouteConflict,
            Cause::VxlanFdbMissing,
            Cause::RpFilterStrict,
            Cause::ForwardPolicyDrop,
        ],
        ProbeKind::Mtu => &[Cause::MtuMismatch],
        ProbeKind::Service | ProbeKind::Dns => &[
            Cause::ServiceNoEndpoints,
            Cause::IptablesBackendMismatch,
            Cause::KubeProxyRulesMissing,
            Cause::ServiceCidrBlackholeRoute,
            Cause::OverlayPortBlocked,
            Cause::ForwardPolicyDrop,
            Cause::BridgeNfCallIptablesDisabled,
            Cause::BrNetfilterMissing,
            Cause::PodRouteMissing,
            Cause::VxlanFdbMissing,
        ],
    }
}

fn evidence_line(r: &ProbeRun) -> String {
    format!(
        "probe {} {}: {} (sent: {}) [netdoctor probe]",
        r.kind.as_str(),
        r.to,
        r.detail,
        r.sent
    )
}

/// Tie every failed probe to the finding that explains it, raise what nothing explains, and
/// keep the probes in the report.
pub fn fold(report: &mut CheckReport, runs: Vec<ProbeRun>) {
    let mut runs = runs;
    let mut outside: Vec<String> = Vec::new();
    let mut narrow: Vec<String> = Vec::new();
    // The findings each node's failed overlay was tied to (a pod behind it fails for the same).
    let mut overlay_of: Vec<(String, String)> = Vec::new();
    for r in runs.iter_mut() {
        if r.ok {
            continue;
        }
        let present = |c: &Cause| report.findings.iter().any(|f| f.id == c.id());
        let confirmed: Option<Cause> = match r.kind {
            ProbeKind::Overlay if r.underlay == Some(false) => None,
            ProbeKind::Pod => r
                .node
                .as_ref()
                .and_then(|n| overlay_of.iter().find(|(node, _)| node == n))
                .and_then(|(_, id)| Cause::from_id(id))
                .or_else(|| candidates(r.kind).iter().copied().find(present)),
            ProbeKind::Mtu if r.mtu.is_none() => None,
            ProbeKind::Service | ProbeKind::Dns
                if matches!(r.outcome, ProbeOutcome::Refused | ProbeOutcome::Answered) =>
            {
                // Refused: kube-proxy's REJECT for a Service without endpoints, or nobody
                // listening; a DNS error answer: DNS works, the name does not.
                [Cause::ServiceNoEndpoints, Cause::KubeProxyRulesMissing]
                    .into_iter()
                    .find(|c| present(c))
            }
            _ => candidates(r.kind).iter().copied().find(present),
        };
        match confirmed {
            Some(c) => {
                r.finding = Some(c.id().to_string());
                let line = evidence_line(r);
                if let Some(f) = report.findings.iter_mut().find(|f| f.id == c.id()) {
                    if !f.evidence.contains(&line) {
                        f.evidence.push(line);
                    }
                }
                if r.kind == ProbeKind::Overlay {
                    if let Some(n) = &r.node {
                        overlay_of.push((n.clone(), c.id().to_string()));
                    }
                }
            }
            None => match r.kind {
                ProbeKind::Overlay if r.underlay == Some(true) => {
                    r.finding = Some(Cause::OverlayBlockedOutsideNode.id().to_string());
                    if let Some(n) = &r.node {
                        overlay_of
                            .push((n.clone(), Cause::OverlayBlockedOutsideNode.id().to_string()));
                    }
                    outside.push(evidence_line(r));
                }
                ProbeKind::Mtu => {
                    r.finding = Some(Cause::MtuMismatch.id().to_string());
                    narrow.push(evidence_line(r));
                }
                _ => {}
            },
        }
    }
    // A drop the host firewall check predicted, which the overlay nonetheless passed.
    if let Some(f) = report
        .findings
        .iter_mut()
        .find(|f| f.id == Cause::OverlayPortBlocked.id())
    {
        for r in runs.iter().filter(|r| r.kind == ProbeKind::Overlay && r.ok) {
            f.evidence.push(format!(
                "but {}: the drop does not hit this path ({} [netdoctor probe])",
                evidence_line(r),
                r.sent
            ));
        }
    }
    if !outside.is_empty() {
        let info = Cause::OverlayBlockedOutsideNode.info();
        let mut evidence = outside;
        evidence.push(
            "this node's host firewall lets the overlay through, and its routes and FDB entries to these nodes are right (no finding of this diagnosis explains the silence)"
                .to_string(),
        );
        report.findings.push(finding(
            Cause::OverlayBlockedOutsideNode,
            info.severity,
            info.title,
            evidence,
            info.explanation,
            vec![],
            info.fix.iter().map(|s| s.to_string()).collect(),
        ));
    }
    if !narrow.is_empty() {
        let info = Cause::MtuMismatch.info();
        let largest = runs
            .iter()
            .filter(|r| r.finding.as_deref() == Some(info.id))
            .filter_map(|r| r.mtu.map(|m| (m.largest, m.claimed)))
            .min();
        let mut fix: Vec<String> = Vec::new();
        if let Some((largest, claimed)) = largest {
            fix.push(format!(
                "lower the overlay (and pod) MTU by {} bytes to {largest}, the largest packet that passes, in the CNI's configuration; or raise the underlay's MTU so that {claimed}-byte packets pass",
                claimed - largest
            ));
        }
        fix.extend(info.fix.iter().map(|s| s.to_string()));
        report.findings.push(finding(
            Cause::MtuMismatch,
            info.severity,
            "Packets as large as the device MTU do not pass: the path is narrower than the MTU claims",
            narrow,
            info.explanation,
            vec![],
            fix,
        ));
    }
    report.probes = runs;
    if !report.available_inputs.contains(&Input::Probes) {
        report.available_inputs.push(Input::Probes);
    }
    let found: Vec<&str> = report.findings.iter().map(|f| f.id.as_str()).collect();
    report
        .not_checked
        .retain(|n| !found.contains(&n.check.as_str()));
    report.steps = steps::reasoning(
        &report.findings,
        &report.not_checked,
        &report.available_inputs,
    );
    rank::by_cause(report);
}

#[cfg(test)]
mod tests {
    use super::*;
    use netdoctor_model::{MtuMeasure, NodeSnapshot, CHECK_SCHEMA};

    fn run(kind: ProbeKind, to: &str, ok: bool) -> ProbeRun {
        ProbeRun {
            kind,
            from: "node-0".into(),
            to: to.into(),
            ok,
            rtt_ms: ok.then_some(0.3),
            detail: if ok { "answered" } else { "no answer" }.into(),
            finding: None,
            sent: "ICMP echo".into(),
            outcome: if ok {
                ProbeOutcome::Answered
            } else {
                ProbeOutcome::Silence
            },
            node: Some("node-1".into()),
            underlay: (kind == ProbeKind::Overlay).then_some(true),
            mtu: None,
        }
    }

    fn empty() -> CheckReport {
        crate::run(&NodeSnapshot::default(), &crate::Options::default())
    }

    #[test]
    fn an_overlay_silent_while_the_underlay_answers_and_nothing_here_explains_it_is_outside_the_node(
    ) {
        let mut report = empty();
        let pod = run(ProbeKind::Pod, "pod default/web-1", false);
        fold(
            &mut report,
            vec![
                run(ProbeKind::Overlay, "node node-1 VTEP 10.244.1.0", false),
                pod,
            ],
        );
        let f = report
            .findings
            .iter()
            .find(|f| f.id == "overlay-blocked-outside-node")
            .expect("outside finding");
        assert!(
            f.evidence[0].contains("node node-1 VTEP 10.244.1.0"),
            "{f:?}"
        );
        // The pod behind it fails for the same reason.
        assert_eq!(
            report.probes[1].finding.as_deref(),
            Some("overlay-blocked-outside-node")
        );
        assert!(report.available_inputs.contains(&Input::Probes));
        assert!(report.steps.iter().any(|s| s
            .findings
            .contains(&"overlay-blocked-outside-node".to_string())));
    }

    #[test]
    fn a_host_firewall_drop_is_confirmed_not_blamed_on_the_cloud() {
        let mut report = empty();
        let info = Cause::OverlayPortBlocked.info();
        report.findings.push(finding(
            Cause::OverlayPortBlocked,
            info.severity,
            info.title,
            vec!["-A INPUT -p udp --dport 8472 -j DROP".into()],
            info.explanation,
            vec![],
            vec![],
        ));
        fold(
            &mut report,
            vec![run(
                ProbeKind::Overlay,
                "node node-1 VTEP 10.244.1.0",
                false,
            )],
        );
        assert_eq!(
            report.probes[0].finding.as_deref(),
            Some("overlay-port-blocked")
        );
        assert!(!report
            .findings
            .iter()
            .any(|f| f.id == "overlay-blocked-outside-node"));
        let f = &report.findings[0];
        assert!(f.evidence.iter().any(|e| e.contains("[netdoctor probe]")));
    }

    #[test]
    fn a_node_that_does_not_answer_at_all_is_not_blamed_on_anything() {
        let mut report = empty();
        let mut r = run(ProbeKind::Overlay, "node node-1 VTEP 10.244.1.0", false);
        r.underlay = Some(false);
        fold(&mut report, vec![r]);
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        assert_eq!(report.probes[0].finding, None);
    }

    #[test]
    fn a_narrow_path_is_an_mtu_mismatch_with_the_size_that_passes() {
        let mut report = empty();
        let mut r = run(
            ProbeKind::Mtu,
            "node node-1 VTEP 10.244.1.0 (overlay, flannel.1)",
            false,
        );
        r.mtu = Some(MtuMeasure {
            largest: 1350,
            claimed: 1450,
            announced: Some(1350),
        });
        let mut ok = run(
            ProbeKind::Mtu,
            "node node-1 10.0.0.12 (underlay, eth0)",
            true,
        );
        ok.mtu = Some(MtuMeasure {
            largest: 1400,
            claimed: 1400,
            announced: None,
        });
        fold(&mut report, vec![r, ok]);
        let f = report
            .findings
            .iter()
            .find(|f| f.id == "mtu-mismatch")
            .expect("mtu");
        assert_eq!(f.evidence.len(), 1, "{f:?}");
        assert!(
            f.fix.persistent[0].contains("by 100 bytes to 1350"),
            "{f:?}"
        );
        assert_eq!(report.probes[1].finding, None);
        assert_eq!(report.schema, CHECK_SCHEMA);
    }

    #[test]
    fn a_refused_service_is_its_missing_endpoints_when_the_report_says_so() {
        let mut report = empty();
        let mut r = run(ProbeKind::Service, "svc default/web 10.96.0.20:80", false);
        r.outcome = ProbeOutcome::Refused;
        fold(&mut report, vec![r.clone()]);
        assert_eq!(report.probes[0].finding, None);
        let mut report = empty();
        let info = Cause::ServiceNoEndpoints.info();
        report.findings.push(finding(
            Cause::ServiceNoEndpoints,
            info.severity,
            info.title,
            vec![],
            info.explanation,
            vec![],
            vec![],
        ));
        fold(&mut report, vec![r]);
        assert_eq!(
            report.probes[0].finding.as_deref(),
            Some("service-no-endpoints")
        );
    }
}
