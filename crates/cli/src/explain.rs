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
            explanation.write_text(&mut out)?;
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
            doc.write_json(&mut w)?;
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

impl ExplainDoc<'_> {
    /// The document as pretty JSON: what `serde_json::to_writer_pretty` writes, with the
    /// explanation's services serialised on every core (a large dump's JSON is 10 MB).
    pub(crate) fn write_json(&self, w: &mut dyn Write) -> std::io::Result<()> {
        // The fields of the derived `Serialize`, in its order (a test holds the two equal).
        let mut o = netdoctor_netfilter::PrettyObject::start(w, 0)?;
        o.field("schema", self.schema)?;
        o.field("source", self.source)?;
        o.nested_field("explanation", |w, depth| {
            self.explanation.write_json(w, depth)
        })?;
        o.field("input_problems", self.input_problems)?;
        o.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document written in pieces is byte for byte serde_json's, on every iptables dump
    /// of the repository's cases and real-world fixtures (with and without unreadable lines,
    /// drops, other components' chains and notes), on a cut dump, and on one large enough to
    /// be written in several batches.
    #[test]
    fn json_written_in_pieces_is_serde_jsons() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut dumps: Vec<(String, String)> = Vec::new();
        let mut files = Vec::new();
        for dir in ["tests/fixtures/realworld/iptables", "tests/cases"] {
            let mut stack = vec![root.join(dir)];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).expect("fixtures").flatten() {
                    let path = e.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else {
                        files.push(path);
                    }
                }
            }
        }
        files.sort();
        for path in files {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if text.lines().any(|l| l.starts_with('*')) {
                dumps.push((path.display().to_string(), text));
            }
        }
        assert!(dumps.len() >= 15, "only {} dumps found", dumps.len());
        dumps.push((
            "generated".into(),
            netdoctor_testkit::kube_dump::iptables_save(4500, 2),
        ));
        dumps.push((
            "cut".into(),
            "*filter\n:INPUT DROP [0:0]\n-A INPUT -j DOCKER-USER\n-A INPUT -m bogus --x\n".into(),
        ));
        for (name, text) in dumps {
            let (rs, errors) = parse_iptables_save(&text, &name);
            let explanation = Explanation::of(&rs);
            let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let doc = ExplainDoc {
                schema: "netdoctor.explain/v1",
                source: &name,
                explanation: &explanation,
                input_problems: &problems,
            };
            let mut pieces = Vec::new();
            doc.write_json(&mut pieces).expect("write");
            let serde = serde_json::to_vec_pretty(&doc).expect("serde");
            assert!(
                pieces == serde,
                "{name}: written in pieces differs from serde_json's:\n{}",
                String::from_utf8_lossy(&pieces)
                    .chars()
                    .take(2000)
                    .collect::<String>()
            );
        }
    }
}
