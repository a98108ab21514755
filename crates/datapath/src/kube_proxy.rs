//! kube-proxy's own words in the rules it writes, matched in one place.

/// The Service a kube-proxy "has no endpoints" rule names (`ns/name:port`), when `text` is one:
/// iptables mode writes `-m comment --comment "ns/svc:port has no endpoints" ... -j REJECT`
/// (pkg/proxy/iptables/proxier.go).
pub fn no_endpoints_service(text: &str) -> Option<&str> {
    if !text.contains("has no endpoints") {
        return None;
    }
    text.split('"')
        .nth(1)
        .and_then(|c| c.strip_suffix(" has no endpoints"))
}

/// The iptables rule is kube-proxy's REJECT for a Service without endpoints.
pub fn is_no_endpoints_reject(text: &str) -> bool {
    text.contains("has no endpoints") && text.contains("-j REJECT")
}

/// The rule that decided a packet's fate is kube-proxy's reject of a Service without
/// endpoints: in iptables mode the REJECT whose comment says so; in nftables mode the `reject`
/// of table `kube-proxy`'s `reject-chain`, which the `no-endpoint-services` and
/// `no-endpoint-nodeports` maps jump to (pkg/proxy/nftables/proxier.go).
pub fn rejects_for_no_endpoints(table: &str, chain: &str, text: &str) -> bool {
    text.contains("has no endpoints") || (table == "kube-proxy" && chain == "reject-chain")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_service_of_a_reject() {
        let l = r#"-A KUBE-SERVICES -d 10.0.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns has no endpoints" -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable"#;
        assert_eq!(no_endpoints_service(l), Some("kube-system/kube-dns:dns"));
        assert!(is_no_endpoints_reject(l));
        assert!(!is_no_endpoints_reject(
            r#"-A KUBE-SERVICES -m comment --comment "kube-system/kube-dns:dns cluster IP" -j KUBE-SVC-X"#
        ));
        assert_eq!(no_endpoints_service("-A FORWARD -j ACCEPT"), None);
        assert!(rejects_for_no_endpoints(
            "kube-proxy",
            "reject-chain",
            "reject"
        ));
        assert!(rejects_for_no_endpoints("filter", "KUBE-SERVICES", l));
        assert!(!rejects_for_no_endpoints(
            "kube-proxy",
            "cluster-ips-check",
            "ip daddr @cluster-ips reject"
        ));
    }
}
