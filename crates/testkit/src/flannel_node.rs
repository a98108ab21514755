//! One flannel VXLAN node as `ip -d link`, `ip addr` and `ip route` print it (node 10.0.0.11,
//! pod subnet 10.244.0.0/24, a remote node's subnet 10.244.1.0/24 through `flannel.1`), written
//! as an evidence bundle for the tests that plan probes and captures on it.

use std::path::Path;

pub const IP_LINK: &str = "\
2: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000
    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff link-netnsid 0 promiscuity 0
    veth addrgenmode eui64 numtxqueues 1 numrxqueues 1
3: flannel.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UNKNOWN mode DEFAULT group default
    link/ether 02:aa:00:00:00:01 brd ff:ff:ff:ff:ff:ff promiscuity 0
    vxlan id 1 local 10.0.0.11 dev eth0 srcport 0 0 dstport 8472 nolearning ttl auto ageing 300 udpcsum noudp6zerocsumtx noudp6zerocsumrx addrgenmode eui64
4: cni0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP mode DEFAULT group default qlen 1000
    link/ether 02:bb:00:00:00:01 brd ff:ff:ff:ff:ff:ff promiscuity 0
    bridge forward_delay 1500 hello_time 200 max_age 2000 addrgenmode eui64
";

pub const IP_ADDR: &str = "\
2: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000
    inet 10.0.0.11/24 brd 10.0.0.255 scope global eth0
4: cni0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP group default qlen 1000
    inet 10.244.0.1/24 brd 10.244.0.255 scope global cni0
";

/// The routes flanneld programs on the node.
pub const IP_ROUTE: &str = "\
default via 10.0.0.1 dev eth0
10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.11
10.244.0.0/24 dev cni0 proto kernel scope link src 10.244.0.1
10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink
";

/// Write the node's evidence into `dir` as a bundle, with `routes` as its `ip route`.
pub fn write_bundle(dir: &Path, routes: &str) {
    for (name, text) in [
        ("ip-link.txt", IP_LINK),
        ("ip-addr.txt", IP_ADDR),
        ("ip-route.txt", routes),
    ] {
        std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
