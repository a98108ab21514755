#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = common::line_count(&text);
    let (routes, problems) = netdoctor_bundle::iproute::parse_ip_route(&text, "f");
    common::check_problems(&problems, "f", lines);
    routes
        .iter()
        .for_each(|r| common::check_source(&r.source, "f", lines));
});
