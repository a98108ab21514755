#![no_main]
//! The iptables-save parser never panics, every error names a line of the input, every rule
//! keeps a line of the input, and evaluating a packet through whatever was read never panics.

use libfuzzer_sys::fuzz_target;
use netdoctor_netfilter::{
    parse_iptables_save, parse_nft_json, Evaluator, Hook, HostContext, Packet,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count() as u32;
    let (rs, errors) = parse_iptables_save(&text, "f");
    for e in &errors {
        assert!(
            e.line >= 1 && e.line <= lines,
            "error line {} of {lines}",
            e.line
        );
        assert!(e.to_string().starts_with("f:"));
    }
    for t in &rs.tables {
        for c in &t.chains {
            for r in &c.rules {
                assert!(r.line >= 1 && r.line <= lines);
            }
        }
    }
    let ctx = HostContext::with_addresses([("eth0", "10.0.0.1/24".parse().expect("net"))]);
    let ev = Evaluator::new(&rs, &ctx);
    let pkt = Packet::tcp(
        "10.0.0.2".parse().expect("ip"),
        "10.96.0.1".parse().expect("ip"),
        443,
    )
    .in_iface("eth0")
    .out_iface("eth0");
    let _ = ev.path(&[Hook::Prerouting, Hook::Forward, Hook::Postrouting], &pkt);
    let _ = parse_nft_json(&text, "f");
});
