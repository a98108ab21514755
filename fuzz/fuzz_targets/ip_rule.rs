#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = common::line_count(&text);
    let (rules, problems) = netdoctor_bundle::iprule::parse_ip_rule(&text, "f");
    common::check_problems(&problems, "f", lines);
    rules
        .iter()
        .for_each(|r| common::check_source(&r.source, "f", lines));
});
