//! The IP layer of a node: locally generated packets, arriving packets, the routing decision
//! with forwarding, rp_filter and MTU, and local delivery (with VXLAN decapsulation).

use netdoctor_model::Cause;

use super::*;

impl Walker<'_> {
    pub(super) fn send_from_host(&mut self, mut path: Path, node: usize, mut f: Frame) {
        if !self.step(&mut path, node) {
            return;
        }
        let ct = self.ct_enter(&mut path, node, &mut f);
        let n = &self.c.nodes[node];
        let flow = route::Flow {
            src: Some(f.pkt.src),
            dst: f.pkt.dst,
            iif: None,
            mark: f.pkt.mark,
        };
        let lk = n.routing.lookup(&flow);
        let Some((dev, nexthop, kind)) = self.route_hop(&mut path, node, &lk, &f) else {
            return;
        };
        if kind == RouteKind::Local {
            f.pkt.out_iface = Some("lo".into());
            for (p, mut f) in self.hook(&path, node, Hook::Output, &f) {
                let cont = self.hook(&p, node, Hook::Postrouting, &f);
                for (p, f2) in cont {
                    f = f2;
                    f.pkt.in_iface = Some("lo".into());
                    f.pkt.out_iface = None;
                    self.local_in(p, node, "lo", ct, f.clone());
                }
            }
            return;
        }
        f.pkt.in_iface = None;
        f.pkt.out_iface = Some(dev.clone());
        for (mut p, mut f) in self.hook(&path, node, Hook::Output, &f) {
            // A DNAT in OUTPUT re-routes the packet (`ip_route_me_harder`).
            let (dev, nexthop) = if f.pkt.dst != flow.dst {
                let n = &self.c.nodes[node];
                let lk2 = n.routing.lookup(&route::Flow {
                    dst: f.pkt.dst,
                    ..flow
                });
                match self.route_hop(&mut p, node, &lk2, &f) {
                    Some((d, nh, RouteKind::Unicast)) => (d, nh),
                    Some((_, _, k)) => {
                        self.unknown(
                            p,
                            node,
                            "route",
                            format!("re-routed after DNAT to a {k:?} route: not modelled"),
                        );
                        continue;
                    }
                    None => continue,
                }
            } else {
                (dev.clone(), nexthop)
            };
            f.pkt.out_iface = Some(dev.clone());
            if !self.mtu_ok(&mut p, node, &dev, &f) {
                continue;
            }
            for (mut p, mut f) in self.hook(&p, node, Hook::Postrouting, &f) {
                self.ct_undnat(&mut p, node, ct, &mut f);
                self.ct_leave(&mut p, ct, &f);
                self.egress(p, node, &dev, nexthop, f);
            }
        }
    }

    /// Turn a lookup into (device, next hop, kind), finishing the path when it ends there.
    pub(super) fn route_hop(
        &mut self,
        path: &mut Path,
        node: usize,
        lk: &Lookup,
        f: &Frame,
    ) -> Option<(String, IpAddr, RouteKind)> {
        let n = &self.c.nodes[node];
        if n.snap.routes.is_none() {
            self.unknown(
                path.clone(),
                node,
                "route",
                "routes were not collected".into(),
            );
            return None;
        }
        match lk {
            Lookup::Route { route, rule } => {
                let via_rule = if rule.priority == 0 || rule.priority == 32766 {
                    String::new()
                } else {
                    format!(
                        " (rule {} → table {})",
                        rule.priority,
                        route::table_name(rule.table.unwrap_or(0))
                    )
                };
                self.hop(
                    path,
                    node,
                    "route",
                    format!("{} → {}{via_rule}", f.pkt.dst, describe(route)),
                );
                match route.kind {
                    RouteKind::Local => Some(("lo".into(), f.pkt.dst, RouteKind::Local)),
                    RouteKind::Unicast => match &route.dev {
                        Some(d) => Some((
                            d.clone(),
                            route.gateway.unwrap_or(f.pkt.dst),
                            RouteKind::Unicast,
                        )),
                        None => {
                            self.unknown(
                                path.clone(),
                                node,
                                "route",
                                format!("the route {} names no device", describe(route)),
                            );
                            None
                        }
                    },
                    k => {
                        let finding = self.misroute_finding(node, f.pkt.dst, Some(route));
                        let d = format!(
                            "{} is routed by a {k:?} route: {}",
                            f.pkt.dst,
                            describe(route)
                        )
                        .to_lowercase();
                        self.drop(path.clone(), node, "route", finding, d);
                        None
                    }
                }
            }
            Lookup::RuleAction(r) => {
                let d = format!("policy rule {} says {}", r.priority, r.action);
                self.drop(path.clone(), node, "route", None, d);
                None
            }
            Lookup::NoRoute => {
                let finding = self.misroute_finding(node, f.pkt.dst, None);
                self.drop(
                    path.clone(),
                    node,
                    "route",
                    finding,
                    format!("no route to {}", f.pkt.dst),
                );
                None
            }
        }
    }

    /// Why a packet to `dst` did not take the overlay: which finding explains the route used.
    pub(super) fn misroute_finding(
        &self,
        node: usize,
        dst: IpAddr,
        used: Option<&netdoctor_model::Route>,
    ) -> Option<&'static str> {
        let (owner, cidr) = self.c.pod_cidr_of(dst)?;
        if owner == node {
            return None;
        }
        let n = &self.c.nodes[node];
        if let Some(r) = used {
            let connected = r.gateway.is_none()
                && r.dev.as_deref().is_some_and(|d| {
                    n.addresses().any(|a| {
                        a.ifname == d
                            && a.network()
                                .is_some_and(|net| net == r.dst && cidr.contains(&net.network()))
                    })
                });
            if connected && r.kind == RouteKind::Unicast {
                return Some(Cause::PodCidrOverlap.id());
            }
        }
        if n.addresses().any(|a| cidr.contains(&a.addr)) {
            return Some(Cause::StaleInterfaceAddress.id());
        }
        if used.is_some_and(|r| r.kind != RouteKind::Unicast && r.dst.prefix_len() > 0) {
            return Some(Cause::PodRouteConflict.id());
        }
        Some(Cause::PodRouteMissing.id())
    }

    pub(super) fn mtu_ok(&mut self, path: &mut Path, node: usize, dev: &str, f: &Frame) -> bool {
        let n = &self.c.nodes[node];
        if let Some(mtu) = n.mtu(dev) {
            if f.size > mtu {
                let what = if f.inner.is_some() {
                    format!(
                        "the VXLAN packet ({} bytes inside + {VXLAN_OVERHEAD} of encapsulation = {}) exceeds {dev}'s MTU {mtu}; DF is set",
                        f.size - VXLAN_OVERHEAD,
                        f.size
                    )
                } else {
                    format!("{} bytes with DF exceed {dev}'s MTU {mtu}", f.size)
                };
                self.drop(
                    path.clone(),
                    node,
                    "mtu",
                    Some(Cause::MtuMismatch.id()),
                    what,
                );
                return false;
            }
        }
        true
    }

    /// A packet arrives on `iif`: PREROUTING, the routing decision, then local delivery or
    /// forwarding.
    pub(super) fn receive(&mut self, mut path: Path, node: usize, iif: &str, mut f: Frame) {
        if !self.step(&mut path, node) {
            return;
        }
        let ct = self.ct_enter(&mut path, node, &mut f);
        self.ct_unsnat(&mut path, node, ct, &mut f);
        f.pkt.in_iface = Some(iif.to_string());
        f.pkt.out_iface = None;
        for (p, f) in self.hook(&path, node, Hook::Prerouting, &f) {
            self.route_input(p, node, iif, ct, f);
        }
    }

    pub(super) fn route_input(
        &mut self,
        mut path: Path,
        node: usize,
        iif: &str,
        ct: Option<usize>,
        mut f: Frame,
    ) {
        let n = &self.c.nodes[node];
        let flow = route::Flow {
            src: Some(f.pkt.src),
            dst: f.pkt.dst,
            iif: Some(iif),
            mark: f.pkt.mark,
        };
        let lk = n.routing.lookup(&flow);
        let Some((dev, nexthop, kind)) = self.route_hop(&mut path, node, &lk, &f) else {
            return;
        };
        let n = &self.c.nodes[node];
        if kind == RouteKind::Unicast {
            // ip_route_input_slow refuses to forward when the input device does not forward.
            let global = n.sysctl("net.ipv4.ip_forward");
            let per_if = ifkey(n, iif, "forwarding");
            match (global, per_if) {
                (None, None) => {
                    self.unknown(
                        path,
                        node,
                        "forwarding",
                        "net.ipv4.ip_forward is not in the snapshot".into(),
                    );
                    return;
                }
                (Some(0), _) => {
                    self.drop(
                        path,
                        node,
                        "forwarding",
                        Some(Cause::IpForwardDisabled.id()),
                        format!(
                            "net.ipv4.ip_forward = 0: {} arriving on {iif} is not forwarded",
                            f.pkt.dst
                        ),
                    );
                    return;
                }
                (_, Some(0)) => {
                    self.drop(
                        path,
                        node,
                        "forwarding",
                        Some(Cause::IfaceForwardingDisabled.id()),
                        format!(
                            "{} = 0: packets arriving on {iif} are not forwarded",
                            NodeModel::if_key(iif, "forwarding")
                        ),
                    );
                    return;
                }
                _ => {}
            }
        }
        // Reverse-path filtering, with the effective value max(all, interface).
        if iif != "lo" {
            let all = n.sysctl("net.ipv4.conf.all.rp_filter");
            let this = ifkey(n, iif, "rp_filter");
            if all.is_none() && this.is_none() && n.snap.sysctls.is_none() {
                self.unknown(path, node, "rp_filter", "sysctls were not collected".into());
                return;
            }
            let mode = all.unwrap_or(0).max(this.unwrap_or(0));
            match n
                .routing
                .rp_filter(f.pkt.src, f.pkt.dst, iif, f.pkt.mark, mode)
            {
                Ok(why) => {
                    if mode != 0 {
                        self.hop(
                            &mut path,
                            node,
                            "rp_filter",
                            format!("{iif} (rp_filter {mode}): {why}"),
                        );
                    }
                }
                Err(why) => {
                    let finding = if mode == 1 {
                        Some(Cause::RpFilterStrict.id())
                    } else {
                        None
                    };
                    self.drop(
                        path,
                        node,
                        "rp_filter",
                        finding,
                        format!("{iif} rp_filter = {mode} (max of all and {iif}): {why}"),
                    );
                    return;
                }
            }
        }
        if kind == RouteKind::Local {
            f.pkt.out_iface = None;
            self.local_in(path, node, iif, ct, f);
            return;
        }
        if !self.mtu_ok(&mut path, node, &dev, &f) {
            return;
        }
        f.pkt.out_iface = Some(dev.clone());
        for (p, f) in self.hook(&path, node, Hook::Forward, &f) {
            for (mut p, mut f) in self.hook(&p, node, Hook::Postrouting, &f) {
                self.ct_undnat(&mut p, node, ct, &mut f);
                self.ct_leave(&mut p, ct, &f);
                self.egress(p, node, &dev, nexthop, f);
            }
        }
    }

    /// INPUT, then the local socket or the VXLAN device.
    pub(super) fn local_in(
        &mut self,
        path: Path,
        node: usize,
        iif: &str,
        ct: Option<usize>,
        mut f: Frame,
    ) {
        f.pkt.in_iface = Some(iif.to_string());
        f.pkt.out_iface = None;
        for (mut p, mut f) in self.hook(&path, node, Hook::Input, &f) {
            self.ct_undnat(&mut p, node, ct, &mut f);
            self.ct_leave(&mut p, ct, &f);
            match f.inner.take() {
                Some(inner) => self.decapsulate(p, node, &f, *inner),
                None => {
                    let d = format!("{} delivered to the node's own stack", f.pkt);
                    self.hop(&mut p, node, "local", d);
                    self.ends.push((
                        p,
                        End::Delivered {
                            place: Place::Host { node },
                            frame: f,
                        },
                    ));
                }
            }
        }
    }

    pub(super) fn decapsulate(
        &mut self,
        mut path: Path,
        node: usize,
        outer: &Frame,
        inner: (Frame, String),
    ) {
        let n = &self.c.nodes[node];
        if outer.pkt.proto == proto::IPIP {
            let Some(dev) = n
                .snap
                .links
                .iter()
                .flatten()
                .find(|l| l.kind.as_deref() == Some("ipip"))
            else {
                self.drop(
                    path,
                    node,
                    "ipip",
                    Some(Cause::VxlanDeviceDown.id()),
                    "no IPIP device (tunl0) receives protocol 4".into(),
                );
                return;
            };
            let dev = dev.name.clone();
            let (frame, _) = inner;
            self.hop(
                &mut path,
                node,
                "ipip",
                format!("decapsulated on {dev}: {}", frame.pkt),
            );
            self.receive(path, node, &dev, frame);
            return;
        }
        let port = outer
            .pkt
            .dport
            .unwrap_or(netdoctor_datapath::overlay::VXLAN_KERNEL_PORT);
        let Some(vx) = n.vxlan_for_port(port) else {
            self.drop(
                path,
                node,
                "vxlan",
                Some(Cause::VxlanDeviceDown.id()),
                format!("no VXLAN device listens on UDP {port}"),
            );
            return;
        };
        let dev = vx.name.clone();
        if vx.is_down() {
            self.drop(
                path,
                node,
                "vxlan",
                Some(Cause::VxlanDeviceDown.id()),
                format!("{dev} is down"),
            );
            return;
        }
        let (frame, mac) = inner;
        if let Some(m) = &vx.mac {
            if !m.eq_ignore_ascii_case(&mac) {
                let d = format!("the inner frame is for MAC {mac}, but {dev} here has {m}: the sender's neighbour entry is wrong");
                self.drop(path, node, "vxlan", Some(Cause::VxlanFdbMissing.id()), d);
                return;
            }
        }
        self.hop(
            &mut path,
            node,
            "vxlan",
            format!("decapsulated on {dev}: {}", frame.pkt),
        );
        self.receive(path, node, &dev, frame);
    }
}
