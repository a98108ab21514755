//! What the overlays put on the wire: their encapsulation overheads and the protocols and
//! ports their packets between nodes use. Sources: the kernel's VXLAN driver (default port
//! 8472, `vxlan_port` in drivers/net/vxlan), flannel's and Calico's documented ports, Weave
//! Net's (TCP 6783 control, UDP 6783 sleeve, UDP 6784 fast datapath).

use netdoctor_model::Link;

/// Bytes VXLAN adds: outer IP 20, UDP 8, VXLAN 8, inner Ethernet 14.
pub const VXLAN_OVERHEAD: u32 = 50;
/// Bytes IP in IP adds: the outer IP header.
pub const IPIP_OVERHEAD: u32 = 20;
/// Bytes WireGuard adds over IPv4 at most (outer IP 20, UDP 8, header and tag 32, padding):
/// the value the CNIs use to size the device, 80.
pub const WIREGUARD_OVERHEAD: u32 = 80;

/// The port a VXLAN device uses when none was given: the kernel's `vxlan_port`, 8472 (the
/// IANA port, 4789, is what Calico sets explicitly).
pub const VXLAN_KERNEL_PORT: u16 = 8472;
/// The IANA VXLAN port.
pub const VXLAN_IANA_PORT: u16 = 4789;
/// Calico's BGP sessions.
pub const BGP_PORT: u16 = 179;
/// WireGuard's port as flannel and Calico use it (Calico uses 51821 for IPv6).
pub const WIREGUARD_PORTS: [u16; 2] = [51820, 51821];
/// IP protocol number of IP in IP.
pub const IPPROTO_IPIP: u8 = 4;

/// Encapsulation overhead of a tunnel device, by kind or well-known name.
pub fn tunnel_overhead(l: &Link) -> Option<(u32, &'static str)> {
    // Trust the kind when the source reported it; fall back to well-known names otherwise
    // (`route -n` and `ifconfig` pastes carry no kind). A veth named tunl0 is not a tunnel.
    let by_kind = match l.kind.as_deref() {
        Some("vxlan") => Some((VXLAN_OVERHEAD, "VXLAN")),
        Some("geneve") => Some((VXLAN_OVERHEAD, "Geneve")),
        Some("ipip") => Some((IPIP_OVERHEAD, "IPIP")),
        Some("wireguard") => Some((WIREGUARD_OVERHEAD, "WireGuard")),
        Some(_) => return None,
        None => None,
    };
    if by_kind.is_some() || l.vxlan.is_some() {
        return by_kind.or(Some((VXLAN_OVERHEAD, "VXLAN")));
    }
    let n = l.name.as_str();
    if n.starts_with("flannel.") || n == "vxlan.calico" {
        Some((VXLAN_OVERHEAD, "VXLAN"))
    } else if n == "tunl0" {
        Some((IPIP_OVERHEAD, "IPIP"))
    } else if n.starts_with("flannel-wg") || n.starts_with("wg") || n == "wireguard.cali" {
        Some((WIREGUARD_OVERHEAD, "WireGuard"))
    } else {
        None
    }
}

/// The UDP port a VXLAN device sends to: its `dstport` when the source showed it, else the
/// port its CNI always sets (Calico's `vxlan.calico`: 4789), else the kernel's default.
pub fn vxlan_port(l: &Link) -> u16 {
    l.vxlan
        .as_ref()
        .and_then(|v| v.dstport)
        .unwrap_or(if l.name == "vxlan.calico" {
            VXLAN_IANA_PORT
        } else {
            VXLAN_KERNEL_PORT
        })
}

/// A UDP port that carries some overlay's packets between nodes (VXLAN, WireGuard).
pub fn is_overlay_udp_port(port: u16) -> bool {
    port == VXLAN_KERNEL_PORT || port == VXLAN_IANA_PORT || WIREGUARD_PORTS.contains(&port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netdoctor_model::{Source, VxlanInfo};

    fn link(name: &str, kind: Option<&str>) -> Link {
        Link {
            index: None,
            name: name.into(),
            kind: kind.map(Into::into),
            mtu: None,
            flags: Vec::new(),
            operstate: None,
            mac: None,
            master: None,
            peer_index: None,
            parent: None,
            vxlan: None,
            source: Source::live("test"),
        }
    }

    #[test]
    fn overheads_by_kind_then_by_name() {
        assert_eq!(
            tunnel_overhead(&link("x", Some("vxlan"))),
            Some((50, "VXLAN"))
        );
        assert_eq!(tunnel_overhead(&link("tunl0", None)), Some((20, "IPIP")));
        // A veth that happens to be called tunl0 is not a tunnel.
        assert_eq!(tunnel_overhead(&link("tunl0", Some("veth"))), None);
        assert_eq!(tunnel_overhead(&link("wg0", None)), Some((80, "WireGuard")));
        assert_eq!(tunnel_overhead(&link("eth0", None)), None);
    }

    #[test]
    fn vxlan_port_defaults_like_the_kernel() {
        let mut l = link("vx0", Some("vxlan"));
        assert_eq!(vxlan_port(&l), 8472);
        assert_eq!(vxlan_port(&link("vxlan.calico", Some("vxlan"))), 4789);
        l.vxlan = Some(VxlanInfo {
            dstport: Some(4789),
            ..Default::default()
        });
        assert_eq!(vxlan_port(&l), 4789);
    }
}
