#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = common::line_count(&text);
    let (map, problems) = netdoctor_bundle::sysctl::parse_sysctl(&text, "f");
    common::check_problems(&problems, "f", lines);
    for (key, v) in &map {
        assert!(!key.is_empty());
        common::check_source(&v.source, "f", lines);
    }
});
