#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(snap) = netdoctor_collect::snapshot_io::parse_snapshot(data, "fuzz.json") {
        // What parses must write back and parse to the same snapshot.
        let json = serde_json::to_vec(&snap).expect("a parsed snapshot serialises");
        let again = netdoctor_collect::snapshot_io::parse_snapshot(&json, "again.json")
            .expect("a written snapshot parses");
        assert_eq!(again, snap);
    }
});
