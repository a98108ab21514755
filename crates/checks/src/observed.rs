//! What people observed and pasted: BGP peers (`calicoctl node status`), IPVS services
//! (`ipvsadm -Ln`), conntrack counters (`conntrack -S`), device offloads (`ethtool -k`) and the
//! probes they ran (`ping`, `curl`, DNS lookups, `nc`). A failed probe or a peer that is down is
//! a symptom, with the causes that produce it; counters and IPVS tables are evidence of causes.

use crate::context::Context;
use crate::outcome::{finding, manual, Outcome, WithActions};
use netdoctor_model::{Cause, Severity, Symptom};

pub fn check(ctx: &Context, out: &mut Outcome) {
    bgp(ctx, out);
    ipvs(ctx, out);
    conntrack(ctx, out);
    offloads(ctx, out);
    probes(ctx, out);
}

fn symptom(out: &mut Outcome, evidence: String, what: &str, meaning: &str, causes: &[Cause]) {
    out.symptom(Symptom {
        evidence,
        signature: what.to_string(),
        component: "observed".into(),
        meaning: meaning.to_string(),
        causes: causes.iter().map(|c| c.id().to_string()).collect(),
        explained_by: Vec::new(),
    });
}

/// A Docker bridge's gateway address (172.17.0.1 ... 172.31.0.1 on Docker's default pools).
fn docker_gateway(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v) => {
            let o = v.octets();
            o[0] == 172 && (17..=31).contains(&o[1]) && o[2] == 0 && o[3] == 1
        }
        std::net::IpAddr::V6(_) => false,
    }
}

fn bgp(ctx: &Context, out: &mut Outcome) {
    let Some(peers) = &ctx.snap.bgp_peers else {
        return;
    };
    for p in peers {
        if docker_gateway(p.address) {
            let info = Cause::WrongNodeIp.info();
            out.add(
                finding(
                    Cause::WrongNodeIp,
                    Severity::Warning,
                    format!("A BGP peer announced {}, a Docker bridge's address", p.address),
                    vec![format!(
                        "peer {} ({}) is {} / {} [{}]",
                        p.address, p.peer_type, p.state, p.info, p.source
                    ),
                    "172.17-31.0.1 are the gateways of Docker's bridges: a node whose calico-node picked such an address announces one no other node can reach".into()],
                    info.explanation,
                    info.fix.iter().map(|f| f.to_string()).collect(),
                    vec![],
                )
                .with(vec![manual("set Calico's IP_AUTODETECTION_METHOD (interface=<NIC> or can-reach=<peer>) so no node picks a Docker bridge's address")]),
            );
        }
        if !p.established() {
            symptom(
                out,
                format!(
                    "BGP peer {} ({}) is {} / {} [{}]",
                    p.address, p.peer_type, p.state, p.info, p.source
                ),
                "bgp-peer-not-established",
                "The BGP session to this peer is not up, so no pod routes are exchanged with it: pods on that node are unreachable from here.",
                &[
                    Cause::OverlayPortBlocked,
                    Cause::WrongNodeIp,
                    Cause::BgpPortInUse,
                    Cause::CniAgentNotRunning,
                ],
            );
        }
    }
}

fn ipvs(ctx: &Context, out: &mut Outcome) {
    let Some(svcs) = &ctx.snap.ipvs else {
        return;
    };
    let empty: Vec<String> = svcs
        .iter()
        .filter(|s| s.reals.is_empty())
        .map(|s| {
            format!(
                "{} {}:{} has no real server [{}]",
                s.protocol, s.address, s.port, s.source
            )
        })
        .collect();
    if empty.is_empty() {
        return;
    }
    let info = Cause::ServiceNoEndpoints.info();
    out.add(
        finding(
            Cause::ServiceNoEndpoints,
            Severity::Warning,
            "IPVS virtual services without real servers: their Services have no endpoints",
            empty,
            format!("kube-proxy in IPVS mode keeps a Service's virtual server with no real servers while the Service has no ready endpoints, so connections to it fail. {}", info.explanation),
            info.fix.iter().map(|f| f.to_string()).collect(),
            vec![],
        )
        .with(vec![manual(info.fix.join("; "))]),
    );
}

