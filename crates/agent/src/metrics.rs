//! The agent's Prometheus metrics (the contract's names), kept in a `prometheus-client`
//! registry.

use crate::{CheckResult, Trigger};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::BTreeSet;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    id: String,
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabels {
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct ProbeLabels {
    kind: String,
    target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TriggerLabels {
    trigger: String,
}

/// Every metric the agent serves.
pub struct Metrics {
    registry: Registry,
    finding: Family<FindingLabels, Gauge>,
    findings: Family<SeverityLabels, Gauge>,
    duration: Histogram,
    last: Gauge<f64, AtomicU64>,
    checks: Family<TriggerLabels, Counter>,
    failed: Counter,
    /// The findings of the last successful check, to set to 0 when they clear.
    present: Mutex<BTreeSet<(String, String)>>,
    probe: Family<ProbeLabels, Gauge>,
    /// The probes of the last check, to drop the series of targets that are gone.
    probed: Mutex<BTreeSet<ProbeLabels>>,
}

const SEVERITIES: [&str; 3] = ["critical", "warning", "info"];

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let finding = Family::<FindingLabels, Gauge>::default();
        let findings = Family::<SeverityLabels, Gauge>::default();
        // 10 ms to about 80 s.
        let duration = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let last = Gauge::<f64, AtomicU64>::default();
        let checks = Family::<TriggerLabels, Counter>::default();
        let failed = Counter::default();
        let probe = Family::<ProbeLabels, Gauge>::default();
        registry.register(
            "netdoctor_probe_success",
            "1 when the last probe of this kind to this target got its answer, 0 when it failed (with --probe)",
            probe.clone(),
        );
        registry.register(
            "netdoctor_finding",
            "1 while the finding is present on this node, 0 once it has cleared",
            finding.clone(),
        );
        registry.register(
            "netdoctor_findings",
            "How many findings of this severity the last check gave",
            findings.clone(),
        );
        registry.register(
            "netdoctor_check_duration_seconds",
            "Time of one check",
            duration.clone(),
        );
        registry.register(
            "netdoctor_last_check_timestamp_seconds",
            "When the last successful check finished (Unix time)",
            last.clone(),
        );
        registry.register(
            "netdoctor_checks",
            "Checks run, by what started them (start, interval, netlink, request)",
            checks.clone(),
        );
        registry.register(
            "netdoctor_check_failures",
            "Checks that could not run",
            failed.clone(),
        );
        for s in SEVERITIES {
            findings
                .get_or_create(&SeverityLabels {
                    severity: s.to_string(),
                })
                .set(0);
        }
        Metrics {
            registry,
            finding,
            findings,
            duration,
            last,
            checks,
            failed,
            present: Mutex::new(BTreeSet::new()),
            probe,
            probed: Mutex::new(BTreeSet::new()),
        }
    }

    pub(crate) fn observe_check(
        &self,
        trigger: Trigger,
        took: Duration,
        now: SystemTime,
        result: Option<&CheckResult>,
    ) {
        self.checks
            .get_or_create(&TriggerLabels {
                trigger: trigger.as_str().to_string(),
            })
            .inc();
        self.duration.observe(took.as_secs_f64());
        let Some(r) = result else {
            self.failed.inc();
            return;
        };
        let now_set: BTreeSet<(String, String)> = r
            .findings
            .iter()
            .map(|f| (f.id.clone(), f.severity.clone()))
            .collect();
        let mut present = self.present.lock().unwrap_or_else(|p| p.into_inner());
        for (id, severity) in present.difference(&now_set) {
            self.finding
                .get_or_create(&FindingLabels {
                    id: id.clone(),
                    severity: severity.clone(),
                })
                .set(0);
        }
        for (id, severity) in &now_set {
            self.finding
                .get_or_create(&FindingLabels {
                    id: id.clone(),
                    severity: severity.clone(),
                })
                .set(1);
        }
        for s in SEVERITIES {
            let n = now_set.iter().filter(|(_, sev)| sev == s).count();
            self.findings
                .get_or_create(&SeverityLabels {
                    severity: s.to_string(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        *present = now_set;
        drop(present);
        let probes: BTreeSet<ProbeLabels> = r
            .probes
            .iter()
            .map(|p| ProbeLabels {
                kind: p.kind.clone(),
                target: p.target.clone(),
            })
            .collect();
        let mut probed = self.probed.lock().unwrap_or_else(|p| p.into_inner());
        for gone in probed.difference(&probes) {
            self.probe.remove(gone);
        }
        for p in &r.probes {
            self.probe
                .get_or_create(&ProbeLabels {
                    kind: p.kind.clone(),
                    target: p.target.clone(),
                })
                .set(i64::from(p.ok));
        }
        *probed = probes;
        let ts = now
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.last.set(ts);
    }

    /// The OpenMetrics text `/metrics` serves.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FindingSummary;

    fn result(ids: &[(&str, &str)]) -> CheckResult {
        CheckResult {
            check_json: "{}".into(),
            snapshot_zstd: Vec::new(),
            findings: ids
                .iter()
                .map(|(id, s)| FindingSummary {
                    id: id.to_string(),
                    severity: s.to_string(),
                    title: String::new(),
                })
                .collect(),
            probes: Vec::new(),
        }
    }

    #[test]
    fn a_probe_is_1_when_it_passed_0_when_it_failed_and_gone_with_its_target() {
        let m = Metrics::new();
        let now = SystemTime::now();
        let probe = |target: &str, ok| crate::ProbeSummary {
            kind: "overlay".into(),
            target: target.into(),
            ok,
        };
        let mut r = result(&[]);
        r.probes = vec![
            probe("node n1 VTEP 10.244.1.0", true),
            probe("node n2 VTEP 10.244.2.0", false),
        ];
        m.observe_check(Trigger::Start, Duration::ZERO, now, Some(&r));
        let t = m.encode();
        assert!(
            t.contains(
                "netdoctor_probe_success{kind=\"overlay\",target=\"node n1 VTEP 10.244.1.0\"} 1"
            ),
            "{t}"
        );
        assert!(
            t.contains(
                "netdoctor_probe_success{kind=\"overlay\",target=\"node n2 VTEP 10.244.2.0\"} 0"
            ),
            "{t}"
        );
        r.probes = vec![probe("node n1 VTEP 10.244.1.0", false)];
        m.observe_check(Trigger::Interval, Duration::ZERO, now, Some(&r));
        let t = m.encode();
        assert!(
            t.contains(
                "netdoctor_probe_success{kind=\"overlay\",target=\"node n1 VTEP 10.244.1.0\"} 0"
            ),
            "{t}"
        );
        assert!(
            !t.contains("node n2"),
            "a node that left keeps no series: {t}"
        );
    }

    #[test]
    fn a_finding_is_1_while_present_and_0_once_cleared() {
        let m = Metrics::new();
        let now = SystemTime::now();
        m.observe_check(
            Trigger::Start,
            Duration::from_millis(20),
            now,
            Some(&result(&[("ip-forward-disabled", "critical")])),
        );
        let t = m.encode();
        assert!(
            t.contains("netdoctor_finding{id=\"ip-forward-disabled\",severity=\"critical\"} 1"),
            "{t}"
        );
        assert!(
            t.contains("netdoctor_findings{severity=\"critical\"} 1"),
            "{t}"
        );
        assert!(
            t.contains("netdoctor_findings{severity=\"warning\"} 0"),
            "{t}"
        );
        assert!(
            t.contains("netdoctor_checks_total{trigger=\"start\"} 1"),
            "{t}"
        );
        assert!(
            t.contains("netdoctor_check_duration_seconds_count 1"),
            "{t}"
        );
        m.observe_check(
            Trigger::Netlink,
            Duration::from_millis(20),
            now,
            Some(&result(&[])),
        );
        let t = m.encode();
        assert!(
            t.contains("netdoctor_finding{id=\"ip-forward-disabled\",severity=\"critical\"} 0"),
            "{t}"
        );
        assert!(
            t.contains("netdoctor_findings{severity=\"critical\"} 0"),
            "{t}"
        );
        assert!(
            t.contains("netdoctor_checks_total{trigger=\"netlink\"} 1"),
            "{t}"
        );
        // A failed check changes no finding and is counted.
        m.observe_check(Trigger::Interval, Duration::from_millis(1), now, None);
        let t = m.encode();
        assert!(t.contains("netdoctor_check_failures_total 1"), "{t}");
    }
}
