//! The node's rules as kube-proxy and flanneld write them: kube-proxy's iptables mode and
//! flannel's rules as one `iptables-restore` document, and kube-proxy's nftables mode as one
//! `nft -f` document (its `table ip kube-proxy`).
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

/// kube-proxy's nftables chain-name prefix: base32(sha256(name))[..8] + "-" + name
/// (`hashAndTruncate` in pkg/proxy/nftables/proxier.go; the lab's names stay far below the
/// 256-byte limit, so nothing is truncated).
fn nft_hashed(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    format!("{}-{name}", &base32_std(&digest)[..8])
}

/// `namespace/name/tcp/port` from a `namespace/name:port` reference.
fn nft_base(port_ref: &str) -> String {
    let (svc, port) = port_ref.split_once(':').unwrap_or((port_ref, ""));
    format!("{svc}/tcp/{port}")
}

/// kube-proxy's nftables mode for `services` on a node whose NodePort address is `node_ip`:
/// the table `nft list ruleset` shows (the shape of pkg/proxy/nftables/proxier.go's output, as
/// its unit tests write it out; see `crates/netfilter/tests/data/kp.nft`), ready for `nft -f`.
/// Loading it replaces the previous table in one transaction, as a sync does.
pub(crate) fn kube_proxy_nft(services: &[RenderedService], node_ip: Ipv4Addr) -> String {
    let elements = |v: &[String]| {
        if v.is_empty() {
            String::new()
        } else {
            format!("\t\telements = {{ {} }}\n", v.join(", "))
        }
    };
    let mut cluster_ips = Vec::new();
    let mut service_ips = Vec::new();
    let mut service_nodeports = Vec::new();
    let mut no_endpoint_services = Vec::new();
    let mut no_endpoint_nodeports = Vec::new();
    let mut chains = String::new();
    for s in services {
        let base = nft_base(&s.port_ref);
        let svc = format!("service-{}", nft_hashed(&base));
        let ext = format!("external-{}", nft_hashed(&base));
        cluster_ips.push(s.cluster_ip.to_string());
        if s.endpoints.is_empty() {
            no_endpoint_services.push(format!(
                "{} . tcp . {} comment \"{}\" : goto reject-chain",
                s.cluster_ip, s.port, s.port_ref
            ));
            if let Some(np) = s.node_port {
                no_endpoint_nodeports.push(format!(
                    "tcp . {np} comment \"{}\" : goto reject-chain",
                    s.port_ref
                ));
            }
            continue;
        }
        service_ips.push(format!("{} . tcp . {} : goto {svc}", s.cluster_ip, s.port));
        let mut branches = Vec::new();
        for (k, (ip, port)) in s.endpoints.iter().enumerate() {
            let ep = format!("endpoint-{}", nft_hashed(&format!("{base}__{ip}/{port}")));
            branches.push(format!("{k} : goto {ep}"));
            let _ = write!(
                chains,
                "\tchain {ep} {{\n\t\tip saddr {ip} jump mark-for-masquerade\n\t\tmeta l4proto tcp dnat to {ip}:{port}\n\t}}\n"
            );
        }
        let _ = write!(
            chains,
            "\tchain {svc} {{\n\t\tip daddr {} tcp dport {} ip saddr != {CLUSTER_CIDR} jump mark-for-masquerade\n\t\tnumgen random mod {} vmap {{ {} }}\n\t}}\n",
            s.cluster_ip,
            s.port,
            s.endpoints.len(),
            branches.join(", ")
        );
        if let Some(np) = s.node_port {
            service_nodeports.push(format!("tcp . {np} : goto {ext}"));
            let _ = write!(
                chains,
                "\tchain {ext} {{\n\t\tjump mark-for-masquerade\n\t\tgoto {svc}\n\t}}\n"
            );
        }
    }
    let mut doc = String::from(
        "add table ip kube-proxy\ndelete table ip kube-proxy\ntable ip kube-proxy {\n\tcomment \"rules for kube-proxy\"\n",
    );
    let _ = write!(
        doc,
        "\tset cluster-ips {{\n\t\ttype ipv4_addr\n{}\t}}\n\tset nodeport-ips {{\n\t\ttype ipv4_addr\n{}\t}}\n",
        elements(&cluster_ips),
        elements(&[node_ip.to_string()])
    );
    for (name, key, v) in [
        (
            "no-endpoint-services",
            "ipv4_addr . inet_proto . inet_service",
            &no_endpoint_services,
        ),
        (
            "no-endpoint-nodeports",
            "inet_proto . inet_service",
            &no_endpoint_nodeports,
        ),
        (
            "service-ips",
            "ipv4_addr . inet_proto . inet_service",
            &service_ips,
        ),
        (
            "service-nodeports",
            "inet_proto . inet_service",
            &service_nodeports,
        ),
    ] {
        let _ = write!(
            doc,
            "\tmap {name} {{\n\t\ttype {key} : verdict\n{}\t}}\n",
            elements(v)
        );
    }
    let _ = write!(
        doc,
        concat!(
            "\tchain filter-prerouting {{\n\t\ttype filter hook prerouting priority dstnat - 10; policy accept;\n\t\tct state new jump firewall-check\n\t}}\n",
            "\tchain filter-input {{\n\t\ttype filter hook input priority -110; policy accept;\n\t\tct state new jump nodeport-endpoints-check\n\t\tct state new jump service-endpoints-check\n\t}}\n",
            "\tchain filter-forward {{\n\t\ttype filter hook forward priority -110; policy accept;\n\t\tct state new jump service-endpoints-check\n\t\tct state new jump cluster-ips-check\n\t}}\n",
            "\tchain filter-output {{\n\t\ttype filter hook output priority -110; policy accept;\n\t\tct state new jump service-endpoints-check\n\t\tct state new jump firewall-check\n\t}}\n",
            "\tchain filter-output-post-dnat {{\n\t\ttype filter hook output priority -90; policy accept;\n\t\tct state new jump cluster-ips-check\n\t}}\n",
            "\tchain firewall-check {{\n\t}}\n",
            "\tchain reject-chain {{\n\t\tcomment \"helper for @no-endpoint-services / @no-endpoint-nodeports\"\n\t\treject\n\t}}\n",
            "\tchain cluster-ips-check {{\n\t\tip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"\n\t}}\n",
            "\tchain service-endpoints-check {{\n\t\tip daddr . meta l4proto . th dport vmap @no-endpoint-services\n\t}}\n",
            "\tchain nodeport-endpoints-check {{\n\t\tip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports\n\t}}\n",
            "\tchain mark-for-masquerade {{\n\t\tmark set mark or {m}\n\t}}\n",
            "\tchain masquerading {{\n\t\tmark and {m} == 0 return\n\t\tmark set mark xor {m}\n\t\tmasquerade fully-random\n\t}}\n",
            "\tchain nat-prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tjump services\n\t}}\n",
            "\tchain nat-output {{\n\t\ttype nat hook output priority -100; policy accept;\n\t\tjump services\n\t}}\n",
            "\tchain nat-postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tjump masquerading\n\t}}\n",
            "\tchain services {{\n\t\tip daddr . meta l4proto . th dport vmap @service-ips\n\t\tfib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports\n\t}}\n",
        ),
        m = MASQ_MARK
    );
    doc.push_str(&chains);
    doc.push_str("}\n");
    doc
}

