//! A node's IPv4 rule sets, gathered once for everything that evaluates packets: every
//! iptables backend's dump, an `iptables -L` listing when no dump shows those rules, and the
//! native nftables tables (firewalld, kube-proxy's nftables mode, a host firewall). The kernel
//! runs all of them, so a packet must pass every one.

use netdoctor_model::{Backend, Family, NodeSnapshot};
use netdoctor_netfilter::{
    parse_dump, parse_listing, ErrorKind, ListingInfo, ParseError, Policy, Ruleset, TableFamily,
};

/// One rule set of a node.
#[derive(Debug)]
pub struct RuleSet {
    pub backend: Backend,
    pub ruleset: Ruleset,
    /// Where the rules came from, as evidence prints it.
    pub source: String,
    /// Read from an `iptables -L` listing: what it showed and assumed.
    pub listing: Option<ListingInfo>,
    /// Read from nftables (`nft list ruleset`, text or JSON): fixes are nft commands.
    pub nft: bool,
    /// Why these rules may be incomplete (a cut listing, a chain pasted without its table).
    pub partial: Option<String>,
    /// The kernel runs these rules and they may change a packet's fate: a dump or nft rule
    /// set holding a rule or a DROP policy or not read whole (a complete empty one changes
    /// nothing), or a listing no dump supersedes.
    pub active: bool,
}

impl RuleSet {
    /// What a verdict from these rules must carry (a listing without `-v` hides interfaces;
    /// kube-proxy's chains that were not listed were assumed), and whether interfaces are
    /// hidden.
    pub fn caveats(&self) -> (Vec<String>, bool) {
        let mut notes = Vec::new();
        if let Some(p) = &self.partial {
            notes.push(format!("{}: {p}", self.source));
        }
        let Some(l) = &self.listing else {
            return (notes, false);
        };
        if !l.verbose {
            notes.push(format!(
                "{}: a listing without -v does not show the rules' interfaces, so a rule that looks unconditional may be limited to one (ask for `iptables -S` or `iptables-save`)",
                self.source
            ));
        }
        if !l.assumed.is_empty() {
            notes.push(format!(
                "{}: not listed, so kube-proxy's standard rules were assumed for {}",
                self.source,
                l.assumed.join(", ")
            ));
        }
        (notes, !l.verbose)
    }

    /// The tool that writes these rules (`iptables-legacy`, `iptables-nft`, `nft`).
    pub fn tool(&self) -> &'static str {
        if self.nft {
            return "nft";
        }
        backend_tool(self.backend)
    }
}

/// The iptables command of a backend.
pub fn backend_tool(b: Backend) -> &'static str {
    match b {
        Backend::Legacy => "iptables-legacy",
        Backend::Nft => "iptables-nft",
        Backend::Unknown => "iptables",
    }
}

/// Every IPv4 rule set of a node.
#[derive(Debug, Default)]
pub struct NodeRules {
    pub sets: Vec<RuleSet>,
    /// Set when no rules were collected at all: every hook is then unknown.
    pub missing: Option<String>,
    /// Rule lines that did not read (at most five per set).
    pub notes: Vec<String>,
}

impl NodeRules {
    /// The sets the kernel runs and that can change a packet's fate.
    pub fn active(&self) -> impl Iterator<Item = (usize, &RuleSet)> {
        self.sets.iter().enumerate().filter(|(_, s)| s.active)
    }
}

/// The rules may change a packet's fate: a rule or a DROP policy is there, or something was
/// not read (a dump cut short shows empty chains that are not known to be empty).
fn may_decide(rs: &Ruleset, errors: &[ParseError]) -> bool {
    errors.iter().any(|e| e.kind != ErrorKind::Assumption)
        || rs.tables.iter().any(|t| {
            t.chains
                .iter()
                .any(|c| !c.rules.is_empty() || matches!(c.policy, Some(Policy::Drop)))
        })
}

fn note_errors(notes: &mut Vec<String>, errors: &[ParseError]) {
    // An error names its file and line itself.
    notes.extend(errors.iter().take(5).map(ToString::to_string));
}

