//! What happens below IP: pods on a bridge, br_netfilter, VXLAN encapsulation, and the wire
//! between nodes.

use netdoctor_datapath::devices;
use netdoctor_model::Cause;

use super::*;

impl Walker<'_> {
    /// A pod sends: to its own subnet over the bridge, elsewhere by its default route.
    pub(super) fn send_from_pod(
        &mut self,
        mut path: Path,
        node: usize,
        bridge: &str,
        mut f: Frame,
    ) {
        if !self.step(&mut path, node) {
            return;
        }
        let n = &self.c.nodes[node];
        let Some(gw) = n
            .addresses()
            .find(|a| a.ifname == bridge && a.addr.is_ipv4() == f.pkt.dst.is_ipv4())
        else {
            // A routed pod (Calico): its veth has no address on the host side and every
            // packet goes to the host (the pod's gateway 169.254.1.1 is answered by proxy ARP).
            self.hop(
                &mut path,
                node,
                "pod",
                format!("{} leaves the pod by its veth {bridge} to the host", f.pkt),
            );
            self.receive(path, node, bridge, f);
            return;
        };
        let (gw_ip, subnet) = (gw.addr, gw.network());
        if let Some(mtu) = n.mtu(bridge) {
            if f.size > mtu {
                let d = format!(
                    "{} bytes with DF exceed the pod's MTU {mtu} (as {bridge}'s)",
                    f.size
                );
                self.drop(path, node, "pod", Some(Cause::MtuMismatch.id()), d);
                return;
            }
        }
        f.pkt.in_iface = None;
        f.pkt.out_iface = None;
        if subnet.is_some_and(|s| s.contains(&f.pkt.dst)) && f.pkt.dst != gw_ip {
            self.hop(
                &mut path,
                node,
                "pod",
                format!(
                    "{} is on the pod's own subnet: sent straight to it over {bridge}",
                    f.pkt.dst
                ),
            );
            self.bridge_l2(path, node, bridge, f);
        } else {
            self.hop(
                &mut path,
                node,
                "pod",
                format!(
                    "{f_pkt} leaves the pod by its default route via {gw_ip} ({bridge})",
                    f_pkt = f.pkt
                ),
            );
            self.receive(path, node, bridge, f);
        }
    }

    /// The packet leaves by `dev` toward `nexthop`.
    pub(super) fn egress(&mut self, path: Path, node: usize, dev: &str, nexthop: IpAddr, f: Frame) {
        let n = &self.c.nodes[node];
        match n.link_kind(dev) {
            Some("vxlan") => self.encapsulate(path, node, dev, nexthop, f),
            Some("bridge") => self.deliver_pod(path, node, dev, f),
            Some("ipip") => self.encapsulate_ipip(path, node, dev, nexthop, f),
            Some("veth")
                if nexthop == f.pkt.dst
                    && n.link(dev).is_some_and(|l| l.master.is_none())
                    && !n.addresses().any(|a| a.ifname == dev) =>
            {
                // A routed veth (Calico's cali*): the pod is its far end.
                self.deliver_pod(path, node, dev, f)
            }
            _ if dev == "lo" => {
                self.local_in(path, node, "lo", None, f);
            }
            _ => self.wire(path, node, dev, nexthop, f),
        }
    }

    pub(super) fn wire(
        &mut self,
        mut path: Path,
        node: usize,
        dev: &str,
        nexthop: IpAddr,
        f: Frame,
    ) {
        if let Some((m, ifname)) = self.c.underlay_owner(nexthop, node) {
            let d = format!(
                "out {dev} to {nexthop}, which is {} ({ifname})",
                self.name(m)
            );
            self.hop(&mut path, node, "wire", d);
            self.receive(path, m, &ifname, f);
            return;
        }
        if nexthop != f.pkt.dst {
            if let Some((m, ifname)) = self.c.underlay_owner(f.pkt.dst, node) {
                // Node addresses in other subnets: the routers between nodes are not in any
                // snapshot, and every CNI relies on them routing node addresses.
                let d = format!(
                    "out {dev} to the gateway {nexthop}; the network between the nodes is taken to route {} to {} ({ifname})",
                    f.pkt.dst,
                    self.name(m)
                );
                self.hop(&mut path, node, "wire", d);
                self.receive(path, m, &ifname, f);
                return;
            }
        }
        let dst = f.pkt.dst;
        if let Some((owner, cidr)) = self.c.pod_cidr_of(dst).filter(|(o, _)| *o != node) {
            let n = &self.c.nodes[node];
            let flow = route::Flow {
                src: Some(f.pkt.src),
                dst,
                iif: None,
                mark: f.pkt.mark,
            };
            let used = match n.routing.lookup(&flow) {
                Lookup::Route { route, .. } => Some(route.clone()),
                _ => None,
            };
            let finding = self.misroute_finding(node, dst, used.as_ref());
            let how = if nexthop == dst {
                format!("{dev} has no host answering ARP for {dst} among the nodes given")
            } else {
                format!("{dev}'s gateway {nexthop} is none of the nodes given and does not route pod traffic")
            };
            let d = format!(
                "{dst} is a pod address of {} ({cidr}), but the route sends it out {dev}, not into the overlay: {how}",
                self.name(owner)
            );
            self.drop(path, node, "route", finding, d);
            return;
        }
        let d = format!("out {dev} to {nexthop}: the packet leaves the nodes given (no snapshot holds {nexthop})");
        self.unknown(path, node, "wire", d);
    }

    pub(super) fn encapsulate(
        &mut self,
        mut path: Path,
        node: usize,
        dev: &str,
        nexthop: IpAddr,
        f: Frame,
    ) {
        let n = &self.c.nodes[node];
        let Some(link) = n.link(dev) else {
            self.unknown(
                path,
                node,
                "vxlan",
                format!("{dev} is not in the snapshot's links"),
            );
            return;
        };
        if link.is_down() {
            self.drop(
                path,
                node,
                "vxlan",
                Some(Cause::VxlanDeviceDown.id()),
                format!("{dev} is down"),
            );
            return;
        }
        let Some(neigh) = &n.snap.neighbours else {
            self.unknown(path, node, "vxlan", "neighbours were not collected".into());
            return;
        };
        let entry = neigh.iter().find(|x| {
            x.addr == nexthop
                && x.dev == dev
                && x.lladdr.is_some()
                && !x.state.iter().any(|s| s == "FAILED" || s == "INCOMPLETE")
        });
        let Some(mac) = entry.and_then(|e| e.lladdr.clone()) else {
            let d = format!("no neighbour entry for {nexthop} on {dev}: the VTEP MAC of the remote node is not known");
            self.drop(path, node, "vxlan", Some(Cause::VxlanFdbMissing.id()), d);
            return;
        };
        let Some(fdb) = &n.snap.fdb else {
            self.unknown(path, node, "vxlan", "the FDB was not collected".into());
            return;
        };
        let remote = fdb
            .iter()
            .find(|e| e.dev == dev && e.mac.eq_ignore_ascii_case(&mac) && e.dst.is_some())
            .or_else(|| {
                fdb.iter()
                    .find(|e| e.dev == dev && e.mac == "00:00:00:00:00:00" && e.dst.is_some())
            })
            .and_then(|e| e.dst);
        let Some(remote) = remote else {
            let d = format!("{nexthop} is MAC {mac}, but {dev} has no FDB entry for {mac}: the kernel does not know which node to send it to");
            self.drop(path, node, "vxlan", Some(Cause::VxlanFdbMissing.id()), d);
            return;
        };
        let vx = link.vxlan.clone().unwrap_or_default();
        let port = netdoctor_datapath::overlay::vxlan_port(link);
        let src = vx.local.or_else(|| n.routing.source_for(&n.ctx, remote));
        let Some(src) = src else {
            self.unknown(
                path,
                node,
                "vxlan",
                format!("no source address for the outer packet to {remote}"),
            );
            return;
        };
        let mut outer = Packet::udp(src, remote, port).mark(f.pkt.mark);
        outer.length = u16::try_from(f.size + VXLAN_OVERHEAD).ok();
        let size = f.size + VXLAN_OVERHEAD;
        self.hop(
            &mut path,
            node,
            "vxlan",
            format!("{nexthop} is MAC {mac} (neighbour), FDB sends {mac} to {remote}: outer udp {src} -> {remote}:{port}, {size} bytes"),
        );
        let mut f = f;
        f.pkt.in_iface = None;
        f.pkt.out_iface = None;
        let frame = Frame {
            pkt: outer,
            size,
            inner: Some(Box::new((f, mac))),
        };
        self.send_from_host(path, node, frame);
    }

    /// IP in IP (Calico's `tunl0`): the outer packet goes to the gateway, the remote node.
    pub(super) fn encapsulate_ipip(
        &mut self,
        mut path: Path,
        node: usize,
        dev: &str,
        nexthop: IpAddr,
        mut f: Frame,
    ) {
        let n = &self.c.nodes[node];
        if n.link(dev).is_some_and(|l| l.is_down()) {
            self.drop(
                path,
                node,
                "ipip",
                Some(Cause::VxlanDeviceDown.id()),
                format!("{dev} is down"),
            );
            return;
        }
        if nexthop == f.pkt.dst {
            let d = format!("a route by {dev} needs the remote node as gateway; {nexthop} is the destination itself");
            self.unknown(path, node, "ipip", d);
            return;
        }
        let src = n.routing.source_for(&n.ctx, nexthop);
        let Some(src) = src else {
            self.unknown(
                path,
                node,
                "ipip",
                format!("no source address for the outer packet to {nexthop}"),
            );
            return;
        };
        let size = f.size + IPIP_OVERHEAD;
        let mut outer = Packet::other(src, nexthop, proto::IPIP).mark(f.pkt.mark);
        outer.length = u16::try_from(size).ok();
        self.hop(
            &mut path,
            node,
            "ipip",
            format!("outer ipip {src} -> {nexthop}, {size} bytes"),
        );
        f.pkt.in_iface = None;
        f.pkt.out_iface = None;
        let frame = Frame {
            pkt: outer,
            size,
            inner: Some(Box::new((f, String::new()))),
        };
        self.send_from_host(path, node, frame);
    }

    /// A frame between two ports of one bridge.
    pub(super) fn bridge_l2(&mut self, mut path: Path, node: usize, bridge: &str, mut f: Frame) {
        let n = &self.c.nodes[node];
        let br = match n.bridge_nf() {
            Ok(b) => b,
            Err(why) => {
                self.unknown(
                    path,
                    node,
                    "bridge",
                    format!("cannot tell whether bridged traffic sees iptables: {why}"),
                );
                return;
            }
        };
        if br != BridgeNf::On {
            let (why, finding) = match br {
                BridgeNf::Off => (
                    "net.bridge.bridge-nf-call-iptables = 0",
                    Cause::BridgeNfCallIptablesDisabled.id(),
                ),
                _ => ("br_netfilter is not active", Cause::BrNetfilterMissing.id()),
            };
            self.hop(
                &mut path,
                node,
                "bridge",
                format!(
                    "{bridge} switches it at layer 2; iptables and conntrack do not see it ({why})"
                ),
            );
            path.bridge_bypass.get_or_insert(finding);
            self.deliver_pod(path, node, bridge, f);
            return;
        }
        let port_in = devices::bridge_port(&n.snap, bridge, f.pkt.src);
        let port_out = devices::bridge_port(&n.snap, bridge, f.pkt.dst);
        self.hop(
            &mut path,
            node,
            "bridge",
            format!("{bridge} bridges it; br_netfilter passes it through iptables"),
        );
        let ct = self.ct_enter(&mut path, node, &mut f);
        self.ct_unsnat(&mut path, node, ct, &mut f);
        f.pkt = f.pkt.bridged(port_in.as_deref(), port_out.as_deref());
        f.pkt.in_iface = Some(bridge.to_string());
        let dst_before = f.pkt.dst;
        for (p, mut f) in self.hook(&path, node, Hook::Prerouting, &f) {
            if f.pkt.dst != dst_before {
                // br_netfilter re-routes a bridged packet whose destination DNAT changed.
                f.pkt.bridged = false;
                self.route_input(p, node, bridge, ct, f);
                continue;
            }
            f.pkt.out_iface = Some(bridge.to_string());
            for (p, f) in self.hook(&p, node, Hook::Forward, &f) {
                for (mut p, mut f) in self.hook(&p, node, Hook::Postrouting, &f) {
                    self.ct_undnat(&mut p, node, ct, &mut f);
                    self.ct_leave(&mut p, ct, &f);
                    self.deliver_pod(p, node, bridge, f);
                }
            }
        }
    }

    pub(super) fn deliver_pod(&mut self, mut path: Path, node: usize, bridge: &str, mut f: Frame) {
        f.pkt.bridged = false;
        let dst = f.pkt.dst;
        let n = &self.c.nodes[node];
        if n.own_address(dst).is_some() {
            self.local_in(path, node, bridge, None, f);
            return;
        }
        let who = match &self.c.objects {
            Some(o) if !o.pods.is_empty() => match o.pod_by_ip(dst) {
                Some(p) => format!("pod {}/{}", p.namespace, p.name),
                None => {
                    let finding = if path.dnat_multi_backend {
                        Some(Cause::IptablesBackendMismatch.id())
                    } else {
                        None
                    };
                    let d = format!(
                        "no pod holds {dst} (cluster objects): nobody answers ARP on {bridge}"
                    );
                    self.drop(path, node, "bridge", finding, d);
                    return;
                }
            },
            _ => {
                let failed = n.snap.neighbours.iter().flatten().any(|x| {
                    x.addr == dst
                        && x.dev == bridge
                        && x.state.iter().any(|s| s == "FAILED" || s == "INCOMPLETE")
                });
                if failed {
                    let d = format!(
                        "the neighbour entry for {dst} on {bridge} is FAILED: no pod answers ARP"
                    );
                    self.drop(path, node, "bridge", None, d);
                    return;
                }
                format!("the pod at {dst} (assumed: no cluster objects to confirm it exists)")
            }
        };
        self.hop(
            &mut path,
            node,
            "deliver",
            format!("{} reaches {who} on {bridge}", f.pkt),
        );
        self.ends.push((
            path,
            End::Delivered {
                place: Place::Pod {
                    node,
                    bridge: bridge.to_string(),
                },
                frame: f,
            },
        ));
    }
}
