use super::*;
use std::net::IpAddr;

const REAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/realworld/"
);

fn net(s: &str) -> ipnet::IpNet {
    s.parse().expect("net")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// flannel 0.5 era `ip route` with the old two-space style, cut in the middle of a line.
#[test]
fn k8s23683_old_style_and_cut() {
    let text = std::fs::read_to_string(format!(
        "{REAL}flannel/etcd_subnet_leases_and_ip_route__k8s23683.txt"
    ))
    .expect("fixture");
    let start = text
        .lines()
        .position(|l| l.starts_with("# ip route"))
        .expect("section");
    let section: Vec<Line<'_>> = text::numbered(&text)
        .into_iter()
        .skip(start + 1)
        .take(4)
        .collect();
    let (routes, problems) = parse_ip_route_lines(&section, "r.txt");
    assert_eq!(routes.len(), 3, "{routes:?}");
    assert_eq!(routes[0].dst, net("0.0.0.0/0"));
    assert_eq!(routes[0].gateway, Some(ip("10.85.81.129")));
    assert_eq!(routes[1].protocol.as_deref(), Some("kernel"));
    assert_eq!(routes[1].scope.as_deref(), Some("link"));
    assert_eq!(routes[1].prefsrc, Some(ip("10.85.81.165")));
    assert_eq!(routes[2].dst, net("20.1.0.0/16"));
    assert_eq!(routes[2].dev.as_deref(), Some("flannel.1"));
    assert!(routes.iter().all(|r| r.table == TABLE_MAIN));
    assert_eq!(routes[0].source.line, Some(start as u32 + 2));
    // `20.1.[... truncated in corpus]` is reported, not silently dropped.
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].source.line, Some(start as u32 + 5));
}

#[test]
fn table_all_types_and_attributes() {
    let text = "default via 192.168.1.1 dev eth0 proto dhcp src 192.168.1.4 metric 100\n\
        blackhole 10.244.1.0/26 proto bird\n\
        unreachable 10.9.0.0/16 metric 1024\n\
        10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink\n\
        10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink mtu lock 1400\n\
        local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1\n\
        broadcast 192.168.1.255 dev eth0 proto kernel scope link src 192.168.1.4\n\
        10.0.0.0/8 dev wg0 table 51820 scope link\n\
        fe80::/64 dev eth0 proto kernel metric 256 pref medium\n\
        default via fe80::1 dev eth0 proto ra metric 1024 expires 1795sec hoplimit 64 pref medium\n";
    let (routes, problems) = parse_ip_route(text, "ip-route.txt");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(routes.len(), 10);
    assert_eq!(routes[0].metric, Some(100));
    assert_eq!(routes[0].protocol.as_deref(), Some("dhcp"));
    assert_eq!(routes[1].kind, RouteKind::Blackhole);
    assert_eq!(routes[1].dev, None);
    assert_eq!(routes[2].kind, RouteKind::Unreachable);
    assert!(routes[3].onlink);
    assert_eq!(routes[4].mtu, Some(1400));
    assert_eq!(routes[5].kind, RouteKind::Local);
    assert_eq!(routes[5].table, TABLE_LOCAL);
    assert_eq!(routes[6].table, TABLE_LOCAL);
    assert_eq!(routes[7].table, 51820);
    assert_eq!(routes[8].dst, net("fe80::/64"));
    assert_eq!(routes[9].dst, net("::/0"));
    assert_eq!(routes[9].gateway, Some(ip("fe80::1")));
}

#[test]
fn joined_lines_prompts_are_not_routes_and_multipath() {
    let text = "default via 10.0.0.1 dev eth0 10.244.0.0/24 via 10.244.0.0 dev flannel.1 onlink\n\
        10.1.0.0/16 proto static\n    nexthop via 10.0.0.2 dev eth0 weight 1\n    nexthop via 10.0.0.3 dev eth1 weight 1\n\
        10.2.0.0/16 dev eth0 bogusword 3\n";
    let (routes, problems) = parse_ip_route(text, "f");
    assert_eq!(routes.len(), 3, "{routes:?}");
    assert_eq!(routes[1].dst, net("10.244.0.0/24"));
    assert!(routes[1].onlink);
    assert_eq!(routes[1].source.line, Some(1));
    assert_eq!(routes[2].gateway, Some(ip("10.0.0.2")));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].source.line, Some(5));
}

#[test]
fn json_routes() {
    let text = r#"[{"dst":"default","gateway":"10.0.0.1","dev":"eth0","protocol":"dhcp","metric":100,"flags":[]},
{"type":"blackhole","dst":"10.244.1.0/26","protocol":"bird","flags":[]},
{"type":"local","dst":"10.0.0.5","table":"local","dev":"eth0","scope":"host","prefsrc":"10.0.0.5","flags":[]},
{"dst":"10.244.2.0/24","gateway":"10.244.2.0","dev":"flannel.1","flags":["onlink"],"metrics":[{"mtu":1400}]}]"#;
    let (routes, problems) = parse_ip_route(text, "f");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(routes.len(), 4);
    assert_eq!(routes[0].dst, net("0.0.0.0/0"));
    assert_eq!(routes[1].kind, RouteKind::Blackhole);
    assert_eq!(routes[2].table, TABLE_LOCAL);
    assert_eq!(routes[2].dst, net("10.0.0.5/32"));
    assert!(routes[3].onlink);
    assert_eq!(routes[3].mtu, Some(1400));
}

#[test]
fn indented_pastes_and_orphan_nexthops() {
    let text = "    default via 10.0.0.1 dev eth0\n    nexthop via 10.0.0.2 dev eth0\n";
    let (routes, problems) = parse_ip_route(text, "f");
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].gateway, Some(ip("10.0.0.1")));
    assert!(problems.is_empty(), "{problems:?}");
    let (routes, problems) = parse_ip_route("    nexthop via 10.0.0.2 dev eth0\n", "f");
    assert!(routes.is_empty());
    assert_eq!(problems.len(), 1);
}
