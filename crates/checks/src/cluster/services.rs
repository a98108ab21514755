//! Services against EndpointSlices and the node's kube-proxy rules: `service-no-endpoints`,
//! `kube-proxy-rules-missing`. Text level: kube-proxy's iptables mode writes one
//! `-A KUBE-SERVICES -d CLUSTERIP/32 -p PROTO ... --dport PORT -j KUBE-SVC-...` line per service
//! port that has endpoints.

use netdoctor_model::Cause;

use crate::context::Context;
use crate::outcome::{finding, manual, restart, Outcome, WithActions};
use netdoctor_kube::{Cluster, Service};
use netdoctor_model::Severity;
use std::collections::HashSet;

pub fn check(ctx: &Context, cluster: &Cluster, out: &mut Outcome) {
    no_endpoints(cluster, out);
    rules_missing(ctx, cluster, out);
}

fn serves(s: &Service) -> bool {
    !s.headless && s.kind != "ExternalName" && !s.cluster_ips.is_empty()
}

fn no_endpoints(cluster: &Cluster, out: &mut Outcome) {
    let empty: Vec<&Service> = cluster
        .services
        .iter()
        .filter(|s| serves(s) && !s.selector.is_empty() && s.endpoints_known)
        .filter(|s| s.ready_endpoints().next().is_none())
        .collect();
    if empty.is_empty() {
        return;
    }
    let evidence = empty
        .iter()
        .map(|s| {
            format!(
                "Service {} ({}) has {} endpoint(s), none ready [{}]",
                s.key(),
                s.cluster_ips
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                s.endpoints.len(),
                s.endpoints.first().map_or_else(
                    || format!("{}; its EndpointSlices list none", s.source),
                    |e| e.source.clone()
                )
            )
        })
        .collect();
    let names: Vec<String> = empty.iter().map(|s| s.key()).collect();
    out.add(
        finding(
            Cause::ServiceNoEndpoints,
            Severity::Warning,
            format!("Service {} has no ready endpoints", names.join(", ")),
            evidence,
            "A Service without ready endpoints gets a REJECT rule from kube-proxy: clients see \
             \"connection refused\" (TCP) or ICMP port-unreachable (UDP, e.g. DNS) at once. This \
             is not a node networking fault: the Service's pods are missing, not ready, or its \
             selector matches nothing. Verify with `kubectl get endpointslices -n <ns> -l \
             kubernetes.io/service-name=<svc>`.",
            vec!["kubectl get pods -n <ns> -l <the service's selector> -o wide   # why are they not Ready?".into()],
            vec!["fix the Service's selector or its pods' readiness".into()],
        )
        .with(vec![manual("find out why the Service has no ready endpoints (selector, readiness); nothing on the node to change")]),
    );
}

/// `(ip, proto, port)` of every KUBE-SERVICES rule in the node's dumps, and whether any dump
/// has kube-proxy's iptables-mode chains at all.
/// (ClusterIP, protocol, port) of the Service ports kube-proxy has rules for.
type ServicePorts = HashSet<(String, String, u16)>;

fn service_rules(ctx: &Context) -> (ServicePorts, bool, Vec<String>) {
    let mut set = HashSet::new();
    let mut present = false;
    let mut ipvs = false;
    let mut sources = Vec::new();
    for d in &ctx.snap.iptables {
        let mut any = false;
        for line in d.text.lines() {
            let l = line.trim();
            if !l.contains("KUBE-SERVICES") {
                continue;
            }
            any = true;
            if l.contains("KUBE-CLUSTER-IP") {
                ipvs = true;
            }
            if !l.starts_with("-A KUBE-SERVICES") {
                continue;
            }
            let toks: Vec<&str> = l.split_whitespace().collect();
            let after = |k: &str| {
                toks.iter()
                    .position(|t| *t == k)
                    .and_then(|i| toks.get(i + 1))
            };
            let (Some(dst), Some(port)) = (after("-d"), after("--dport")) else {
                continue;
            };
            let proto = after("-p").map_or("tcp".to_string(), |p| p.to_lowercase());
            if let Ok(port) = port.parse() {
                set.insert((
                    dst.trim_end_matches("/32")
                        .trim_end_matches("/128")
                        .to_string(),
                    proto,
                    port,
                ));
            }
        }
        if any {
            present = true;
            sources.push(d.source.to_string());
        }
    }
    (set, present && !ipvs, sources)
}

