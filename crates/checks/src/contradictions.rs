//! Two pieces of configuration that disagree: each is fine alone, together they name a cause.
//!
//! - The MTU the CNI's config gives pods (`/etc/cni/net.d`) against the overlay device their
//!   traffic uses: larger, and full-size packets from pods vanish (`mtu-mismatch`). Only an
//!   overlay that routes pod traffic counts (Calico in BGP mode keeps an idle `tunl0`).
//! - flannel's Docker options (`/run/flannel/docker`, `--bip`) against `docker0` and against the
//!   lease in `/run/flannel/subnet.env` (`bridge-address-mismatch`): dockerd started without
//!   them, or with those of an old lease, puts containers outside the subnet other nodes route
//!   here.
//! - kube-proxy's mode (its log, flags or config) against the rules that mode writes: a
//!   complete dump without them means kube-proxy is not programming this node
//!   (`kube-proxy-rules-missing`). The `kubernetes` Service always exists, so an IPVS table
//!   without any service, or a nat table without `KUBE-SERVICES`, cannot be a quiet cluster.

use crate::context::{tunnel_overhead, Context};
use crate::outcome::{finding, manual, Outcome, WithActions};
use netdoctor_model::{Cause, Severity, Source};
use serde_json::Value;
use std::net::IpAddr;

pub fn check(ctx: &Context, out: &mut Outcome) {
    cni_config_mtu(ctx, out);
    flannel_docker(ctx, out);
    kube_proxy_mode(ctx, out);
}

/// Every positive `"mtu"` number in a CNI config document, wherever it sits (a plugin of a
/// conflist, a delegate).
fn mtus(v: &Value, out: &mut Vec<u32>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "mtu" {
                    if let Some(n) = x.as_u64().and_then(|n| u32::try_from(n).ok()) {
                        if n > 0 {
                            out.push(n);
                        }
                    }
                } else {
                    mtus(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| mtus(x, out)),
        _ => {}
    }
}

fn cni_config_mtu(ctx: &Context, out: &mut Outcome) {
    let configs: Vec<(u32, &Source)> = ctx
        .snap
        .files
        .iter()
        .filter(|f| f.path.starts_with("/etc/cni/net.d/"))
        .filter_map(|f| {
            let v: Value = serde_json::from_str(&f.content).ok()?;
            let mut found = Vec::new();
            mtus(&v, &mut found);
            found.into_iter().max().map(|m| (m, &f.source))
        })
        .collect();
    if configs.is_empty() || ctx.snap.routes.is_none() {
        return;
    }
    // The overlay devices that carry pod routes.
    for t in ctx.links() {
        let (Some(_), Some(tmtu)) = (tunnel_overhead(t), t.mtu) else {
            continue;
        };
        let carries = ctx
            .routes()
            .iter()
            .any(|r| r.dev.as_deref() == Some(t.name.as_str()) && r.dst.prefix_len() > 0);
        if !carries {
            continue;
        }
        for (m, src) in configs.iter().filter(|(m, _)| *m > tmtu) {
            out.add(
                finding(
                    Cause::MtuMismatch,
                    Severity::Critical,
                    format!(
                        "The CNI gives pods MTU {m}, more than the overlay device {} carries ({tmtu})",
                        t.name
                    ),
                    vec![
                        format!("\"mtu\": {m} [{src}]"),
                        Context::link_evidence(t),
                        format!(
                            "pod routes use {} (e.g. {})",
                            t.name,
                            ctx.routes()
                                .iter()
                                .find(|r| r.dev.as_deref() == Some(t.name.as_str()))
                                .map(|r| format!("{} [{}]", r.ip_route_words(), r.source))
                                .unwrap_or_default()
                        ),
                    ],
                    "A pod sends packets as large as its interface's MTU. Those bound for other \
                     nodes go through the overlay device, which cannot carry more than its own \
                     MTU: full-size packets are dropped (or need fragmenting that forwarded \
                     traffic rarely gets), so small requests work and large responses, TLS \
                     handshakes and image pulls hang. The CNI config and the overlay must agree: \
                     pod MTU <= overlay MTU. Verify with `ping -M do -s <MTU-28>` from a pod to a \
                     pod on another node.",
                    vec![],
                    vec![format!(
                        "set the CNI's MTU to at most {tmtu} (Calico: veth_mtu in the calico-config ConfigMap, then restart calico-node and recreate pods; flannel: it writes the MTU itself, so restore the config it generates)"
                    )],
                )
                .with(vec![manual(format!(
                    "lower the pods' MTU in the CNI config to {tmtu} or less, then recreate the pods"
                ))]),
            );
        }
    }
}

