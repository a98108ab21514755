//! `ip addr` / `ip -d addr` text and `ip -j addr` JSON. An `ip addr` block is an `ip link` block
//! plus `inet`/`inet6` lines, so this yields links as well as addresses.

use crate::text;
use netdoctor_model::{Address, Link, ParseProblem};

/// Parse `ip addr` output: the links it shows and their addresses.
pub fn parse_ip_addr(text: &str, file: &str) -> (Vec<Link>, Vec<Address>, Vec<ParseProblem>) {
    if crate::ipjson::looks_like_json(text) {
        return crate::ipjson::parse_links_json(text, file, 1);
    }
    let out = crate::iplink::parse_link_blocks(&text::numbered(text), file);
    (out.links, out.addrs, out.problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    const REAL: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/realworld/"
    );

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    /// The AKS node's `ip a` (lines 9-43 of the excerpt), read with its original line numbers.
    #[test]
    fn aks_ip_a() {
        let text = std::fs::read_to_string(format!(
            "{REAL}calico/aks_kubenet_calico_node_state__excerpt.txt"
        ))
        .expect("fixture");
        let section: Vec<&str> = text
            .lines()
            .enumerate()
            .map(|(i, l)| if (8..43).contains(&i) { l } else { "" })
            .collect();
        let (links, addrs, problems) = parse_ip_addr(&section.join("\n"), "aks.txt");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(links.len(), 8);
        let eth0 = links.iter().find(|l| l.name == "eth0").expect("eth0");
        assert_eq!(eth0.source.line, Some(15));
        let slave = links.iter().find(|l| l.name == "enP296s1").expect("vf");
        assert_eq!(slave.master.as_deref(), Some("eth0"));
        let cali = links
            .iter()
            .find(|l| l.name == "cali7f995c717f8")
            .expect("cali");
        assert_eq!(cali.peer_index, Some(3));
        let v4: Vec<_> = addrs.iter().filter(|a| a.addr.is_ipv4()).collect();
        assert_eq!(v4.len(), 2);
        let node = v4.iter().find(|a| a.ifname == "eth0").expect("node ip");
        assert_eq!(node.addr, ip("192.168.1.4"));
        assert_eq!(node.prefix_len, 24);
        assert_eq!(node.scope.as_deref(), Some("global"));
        assert_eq!(node.source.line, Some(17));
        assert_eq!(addrs.iter().filter(|a| a.addr.is_ipv6()).count(), 7);
    }

    #[test]
    fn peer_addresses_and_oneline() {
        let text = "4: tun0: <POINTOPOINT,UP> mtu 1400\n    inet 10.8.0.1 peer 10.8.0.2/32 scope global tun0\n\
            5: eth1    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth1\\       valid_lft forever preferred_lft forever";
        let (links, addrs, problems) = parse_ip_addr(text, "f");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(links.len(), 2);
        assert_eq!(addrs[0].peer, Some(ip("10.8.0.2")));
        assert_eq!(addrs[0].prefix_len, 32);
        assert_eq!(addrs[1].ifname, "eth1");
        assert_eq!(
            addrs[1].network(),
            Some("10.0.0.0/24".parse().expect("net"))
        );
    }

    #[test]
    fn cut_address_line_is_a_problem() {
        let text = "2: eth0: <UP> mtu 1500\n    inet 192.168.1[... truncated]";
        let (links, addrs, problems) = parse_ip_addr(text, "f");
        assert_eq!(links.len(), 1);
        assert!(addrs.is_empty());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("cut"), "{problems:?}");
    }
}
