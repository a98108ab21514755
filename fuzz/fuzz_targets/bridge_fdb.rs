#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = common::line_count(&text);
    let (fdb, problems) = netdoctor_bundle::fdb::parse_bridge_fdb(&text, "f");
    common::check_problems(&problems, "f", lines);
    fdb.iter()
        .for_each(|e| common::check_source(&e.source, "f", lines));
});
