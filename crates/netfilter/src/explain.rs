//! A rule set in words: kube-proxy's services (ClusterIP, NodePort, load-balancer and external
//! IPs → service chain → endpoints with their probabilities → DNAT), the CNI, Docker and
//! firewall chains summarised, and every rule or policy that drops or rejects.
//!
//! This reads kube-proxy's naming conventions (`KUBE-SVC-*`, `KUBE-SEP-*`, the `--comment`
//! texts) from the rules themselves; it needs no cluster objects.

use crate::rule::*;
use rayon::prelude::*;
use serde::Serialize;
use std::fmt::Write as _;

/// The structured explanation of a rule set.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Explanation {
    pub source: String,
    /// kube-proxy services, in the order KUBE-SERVICES lists them.
    pub services: Vec<ServiceView>,
    /// Rules and policies that drop or reject, in dump order.
    pub drops: Vec<DropRule>,
    /// Chains of other components (Docker, CNI plugins, Calico, flannel, firewalld, ufw).
    pub other_chains: Vec<ChainSummary>,
    /// Things the reader should know (partial dump, undeclared chains).
    pub notes: Vec<String>,
    /// Position of each service in `services`, by name (10k Services are looked up 30k times).
    #[serde(skip)]
    #[schemars(skip)]
    by_name: std::collections::HashMap<String, usize, crate::names::NameHash>,
}

/// One way into a service, read from its rule before it joins its service.
struct ReadEntry<'a> {
    name: &'a str,
    entry: Entry,
    service_chain: Option<&'a str>,
    local: bool,
    ranges: Vec<String>,
}

/// How traffic reaches a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    ClusterIp,
    ExternalIp,
    LoadBalancer,
    NodePort,
}

/// One way into a service.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Entry {
    pub kind: EntryKind,
    /// Destination address (none for a NodePort: every local address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// The chain the rule jumps to (`KUBE-SVC-*`, `KUBE-EXT-*`, `KUBE-FW-*`, `KUBE-XLB-*`).
    pub chain: String,
    pub line: u32,
}

/// An endpoint of a service.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Endpoint {
    /// `ip:port` of the DNAT, when the endpoint chain is in the dump.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnat_to: Option<String>,
    /// The share of new connections it gets.
    pub probability: f64,
    pub chain: String,
    pub line: u32,
}

/// A kube-proxy service as its rules describe it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ServiceView {
    /// `namespace/name:port` from the rules' comments.
    pub name: String,
    pub entries: Vec<Entry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_chain: Option<String>,
    pub endpoints: Vec<Endpoint>,
    /// externalTrafficPolicy=Local: external traffic goes only to local endpoints (a
    /// `KUBE-XLB-*` chain, or a `KUBE-EXT-*` chain that does not mark for masquerade).
    pub local_traffic_policy: bool,
    /// Session affinity (`recent` matches) is in use.
    pub session_affinity: bool,
    /// The "has no endpoints" REJECT (filter table), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_endpoints_reject: Option<u32>,
    /// "has no local endpoints" DROPs (ETP=Local on a node without local endpoints).
    pub no_local_endpoints_drops: Vec<u32>,
    /// Source ranges allowed through the load balancer firewall (`KUBE-FW-*`).
    pub lb_source_ranges: Vec<String>,
}

/// A rule or policy that drops or rejects.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DropRule {
    pub table: String,
    pub chain: String,
    /// 0 for a policy.
    pub line: u32,
    /// `DROP`, `REJECT (...)`, `policy DROP`, `KUBE-MARK-DROP`.
    pub action: String,
    pub text: String,
}

/// A chain of another component.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ChainSummary {
    pub table: String,
    pub chain: String,
    /// Docker, CNI portmap, CNI bridge, Calico, flannel, firewalld, ufw, ...
    pub owner: String,
    pub rules: usize,
    pub drops: usize,
    /// Chains that jump or go to it.
    pub entered_from: Vec<String>,
}

