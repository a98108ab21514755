//! Tested on real pastes (`tests/pastes/`, each with the thread it comes from).

use super::*;
use crate::forms::pastes::paste;

#[test]
fn ipvsadm_kube_proxy_services_and_reals() {
    let (lines, file) = paste("ipvsadm/kubernetes-81477-ipvsadm-ln-sctp.txt");
    // Line 1 is the command (the section reader strips it).
    let (svcs, problems) = parse_ipvsadm_lines(&text::numbered(&lines)[1..], &file);
    // The paste's last line is cut mid-way (its InActConn column is missing).
    assert!(problems.is_empty(), "{problems:?}");
    let dns = svcs
        .iter()
        .find(|s| s.protocol == "UDP" && s.port == 53)
        .expect("kube-dns UDP");
    assert_eq!(dns.reals.len(), 2);
    assert_eq!(dns.address.to_string(), "10.96.0.10");
    assert!(svcs.iter().any(|s| s.protocol == "SCTP"));
    // Service names instead of numbers (`ipvsadm -L` without -n) are not misread as numbers.
    let (lines, file) = paste("ipvsadm/kube-router-415-ipvsadm-l-names.txt");
    let (svcs, problems) = parse_ipvsadm_lines(&text::numbered(&lines), &file);
    assert!(svcs.iter().all(|s| s.port != 0));
    assert!(
        !problems.is_empty(),
        "named ports are reported, not guessed"
    );
}

#[test]
fn ipset_members_and_a_cut_listing() {
    let (lines, file) = paste("ipset/kubernetes-54203-ipset-list-test-set.txt");
    let (sets, problems) = parse_ipset_lines(&text::numbered(&lines)[1..], &file);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(sets[0].name, "test");
    assert_eq!(sets[0].kind, "hash:ip,port");
    assert_eq!(sets[0].members, ["8.8.8.8,udp:100", "8.8.8.8,udp:53"]);
    let (lines, file) = paste("ipset/sealos-2108-ipset-list-kube-cluster-ip.txt");
    let (sets, _) = parse_ipset_lines(&text::numbered(&lines)[1..], &file);
    assert_eq!(sets[0].name, "KUBE-CLUSTER-IP");
    assert!(sets[0].members.len() > 10);
}

#[test]
fn ip_tunnel_show() {
    let (lines, file) = paste("ip-tunnel/iproute2-34-ip-tunnel-show.txt");
    let numbered = text::numbered(&lines);
    let body: Vec<Line<'_>> = numbered
        .into_iter()
        .filter(|l| l.text.contains(": ") && !l.text.contains('#'))
        .collect();
    let (links, problems) = parse_ip_tunnel_lines(&body, &file);
    assert!(problems.is_empty(), "{problems:?}");
    let tunl0 = links.iter().find(|l| l.name == "tunl0").expect("tunl0");
    assert_eq!(tunl0.kind.as_deref(), Some("ipip"));
}

#[test]
fn brctl_show_and_bridge_link() {
    let (lines, file) = paste("brctl/flannel-1029-brctl-show-cni0-many-veths.txt");
    let (ports, problems) = parse_bridge_lines(&text::numbered(&lines)[1..], &file);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(ports.iter().filter(|p| p.bridge == "cni0").count(), 12);
    let (lines, file) = paste("brctl/cni-64-bridge-link-show-cni0.txt");
    let (ports, _) = parse_bridge_lines(&text::numbered(&lines)[1..], &file);
    assert_eq!(ports[0].bridge, "cni0");
    assert_eq!(ports[0].port, "veth53d096e0");
}

#[test]
fn ethtool_offloads() {
    let (lines, file) = paste("ethtool-k/kubespray-7268-ethtool-k-ens192.txt");
    let numbered = text::numbered(&lines);
    let (offloads, problems) = parse_ethtool_lines(&numbered[1..], &file, None);
    // The paste is cut in its last line.
    let last = numbered
        .iter()
        .rev()
        .find(|l| !l.text.trim().is_empty())
        .map(|l| l.no);
    assert!(
        problems.iter().all(|p| p.source.line == last),
        "{problems:?}"
    );
    let generic = offloads
        .iter()
        .find(|o| o.feature == "tx-checksum-ip-generic")
        .expect("feature");
    assert!(generic.on && !generic.fixed);
    assert_eq!(generic.ifname, "ens192");
    assert!(offloads
        .iter()
        .any(|o| o.feature == "tx-checksum-ipv4" && o.fixed && !o.on));
}

#[test]
fn link_counters() {
    let (lines, file) = paste("ip-s-link/flannel-2557-ip-s-s-link-flannel1.txt");
    let stats = parse_link_stats_lines(&text::numbered(&lines), &file);
    let f = stats
        .iter()
        .find(|s| s.ifname == "flannel.1")
        .expect("flannel.1");
    assert_eq!(f.rx_packets, Some(11_973_699));
    assert_eq!(f.tx_dropped, Some(42));
    let (lines, file) = paste("ip-s-link/k8s-gitops-311-ip-s-link-eth0.txt");
    let stats = parse_link_stats_lines(&text::numbered(&lines), &file);
    assert_eq!(stats[0].rx_dropped, Some(890_437));
}