/// `--bip=10.244.1.1/24` in `/run/flannel/docker`.
fn flannel_bip(ctx: &Context) -> Option<(IpAddr, u8, Source)> {
    let f = ctx.snap.file("/run/flannel/docker")?;
    for (i, line) in f.content.lines().enumerate() {
        if let Some(at) = line.find("--bip=") {
            let v = line[at + 6..]
                .split(|c: char| c.is_whitespace() || c == '"')
                .next()?;
            let (a, p) = v.split_once('/')?;
            let src = Source::at(
                f.source.file.clone(),
                u32::try_from(i + 1).unwrap_or(u32::MAX),
            );
            return Some((a.parse().ok()?, p.parse().ok()?, src));
        }
    }
    None
}

fn flannel_docker(ctx: &Context, out: &mut Outcome) {
    let Some((bip, len, src)) = flannel_bip(ctx) else {
        return;
    };
    let lease = ctx.snap.file("/run/flannel/subnet.env").and_then(|f| {
        f.content.lines().enumerate().find_map(|(i, l)| {
            let v = l.trim().strip_prefix("FLANNEL_SUBNET=")?;
            let net: ipnet::IpNet = v.trim().parse().ok()?;
            Some((
                net,
                Source::at(
                    f.source.file.clone(),
                    u32::try_from(i + 1).unwrap_or(u32::MAX),
                ),
            ))
        })
    });
    let mut evidence = Vec::new();
    if let Some((net, lsrc)) = &lease {
        if !net.trunc().contains(&bip) {
            evidence.push(format!(
                "flannel's Docker options give docker0 {bip}/{len} [{src}], outside flannel's current lease {net} [{lsrc}]: they are from an earlier lease"
            ));
        }
    }
    if ctx.snap.addresses.is_some() {
        let docker0: Vec<_> = ctx
            .addresses()
            .iter()
            .filter(|a| a.ifname == "docker0" && a.addr.is_ipv4())
            .collect();
        if !docker0.is_empty() && !docker0.iter().any(|a| a.addr == bip) {
            evidence.push(format!(
                "docker0 has {} [{}], not {bip}/{len} from flannel's Docker options [{src}]: dockerd was started without them",
                docker0
                    .iter()
                    .map(|a| format!("{}/{}", a.addr, a.prefix_len))
                    .collect::<Vec<_>>()
                    .join(", "),
                docker0[0].source
            ));
        }
    }
    if evidence.is_empty() {
        return;
    }
    out.add(
        finding(
            Cause::BridgeAddressMismatch,
            Severity::Critical,
            "docker0 is not on flannel's subnet for this node",
            evidence,
            "With flannel's Docker integration, containers get their addresses from docker0, \
             which dockerd must create inside the subnet flannel leased to this node \
             (`/run/flannel/docker` holds the options, `--bip` among them). Other nodes route \
             only that subnet here, so containers given addresses elsewhere are unreachable \
             from other nodes, and their replies are masqueraded or dropped. It happens when \
             dockerd starts before flanneld, or without `$DOCKER_NETWORK_OPTIONS`, or keeps the \
             options of an expired lease. Verify with `ip addr show docker0` and \
             `cat /run/flannel/subnet.env`.",
            vec!["systemctl restart flanneld && systemctl restart docker   # docker must start after flanneld, with its options".into()],
            vec!["make docker.service depend on flanneld (After=/Requires=flanneld.service) and pass EnvironmentFile=/run/flannel/docker with $DOCKER_NETWORK_OPTIONS".into()],
        )
        .with(vec![manual(
            "restart flanneld, then docker, so dockerd takes the current lease's --bip; make docker.service start after flanneld",
        )]),
    );
}