/// One `iptables-restore` document: flannel's rules only (kube-proxy in nftables mode writes
/// no iptables rules).
pub(crate) fn flannel_document(node_cidr: &str) -> String {
    let (ff, fnat) = flannel_rules(node_cidr);
    format!("*filter\n{ff}COMMIT\n*nat\n{fnat}COMMIT\n")
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
    fn nft_chain_names_match_kube_proxy() {
        // Names from kube-proxy's nftables unit tests (crates/netfilter/tests/data/kp.nft).
        assert_eq!(
            nft_hashed(&nft_base("ns1/svc1:p80")),
            "ULMVA6XW-ns1/svc1/tcp/p80"
        );
        assert_eq!(
            nft_hashed("ns1/svc1/tcp/p80__10.180.0.1/80"),
            "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
        );
    }

    #[test]
    fn nft_document_names_every_chain_it_jumps_to() {
        let svc = |r: &str, ip, eps: Vec<(Ipv4Addr, u16)>| RenderedService {
            port_ref: r.into(),
            cluster_ip: ip,
            port: 80,
            node_port: Some(30080),
            endpoints: eps,
        };
        let doc = kube_proxy_nft(
            &[
                svc(
                    "default/web:http",
                    Ipv4Addr::new(10, 96, 0, 10),
                    vec![
                        (Ipv4Addr::new(10, 244, 0, 2), 8080),
                        (Ipv4Addr::new(10, 244, 1, 2), 8080),
                    ],
                ),
                svc("default/gone:http", Ipv4Addr::new(10, 96, 0, 40), vec![]),
            ],
            Ipv4Addr::new(172, 31, 255, 10),
        );
        for target in doc
            .split("goto ")
            .skip(1)
            .chain(doc.split("jump ").skip(1))
            .filter_map(|t| t.split([' ', ',', '\n']).next())
        {
            assert!(
                doc.contains(&format!("chain {target} {{")),
                "no chain {target}:\n{doc}"
            );
        }
        assert!(doc.contains("numgen random mod 2 vmap { 0 : goto endpoint-"));
        assert!(
            doc.contains("10.96.0.40 . tcp . 80 comment \"default/gone:http\" : goto reject-chain")
        );
        assert!(doc.contains("tcp . 30080 comment \"default/gone:http\" : goto reject-chain"));
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
