//! netdoctor-netfilter: reads a node's packet-filter rules and evaluates packets through them
//! the way the kernel does.
//!
//! - [`parse_iptables_save`] / [`parse_dump`] read `iptables-save` / `ip6tables-save` output
//!   (legacy and nft variants, with or without counters), kube-proxy's restore input (full and
//!   partial syncs, `-X` deletions), `iptables -S` listings and the dirty pastes people attach
//!   to issues. Every rule keeps its original text and line. Bad lines come back as
//!   [`ParseError`]s (`file:line: message`) and everything else is still read.
//! - [`parse_nft_json`] reads `nft -j list ruleset` (kube-proxy's nftables mode, firewalld's
//!   nft backend) into the same [`Ruleset`]; iptables-nft's opaque `xt` expressions are
//!   reported, and evaluate to unknown.
//! - [`Evaluator`] runs a [`Packet`] through a [`Hook`] (or a path of hooks): tables in
//!   priority order, `!` on every match, `-j` vs `-g`, RETURN, policies, nat on the first
//!   packet only, `statistic` as an enumerated choice. It returns every possible
//!   [`Outcome`]: verdict, rewritten packet (DNAT, SNAT, MASQUERADE, REDIRECT, marks) and the
//!   trace of rules. A match or target it does not model gives [`Verdict::Unknown`] naming the
//!   rule; it never guesses.
//! - [`Explanation`] describes kube-proxy's services, other components' chains and every
//!   drop, as data (serde) and as text.
//!
//! This crate knows netfilter, not Kubernetes: it reads kube-proxy's chain names and comments
//! only to *describe* them ([`explain`]). It does no I/O, runs no commands and does not route:
//! which hooks a packet crosses, and its interfaces, are the caller's business.
//!
//! ```
//! use netdoctor_netfilter::{parse_iptables_save, Evaluator, HostContext, Hook, Packet, Verdict};
//!
//! let dump = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
//!             -A INPUT -p udp -m udp --dport 8472 -j DROP\n\
//!             -A FORWARD -s 10.244.0.0/16 -j ACCEPT\nCOMMIT\n";
//! let (rules, errors) = parse_iptables_save(dump, "iptables-save.txt");
//! assert!(errors.is_empty());
//! let host = HostContext::with_addresses([("eth0", "192.168.0.2/24".parse().unwrap())]);
//! let ev = Evaluator::new(&rules, &host);
//!
//! // Does INPUT accept VXLAN from a peer node?
//! let vxlan = Packet::udp("192.168.0.3".parse().unwrap(), "192.168.0.2".parse().unwrap(), 8472)
//!     .in_iface("eth0");
//! let res = ev.hook(Hook::Input, &vxlan);
//! assert_eq!(res.verdict(), Some(&Verdict::Drop));
//! let rule = res.outcomes[0].deciding_rule().unwrap();
//! assert_eq!((rule.line, rule.chain.as_str()), (5, "INPUT"));
//!
//! // Does FORWARD accept a new pod-to-pod connection?
//! let pod = Packet::tcp("10.244.1.2".parse().unwrap(), "10.244.2.3".parse().unwrap(), 80)
//!     .in_iface("cni0")
//!     .out_iface("flannel.1");
//! assert!(ev.hook(Hook::Forward, &pod).accepted());
//! ```

// The modules are private: what other crates may use is the list below. Rule types at the
// bottom (`rule`, `text`, `packet`), the readers above them (`parse` for iptables-save and
// -restore, `listing` for `iptables -L`/`-S`, `nft` for nft JSON and text), the evaluator
// (`eval`) and the explanation of a dump (`explain`) on top.
mod error;
mod eval;
mod explain;
mod listing;
mod names;
mod nft;
mod packet;
mod parse;
mod pretty;
mod rule;
mod text;

pub use error::{ErrorKind, ParseError};
pub use eval::{
    Action, Choice, ChoicePoint, Evaluation, Evaluator, NatDone, NatKind, Outcome, RuleRef, Step,
    Verdict, WeightedTarget,
};
pub use explain::{ChainSummary, DropRule, Endpoint, Entry, EntryKind, Explanation, ServiceView};
pub use listing::{parse_listing, ListingInfo};
pub use nft::{
    looks_like_nft_text, parse_nft_json, parse_nft_text, parse_nft_text_threads, ElemValue,
    KeyField, Vmap, VmapVerdict,
};
pub use packet::{
    proto, CtDir, CtInfo, CtState, CtStateSet, Hook, HostAddr, HostContext, IpSetContents, Packet,
};
pub use parse::{
    parse_dump, parse_iptables_save, parse_iptables_save_shared, parse_iptables_save_threads,
};
pub use pretty::PrettyObject;
pub use rule::*;
pub use text::{Sparse, Text};
