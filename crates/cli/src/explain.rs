//! `netdoctor explain iptables|nft FILE|- [--packet …]`.

use crate::args::{ExplainArgs, ExplainFormat, ExplainWhat};
use crate::packet;
use anyhow::Result;
use netdoctor_netfilter::{
    looks_like_nft_text, parse_iptables_save, parse_iptables_save_shared, parse_nft_json,
    parse_nft_text, Explanation,
};
use std::io::Write;
use std::process::ExitCode;

/// The largest rule dump read: ten times the largest real one seen (a 110k-rule cluster's
/// `iptables-save` is 16 MiB).
const MAX_DUMP: u64 = 256 << 20;

pub fn run_explain(args: &ExplainArgs) -> Result<ExitCode> {
    // Stdin and a named file are read the same way: bounded, and bytes that are not UTF-8
    // become U+FFFD rather than an error (a dump with a Latin-1 comment is still a dump).
    let name = if args.file == "-" {
        "<stdin>".to_string()
    } else {
        args.file.clone()
    };
    let what = match args.what {
        ExplainWhat::Iptables => "an iptables dump",
        ExplainWhat::Nft => "an nft rule set",
    };
    let bytes = netdoctor_safefs::read_input(std::path::Path::new(&args.file), MAX_DUMP, what)?;
    // Shared with the rule set, which keeps its rule texts as slices of it (no copy).
    let text = std::sync::Arc::new(
        String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    );
    if text.trim().is_empty() {
        anyhow::bail!(
            "{name}: empty, nothing to explain (a FIFO that nobody writes to reads as empty)"
        );
    }
    let (mut ruleset, errors) = match args.what {
        ExplainWhat::Iptables => {
            let (rs, errors) = parse_iptables_save_shared(std::sync::Arc::clone(&text), &name);
            if rs.tables.is_empty() {
                let hint = if looks_like_nft_text(&text) || text.trim_start().starts_with('{') {
                    " (it looks like an nft rule set: use `explain nft`)"
                } else {
                    ""
                };
                let first = errors.first().map(|e| format!(": {e}")).unwrap_or_default();
                anyhow::bail!(
                    "{name}: not an iptables-save dump (no `*table` section){hint}{first}"
                );
            }
            (rs, errors)
        }
        ExplainWhat::Nft => {
            let (rs, errors) = if text.trim_start().starts_with('{') {
                parse_nft_json(&text, &name)
            } else {
                parse_nft_text(&text, &name)
            };
            if rs.tables.is_empty() {
                let hint = if text.lines().any(|l| l.starts_with('*')) {
                    " (it looks like an iptables-save dump: use `explain iptables`)"
                } else {
                    ""
                };
                let first = errors.first().map(|e| format!(": {e}")).unwrap_or_default();
                anyhow::bail!("{name}: not an nft rule set (no `table`){hint}{first}");
            }
            (rs, errors)
        }
    };
    let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let mut out = std::io::stdout().lock();
    if let Some(p) = &args.packet {
        let spec = packet::parse_packet(p)?;
        let mut notes = Vec::new();
        let mut added_after = None;
        if args.what == ExplainWhat::Iptables {
            if let Some((extra, n)) = packet::kube_proxy_completion(&ruleset) {
                // The added sections come after the file's last line, so every rule of the
                // file keeps its line number.
                let full = format!("{text}\n{extra}");
                ruleset = parse_iptables_save(&full, &name).0;
                notes = n;
                added_after = u32::try_from(text.split('\n').count()).ok();
            }
            notes.extend(packet::assume_builtin_policies(&mut ruleset));
        }
        let walk = packet::Walk {
            hook: args.hook,
            in_iface: args.in_iface.as_deref(),
            out_iface: args.out_iface.as_deref(),
            local: &args.local,
            added_after,
        };
        let mut report = packet::evaluate(&ruleset, &spec, &walk);
        notes.append(&mut report.notes);
        report.notes = notes;
        report.input_problems = problems;
        out.write_all(packet::render(&report, args.output)?.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let explanation = Explanation::of(&ruleset);
    match args.output {
        ExplainFormat::Text | ExplainFormat::Markdown => {
            let md = args.output == ExplainFormat::Markdown;
            if md {
                writeln!(out, "# Rules of `{name}`\n\n```text")?;
            }
            out.write_all(explanation.render_text().as_bytes())?;
            if md {
                writeln!(out, "```")?;
            }
            if !errors.is_empty() {
                writeln!(out, "\nLines that could not be read ({}):", errors.len())?;
                for e in &errors {
                    writeln!(out, "{}{e}", if md { "- " } else { "  " })?;
                }
            }
        }
        ExplainFormat::Json => {
            let doc = ExplainDoc {
                schema: "netdoctor.explain/v1",
                source: &name,
                explanation: &explanation,
                input_problems: &problems,
            };
            let mut w = std::io::BufWriter::new(&mut out);
            serde_json::to_writer_pretty(&mut w, &doc)?;
            writeln!(w)?;
            w.flush()?;
        }
    }
    out.flush()?;
    // The process ends here: the kernel takes the memory back at once, where freeing a large
    // dump's rules one by one would take longer than explaining them.
    std::mem::forget((ruleset, explanation, text));
    Ok(ExitCode::SUCCESS)
}

/// The whole `explain iptables|nft FILE -o json` document (`netdoctor.explain/v1`).
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct ExplainDoc<'a> {
    pub schema: &'static str,
    /// The file read (`-` for standard input).
    pub source: &'a str,
    pub explanation: &'a Explanation,
    /// Lines that could not be read (`file:line: message`).
    pub input_problems: &'a [String],
}
