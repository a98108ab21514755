//! Checks that need only the text of the rule dumps: `iptables-backend-mismatch`,
//! `iptables-version-buggy`, `service-no-endpoints`. Packet-level questions (does FORWARD drop
//! pod traffic?) belong to the netfilter engine.

use netdoctor_datapath::kube_proxy;
use netdoctor_model::Cause;

use crate::context::Context;
use crate::outcome::{finding, manual, Outcome, WithActions};
use netdoctor_model::{Backend, IptablesDump, Severity};

pub fn check(ctx: &Context, out: &mut Outcome) {
    if ctx.snap.iptables.is_empty() {
        out.not_checked(
            Cause::IptablesBackendMismatch.id(),
            "no iptables dumps: add iptables-legacy-save.txt and iptables-nft-save.txt (or iptables-save.txt)",
        );
        return;
    }
    backends(ctx, out);
    no_endpoints(ctx, out);
}

fn rule_count(d: &IptablesDump) -> usize {
    d.text
        .lines()
        .filter(|l| l.trim_start().starts_with("-A ") || l.contains("] -A "))
        .count()
}

fn has_kube(d: &IptablesDump) -> bool {
    d.text
        .lines()
        .any(|l| l.contains("-A KUBE-") || l.contains("-j KUBE-"))
}

fn backends(ctx: &Context, out: &mut Outcome) {
    let of = |b: Backend| {
        ctx.snap
            .iptables
            .iter()
            .filter(move |d| d.backend == b && rule_count(d) > 0)
    };
    let legacy: Vec<_> = of(Backend::Legacy).collect();
    let nft: Vec<_> = of(Backend::Nft).collect();
    let warned: Vec<String> = ctx
        .snap
        .iptables
        .iter()
        .flat_map(|d| {
            d.text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.contains("iptables-legacy tables present"))
                .map(move |(i, l)| format!("{}:{}: {}", d.source.file, i + 1, l.trim()))
        })
        .collect();
    if legacy.is_empty() && nft.is_empty() && warned.is_empty() {
        return;
    }
    if !(legacy.is_empty() || nft.is_empty()) || !warned.is_empty() {
        let kube_both = legacy.iter().any(|d| has_kube(d)) && nft.iter().any(|d| has_kube(d));
        let mut evidence: Vec<String> = legacy
            .iter()
            .chain(nft.iter())
            .map(|d| {
                format!(
                    "{:?} backend: {} rules{} [{}]",
                    d.backend,
                    rule_count(d),
                    if has_kube(d) {
                        ", including kube-proxy's KUBE-* chains"
                    } else {
                        ""
                    },
                    d.source
                )
                .to_lowercase()
                .replacen("legacy backend", "iptables-legacy", 1)
                .replacen("nft backend", "iptables-nft", 1)
            })
            .collect();
        evidence.extend(warned);
        if legacy.is_empty() || nft.is_empty() {
            evidence.push("the other backend's dump was not collected: run both iptables-legacy-save and iptables-nft-save".into());
        }
        out.add(finding(
            Cause::IptablesBackendMismatch,
            if kube_both { Severity::Critical } else { Severity::Warning },
            "Rules sit in both iptables-legacy and iptables-nft",
            evidence,
            "iptables-legacy (x_tables) and iptables-nft (nf_tables) are two separate rule sets, and \
             the kernel runs both. Each save command shows only its own, so `iptables-save` looks \
             right while stale rules in the other backend still DNAT Service traffic to old pod \
             IPs (\"no route to host\") or drop it. This happens after an OS upgrade switches the \
             iptables alternative while kube-proxy, Docker or the CNI keep writing with the old \
             one. Every component on a node must use the same backend. Verify with \
             `iptables-legacy-save | grep -c KUBE` and `iptables-nft-save | grep -c KUBE`.",
            vec![
                "decide which backend the node uses (the one kube-proxy's image uses: check its log for \"Using iptables mode\" and the backend), then flush the other: e.g. `iptables-legacy -F; iptables-legacy -t nat -F; iptables-legacy -X; iptables-legacy -t nat -X`".into(),
                "restart kube-proxy and the CNI agent so they rewrite their rules in the chosen backend".into(),
            ],
            vec!["`update-alternatives --set iptables /usr/sbin/iptables-nft` (or -legacy) so every tool on the node agrees".into()],
        ).with(vec![manual("choose the iptables backend kube-proxy uses, flush the other backend's tables, restart kube-proxy and the CNI agent, and set update-alternatives so every tool agrees")]));
    }
}

fn no_endpoints(ctx: &Context, out: &mut Outcome) {
    let mut evidence = Vec::new();
    let mut services = Vec::new();
    for d in &ctx.snap.iptables {
        for (i, l) in d.text.lines().enumerate() {
            if !kube_proxy::is_no_endpoints_reject(l) {
                continue;
            }
            if let Some(name) = kube_proxy::no_endpoints_service(l) {
                if !services.contains(&name.to_string()) {
                    services.push(name.to_string());
                }
            }
            evidence.push(format!("{}:{}: {}", d.source.file, i + 1, l.trim()));
        }
    }
    if evidence.is_empty() {
        return;
    }
    out.add(finding(
        Cause::ServiceNoEndpoints,
        Severity::Warning,
        format!("Service {} has no endpoints: kube-proxy rejects its traffic", services.join(", ")),
        evidence,
        "When a Service has no ready endpoints, kube-proxy installs a REJECT rule for it, so clients \
         get \"connection refused\" (TCP) or ICMP port-unreachable (UDP, e.g. DNS) immediately. \
         This is not a node networking fault: the Service's pods are missing, not ready, or its \
         selector matches nothing. The REJECT disappears once `kubectl get endpointslices` shows \
         ready endpoints. Verify with `kubectl get endpointslices -n <ns> -l kubernetes.io/service-name=<svc>`.",
        vec!["kubectl get pods -n <ns> -l <the service's selector> -o wide   # why are they not Ready?".into()],
        vec!["fix the Service's selector or its pods' readiness".into()],
    ).with(vec![manual("find out why the Service has no ready endpoints (selector, readiness); nothing on the node to change")]));
}
