use super::*;

const REAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/realworld/"
);

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{REAL}{name}")).expect("fixture")
}

fn net(s: &str) -> ipnet::IpNet {
    s.parse().expect("net")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// Lines of a fixture from the first line starting with `from`, keeping line numbers.
fn from_line<'a>(text: &'a str, from: &str) -> Vec<Line<'a>> {
    let start = text
        .lines()
        .position(|l| l.starts_with(from))
        .expect("start");
    text::numbered(text).into_iter().skip(start).collect()
}

#[test]
fn calico281_blackhole_blocks() {
    let text = fixture("iproute/calico_ipip_route_n__calico281.txt");
    let (routes, problems) = parse_route_n_lines(&from_line(&text, "Destination"), "route-n.txt");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(routes.len(), 8);
    assert_eq!(routes[0].dst, net("0.0.0.0/0"));
    assert_eq!(routes[0].gateway, Some(ip("10.211.55.1")));
    assert_eq!(routes[0].dev.as_deref(), Some("enp0s5"));
    assert_eq!(routes[2].metric, Some(1002));
    assert_eq!(routes[4].dst, net("192.168.1.0/26"));
    assert_eq!(routes[4].dev.as_deref(), Some("tunl0"));
    let holes: Vec<_> = routes
        .iter()
        .filter(|r| r.kind == RouteKind::Blackhole)
        .map(|r| r.dst)
        .collect();
    assert_eq!(
        holes,
        vec![net("192.168.1.64/26"), net("192.168.77.192/26")]
    );
    assert_eq!(routes[7].dst, net("192.168.77.198/32"));
    assert_eq!(routes[7].kind, RouteKind::Unicast);
    assert!(routes.iter().all(|r| r.table == TABLE_MAIN));
    let first_row = text
        .lines()
        .position(|l| l.starts_with("0.0.0.0"))
        .expect("row");
    assert_eq!(routes[0].source.line, Some(first_row as u32 + 1));
}

#[test]
fn calico4134_names_keep_the_route() {
    let text = fixture("iproute/calico_vxlan_route_n__calico4134.txt");
    let (routes, problems) = parse_route_n_lines(&from_line(&text, "Kernel IP"), "f");
    // `_gateway` as a destination cannot be resolved: that row is reported, every other kept.
    assert_eq!(routes.len(), 9, "{routes:?}");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].message.contains("_gateway"));
    assert_eq!(routes[0].dst, net("0.0.0.0/0"));
    assert_eq!(routes[0].gateway, None);
    assert_eq!(routes[0].dev.as_deref(), Some("eth0"));
    let vx: Vec<_> = routes
        .iter()
        .filter(|r| r.dev.as_deref() == Some("vxlan.calico"))
        .collect();
    assert_eq!(vx.len(), 6);
    assert_eq!(vx[0].gateway, Some(ip("192.168.25.64")));
}

#[test]
fn k8s97357_non_numeric_route() {
    let text = fixture("iproute/flannel_node_route_n__k8s97357.txt");
    let lines: Vec<_> = from_line(&text, "Kernel IP").into_iter().take(7).collect();
    let (routes, problems) = parse_route_n_lines(&lines, "f");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(routes.len(), 5);
    assert_eq!(routes[1].gateway, None);
    assert_eq!(routes[1].dst, net("10.33.188.0/24"));
    assert_eq!(routes[2].gateway, Some(ip("10.244.0.0")));
    assert_eq!(routes[3].dev.as_deref(), Some("cni0"));
}

#[test]
fn aks_route_nv_host_routes() {
    let text = fixture("calico/aks_kubenet_calico_node_state__excerpt.txt");
    let lines: Vec<_> = from_line(&text, "Kernel IP").into_iter().take(13).collect();
    let (routes, problems) = parse_route_n_lines(&lines, "f");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(routes.len(), 11);
    let wire = routes
        .iter()
        .find(|r| r.dst == net("168.63.129.16/32"))
        .expect("wireserver");
    assert_eq!(wire.gateway, Some(ip("192.168.1.1")));
    assert_eq!(
        routes
            .iter()
            .filter(|r| r.dev.as_deref().is_some_and(|d| d.starts_with("cali")))
            .count(),
        6
    );
}

#[test]
fn reject_ipv6_and_joined_rows() {
    let text = "Destination Gateway Genmask Flags Metric Ref Use Iface\n\
        10.9.0.0 - 255.255.0.0 ! 0 - 0 -\n\
        10.1.0.0 0.0.0.0 255.255.0.0 U 0 0 0 eth0 10.2.0.0 10.1.0.1 255.255.0.0 UG 0 0 0 eth0\n\
        10.3.0.0 0.0.0.0 255.0.255.0 U 0 0 0 eth0\n\
        Kernel IPv6 routing table\n\
        Destination                    Next Hop                   Flag Met Ref Use If\n\
        fe80::/64                      ::                         U    256 1     0 eth0\n";
    let (routes, problems) = parse_route_n(text, "f");
    assert_eq!(routes.len(), 4, "{routes:?}");
    assert_eq!(routes[0].kind, RouteKind::Unreachable);
    assert_eq!(routes[0].dev, None);
    assert_eq!(routes[2].gateway, Some(ip("10.1.0.1")));
    assert_eq!(routes[2].source.line, Some(3));
    assert_eq!(routes[3].dst, net("fe80::/64"));
    assert_eq!(routes[3].metric, Some(256));
    assert_eq!(problems.len(), 1);
    assert!(problems[0].message.contains("netmask"));
}

#[test]
fn short_header_does_not_panic() {
    // Found by the `route_n` fuzz target: a header with fewer columns than the defaults.
    let (routes, problems) = parse_route_n("Destination Gateway Mask\n10.0.0.0 * 255.0.0.0\n", "f");
    assert!(routes.is_empty());
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].source.line, Some(2));
}
