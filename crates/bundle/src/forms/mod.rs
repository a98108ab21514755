//! Importers for the other forms people paste: kubectl's human output, IPVS, ipsets, tunnels,
//! bridges, offloads and counters, Calico's status, tool versions and the probes people ran.
//! Each reads one form, is tested on real pastes (`tests/pastes/`) and fuzzed.

pub mod calico;
pub mod facts;
pub mod kubectl;
pub mod net;

/// Test support: a real paste and the name it is read under.
#[cfg(test)]
pub(crate) mod pastes {
    /// The text of `tests/pastes/REL` and its file name; its `.toml` must name the thread.
    pub fn paste(rel: &str) -> (String, String) {
        let base = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pastes/");
        let text = std::fs::read_to_string(format!("{base}{rel}")).expect("paste");
        let meta = std::fs::read_to_string(format!("{base}{}", rel.replace(".txt", ".toml")))
            .expect("paste metadata");
        assert!(meta.contains("url = \"http"), "{rel}: no source url");
        let name = rel.rsplit('/').next().unwrap_or(rel).to_string();
        (text, name)
    }
}