fn owner(chain: &str) -> Option<&'static str> {
    let prefixes: &[(&str, &str)] = &[
        ("DOCKER", "Docker"),
        ("CNI-HOSTPORT", "CNI portmap plugin"),
        ("CNI-DN-", "CNI portmap plugin"),
        ("CNI-", "CNI bridge plugin"),
        ("cali-", "Calico"),
        ("FLANNEL", "flannel"),
        ("ufw", "ufw"),
        ("IN_", "firewalld"),
        ("FWD_", "firewalld"),
        ("FWDI_", "firewalld"),
        ("FWDO_", "firewalld"),
        ("OUTPUT_direct", "firewalld"),
        ("INPUT_direct", "firewalld"),
        ("FORWARD_direct", "firewalld"),
        ("PRE_", "firewalld"),
        ("POST_", "firewalld"),
        ("f2b-", "fail2ban"),
        ("WEAVE", "Weave"),
        ("CILIUM", "Cilium"),
    ];
    prefixes
        .iter()
        .find(|(p, _)| chain.starts_with(p))
        .map(|(_, o)| *o)
}

fn dest(r: &Rule) -> Option<String> {
    r.matches.iter().find_map(|m| match &m.kind {
        MatchKind::Dest { nets } if !m.negated => Some(
            nets.iter()
                .map(|n| {
                    if n.is_host() {
                        n.addr.to_string()
                    } else {
                        n.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    })
}

fn dport(r: &Rule) -> Option<String> {
    let proto = r.matches.iter().find_map(|m| match m.kind {
        MatchKind::Protocol { proto: 6 } => Some("tcp"),
        MatchKind::Protocol { proto: 17 } => Some("udp"),
        MatchKind::Protocol { proto: 132 } => Some("sctp"),
        _ => None,
    });
    r.matches.iter().find_map(|m| match &m.kind {
        MatchKind::Port {
            side: PortSide::Dst,
            ranges,
            ..
        } if !m.negated => {
            let p = ranges
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",");
            Some(match proto {
                Some(pr) => format!("{p}/{pr}"),
                None => p,
            })
        }
        _ => None,
    })
}

fn target_chain(r: &Rule) -> Option<&str> {
    match &r.target {
        Some(Target::Chain { name }) => Some(name),
        _ => None,
    }
}

/// `ns1/svc1:p80 cluster IP` → `ns1/svc1:p80`.
fn service_name(comment: &str) -> &str {
    comment.split_whitespace().next().unwrap_or(comment)
}

impl Explanation {
    /// Explain `rs`.
    pub fn of(rs: &Ruleset) -> Explanation {
        // The services and the rest (drops, other components' chains, notes) read the rule
        // set apart from each other: they are built side by side.
        let (mut ex, (drops, other_chains, notes)) =
            rayon::join(|| Explanation::services_of(rs), || components(rs));
        ex.drops = drops;
        ex.other_chains = other_chains;
        ex.notes = notes;
        ex.drops.sort_by_key(|d| d.line);
        ex
    }

    /// The explanation's services (kube-proxy's iptables and nftables modes), nothing else.
    fn services_of(rs: &Ruleset) -> Explanation {
        let mut ex = Explanation {
            source: rs.source.clone(),
            ..Explanation::default()
        };
        let nat = rs.tables.iter().find(|t| t.name == "nat");
        let filter = rs.tables.iter().find(|t| t.name == "filter");
        if let Some(nat) = nat {
            ex.kube_services(nat);
        }
        // kube-proxy's nftables mode.
        for t in rs.tables.iter().filter(|t| t.name == "kube-proxy") {
            ex.kube_proxy_nft(t);
        }
        if let Some(filter) = filter {
            for chain in ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS"] {
                for r in filter
                    .chain(chain)
                    .map(|c| c.rules.as_slice())
                    .unwrap_or(&[])
                {
                    let Some(c) = r.comment() else { continue };
                    let name = service_name(c);
                    let svc = ex.service_mut(name);
                    if c.contains("has no endpoints") {
                        svc.no_endpoints_reject = Some(r.line);
                    } else if c.contains("has no local endpoints") {
                        svc.no_local_endpoints_drops.push(r.line);
                        svc.local_traffic_policy = true;
                    }
                }
            }
        }
        ex
    }

    fn service_mut(&mut self, name: &str) -> &mut ServiceView {
        let i = match self.by_name.get(name) {
            Some(&i) => i,
            None => {
                self.by_name.insert(name.to_string(), self.services.len());
                self.services.push(ServiceView {
                    name: name.to_string(),
                    entries: Vec::new(),
                    service_chain: None,
                    endpoints: Vec::new(),
                    local_traffic_policy: false,
                    session_affinity: false,
                    no_endpoints_reject: None,
                    no_local_endpoints_drops: Vec::new(),
                    lb_source_ranges: Vec::new(),
                });
                self.services.len() - 1
            }
        };
        &mut self.services[i]
    }

    fn kube_services(&mut self, nat: &Table) {
        let mut entry_rules: Vec<(EntryKind, &Rule)> = Vec::new();
        for r in nat
            .chain("KUBE-SERVICES")
            .map(|c| c.rules.as_slice())
            .unwrap_or(&[])
        {
            let Some(c) = r.comment() else { continue };
            let kind = if c.ends_with("cluster IP") {
                EntryKind::ClusterIp
            } else if c.ends_with("external IP") {
                EntryKind::ExternalIp
            } else if c.ends_with("loadbalancer IP") {
                EntryKind::LoadBalancer
            } else {
                continue;
            };
            // Old kube-proxy put the masquerade mark rule in KUBE-SERVICES too.
            if target_chain(r) == Some("KUBE-MARK-MASQ") {
                continue;
            }
            entry_rules.push((kind, r));
        }
        for r in nat
            .chain("KUBE-NODEPORTS")
            .map(|c| c.rules.as_slice())
            .unwrap_or(&[])
        {
            if r.comment().is_none() || target_chain(r) == Some("KUBE-MARK-MASQ") {
                continue;
            }
            // The 127.0.0.0/8 copy of a NodePort rule is the same entry.
            if dest(r).is_some() {
                continue;
            }
            entry_rules.push((EntryKind::NodePort, r));
        }
        // Reading an entry (its address and port, the chains it leads through) needs only the
        // table: a large dump's entries are read on every core, then gathered in order.
        // Indexed (a `map`, not a `filter_map`): the results land in place, in order.
        let read: Vec<Option<ReadEntry>> = entry_rules
            .par_iter()
            .with_min_len(256)
            .map(|&(kind, r)| {
                let chain = target_chain(r)?;
                let (service_chain, local, ranges) = follow_to_svc(nat, chain);
                Some(ReadEntry {
                    name: service_name(r.comment().unwrap_or("")),
                    entry: Entry {
                        kind,
                        address: dest(r),
                        port: dport(r),
                        chain: chain.to_string(),
                        line: r.line,
                    },
                    service_chain,
                    local,
                    ranges,
                })
            })
            .collect();
        for e in read.into_iter().flatten() {
            let svc = self.service_mut(e.name);
            svc.local_traffic_policy |= e.local;
            for rg in e.ranges {
                if !svc.lb_source_ranges.contains(&rg) {
                    svc.lb_source_ranges.push(rg);
                }
            }
            // With the pre-1.24 ETP=Local layout, the XLB chain balances the node's local
            // endpoints: those are the ones external traffic reaches, so they are shown.
            if e.entry.chain.starts_with("KUBE-XLB-") {
                svc.service_chain = Some(e.entry.chain.clone());
            } else if svc.service_chain.is_none() {
                svc.service_chain = e.service_chain.map(str::to_string);
            }
            svc.entries.push(e.entry);
        }
        self.fill_endpoints(nat, "KUBE-SEP-", |_| true);
    }

    /// Every service's endpoints, read from its service chain in `t` (on every core: each
    /// service reads only the table).
    fn fill_endpoints(&mut self, t: &Table, prefix: &str, balances: impl Fn(&str) -> bool + Sync) {
        self.services
            .par_iter_mut()
            .with_min_len(64)
            .for_each(|svc| {
                let Some(sc) = svc.service_chain.as_deref().filter(|sc| balances(sc)) else {
                    return;
                };
                let (endpoints, affinity) = endpoints_of(t, sc, prefix);
                svc.endpoints = endpoints;
                svc.session_affinity |= affinity;
            });
    }

    /// kube-proxy's nftables mode (`table ip kube-proxy`): the `service-ips` and
    /// `service-nodeports` verdict maps lead to `service-*` / `external-*` chains, whose
    /// `numgen` branches lead to `endpoint-*` chains that DNAT; `no-endpoint-services` rejects.
    fn kube_proxy_nft(&mut self, t: &Table) {
        let name_of = |chain: &str| -> String {
            // service-ULMVA6XW-ns1/svc1/tcp/p80 -> ns1/svc1:p80
            let rest = chain.split_once('-').map_or(chain, |x| x.1);
            let rest = rest.split_once('-').map_or(rest, |x| x.1);
            let parts: Vec<&str> = rest.split('/').collect();
            match parts.as_slice() {
                [ns, name, _proto, port] => format!("{ns}/{name}:{port}"),
                _ => rest.to_string(),
            }
        };
        let value = |v: &crate::nft::ElemValue| -> String {
            match v {
                crate::nft::ElemValue::Addr(a) => {
                    let t = a.to_string();
                    t.strip_suffix("/32")
                        .or_else(|| t.strip_suffix("/128"))
                        .map_or(t.clone(), str::to_string)
                }
                crate::nft::ElemValue::AddrRange(a, b) => format!("{a}-{b}"),
                crate::nft::ElemValue::Number(n) => n.to_string(),
                crate::nft::ElemValue::NumberRange(a, b) => format!("{a}-{b}"),
                crate::nft::ElemValue::Name(n) => n.clone(),
            }
        };
        for c in &t.chains {
            for r in &c.rules {
                let Some(Target::Vmap(vm)) = &r.target else {
                    continue;
                };
                use crate::nft::KeyField as K;
                let key: Vec<&K> = vm.key.iter().collect();
                for (vals, verdict) in &vm.entries {
                    let target = match verdict {
                        crate::nft::VmapVerdict::Goto(c) | crate::nft::VmapVerdict::Jump(c) => c,
                        _ => continue,
                    };
                    let field = |k: K| key.iter().position(|x| **x == k).and_then(|i| vals.get(i));
                    let addr = field(K::Daddr).map(value);
                    let port = match (field(K::L4proto), field(K::Dport)) {
                        // The iptables mode's words: `80/tcp`.
                        (Some(p), Some(d)) => Some(format!("{}/{}", value(d), value(p))),
                        (None, Some(d)) => Some(value(d)),
                        _ => None,
                    };
                    if target == "reject-chain" {
                        // A Service without endpoints: its addresses and ports are rejected.
                        let name = match &addr {
                            Some(a) => {
                                format!("{a} {} (no endpoints)", port.clone().unwrap_or_default())
                            }
                            None => format!(
                                "NodePort {} (no endpoints)",
                                port.clone().unwrap_or_default()
                            ),
                        };
                        let svc = self.service_mut(&name);
                        svc.no_endpoints_reject = Some(r.line);
                        continue;
                    }
                    let kind = if addr.is_none() {
                        EntryKind::NodePort
                    } else if target.starts_with("service-") {
                        EntryKind::ClusterIp
                    } else if target.starts_with("external-") {
                        EntryKind::ExternalIp
                    } else {
                        continue;
                    };
                    let name = name_of(target);
                    let svc_chain = if target.starts_with("external-") {
                        // external-X-ns/svc/... jumps to service-X-ns/svc/... (or, with
                        // externalTrafficPolicy Local, balances the local endpoints itself).
                        t.chain(target)
                            .and_then(|ext| {
                                ext.rules.iter().find_map(|er| {
                                    target_chain(er).filter(|c| c.starts_with("service-"))
                                })
                            })
                            .unwrap_or(target)
                            .to_string()
                    } else {
                        target.clone()
                    };
                    let local = svc_chain == *target && target.starts_with("external-");
                    let svc = self.service_mut(&name);
                    svc.entries.push(Entry {
                        kind,
                        address: addr,
                        port,
                        chain: target.clone(),
                        line: r.line,
                    });
                    svc.local_traffic_policy |= local;
                    if svc.service_chain.is_none() {
                        svc.service_chain = Some(svc_chain);
                    }
                }
            }
        }
        self.fill_endpoints(t, "endpoint-", |sc| {
            sc.starts_with("service-") || sc.starts_with("external-")
        });
    }

    /// The explanation as pretty JSON, the bytes `serde_json::to_writer_pretty` writes, as a
    /// value `depth` levels deep in a larger document; the services are serialised on every
    /// core.
    pub fn write_json(&self, w: &mut dyn std::io::Write, depth: usize) -> std::io::Result<()> {
        // The fields of the derived `Serialize`, in its order (a test holds the two equal).
        let mut o = crate::PrettyObject::start(w, depth)?;
        o.field("source", &self.source)?;
        o.array_field("services", &self.services)?;
        o.field("drops", &self.drops)?;
        o.field("other_chains", &self.other_chains)?;
        o.field("notes", &self.notes)?;
        o.end()
    }

    /// The explanation as text.
    pub fn render_text(&self) -> String {
        let mut out = Vec::new();
        // Writing to a `Vec` cannot fail, and every piece written is a `String`.
        let _ = self.write_text(&mut out);
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// The explanation as text, written to `w` a few thousand services at a time (each batch
    /// written on every core), so that a large rule set's text is never held whole.
    pub fn write_text(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        w.write_all(
            format!(
                "{}: {} kube-proxy service(s)\n",
                self.source,
                self.services.len()
            )
            .as_bytes(),
        )?;
        for batch in self.services.chunks(4096) {
            let parts: Vec<String> = batch
                .par_chunks(256)
                .map(|chunk| {
                    let mut s = String::with_capacity(chunk.len() * 384);
                    for svc in chunk {
                        render_service(&mut s, svc);
                    }
                    s
                })
                .collect();
            for p in parts {
                w.write_all(p.as_bytes())?;
            }
        }
        let mut s = String::new();
        if !self.other_chains.is_empty() {
            let _ = writeln!(s, "\nother components' chains:");
            for c in &self.other_chains {
                let from = if c.entered_from.is_empty() {
                    String::new()
                } else {
                    format!(", from {}", c.entered_from.join(", "))
                };
                let _ = writeln!(
                    s,
                    "  {}/{} ({}): {} rule(s), {} drop/reject{from}",
                    c.table, c.chain, c.owner, c.rules, c.drops
                );
            }
        }
        if !self.drops.is_empty() {
            let _ = writeln!(s, "\n!! drops and rejects:");
            for d in &self.drops {
                let _ = writeln!(
                    s,
                    "  {}/{} line {}: {}: {}",
                    d.table, d.chain, d.line, d.action, d.text
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        w.write_all(s.as_bytes())
    }
}

/// Every rule or policy that drops or rejects, the chains of other components, and the notes
/// on chains referenced but not declared.
fn components(rs: &Ruleset) -> (Vec<DropRule>, Vec<ChainSummary>, Vec<String>) {
    let mut drops = Vec::new();
    let mut other_chains = Vec::new();
    let mut notes = Vec::new();
    for t in &rs.tables {
        // The chains that enter each chain of another component, in chain order: one pass
        // over the rules (asking every chain for every such chain was quadratic on a
        // Calico node's hundreds of chains).
        let mut entered: std::collections::HashMap<&str, Vec<String>, crate::names::NameHash> = t
            .chains
            .iter()
            .filter(|c| owner(&c.name).is_some())
            .map(|c| (&*c.name, Vec::new()))
            .collect();
        if !entered.is_empty() {
            for from in &t.chains {
                for r in &from.rules {
                    let Some(list) = target_chain(r).and_then(|to| entered.get_mut(to)) else {
                        continue;
                    };
                    if list.last().map(String::as_str) != Some(&*from.name) {
                        list.push(from.name.to_string());
                    }
                }
            }
        }
        for c in &t.chains {
            if let Some(p @ Policy::Drop) = c.policy {
                let _ = p;
                drops.push(DropRule {
                    table: t.name.clone(),
                    chain: c.name.to_string(),
                    line: c.declared_at.unwrap_or(0),
                    action: "policy DROP".into(),
                    text: format!(":{} DROP", c.name),
                });
            }
            for r in &c.rules {
                let action = match &r.target {
                    Some(Target::Drop) => Some("DROP".to_string()),
                    Some(Target::Reject { with }) => Some(format!("REJECT ({with})")),
                    Some(Target::Chain { name }) if name == "KUBE-MARK-DROP" => {
                        Some("KUBE-MARK-DROP (dropped later by KUBE-FIREWALL)".into())
                    }
                    _ => None,
                };
                if let Some(action) = action {
                    drops.push(DropRule {
                        table: t.name.clone(),
                        chain: c.name.to_string(),
                        line: r.line,
                        action,
                        text: r.text.to_string(),
                    });
                }
            }
            if let Some(o) = owner(&c.name) {
                let entered_from = entered.remove(&*c.name).unwrap_or_default();
                other_chains.push(ChainSummary {
                    table: t.name.clone(),
                    chain: c.name.to_string(),
                    owner: o.into(),
                    rules: c.rules.len(),
                    drops: c
                        .rules
                        .iter()
                        .filter(|r| matches!(r.target, Some(Target::Drop | Target::Reject { .. })))
                        .count(),
                    entered_from,
                });
            }
            if !c.is_declared() && rs.origin == Origin::IptablesSave {
                notes.push(format!(
                    "chain {} of table {} is referenced but not declared in this dump (a partial dump): its rules are not known",
                    c.name, t.name
                ));
            }
        }
    }
    (drops, other_chains, notes)
}

/// One service, as `render_text` writes it.
fn render_service(s: &mut String, svc: &ServiceView) {
    let _ = writeln!(s, "\nservice {}", svc.name);
    for e in &svc.entries {
        let what = match e.kind {
            EntryKind::ClusterIp => "ClusterIP",
            EntryKind::ExternalIp => "external IP",
            EntryKind::LoadBalancer => "load balancer",
            EntryKind::NodePort => "NodePort",
        };
        let addr = e.address.as_deref().unwrap_or("any local address");
        let _ = writeln!(
            s,
            "  {what} {addr} port {} -> {} (line {})",
            e.port.as_deref().unwrap_or("any"),
            e.chain,
            e.line
        );
    }
    if svc.local_traffic_policy {
        let _ = writeln!(
            s,
            "  externalTrafficPolicy=Local: external traffic only to endpoints on this node"
        );
    }
    if !svc.lb_source_ranges.is_empty() {
        let _ = writeln!(
            s,
            "  load balancer open to {}; other sources dropped",
            svc.lb_source_ranges.join(", ")
        );
    }
    if let Some(c) = &svc.service_chain {
        let _ = writeln!(s, "  {c}:");
    }
    for ep in &svc.endpoints {
        let _ = writeln!(
            s,
            "    {:>5.1}% -> {} DNAT to {}",
            ep.probability * 100.0,
            ep.chain,
            ep.dnat_to.as_deref().unwrap_or("(not in this dump)")
        );
    }
    if svc.session_affinity {
        let _ = writeln!(
            s,
            "  session affinity: returning clients go to their previous endpoint"
        );
    }
    if let Some(l) = svc.no_endpoints_reject {
        let _ = writeln!(
            s,
            "  !! has no endpoints: connections are REJECTed (line {l})"
        );
    }
    for l in &svc.no_local_endpoints_drops {
        let _ = writeln!(
            s,
            "  !! no local endpoints: external traffic DROPped on this node (line {l})"
        );
    }
}

/// The endpoints a service chain balances (`KUBE-SEP-*` or `endpoint-*` chains), each with its
/// share of new connections, and whether it keeps session affinity.
fn endpoints_of(t: &Table, service_chain: &str, prefix: &str) -> (Vec<Endpoint>, bool) {
    let mut affinity = false;
    let Some(chain) = t.chain(service_chain) else {
        return (Vec::new(), affinity);
    };
    // At most one endpoint a rule: one allocation, not three growing ones.
    let mut out = Vec::with_capacity(chain.rules.len());
    let mut remaining = 1.0;
    for r in &chain.rules {
        let Some(sep) = target_chain(r) else { continue };
        if !sep.starts_with(prefix) {
            continue;
        }
        if r.matches
            .iter()
            .any(|m| matches!(m.kind, MatchKind::Recent { .. }))
        {
            affinity = true;
            continue;
        }
        let p = r
            .matches
            .iter()
            .find_map(|m| match m.kind {
                MatchKind::Statistic(Statistic::Random { probability }) if !m.negated => {
                    Some(probability)
                }
                _ => None,
            })
            .unwrap_or(1.0);
        let share = remaining * p;
        remaining -= share;
        let dnat_to = t.chain(sep).and_then(|c| {
            c.rules.iter().find_map(|r| match &r.target {
                Some(Target::Dnat { to, .. }) => to.first().map(ToString::to_string),
                _ => None,
            })
        });
        out.push(Endpoint {
            dnat_to,
            probability: share,
            chain: sep.to_string(),
            line: r.line,
        });
    }
    (out, affinity)
}

/// From an entry chain (`KUBE-EXT-*`, `KUBE-FW-*`, `KUBE-XLB-*`) to the service chain:
/// returns it, whether the path is externalTrafficPolicy=Local, and the load balancer's allowed
/// source ranges.
fn follow_to_svc<'a>(nat: &'a Table, start: &'a str) -> (Option<&'a str>, bool, Vec<String>) {
    let mut local = start.starts_with("KUBE-XLB-");
    let mut ranges = Vec::new();
    let mut chain = start;
    for _ in 0..4 {
        if chain.starts_with("KUBE-SVC-") {
            return (Some(chain), local, ranges);
        }
        let Some(c) = nat.chain(chain) else { break };
        if chain.starts_with("KUBE-FW-") {
            for r in &c.rules {
                for m in &r.matches {
                    if let (MatchKind::Source { nets }, false) = (&m.kind, m.negated) {
                        ranges.extend(nets.iter().map(|n| n.to_string()));
                    }
                }
            }
        }
        if chain.starts_with("KUBE-EXT-") {
            // ETP=Cluster masquerades all external traffic unconditionally; ETP=Local does not.
            let masq_all = c.rules.iter().any(|r| {
                target_chain(r) == Some("KUBE-MARK-MASQ")
                    && r.matches
                        .iter()
                        .all(|m| matches!(m.kind, MatchKind::Comment { .. }))
            });
            local |= !masq_all;
        }
        // The last jump to another kube chain (pod traffic shortcuts come first).
        let next = c.rules.iter().filter_map(target_chain).rfind(|t| {
            t.starts_with("KUBE-SVC-") || t.starts_with("KUBE-EXT-") || t.starts_with("KUBE-XLB-")
        });
        match next {
            Some(n) if n != chain => chain = n,
            _ => break,
        }
    }
    (None, local, ranges)
}