fn conntrack(ctx: &Context, out: &mut Outcome) {
    let Some(st) = &ctx.snap.conntrack_stats else {
        return;
    };
    let at = st
        .source
        .as_ref()
        .map_or(String::new(), |s| format!(" [{s}]"));
    if st.early_drop > 0 {
        let info = Cause::ConntrackTableFull.info();
        out.add(
            finding(
                Cause::ConntrackTableFull,
                Severity::Warning,
                "conntrack dropped entries early: the table has been full",
                vec![format!(
                    "conntrack -S: early_drop={} (summed over CPUs){at}",
                    st.early_drop
                )],
                info.explanation,
                info.fix.iter().map(|f| f.to_string()).collect(),
                vec![],
            )
            .with(vec![manual(info.fix.join("; "))]),
        );
    }
    if st.insert_failed > 0 {
        let info = Cause::ConntrackUdpInsertRace.info();
        out.add(
            finding(
                Cause::ConntrackUdpInsertRace,
                Severity::Warning,
                "conntrack insertions failed: parallel UDP packets of one flow raced (DNS lookups time out)",
                vec![format!(
                    "conntrack -S: insert_failed={}, drop={} (summed over CPUs){at}",
                    st.insert_failed, st.drop
                )],
                info.explanation,
                info.fix.iter().map(|f| f.to_string()).collect(),
                vec![],
            )
            .with(vec![manual(info.fix.join("; "))]),
        );
    }
}

fn offloads(ctx: &Context, out: &mut Outcome) {
    if !out.has(Cause::VxlanChecksumOffload) {
        return;
    }
    let on: Vec<String> = ctx
        .snap
        .offloads
        .iter()
        .filter(|o| o.on && o.feature == "tx-checksum-ip-generic")
        .map(|o| format!("{}: tx-checksum-ip-generic on [{}]", o.ifname, o.source))
        .collect();
    if !on.is_empty() {
        out.add(finding(
            Cause::VxlanChecksumOffload,
            Severity::Info,
            "",
            on,
            "",
            vec![],
            vec![],
        ));
    }
}

fn probes(ctx: &Context, out: &mut Outcome) {
    for p in ctx.snap.probes.iter().filter(|p| p.ok == Some(false)) {
        let (what, causes): (&str, &[Cause]) = match p.kind.as_str() {
            "dns" => (
                "A DNS lookup failed: the cluster DNS Service did not answer (or did not know the name).",
                &[
                    Cause::ServiceNoEndpoints,
                    Cause::KubeProxyRulesMissing,
                    Cause::BrNetfilterMissing,
                    Cause::BridgeNfCallIptablesDisabled,
                    Cause::OverlayPortBlocked,
                    Cause::ForwardPolicyDrop,
                    Cause::ConntrackUdpInsertRace,
                    Cause::DnsForwardingLoop,
                ],
            ),
            "ping" => (
                "Every ping was lost: the target is unreachable from where it was sent.",
                &[
                    Cause::OverlayPortBlocked,
                    Cause::ForwardPolicyDrop,
                    Cause::PodRouteMissing,
                    Cause::IpForwardDisabled,
                    Cause::RpFilterStrict,
                    Cause::VxlanFdbMissing,
                ],
            ),
            _ => (
                "A connection failed (refused, timed out or reset).",
                &[
                    Cause::ServiceNoEndpoints,
                    Cause::KubeProxyRulesMissing,
                    Cause::ForwardPolicyDrop,
                    Cause::OverlayPortBlocked,
                    Cause::PodToHostBlocked,
                    Cause::MtuMismatch,
                ],
            ),
        };
        symptom(
            out,
            format!("{} {}: {} [{}]", p.kind, p.target, p.detail, p.source),
            &format!("{}-failed", p.kind),
            what,
            causes,
        );
    }
}
