#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = common::line_count(&text);
    let (modules, problems) = netdoctor_bundle::lsmod::parse_lsmod(&text, "f");
    common::check_problems(&problems, "f", lines);
    modules
        .values()
        .for_each(|s| common::check_source(s, "f", lines));
});
