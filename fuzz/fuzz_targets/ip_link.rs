#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = common::line_count(&text);
    let (links, problems) = netdoctor_bundle::iplink::parse_ip_link(&text, "f");
    common::check_problems(&problems, "f", lines);
    links
        .iter()
        .for_each(|l| common::check_source(&l.source, "f", lines));
});
