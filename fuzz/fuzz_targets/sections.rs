#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use netdoctor_model::NodeSnapshot;

/// File names that `read_bundle` recognises, plus one it must sniff.
const NAMES: &[&str] = &[
    "paste.txt",
    "sysctl.txt",
    "ip-addr.txt",
    "ip-link.txt",
    "ip-route.txt",
    "ip-rule.txt",
    "ip-neigh.txt",
    "bridge-fdb.txt",
    "route-n.txt",
    "ifconfig.txt",
    "lsmod.txt",
    "iptables-save.txt",
    "dmesg.txt",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(pick) % NAMES.len()];
    let text = String::from_utf8_lossy(rest);
    let lines = common::line_count(&text);
    let numbered = netdoctor_bundle::text::numbered(&text);
    for section in netdoctor_bundle::sections::split(&numbered) {
        let _ = netdoctor_bundle::sections::sniff(&section.lines, name);
        assert!(section.first_line() <= lines);
    }
    let mut snap = NodeSnapshot::default();
    // A named file with nothing readable is an error by design; any other outcome is fine
    // as long as nothing panics and provenance stays inside the input.
    if netdoctor_bundle::read_file(name, &text, &mut snap).is_ok() {
        common::check_problems(&snap.problems, name, lines);
        for r in snap.routes.iter().flatten() {
            common::check_source(&r.source, name, lines);
        }
        for l in snap.links.iter().flatten() {
            common::check_source(&l.source, name, lines);
        }
        assert!(!snap.inputs.is_empty());
    }
});
