//! `netdoctor schema NAME`: the JSON Schema of each JSON output, generated from the very types
//! that are serialised (so it cannot drift from them). The repository commits them under
//! `docs/schemas/`; a test keeps the files equal to what this prints and validates real
//! outputs against them.

use anyhow::Result;
use schemars::schema_for;
use std::io::Write;
use std::process::ExitCode;

/// Every JSON output with a schema: (name, the command that writes it).
pub const OUTPUTS: &[(&str, &str)] = &[
    ("check", "check -o json"),
    ("snapshot", "collect"),
    ("trace", "trace -o json"),
    ("probe", "probe -o json"),
    ("capture", "capture -o json"),
    ("pcap", "pcap -o json"),
    ("fleet", "fleet -o json"),
    ("packet", "explain iptables|nft FILE --packet ... -o json"),
    ("explain", "explain iptables|nft FILE -o json"),
    ("fix", "fix --format json"),
    ("catalogue", "check --list -o json"),
];

pub fn schema_json(name: &str) -> Option<String> {
    let schema = match name {
        "check" => schema_for!(netdoctor_model::CheckReport),
        "snapshot" => schema_for!(netdoctor_model::NodeSnapshot),
        "trace" => schema_for!(netdoctor_sim::Trace),
        "probe" => schema_for!(netdoctor_model::ProbeReport),
        "capture" => schema_for!(crate::capture::CaptureOut<'static>),
        "pcap" => schema_for!(netdoctor_pcap::Report),
        "fleet" => schema_for!(crate::fleet::FleetReport),
        "packet" => schema_for!(crate::packet::PacketReport),
        "explain" => schema_for!(crate::explain::ExplainDoc<'static>),
        "fix" => schema_for!(netdoctor_remedy::export::FixDoc<'static>),
        "catalogue" => schema_for!(Vec<netdoctor_model::CauseInfo>),
        _ => return None,
    };
    let mut s = serde_json::to_string_pretty(&schema).ok()?;
    s.push('\n');
    Some(s)
}

pub fn run_schema(name: &str) -> Result<ExitCode> {
    match schema_json(name) {
        Some(s) => {
            std::io::stdout().write_all(s.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let names: Vec<&str> = OUTPUTS.iter().map(|(n, _)| *n).collect();
            anyhow::bail!("no schema called {name:?}: one of {}", names.join(", "))
        }
    }
}
