//! `netdoctor explain iptables FILE|-`.

use crate::args::{ExplainArgs, ExplainFormat, ExplainWhat};
use anyhow::{Context as _, Result};
use netdoctor_netfilter::{parse_iptables_save, Explanation};
use std::io::{Read, Write};
use std::process::ExitCode;

pub fn run_explain(args: &ExplainArgs) -> Result<ExitCode> {
    let ExplainWhat::Iptables = args.what;
    let (text, name) = if args.file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
        (s, "<stdin>".to_string())
    } else {
        let bytes =
            std::fs::read(&args.file).with_context(|| format!("{}: cannot read", args.file))?;
        (
            String::from_utf8_lossy(&bytes).into_owned(),
            args.file.clone(),
        )
    };
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
