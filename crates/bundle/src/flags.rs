//! The cluster's address plan, read from where people paste it: the command lines of
//! kube-controller-manager, kube-apiserver, kube-proxy and kubeadm (`--cluster-cidr=`,
//! `--service-cluster-ip-range=`, `--pod-network-cidr`), klog's `FLAG: --cluster-cidr="..."`
//! lines, kubeadm's `podSubnet:`/`serviceSubnet:`, k3s's `--cluster-cidr`/`--service-cidr`, and
//! flannel's net-conf `"Network": "..."`, and the kubelet's `--cluster-dns` / `clusterDNS`.
//! They fill the hints the user did not give.

use ipnet::IpNet;
use netdoctor_model::{ClusterHints, LogFile, Source, Sourced};

/// (flag or key, which hint) in the forms they take.
const KEYS: &[(&str, Hint)] = &[
    ("--cluster-cidr", Hint::Cluster),
    ("--pod-network-cidr", Hint::Cluster),
    ("--cluster_cidr", Hint::Cluster),
    ("podSubnet:", Hint::Cluster),
    ("\"Network\":", Hint::Cluster),
    ("--service-cluster-ip-range", Hint::Service),
    ("--service-cidr", Hint::Service),
    ("serviceSubnet:", Hint::Service),
    ("--cluster-dns", Hint::Dns),
    ("--cluster_dns", Hint::Dns),
    ("clusterDNS:", Hint::Dns),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    Cluster,
    Service,
    Dns,
}

/// The value after `key` on `line`: `key=V`, `key V`, `key: V`, `key="V"`.
fn value_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(key)?;
    let rest = line[at + key.len()..].trim_start_matches(['=', ' ', '"', '\'']);
    let v = rest
        .split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ']' | '}'))
        .next()?;
    (!v.is_empty()).then_some(v)
}

/// Fill `hints.cluster_cidr` / `hints.service_cidr` (when not set) from the lines of `logs`.
/// With several CIDRs (dual-stack, `10.244.0.0/16,fd00::/48`) the IPv4 one is kept.
pub fn fill_hints(logs: &[LogFile], hints: &mut ClusterHints) {
    for log in logs {
        for (no, line) in &log.lines {
            for (key, which) in KEYS {
                if *which == Hint::Dns {
                    if hints.cluster_dns.is_none() {
                        let ip = value_after(line, key)
                            .and_then(|v| {
                                v.split(',').find_map(|a| {
                                    a.trim_start_matches(['[', '-', ' '])
                                        .parse::<std::net::IpAddr>()
                                        .ok()
                                })
                            })
                            .filter(|a| a.is_ipv4());
                        if let Some(ip) = ip {
                            hints.cluster_dns =
                                Some(Sourced::new(ip, Source::at(log.name.clone(), *no)));
                        }
                    }
                    continue;
                }
                let slot = match which {
                    Hint::Cluster => &mut hints.cluster_cidr,
                    Hint::Service => &mut hints.service_cidr,
                    Hint::Dns => continue,
                };
                if slot.is_some() {
                    continue;
                }
                let Some(v) = value_after(line, key) else {
                    continue;
                };
                let net = v
                    .split(',')
                    .filter_map(|c| c.parse::<IpNet>().ok())
                    .find(|n| n.addr().is_ipv4());
                if let Some(net) = net {
                    *slot = Some(Sourced::new(net.trunc(), Source::at(log.name.clone(), *no)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(lines: &[&str]) -> Vec<LogFile> {
        vec![LogFile {
            name: "x.txt".into(),
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, l)| (i as u32 + 1, l.to_string()))
                .collect(),
        }]
    }

    #[test]
    fn command_lines_klog_flags_and_kubeadm_config() {
        let mut h = ClusterHints::default();
        fill_hints(
            &log(&["kube-controller-manager --allocate-node-cidrs=true --cluster-cidr=10.111.0.0/16 --service-cluster-ip-range=10.96.0.0/12 --use-service-account-credentials=true"]),
            &mut h,
        );
        assert_eq!(
            h.cluster_cidr.as_ref().expect("cluster").value.to_string(),
            "10.111.0.0/16"
        );
        assert_eq!(
            h.service_cidr.as_ref().expect("service").value.to_string(),
            "10.96.0.0/12"
        );
        assert_eq!(h.cluster_cidr.expect("c").source, Source::at("x.txt", 1));
        let mut h = ClusterHints::default();
        fill_hints(
            &log(&[
                "I0101 flags.go:59] FLAG: --cluster-cidr=\"10.244.0.0/16,fd00:10:244::/56\"",
                "  podSubnet: 192.168.0.0/16",
                "  serviceSubnet: 10.96.0.0/12",
            ]),
            &mut h,
        );
        assert_eq!(
            h.cluster_cidr.expect("c").value.to_string(),
            "10.244.0.0/16"
        );
        assert_eq!(h.service_cidr.expect("s").value.to_string(), "10.96.0.0/12");
        // Not a CIDR: nothing is filled.
        let mut h = ClusterHints::default();
        fill_hints(&log(&["--cluster-cidr=<your pod range>"]), &mut h);
        assert_eq!(h.cluster_cidr, None);
    }
}
