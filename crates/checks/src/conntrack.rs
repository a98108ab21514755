//! The connection state the kernel keeps: `conntrack-table-full` (from the counters; the
//! kernel's log line is in `logs`), `conntrack-tool-missing`, and `tcp-tw-recycle-enabled`
//! (the per-peer timestamps TIME-WAIT recycling keeps).

use netdoctor_model::Cause;

use crate::context::Context;
use crate::outcome::{finding, manual, sysctl, Outcome, WithActions};
use netdoctor_model::Severity;

pub const FULL_EXPLANATION: &str =
    "Every connection through the node (including each Service DNAT) \
    needs a conntrack entry. When nf_conntrack_count reaches nf_conntrack_max the kernel drops the \
    first packet of every new connection and logs \"nf_conntrack: table full, dropping packet\": \
    health checks fail, pods restart, ingress returns errors, while established connections keep \
    working. kube-proxy sets nf_conntrack_max at start from its conntrack.maxPerCore and \
    conntrack.min settings, so raise those too or kube-proxy lowers the value again on restart. \
    Verify: `cat /proc/sys/net/netfilter/nf_conntrack_{count,max}` and `dmesg | grep conntrack`.";

pub fn check(ctx: &Context, out: &mut Outcome) {
    tool(ctx, out);
    tw_recycle(ctx, out);
    let ct = ctx.snap.conntrack.as_ref();
    let (Some(count), Some(max)) = (
        ct.and_then(|c| c.count.as_ref()),
        ct.and_then(|c| c.max.as_ref()),
    ) else {
        out.not_checked(
            Cause::ConntrackTableFull.id(),
            "nf_conntrack_count / nf_conntrack_max not available (from logs only, if any)",
        );
        return;
    };
    if max.value == 0 {
        return;
    }
    let ratio = count.value as f64 / max.value as f64;
    let severity = if ratio >= 0.95 {
        Severity::Critical
    } else if ratio >= 0.80 {
        Severity::Warning
    } else {
        return;
    };
    let key = "net.netfilter.nf_conntrack_max";
    let target = max.value.saturating_mul(2);
    out.add(finding(
        Cause::ConntrackTableFull,
        severity,
        format!("The conntrack table is {:.0}% full: new connections are dropped", ratio * 100.0),
        vec![
            format!("nf_conntrack_count = {} [{}]", count.value, count.source),
            format!("nf_conntrack_max = {} [{}]", max.value, max.source),
        ],
        FULL_EXPLANATION,
        vec![format!("sysctl -w {key}={target}")],
        {
            let mut p = ctx.persistent_sysctl(key, &target.to_string());
            p.push("and raise kube-proxy's conntrack.maxPerCore / conntrack.min, which it applies at start".into());
            p
        },
    )
    .with(vec![
        sysctl(key, &target.to_string(), true, true),
        manual("raise kube-proxy's conntrack.maxPerCore / conntrack.min so it does not lower nf_conntrack_max again when it restarts"),
    ]));
}

fn tool(ctx: &Context, out: &mut Outcome) {
    let Some(t) = &ctx.snap.conntrack_tool else {
        return;
    };
    if t.value {
        return;
    }
    let kube_proxy = ctx
        .snap
        .iptables
        .iter()
        .any(|d| d.text.contains("KUBE-SERVICES"));
    if !kube_proxy && !ctx.snap.iptables.is_empty() {
        return;
    }
    out.add(finding(
        Cause::ConntrackToolMissing,
        Severity::Warning,
        "The conntrack tool is missing: kube-proxy cannot flush stale UDP entries",
        vec![format!("no `conntrack` binary on PATH [{}]", t.source)],
        "When a UDP Service's backend changes (a CoreDNS pod moves), kube-proxy deletes the old \
         conntrack entries with the `conntrack` binary. Without it the old entries keep steering \
         DNS queries to a pod that no longer exists until they time out, so name resolution \
         fails for minutes after every CoreDNS restart. kube-proxy logs \"conntrack command \
         returned ... executable file not found\". Verify with `command -v conntrack`.",
        vec!["apt-get install conntrack   # or: yum install conntrack-tools".into()],
        vec!["add the conntrack package to the node image".into()],
    )
    .with(vec![manual("install the conntrack package (Debian/Ubuntu: conntrack; RHEL: conntrack-tools) and add it to the node image")]));
}

/// `tcp-tw-recycle-enabled`. The key exists only on kernels before 4.12, so its absence from a
/// complete `sysctl -a` is the healthy case; it acts only while TCP timestamps are on (the
/// default), so `tcp_timestamps = 0` makes it harmless.
fn tw_recycle(ctx: &Context, out: &mut Outcome) {
    let id = Cause::TcpTwRecycleEnabled.id();
    let key = "net.ipv4.tcp_tw_recycle";
    let Some(v) = ctx.sysctl(key) else {
        if ctx.snap.sysctls.is_none() {
            out.not_checked(
                id,
                "no sysctl values: run on the node, or add `sysctl -a` output as sysctl.txt",
            );
        } else if let Some(why) = ctx.snap.partial("sysctls") {
            out.not_checked(
                id,
                format!("{key} is not among the sysctls shown, which are only part ({why})"),
            );
        }
        return;
    };
    if v.value.trim() == "0" {
        return;
    }
    let timestamps = "net.ipv4.tcp_timestamps";
    if ctx
        .sysctl(timestamps)
        .is_some_and(|t| t.value.trim() == "0")
    {
        return;
    }
    let mut evidence: Vec<String> = ctx.sysctl_evidence(key).into_iter().collect();
    evidence.extend(ctx.sysctl_evidence(timestamps));
    out.add(
        finding(
            Cause::TcpTwRecycleEnabled,
            Severity::Warning,
            Cause::TcpTwRecycleEnabled.info().title,
            evidence,
            Cause::TcpTwRecycleEnabled.info().explanation,
            vec![format!("sysctl -w {key}=0")],
            ctx.persistent_sysctl(key, "0"),
        )
        .with(vec![sysctl(key, "0", true, true)]),
    );
}
