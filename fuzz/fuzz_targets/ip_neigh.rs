#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = common::line_count(&text);
    let (neigh, problems) = netdoctor_bundle::neigh::parse_ip_neigh(&text, "f");
    common::check_problems(&problems, "f", lines);
    neigh
        .iter()
        .for_each(|n| common::check_source(&n.source, "f", lines));
    let numbered = netdoctor_bundle::text::numbered(&text);
    let (arp, problems) = netdoctor_bundle::neigh::parse_arp_lines(&numbered, "f");
    common::check_problems(&problems, "f", lines);
    arp.iter()
        .for_each(|n| common::check_source(&n.source, "f", lines));
});