/// kube-proxy's mode as its log, flags or config state it, with where.
fn proxy_mode(ctx: &Context) -> Option<(String, String)> {
    for log in &ctx.snap.logs {
        for (no, line) in &log.lines {
            let l = line.to_ascii_lowercase();
            let mode = if l.contains("using ipvs proxier") || l.contains("using ipvs proxy") {
                "ipvs"
            } else if l.contains("using iptables proxier") || l.contains("using iptables proxy") {
                "iptables"
            } else if l.contains("using nftables proxier") || l.contains("using nftables proxy") {
                "nftables"
            } else if let Some(at) = l.find("--proxy-mode=") {
                let v = l[at + 13..]
                    .split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
                    .next()
                    .unwrap_or("");
                match v {
                    "ipvs" => "ipvs",
                    "iptables" => "iptables",
                    "nftables" => "nftables",
                    _ => continue,
                }
            } else {
                continue;
            };
            let t = line.trim();
            let t = &t[..t.floor_char_boundary(200)];
            return Some((mode.to_string(), format!("{}:{no}: {t}", log.name)));
        }
    }
    None
}

fn kube_proxy_mode(ctx: &Context, out: &mut Outcome) {
    let Some((mode, said)) = proxy_mode(ctx) else {
        return;
    };
    let mut evidence = vec![format!("kube-proxy runs in {mode} mode: {said}")];
    match mode.as_str() {
        "ipvs" => {
            // `ipvsadm -Ln` read whole and empty: not even the `kubernetes` Service.
            let Some(services) = &ctx.snap.ipvs else {
                return;
            };
            if !services.is_empty() || ctx.snap.partial("ipvs").is_some() {
                return;
            }
            evidence.push(
                "`ipvsadm -Ln` lists no virtual server at all, not even the kubernetes Service's ClusterIP:443"
                    .into(),
            );
        }
        "iptables" => {
            // A complete nat table (iptables-save with its COMMIT) without KUBE-SERVICES.
            let mut complete_nat = None;
            for d in &ctx.snap.iptables {
                let text = d.text.as_str();
                if let Some(start) = text.find("*nat") {
                    let body = &text[start..];
                    if body.contains("\nCOMMIT") {
                        let end = body.find("\nCOMMIT").unwrap_or(body.len());
                        complete_nat = Some((
                            d.source.to_string(),
                            body[..end].contains(":KUBE-SERVICES")
                                || body[..end].contains("-A KUBE-SERVICES"),
                        ));
                        if complete_nat.as_ref().is_some_and(|(_, has)| *has) {
                            return;
                        }
                    }
                }
            }
            let Some((src, false)) = complete_nat else {
                return;
            };
            evidence.push(format!(
                "{src}: its nat table is complete (up to COMMIT) and has no KUBE-SERVICES chain"
            ));
        }
        "nftables" => {
            // A complete nftables rule set without kube-proxy's table.
            let Some((rs, _, src)) = ctx.nft_rules() else {
                return;
            };
            if rs.cut.is_some()
                || rs.tables.is_empty()
                || rs.tables.iter().any(|t| t.name == "kube-proxy")
            {
                return;
            }
            evidence.push(format!(
                "{src}: the nftables rule set has no `kube-proxy` table"
            ));
        }
        _ => return,
    }
    out.add(
        finding(
            Cause::KubeProxyRulesMissing,
            Severity::Critical,
            format!("kube-proxy runs in {mode} mode, but this node has none of the rules that mode writes"),
            evidence,
            "kube-proxy turns every Service into rules on every node; in its mode, the rules \
             below must exist as soon as it has synced once (the `kubernetes` Service always \
             exists). Their absence means kube-proxy is not running on this node, is failing \
             to write its rules (see its log), or writes them somewhere else (another iptables \
             backend, another mode than its config says). Every ClusterIP and NodePort leads \
             nowhere from this node.",
            vec!["kubectl -n kube-system logs -l k8s-app=kube-proxy --tail=100   # on this node's pod".into()],
            vec![],
        )
        .with(vec![manual(
            "read kube-proxy's log on this node, fix what stops its sync, and restart it",
        )]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use netdoctor_model::{ConfigFile, LogFile, NodeSnapshot};

    fn file(path: &str, content: &str) -> ConfigFile {
        ConfigFile {
            path: path.into(),
            symlink_target: None,
            content: content.into(),
            source: Source::live(format!("root{path}")),
        }
    }

    fn run(snap: &NodeSnapshot) -> Outcome {
        let opts = crate::Options::default();
        let ctx = Context::new(snap, &opts);
        let mut out = Outcome::default();
        check(&ctx, &mut out);
        out
    }

    /// Links (`name kind mtu`) and routes (`dst dev`), one per line.
    fn read(files: &[(&str, &str)]) -> NodeSnapshot {
        let mut snap = NodeSnapshot::default();
        for (what, text) in files {
            match *what {
                "links" => {
                    let links = text
                        .lines()
                        .map(|l| {
                            let w: Vec<&str> = l.split_whitespace().collect();
                            serde_json::from_value(serde_json::json!({
                                "name": w[0], "kind": w[1], "mtu": w[2].parse::<u32>().ok(),
                                "flags": ["UP"], "source": {"file": "ip-link.txt"}
                            }))
                            .expect("link")
                        })
                        .collect();
                    snap.links = Some(links);
                }
                _ => {
                    let routes = text
                        .lines()
                        .map(|l| {
                            let w: Vec<&str> = l.split_whitespace().collect();
                            serde_json::from_value(serde_json::json!({
                                "table": 254, "kind": "unicast", "dst": w[0], "dev": w[1],
                                "source": {"file": "ip-route.txt"}
                            }))
                            .expect("route")
                        })
                        .collect();
                    snap.routes = Some(routes);
                }
            }
        }
        snap
    }

    #[test]
    fn a_cni_mtu_larger_than_the_overlay_in_use_is_named() {
        let mut snap = read(&[
            ("links", "vxlan.calico vxlan 1450\neth0 device 1500"),
            ("routes", "10.244.2.0/26 vxlan.calico"),
        ]);
        snap.files.push(file(
            "/etc/cni/net.d/10-calico.conflist",
            r#"{"name":"k8s-pod-network","plugins":[{"type":"calico","mtu":1500},{"type":"portmap"}]}"#,
        ));
        let out = run(&snap);
        let f = out
            .findings
            .iter()
            .find(|f| f.id == "mtu-mismatch")
            .expect("finding");
        assert!(
            f.title.contains("1500") && f.title.contains("1450"),
            "{}",
            f.title
        );
    }

    #[test]
    fn an_idle_tunnel_or_an_auto_mtu_is_not_a_mismatch() {
        // Calico in BGP mode: tunl0 exists, no route uses it.
        let mut snap = read(&[
            ("links", "tunl0 ipip 1480\neth0 device 1500"),
            ("routes", "10.244.2.0/26 eth0"),
        ]);
        snap.files.push(file(
            "/etc/cni/net.d/10-calico.conflist",
            r#"{"plugins":[{"type":"calico","mtu":1500}]}"#,
        ));
        assert!(run(&snap).findings.is_empty());
        // "mtu": 0 is Calico's auto-detection.
        let mut snap = read(&[
            ("links", "tunl0 ipip 1480"),
            ("routes", "10.244.2.0/26 tunl0"),
        ]);
        snap.files.push(file(
            "/etc/cni/net.d/10-calico.conflist",
            r#"{"plugins":[{"type":"calico","mtu":0}]}"#,
        ));
        assert!(run(&snap).findings.is_empty());
    }

    #[test]
    fn flannel_docker_options_from_an_old_lease_are_named() {
        let mut snap = NodeSnapshot::default();
        snap.files.push(file(
            "/run/flannel/docker",
            "DOCKER_OPT_BIP=\"--bip=10.244.7.1/24\"\nDOCKER_NETWORK_OPTIONS=\" --bip=10.244.7.1/24 --ip-masq=false --mtu=1450\"\n",
        ));
        snap.files.push(file(
            "/run/flannel/subnet.env",
            "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\n",
        ));
        let out = run(&snap);
        let f = out
            .findings
            .iter()
            .find(|f| f.id == "bridge-address-mismatch")
            .expect("finding");
        assert!(f.evidence[0].contains("earlier lease"), "{:?}", f.evidence);
    }

    #[test]
    fn ipvs_mode_with_an_empty_ipvs_table_is_named_and_a_full_one_is_not() {
        let mut snap = NodeSnapshot::default();
        snap.logs.push(LogFile {
            name: "kube-proxy.log".into(),
            lines: vec![(
                3,
                "I0101 00:00:00.000000       1 server_others.go:259] Using ipvs Proxier.".into(),
            )],
        });
        snap.ipvs = Some(vec![]);
        let out = run(&snap);
        assert!(out
            .findings
            .iter()
            .any(|f| f.id == "kube-proxy-rules-missing"));
        snap.ipvs = Some(vec![netdoctor_model::IpvsService {
            protocol: "TCP".into(),
            address: "10.96.0.1".parse().expect("ip"),
            port: 443,
            scheduler: "rr".into(),
            reals: vec![],
            source: Source::live("ipvsadm.txt"),
        }]);
        assert!(run(&snap).findings.is_empty());
    }
}