/// kube-proxy's nftables mode: the `service-ips` verdict map of table `ip kube-proxy`, as
/// (ClusterIP, protocol, port). `None` when there is no complete nftables rule set with it.
fn nft_service_rules(ctx: &Context) -> Option<(ServicePorts, String)> {
    use netdoctor_netfilter::{ElemValue, KeyField, VmapVerdict};
    use netdoctor_netfilter::{TableFamily, Target};
    let (rs, _, source) = ctx.nft_rules()?;
    if rs.cut.is_some() {
        return None;
    }
    let table = rs
        .tables
        .iter()
        .find(|t| t.name == "kube-proxy" && t.family == TableFamily::Ip)?;
    let mut set = HashSet::new();
    let mut seen_map = false;
    for c in &table.chains {
        for r in &c.rules {
            let Some(Target::Vmap(vm)) = &r.target else {
                continue;
            };
            if vm.key != [KeyField::Daddr, KeyField::L4proto, KeyField::Dport] {
                continue;
            }
            seen_map = true;
            for (key, verdict) in &vm.entries {
                let service = matches!(verdict, VmapVerdict::Goto(t) | VmapVerdict::Jump(t) if t.starts_with("service-"));
                if let (
                    [ElemValue::Addr(a), ElemValue::Name(proto), ElemValue::Number(port)],
                    true,
                ) = (key.as_slice(), service)
                {
                    if let Ok(port) = u16::try_from(*port) {
                        set.insert((a.addr.to_string(), proto.to_lowercase(), port));
                    }
                }
            }
        }
    }
    seen_map.then_some((set, source))
}

fn rules_missing(ctx: &Context, cluster: &Cluster, out: &mut Outcome) {
    if let Some((rules, source)) = nft_service_rules(ctx) {
        report_missing(cluster, out, &rules, &[source], "an element `<ClusterIP> . <proto> . <port>` in the service-ips map of table ip kube-proxy");
        return;
    }
    if ctx.snap.iptables.is_empty() {
        out.not_checked(
            Cause::KubeProxyRulesMissing.id(),
            "no iptables dumps: add iptables-save.txt",
        );
        return;
    }
    let (rules, iptables_mode, sources) = service_rules(ctx);
    if !iptables_mode {
        out.not_checked(
            Cause::KubeProxyRulesMissing.id(),
            "no kube-proxy iptables-mode KUBE-SERVICES rules in the dumps (ipvs or nftables mode, or a kube-proxy replacement): not modelled",
        );
        return;
    }
    report_missing(
        cluster,
        out,
        &rules,
        &sources,
        "a `-A KUBE-SERVICES -d <ClusterIP>/32 ... --dport <port>` rule",
    );
}

fn report_missing(
    cluster: &Cluster,
    out: &mut Outcome,
    rules: &ServicePorts,
    sources: &[String],
    rule_words: &str,
) {
    let mut evidence = Vec::new();
    let mut names = Vec::new();
    for s in cluster.services.iter().filter(|s| serves(s)) {
        if s.ready_endpoints().next().is_none() {
            continue;
        }
        for ip in s.cluster_ips.iter().filter(|i| i.is_ipv4()) {
            for p in &s.ports {
                let proto = p.protocol.to_lowercase();
                if !rules.contains(&(ip.to_string(), proto.clone(), p.port)) {
                    evidence.push(format!(
                        "Service {} {ip}:{}/{proto} has {} ready endpoint(s) but no {rule_words} for it in {}",
                        s.key(),
                        p.port,
                        s.ready_endpoints().count(),
                        sources.join(", ")
                    ));
                    if !names.contains(&s.key()) {
                        names.push(s.key());
                    }
                }
            }
        }
    }
    if evidence.is_empty() {
        return;
    }
    let shown = if names.len() > 5 {
        format!("{} and {} more", names[..5].join(", "), names.len() - 5)
    } else {
        names.join(", ")
    };
    out.add(
        finding(
            Cause::KubeProxyRulesMissing,
            Severity::Critical,
            format!("kube-proxy has no rules on this node for {shown}"),
            evidence,
            "kube-proxy (iptables mode) writes one KUBE-SERVICES rule per service port with \
             endpoints; a ClusterIP without one is not translated on this node, so connections \
             to it from here time out (the ClusterIP itself is answered by nobody). Usual causes: \
             kube-proxy is not running or crash-looping on this node, it cannot reach the API \
             server, or something (a firewall reload, `iptables -F`) removed its rules since its \
             last sync. Verify with `iptables-save -t nat | grep <ClusterIP>` and kube-proxy's logs.",
            vec!["restart the kube-proxy pod on this node (kubectl -n kube-system delete pod -l k8s-app=kube-proxy --field-selector spec.nodeName=<node>)".into()],
            vec!["find why kube-proxy's rules vanish (firewalld/iptables service reloads flush them) and stop it".into()],
        )
        .with(vec![restart("kube-proxy (the pod on this node)", "it re-writes every service rule at start")]),
    );
}
