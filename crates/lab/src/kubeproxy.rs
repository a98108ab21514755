//! The node's iptables rules as kube-proxy (iptables mode) and flanneld write them, rendered as
//! one `iptables-restore` document.
//!
//! Chain shapes follow kube-proxy v1.30's output (see
//! `tests/fixtures/realworld/iptables/kubeproxy_test_overall_v1.30.rules`) plus the jumps from
//! the built-in chains that kube-proxy ensures separately. The `nfacct` counters are left out:
//! they need accounting objects that kube-proxy creates and the lab does not.

use crate::plan::{CLUSTER_CIDR, MASQ_MARK};
use sha2::{Digest, Sha256};
use std::fmt::Write;
use std::net::Ipv4Addr;

/// A service port as kube-proxy sees it at one sync.
#[derive(Debug, Clone)]
pub(crate) struct RenderedService {
    /// `namespace/name:port`.
    pub port_ref: String,
    pub cluster_ip: Ipv4Addr,
    pub port: u16,
    pub node_port: Option<u16>,
    /// Ready endpoints (`ip`, target port).
    pub endpoints: Vec<(Ipv4Addr, u16)>,
}

/// kube-proxy's chain-name hash: base32(sha256(input))[..16].
pub(crate) fn chain_hash(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    base32_std(&digest)[..16].to_string()
}

