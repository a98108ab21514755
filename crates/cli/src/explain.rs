//! `netdoctor explain iptables FILE|-`.

use crate::args::{ExplainArgs, ExplainFormat, ExplainWhat};
use anyhow::Result;
use netdoctor_netfilter::{parse_iptables_save, Explanation};
use std::io::Write;
use std::process::ExitCode;

/// The largest rule dump read: ten times the largest real one seen (a 110k-rule cluster's
/// `iptables-save` is 16 MiB).
const MAX_DUMP: u64 = 256 << 20;

pub fn run_explain(args: &ExplainArgs) -> Result<ExitCode> {
    let ExplainWhat::Iptables = args.what;
    // Stdin and a named file are read the same way: bounded, and bytes that are not UTF-8
    // become U+FFFD rather than an error (a dump with a Latin-1 comment is still a dump).
    let name = if args.file == "-" {
        "<stdin>".to_string()
    } else {
        args.file.clone()
    };
    let bytes = netdoctor_safefs::read_input(
        std::path::Path::new(&args.file),
        MAX_DUMP,
        "an iptables dump",
    )?;
    let text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    if text.trim().is_empty() {
        anyhow::bail!(
            "{name}: empty, nothing to explain (a FIFO that nobody writes to reads as empty)"
        );
    }
    let (ruleset, errors) = parse_iptables_save(&text, &name);
    if ruleset.tables.is_empty() {
        let first = errors.first().map(|e| format!(": {e}")).unwrap_or_default();
        anyhow::bail!("{name}: not an iptables-save dump (no `*table` section){first}");
    }
    let explanation = Explanation::of(&ruleset);
    let mut out = std::io::stdout().lock();
    match args.output {
        ExplainFormat::Text => {
            out.write_all(explanation.render_text().as_bytes())?;
            if !errors.is_empty() {
                writeln!(out, "\nLines that could not be read ({}):", errors.len())?;
                for e in &errors {
                    writeln!(out, "  {e}")?;
                }
            }
        }
        ExplainFormat::Json => {
            let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let doc = serde_json::json!({
                "schema": "netdoctor.explain/v1",
                "source": name,
                "explanation": explanation,
                "input_problems": problems,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