/// Gather the rule sets of `snap`.
pub fn gather(snap: &NodeSnapshot) -> NodeRules {
    let mut out = NodeRules::default();
    for d in snap.iptables.iter().filter(|d| d.family == Family::Ipv4) {
        let (ruleset, errors) = parse_dump(d);
        note_errors(&mut out.notes, &errors);
        out.sets.push(RuleSet {
            backend: d.backend,
            active: may_decide(&ruleset, &errors),
            ruleset,
            source: d.source.to_string(),
            listing: None,
            nft: false,
            partial: None,
        });
    }
    // A listing beside a dump is the same rules seen less well: it is kept for the checks that
    // read listings, but the kernel does not run it twice. Alone, it takes part even when it
    // shows no rule: the chains it did not list are unknown, not empty.
    let have_dump = !out.sets.is_empty();
    for l in &snap.iptables_listings {
        let (ruleset, errors, info) = parse_listing(&l.value, &l.source.file);
        if ruleset.tables.iter().all(|t| t.chains.is_empty()) {
            continue;
        }
        note_errors(&mut out.notes, &errors);
        out.sets.push(RuleSet {
            backend: Backend::Unknown,
            active: !have_dump,
            ruleset,
            source: l.source.to_string(),
            listing: Some(info),
            nft: false,
            partial: None,
        });
    }
    if let Some(set) = native_nft(snap, &mut out.notes) {
        out.sets.push(set);
    }
    if out.sets.is_empty() {
        // No dump at all is missing data, not an empty firewall: a collector that ran
        // iptables-save on a host without rules still records an (empty) dump.
        out.missing = Some(
            snap.not_collected
                .iter()
                .find(|n| n.part.starts_with("iptables") || n.part.starts_with("nft"))
                .map(|n| format!("{} not collected: {}", n.part, n.reason))
                .unwrap_or_else(|| "the snapshot holds no iptables or nft rules".into()),
        );
    }
    out
}

/// The node's nftables rules (`nft -j list ruleset`, or its text as pasted), their read
/// problems, and where they came from; rule lines count in the file the text sits in.
pub fn nft_rules(snap: &NodeSnapshot) -> Option<(Ruleset, Vec<ParseError>, String)> {
    if let Some(j) = &snap.nft_json {
        let (rs, errors) = netdoctor_netfilter::parse_nft_json(&j.value, &j.source.file);
        return Some((rs, errors, j.source.to_string()));
    }
    let t = snap.nft_text.as_ref()?;
    let (mut rs, mut errors) = netdoctor_netfilter::parse_nft_text(&t.value, &t.source.file);
    // Lines of a pasted section are numbered from where it starts in its file.
    let first = t.source.line.unwrap_or(1).saturating_sub(1);
    for r in rs
        .tables
        .iter_mut()
        .flat_map(|tb| tb.chains.iter_mut())
        .flat_map(|c| c.rules.iter_mut())
    {
        r.line += first;
    }
    for e in &mut errors {
        e.line += first;
    }
    Some((rs, errors, t.source.file.clone()))
}

/// The native nftables rule set. When an iptables-nft dump is there too, the tables
/// iptables-nft owns (`ip filter`, `ip nat`, ...) are the same rules seen twice, and only the
/// native tables (firewalld, kube-proxy's nftables mode, a host firewall) are kept.
fn native_nft(snap: &NodeSnapshot, notes: &mut Vec<String>) -> Option<RuleSet> {
    let (mut ruleset, errors, source) = nft_rules(snap)?;
    note_errors(notes, &errors);
    let iptables_nft = snap
        .iptables
        .iter()
        .any(|d| d.backend == Backend::Nft && d.family == Family::Ipv4);
    if iptables_nft {
        ruleset.tables.retain(|t| {
            !(t.family == TableFamily::Ip
                && matches!(
                    t.name.as_str(),
                    "filter" | "nat" | "mangle" | "raw" | "security"
                ))
        });
    }
    ruleset.tables.retain(|t| t.family != TableFamily::Ip6);
    if ruleset.tables.iter().all(|t| t.chains.is_empty()) {
        return None;
    }
    let partial = errors
        .iter()
        .find(|e| {
            e.kind == ErrorKind::Truncated
                || (e.kind == ErrorKind::Assumption && e.message.contains("assumed"))
        })
        .map(|e| {
            format!(
                "{} (line {}): rules after it are not known",
                e.message, e.line
            )
        });
    Some(RuleSet {
        backend: Backend::Nft,
        active: may_decide(&ruleset, &errors),
        ruleset,
        source,
        listing: None,
        nft: true,
        partial,
    })
}