/// RFC 4648 base32 with the standard alphabet (what Go's `base32.StdEncoding` produces, minus
/// padding, which never reaches the first 16 characters).
fn base32_std(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn svc_chain(port_ref: &str) -> String {
    format!("KUBE-SVC-{}", chain_hash(&format!("{port_ref}tcp")))
}

fn ext_chain(port_ref: &str) -> String {
    format!("KUBE-EXT-{}", chain_hash(&format!("{port_ref}tcp")))
}

fn sep_chain(port_ref: &str, ip: Ipv4Addr, port: u16) -> String {
    format!(
        "KUBE-SEP-{}",
        chain_hash(&format!("{port_ref}tcp{ip}:{port}"))
    )
}

/// kube-proxy's filter and nat tables for `services`, without flannel's rules.
pub(crate) fn kube_proxy_rules(services: &[RenderedService]) -> (String, String) {
    let mut filter = String::new();
    let mut nat = String::new();
    // Jumps kube-proxy ensures in the built-in chains before each sync.
    filter.push_str(concat!(
        ":KUBE-NODEPORTS - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]\n",
        ":KUBE-FIREWALL - [0:0]\n:KUBE-FORWARD - [0:0]\n:KUBE-PROXY-FIREWALL - [0:0]\n",
        "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL\n",
        "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS\n",
        "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES\n",
        "-A INPUT -j KUBE-FIREWALL\n",
        "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL\n",
        "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n",
        "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n",
        "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES\n",
        "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL\n",
        "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n",
        "-A OUTPUT -j KUBE-FIREWALL\n",
    ));
    nat.push_str(concat!(
        ":KUBE-NODEPORTS - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n",
        ":KUBE-POSTROUTING - [0:0]\n",
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n",
        "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n",
        "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n",
    ));

    let mut nat_chains = String::new();
    let mut nat_rules = String::new();
    let mut nodeports = String::new();
    let mut services_rules = String::new();
    for s in services {
        let r = &s.port_ref;
        if s.endpoints.is_empty() {
            let _ = writeln!(
                filter,
                "-A KUBE-SERVICES -m comment --comment \"{r} has no endpoints\" -m tcp -p tcp -d {} --dport {} -j REJECT",
                s.cluster_ip, s.port
            );
            if let Some(np) = s.node_port {
                let _ = writeln!(
                    filter,
                    "-A KUBE-EXTERNAL-SERVICES -m comment --comment \"{r} has no endpoints\" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport {np} -j REJECT"
                );
            }
            continue;
        }
        let svc = svc_chain(r);
        let _ = writeln!(nat_chains, ":{svc} - [0:0]");
        let _ = writeln!(
            services_rules,
            "-A KUBE-SERVICES -m comment --comment \"{r} cluster IP\" -m tcp -p tcp -d {} --dport {} -j {svc}",
            s.cluster_ip, s.port
        );
        if let Some(np) = s.node_port {
            let ext = ext_chain(r);
            let _ = writeln!(nat_chains, ":{ext} - [0:0]");
            let _ = writeln!(
                nodeports,
                "-A KUBE-NODEPORTS -m comment --comment {r} -m tcp -p tcp --dport {np} -j {ext}"
            );
            let _ = writeln!(
                nat_rules,
                "-A {ext} -m comment --comment \"masquerade traffic for {r} external destinations\" -j KUBE-MARK-MASQ\n-A {ext} -j {svc}"
            );
        }
        let _ = writeln!(
            nat_rules,
            "-A {svc} -m comment --comment \"{r} cluster IP\" -m tcp -p tcp -d {} --dport {} ! -s {CLUSTER_CIDR} -j KUBE-MARK-MASQ",
            s.cluster_ip, s.port
        );
        let n = s.endpoints.len();
        for (k, (ip, port)) in s.endpoints.iter().enumerate() {
            let sep = sep_chain(r, *ip, *port);
            let _ = writeln!(nat_chains, ":{sep} - [0:0]");
            // kube-proxy spreads load with decreasing probabilities 1/n, 1/(n-1), ..., last always.
            let remaining = n - k;
            let stat = if remaining > 1 {
                format!(
                    " -m statistic --mode random --probability {:.10}",
                    1.0 / remaining as f64
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                nat_rules,
                "-A {svc} -m comment --comment \"{r} -> {ip}:{port}\"{stat} -j {sep}"
            );
            let _ = writeln!(
                nat_rules,
                "-A {sep} -m comment --comment {r} -s {ip} -j KUBE-MARK-MASQ\n-A {sep} -m comment --comment {r} -m tcp -p tcp -j DNAT --to-destination {ip}:{port}"
            );
        }
    }
    nat.push_str(&nat_chains);
    nat.push_str(&nodeports);
    nat.push_str(&services_rules);
    nat.push_str("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n");
    nat.push_str(&nat_rules);
    let _ = write!(
        nat,
        "-A KUBE-MARK-MASQ -j MARK --or-mark {MASQ_MARK}\n\
         -A KUBE-POSTROUTING -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN\n\
         -A KUBE-POSTROUTING -j MARK --xor-mark {MASQ_MARK}\n\
         -A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE\n"
    );
    let _ = write!(
        filter,
        "-A KUBE-FIREWALL -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n\
         -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n\
         -A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT\n\
         -A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
    );
    (filter, nat)
}

/// flanneld's forward accepts and masquerade rules for a node whose subnet is `node_cidr`.
pub(crate) fn flannel_rules(node_cidr: &str) -> (String, String) {
    let c = CLUSTER_CIDR;
    let filter = format!(
        ":FLANNEL-FWD - [0:0]\n\
         -A FORWARD -m comment --comment \"flanneld forward\" -j FLANNEL-FWD\n\
         -A FLANNEL-FWD -s {c} -m comment --comment \"flanneld forward\" -j ACCEPT\n\
         -A FLANNEL-FWD -d {c} -m comment --comment \"flanneld forward\" -j ACCEPT\n"
    );
    let nat = format!(
        ":FLANNEL-POSTRTG - [0:0]\n\
         -A POSTROUTING -m comment --comment \"flanneld masq\" -j FLANNEL-POSTRTG\n\
         -A FLANNEL-POSTRTG -m mark --mark {MASQ_MARK}/{MASQ_MARK} -m comment --comment \"flanneld masq\" -j RETURN\n\
         -A FLANNEL-POSTRTG -s {node_cidr} -d {c} -m comment --comment \"flanneld masq\" -j RETURN\n\
         -A FLANNEL-POSTRTG -s {c} -d {node_cidr} -m comment --comment \"flanneld masq\" -j RETURN\n\
         -A FLANNEL-POSTRTG ! -s {c} -d {node_cidr} -m comment --comment \"flanneld masq\" -j RETURN\n\
         -A FLANNEL-POSTRTG -s {c} ! -d 224.0.0.0/4 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully\n\
         -A FLANNEL-POSTRTG ! -s {c} -d {c} -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully\n"
    );
    (filter, nat)
}

/// One `iptables-restore` document: kube-proxy's rules, and flannel's when `node_cidr` is given.
pub(crate) fn restore_document(services: &[RenderedService], node_cidr: Option<&str>) -> String {
    let (kf, kn) = kube_proxy_rules(services);
    let (ff, fnat) = node_cidr.map(flannel_rules).unwrap_or_default();
    format!("*filter\n{kf}{ff}COMMIT\n*nat\n{kn}{fnat}COMMIT\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_match_kube_proxy() {
        // Names taken from the v1.30 fixture: ns1/svc1:p80 and its endpoint 10.180.0.1:80.
        assert_eq!(svc_chain("ns1/svc1:p80"), "KUBE-SVC-XPGD46QRK7WJZT7O");
        assert_eq!(ext_chain("ns2/svc2:p80"), "KUBE-EXT-GNZBNJ2PO5MGZ6GT");
        assert_eq!(
            sep_chain("ns1/svc1:p80", Ipv4Addr::new(10, 180, 0, 1), 80),
            "KUBE-SEP-SXIVWICOYRO3J4NJ"
        );
    }

    #[test]
    fn no_endpoints_renders_reject_and_no_dnat() {
        let svc = RenderedService {
            port_ref: "default/gone:http".into(),
            cluster_ip: Ipv4Addr::new(10, 96, 0, 40),
            port: 80,
            node_port: None,
            endpoints: vec![],
        };
        let doc = restore_document(&[svc], None);
        assert!(doc.contains("\"default/gone:http has no endpoints\""));
        assert!(doc.contains("-d 10.96.0.40 --dport 80 -j REJECT"));
        assert!(!doc.contains("-j DNAT"));
    }

    #[test]
    fn every_jump_target_is_declared() {
        let svc = RenderedService {
            port_ref: "default/web:http".into(),
            cluster_ip: Ipv4Addr::new(10, 96, 0, 10),
            port: 80,
            node_port: Some(30080),
            endpoints: vec![
                (Ipv4Addr::new(10, 244, 0, 2), 8080),
                (Ipv4Addr::new(10, 244, 1, 2), 8080),
            ],
        };
        let doc = restore_document(&[svc], Some("10.244.0.0/24"));
        let builtin = [
            "ACCEPT",
            "DROP",
            "REJECT",
            "RETURN",
            "DNAT",
            "MARK",
            "MASQUERADE",
        ];
        for line in doc.lines().filter(|l| l.starts_with("-A ")) {
            let chain = line.split_whitespace().nth(1).expect("chain");
            assert!(
                doc.contains(&format!(":{chain} "))
                    || ["INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"].contains(&chain),
                "undeclared chain {chain}"
            );
            if let Some(t) = line.split(" -j ").nth(1) {
                let t = t.split_whitespace().next().expect("target");
                assert!(
                    builtin.contains(&t) || doc.contains(&format!(":{t} ")),
                    "undeclared target {t}"
                );
            }
        }
        assert!(doc.contains("--probability 0.5000000000"));
    }
}
