use super::*;

const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/");

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn from_line<'a>(text: &'a str, from: &str) -> Vec<Line<'a>> {
    let start = text
        .lines()
        .position(|l| l.starts_with(from))
        .expect("start");
    text::numbered(text).into_iter().skip(start).collect()
}

#[test]
fn flannel603_old_format_cut() {
    let text = std::fs::read_to_string(format!(
        "{REAL}realworld/iproute/flannel_udp_ifconfig_docker113__flannel603.txt"
    ))
    .expect("fixture");
    let (links, addrs, problems) = parse_ifconfig_lines(&from_line(&text, "docker0"), "f");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(links.len(), 2);
    assert_eq!(links[0].name, "docker0");
    assert_eq!(links[0].mtu, Some(1472));
    assert_eq!(links[0].mac.as_deref(), Some("02:42:60:59:16:82"));
    assert!(links[0].is_admin_up());
    assert!(links[0].flags.contains(&"LOWER_UP".to_string()));
    assert_eq!(addrs[0].addr, ip("9.5.208.1"));
    assert_eq!(addrs[0].prefix_len, 20);
    assert_eq!(addrs[1].ifname, "eth0");
    assert_eq!(addrs[1].prefix_len, 24);
}

#[test]
fn kubo228_stale_cni0() {
    let text = std::fs::read_to_string(format!(
        "{REAL}cases-dev/case10_kubo228_stale_cni0_subnet_mismatch.md"
    ))
    .expect("case");
    let lines: Vec<_> = from_line(&text, "cni0").into_iter().take(17).collect();
    let (links, addrs, problems) = parse_ifconfig_lines(&lines, "ifconfig.txt");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(links.len(), 2);
    assert_eq!(links[1].name, "flannel.1");
    assert_eq!(
        addrs[0].network(),
        Some("10.200.29.0/24".parse().expect("net"))
    );
    assert_eq!(addrs[1].addr, ip("10.200.78.0"));
    assert_eq!(addrs[1].prefix_len, 32);
    let cni0_line = text
        .lines()
        .position(|l| l.starts_with("cni0"))
        .expect("cni0");
    assert_eq!(links[0].source.line, Some(cni0_line as u32 + 1));
}

#[test]
fn new_format_and_down_interface() {
    let text = "flannel.1: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1450\n\
        \x20       inet 10.244.0.0  netmask 255.255.255.255  broadcast 0.0.0.0\n\
        \x20       inet6 fe80::1  prefixlen 64  scopeid 0x20<link>\n\
        \x20       ether 2e:e3:38:5b:d5:69  txqueuelen 0  (Ethernet)\n\
        \x20       RX packets 0  bytes 0 (0.0 B)\n\
        \n\
        eth1      Link encap:Ethernet  HWaddr 00:16:3E:0D:54:AC\r\n\
        \x20         BROADCAST MULTICAST  MTU:1500  Metric:1\r\n\
        \x20         inet6 addr: fe80::216:3eff:fe0d:54ac/64 Scope:Link\r\n\
        tun0      Link encap:UNSPEC\n\
        \x20         inet addr:10.8.0.1  P-t-P:10.8.0.2  Mask:255.255.255.255\n\
        garbage line here\n";
    let (links, addrs, problems) = parse_ifconfig(text, "f");
    assert_eq!(links.len(), 3);
    assert_eq!(links[0].mtu, Some(1450));
    assert_eq!(links[0].mac.as_deref(), Some("2e:e3:38:5b:d5:69"));
    assert!(links[1].is_down());
    assert_eq!(links[1].mac.as_deref(), Some("00:16:3e:0d:54:ac"));
    assert_eq!(addrs.len(), 4);
    assert_eq!(addrs[1].scope.as_deref(), Some("link"));
    assert_eq!(addrs[2].prefix_len, 64);
    assert_eq!(addrs[3].peer, Some(ip("10.8.0.2")));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].source.line, Some(12));
}
