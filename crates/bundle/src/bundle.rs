//! [`read_bundle`]: a directory of pasted evidence becomes a [`NodeSnapshot`].

use crate::command::Kind;
use crate::error::BundleError;
use crate::import::{self, Outcome};
use crate::sections::{self, Section};
use crate::{hints, node_dirs, raw, text};
use netdoctor_model::{InputSummary, NodeSnapshot, Source, Sourced};
use netdoctor_safefs::{read_regular, FsError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Files larger than this are not evidence anyone pasted.
const MAX_FILE: u64 = 64 << 20;
/// All the files of a bundle together.
const MAX_TOTAL: u64 = 512 << 20;
/// Files in one bundle (a directory with more is not a bundle someone put together).
pub(crate) const MAX_FILES: usize = 10_000;

/// What a file's name says it is.
pub fn kind_by_name(name: &str) -> Option<Kind> {
    let lower = name.to_ascii_lowercase();
    Some(match lower.as_str() {
        "sysctl.txt" => Kind::Sysctl,
        "ip-addr.txt" => Kind::IpAddr,
        "ip-link.txt" => Kind::IpLink,
        "ip-route.txt" => Kind::IpRoute,
        "ip-rule.txt" => Kind::IpRule,
        "ip-neigh.txt" => Kind::IpNeigh,
        "bridge-fdb.txt" => Kind::BridgeFdb(None),
        "route-n.txt" => Kind::RouteN,
        "ifconfig.txt" => Kind::Ifconfig,
        "lsmod.txt" => Kind::Lsmod,
        "iptables-save.txt"
        | "iptables-legacy-save.txt"
        | "iptables-nft-save.txt"
        | "ip6tables-save.txt"
        | "ip6tables-legacy-save.txt"
        | "ip6tables-nft-save.txt" => Kind::IptablesSave(lower.clone()),
        "iptables-list.txt" => Kind::IptablesList,
        "nft.txt" => Kind::NftText,
        "nft.json" => Kind::NftJson,
        "dmesg.txt" | "journal.txt" => Kind::Log,
        n if n.ends_with(".log") => Kind::Log,
        _ => return None,
    })
}

fn rank(kind: Option<&Kind>) -> u8 {
    match kind {
        Some(Kind::IpLink) => 0,
        Some(Kind::IpAddr) => 1,
        Some(Kind::IpRoute) => 2,
        Some(Kind::Ifconfig) => 8,
        Some(Kind::RouteN) => 9,
        Some(_) => 5,
        None => 20,
    }
}

/// Read an evidence bundle (see `docs/evidence-bundle.md`). Nothing in it stops the
/// reading: a file that cannot be read (a FIFO, too large, invalid JSON, nothing readable in it)
/// and lines that cannot be parsed become `snapshot.problems`, and everything else is still read.
/// Errors: the directory is missing or cannot be listed, or nothing at all could be read from it.
pub fn read_bundle(dir: &Path) -> Result<NodeSnapshot, BundleError> {
    let meta = std::fs::metadata(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BundleError::NotFound {
            path: dir.to_path_buf(),
        },
        _ => BundleError::Io {
            path: dir.to_path_buf(),
            source: e,
        },
    })?;
    if !meta.is_dir() {
        return Err(BundleError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let mut snap = NodeSnapshot::default();
    let mut hosts = Vec::new();
    let mut budget = Budget::default();
    let mut files = Vec::new();
    let mut skipped = 0;
    list_files(dir, dir, 0, &mut files, &mut skipped, &mut snap).map_err(|e| BundleError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    report_too_many(&mut snap, ".", skipped);
    if files.iter().any(|f| f == Path::new("cluster.json")) {
        if let Some(text) = read_text(dir, Path::new("cluster.json"), &mut snap, &mut budget) {
            let (h, p) = hints::parse_cluster_json(&text, "cluster.json");
            let read_as = if h == Default::default() && !p.is_empty() {
                "not read: invalid cluster.json"
            } else {
                "cluster.json (context)"
            };
            snap.hints = h;
            snap.problems.extend(p);
            snap.inputs.push(input("cluster.json", read_as));
        }
    }
    // Files named for what they are first, richest formats first, so their values win over
    // those of ifconfig / route -n / sniffed files when merged.
    files.sort_by_key(|rel| (rank(kind_by_name(&file_name(rel)).as_ref()), rel.clone()));
    for rel in files {
        let shown = rel.to_string_lossy().into_owned();
        if shown == "cluster.json" {
            continue;
        }
        // A bundle's own notes quote evidence in prose; reading them would count it twice.
        let lower = file_name(&rel).to_ascii_lowercase();
        if lower.starts_with("readme") || lower == "case.toml" {
            snap.inputs.push(input(&shown, "bundle notes (not read)"));
            continue;
        }
        let Some(text) = read_text(dir, &rel, &mut snap, &mut budget) else {
            continue;
        };
        let before = snap.inputs.len();
        read_file_with_hosts(&shown, &file_name(&rel), &text, &mut snap, &mut hosts);
        for i in &snap.inputs[before..] {
            tracing::debug!(file = %i.source, read_as = %i.read_as, "bundle file");
        }
    }
    node_dirs::read_root(dir, &mut snap);
    node_dirs::read_kube(dir, &mut snap);
    finish(&mut snap, hosts);
    if !read_anything(&snap) {
        return Err(BundleError::NothingToCheck {
            path: dir.to_path_buf(),
            problems: snap
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.source, p.message))
                .collect(),
        });
    }
    Ok(snap)
}

/// Whether any input was read as evidence: a structured section, or text scanned for messages
/// (not only notes, context, or files that could not be read).
fn read_anything(snap: &NodeSnapshot) -> bool {
    !snap.logs.is_empty()
        || snap.inputs.iter().any(|i| {
            !(i.read_as.starts_with("not recognised")
                || i.read_as.starts_with("not read")
                || i.read_as.starts_with("no output")
                || i.read_as.starts_with("cluster.json")
                || i.read_as == "bundle notes (not read)")
        })
}

fn file_name(rel: &Path) -> String {
    rel.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What is left of the bundle-wide limits.
#[derive(Default)]
struct Budget {
    bytes: u64,
}

/// What an entry of a bundle is, as far as reading it goes.
pub(crate) enum Entry {
    Dir,
    File,
    /// Not read, and why (a FIFO, a link out of the bundle, ...).
    Skip(String),
}

/// Classify `path`, an entry under the bundle `base`. A symlink is followed only to a regular
/// file inside the bundle: a link to `/etc/shadow` in a customer's bundle must not put the
/// reader's own files into a report, and a link to a directory could loop.
pub(crate) fn classify(base: &Path, path: &Path) -> Entry {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => return Entry::Skip(format!("cannot be opened: {e}")),
    };
    let meta = if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        let (Ok(real), Ok(home)) = (std::fs::canonicalize(path), std::fs::canonicalize(base))
        else {
            return Entry::Skip(format!("a link to {target} that leads nowhere"));
        };
        if !real.starts_with(&home) {
            return Entry::Skip(format!(
                "a link to {target}, outside the bundle; not followed"
            ));
        }
        match std::fs::metadata(&real) {
            Ok(m) if m.is_dir() => {
                return Entry::Skip(format!("a link to the directory {target}; not followed"))
            }
            Ok(m) => m,
            Err(e) => return Entry::Skip(format!("cannot be opened: {e}")),
        }
    } else {
        meta
    };
    let ft = meta.file_type();
    if ft.is_dir() {
        Entry::Dir
    } else if ft.is_file() {
        Entry::File
    } else if ft.is_fifo() {
        Entry::Skip("is a FIFO, not a regular file".into())
    } else if ft.is_socket() {
        Entry::Skip("is a socket, not a regular file".into())
    } else {
        Entry::Skip("is a device, not a regular file".into())
    }
}

/// Regular files under `dir`, relative to `base`; `root/` and `kube/` are read on their own.
/// Anything else (a FIFO, a socket, a device, a dangling link, a link out of the bundle) is
/// reported and not read.
fn list_files(
    base: &Path,
    dir: &Path,
    depth: u32,
    out: &mut Vec<PathBuf>,
    skipped: &mut usize,
    snap: &mut NodeSnapshot,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path.strip_prefix(base).unwrap_or(&path).to_path_buf();
        if depth == 0 && (rel == Path::new("root") || rel == Path::new("kube")) {
            continue;
        }
        let shown = rel.to_string_lossy().into_owned();
        match classify(base, &path) {
            Entry::Dir => {
                if depth < 4 {
                    list_files(base, &path, depth + 1, out, skipped, snap)?;
                } else {
                    not_read(snap, &shown, "nested more than 4 directories deep");
                }
            }
            Entry::File => {
                if out.len() < MAX_FILES {
                    out.push(rel);
                } else {
                    *skipped += 1;
                }
            }
            Entry::Skip(why) => not_read(snap, &shown, &why),
        }
    }
    Ok(())
}

/// One problem for the files left unread because the bundle has more than [`MAX_FILES`]
/// (rather than one per file).
pub(crate) fn report_too_many(snap: &mut NodeSnapshot, where_: &str, skipped: usize) {
    if skipped > 0 {
        not_read(
            snap,
            where_,
            &format!("{skipped} more files, beyond the {MAX_FILES} a bundle is read up to"),
        );
    }
}

/// Record a file that was not read, in `inputs` and `problems`.
fn not_read(snap: &mut NodeSnapshot, shown: &str, why: &str) {
    snap.inputs.push(input(shown, &format!("not read: {why}")));
    snap.problems.push(netdoctor_model::ParseProblem {
        source: Source {
            file: shown.to_string(),
            line: None,
        },
        message: format!("not read: {why}"),
    });
}

/// A bundle file's text, or `None` (and a problem) when it cannot be read. A UTF-8 byte-order
/// mark is dropped; bytes that are not UTF-8 become U+FFFD.
fn read_text(
    dir: &Path,
    rel: &Path,
    snap: &mut NodeSnapshot,
    budget: &mut Budget,
) -> Option<String> {
    let shown = rel.to_string_lossy().into_owned();
    let left = MAX_TOTAL.saturating_sub(budget.bytes);
    let limit = MAX_FILE.min(left);
    match read_regular(&dir.join(rel), limit, "an evidence file") {
        Ok(bytes) => {
            budget.bytes += bytes.len() as u64;
            Some(decode(bytes))
        }
        Err(FsError::TooLarge { .. }) if left < MAX_FILE => {
            not_read(
                snap,
                &shown,
                "the bundle's files together are larger than 512 MiB",
            );
            None
        }
        Err(FsError::TooLarge { .. }) => {
            not_read(
                snap,
                &shown,
                "larger than the 64 MiB an evidence file may have",
            );
            None
        }
        Err(e) => {
            not_read(
                snap,
                &shown,
                &e.to_string()
                    .replace(&format!("{}: ", dir.join(rel).display()), ""),
            );
            None
        }
    }
}

/// Text from bytes: a byte-order mark dropped, invalid UTF-8 replaced.
pub(crate) fn decode(bytes: Vec<u8>) -> String {
    let text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

pub(crate) fn input(source: &str, read_as: &str) -> InputSummary {
    InputSummary {
        source: source.to_string(),
        read_as: read_as.to_string(),
    }
}

/// Read one file of a bundle into `snap`, as `read_bundle` does: recognised by the name after the
/// last `/` of `file` (the path quoted in provenance), else sniffed; raw kinds whole, line
/// formats section by section.
pub fn read_file(file: &str, text: &str, snap: &mut NodeSnapshot) {
    let name = file.rsplit('/').next().unwrap_or(file);
    read_file_with_hosts(file, name, text, snap, &mut Vec::new())
}

/// [`read_file`], also collecting the host names of shell prompts.
fn read_file_with_hosts(
    file: &str,
    name: &str,
    text: &str,
    snap: &mut NodeSnapshot,
    hosts: &mut Vec<String>,
) {
    let named = kind_by_name(name);
    if let Some(
        kind @ (Kind::IptablesSave(_)
        | Kind::IptablesList
        | Kind::NftText
        | Kind::NftJson
        | Kind::Log),
    ) = &named
    {
        read_raw(file, kind, text, snap);
        return;
    }
    let lines = text::numbered(text);
    let sections = sections::split(&lines);
    let mut reads: Vec<(u32, String)> = Vec::new();
    let mut items = 0;
    let mut problems = Vec::new();
    // Output no importer reads (a `kubeadm init`, `kubectl describe` events, an error a tool
    // printed) still carries the components' messages: it is scanned for known signatures.
    let mut messages: Vec<(u32, String)> = Vec::new();
    for section in &sections {
        if let Some((_, cmd)) = &section.command {
            hosts.extend(cmd.host.clone());
        }
        let Some((kind, read_as)) = choose(section, named.as_ref(), file) else {
            continue;
        };
        match kind {
            Some(kind) => {
                let Outcome {
                    items: n,
                    problems: p,
                } = import::apply(&kind, section, file, snap);
                items += n;
                // A line an importer could not read may be a message (`sysctl: cannot stat
                // /proc/sys/net/bridge/...`).
                if !p.is_empty() {
                    let by_no: HashMap<u32, &str> =
                        section.lines.iter().map(|l| (l.no, l.text)).collect();
                    for pr in &p {
                        if let Some((no, text)) = pr
                            .source
                            .line
                            .and_then(|no| by_no.get(&no).map(|t| (no, *t)))
                        {
                            messages.push((no, text.to_string()));
                        }
                    }
                }
                problems.extend(p);
                reads.push((section.first_line(), read_as));
            }
            None => {
                let before = messages.len();
                messages.extend(
                    section
                        .lines
                        .iter()
                        .filter(|l| !l.text.trim().is_empty())
                        .map(|l| (l.no, l.text.to_string())),
                );
                let read_as = if messages.len() > before && read_as.starts_with("not recognised") {
                    format!("{read_as}; scanned for known messages")
                } else {
                    read_as
                };
                reads.push((section.first_line(), read_as));
            }
        }
    }
    if !messages.is_empty() && !snap.logs.iter().any(|l| l.name == file) {
        messages.sort_by_key(|(no, _)| *no);
        messages.dedup_by_key(|(no, _)| *no);
        snap.logs.push(netdoctor_model::LogFile {
            name: file.to_string(),
            lines: messages,
        });
    }
    if let Some(kind) = &named {
        if items == 0 {
            if let Some(p) = nothing_readable(file, kind, &lines, &problems) {
                problems.insert(0, p);
                reads = vec![(
                    1,
                    format!(
                        "not read: nothing in it could be read as {}",
                        kind.read_as()
                    ),
                )];
            }
        }
    }
    cap_problems(file, &mut problems);
    snap.problems.extend(problems);
    record_inputs(file, reads, snap);
}

/// Problems listed per file; beyond them one line counts the rest. A million unreadable lines
/// are one fact about a file, not a million (the report stays readable, the memory bounded).
const MAX_PROBLEMS_PER_FILE: usize = 100;

fn cap_problems(file: &str, problems: &mut Vec<netdoctor_model::ParseProblem>) {
    if problems.len() <= MAX_PROBLEMS_PER_FILE {
        return;
    }
    let rest = problems.len() - MAX_PROBLEMS_PER_FILE;
    let first = problems[MAX_PROBLEMS_PER_FILE].source.line.unwrap_or(0);
    problems.truncate(MAX_PROBLEMS_PER_FILE);
    problems.push(text::problem(
        file,
        first,
        format!(
            "{rest} more problems in this file, not listed one by one (the next is at this line)"
        ),
    ));
}

/// Which importer reads a section, and how to name it in `inputs`. `None`: nothing to record
/// (comments only).
fn choose(
    section: &Section<'_>,
    named: Option<&Kind>,
    file: &str,
) -> Option<(Option<Kind>, String)> {
    if let Some((_, cmd)) = &section.command {
        if section.is_empty() {
            // A prompt with no output pasted after it says nothing.
            return (!cmd.text.is_empty()).then(|| {
                (
                    None,
                    format!("no output (`{}`)", text::shorten(&cmd.text, 60)),
                )
            });
        }
        return Some(match &cmd.kind {
            Some(k) => (Some(k.clone()), k.read_as()),
            None => (
                None,
                format!(
                    "not recognised (output of `{}` is not read)",
                    text::shorten(&cmd.text, 60)
                ),
            ),
        });
    }
    if section.is_empty() {
        return None;
    }
    if let Some(k) = named {
        // Dry run on a scratch snapshot: the name wins when it reads something.
        let mut scratch = NodeSnapshot::default();
        if import::apply(k, section, file, &mut scratch).items > 0 {
            return Some((Some(k.clone()), k.read_as()));
        }
    }
    match sections::sniff(&section.lines, file).or_else(|| named.cloned()) {
        Some(k) => {
            let read_as = k.read_as();
            Some((Some(k), read_as))
        }
        None => Some((None, "not recognised".into())),
    }
}

/// The note for a file named for a format that holds nothing of it: which line was the first
/// that could not be read.
fn nothing_readable(
    file: &str,
    kind: &Kind,
    lines: &[text::Line<'_>],
    problems: &[netdoctor_model::ParseProblem],
) -> Option<netdoctor_model::ParseProblem> {
    // Only lines that could not be read make it an error: `[]` (`ip -j route` of an empty
    // table) or output of commands that are not read are not.
    let no = problems.first()?.source.line?;
    let line = lines.iter().find(|l| l.no == no)?;
    Some(text::problem(
        file,
        line.no,
        format!(
            "named like `{}` output, but nothing in it could be read as that (first unreadable line: {:?})",
            kind.read_as(),
            text::shorten(line.text.trim(), 120)
        ),
    ))
}

/// A raw file (dump, listing, log): kept whole. A leading command line is blanked so the
/// dump parses, without moving any line.
fn read_raw(file: &str, kind: &Kind, text: &str, snap: &mut NodeSnapshot) {
    // A file named for a dump holds what people pasted under that name: a listing is read as
    // a listing, and one without any table or rule is not an (empty) rule set.
    if let Kind::IptablesSave(_) = kind {
        let lines = || text.lines().map(str::trim);
        if lines().any(|l| l.starts_with("Chain ") && l.contains('(')) {
            return read_raw(file, &Kind::IptablesList, text, snap);
        }
        let dumpish = lines().any(|l| {
            (l.starts_with('*') && l[1..].starts_with(|c: char| c.is_ascii_lowercase()))
                || l.starts_with("-A ")
                || l.starts_with("-P ")
                || l.starts_with("-N ")
                || (l.starts_with('[') && l.contains("] -A "))
        });
        if !dumpish {
            let why = "not read: no iptables-save table or rule in it";
            snap.problems.push(netdoctor_model::ParseProblem {
                source: Source {
                    file: file.to_string(),
                    line: None,
                },
                message: why.to_string(),
            });
            snap.inputs.push(input(file, why));
            snap.logs.push(raw::log_file(file, text, 1));
            return;
        }
    }
    let mut kept: Vec<&str> = text.split('\n').collect();
    if !matches!(kind, Kind::Log) {
        if let Some(first) = kept.iter().position(|l| !l.trim().is_empty()) {
            if crate::command::recognise(kept[first]).is_some() {
                kept[first] = "";
            }
        }
    }
    let body = kept.join("\n");
    let source = Source {
        file: file.to_string(),
        line: None,
    };
    match kind {
        Kind::IptablesSave(name) => snap.iptables.push(raw::iptables_dump(file, name, &body, 1)),
        Kind::IptablesList => snap.iptables_listings.push(Sourced::new(body, source)),
        Kind::NftText => snap.nft_text = Some(Sourced::new(body, source)),
        Kind::NftJson => snap.nft_json = Some(Sourced::new(body, source)),
        _ => snap.logs.push(raw::log_file(file, text, 1)),
    }
    if let Some(dump) = snap.iptables.last_mut().filter(|d| d.source.file == file) {
        dump.source.line = None;
    }
    snap.inputs.push(input(file, &kind.read_as()));
}

fn record_inputs(file: &str, reads: Vec<(u32, String)>, snap: &mut NodeSnapshot) {
    match reads.len() {
        0 => snap.inputs.push(input(file, "not recognised (no content)")),
        1 => snap.inputs.push(input(file, &reads[0].1)),
        _ => {
            for (line, read_as) in reads {
                snap.inputs.push(input(&format!("{file}:{line}"), &read_as));
            }
        }
    }
}

/// What can only be judged once every file is read.
fn finish(snap: &mut NodeSnapshot, mut hosts: Vec<String>) {
    hosts.sort();
    hosts.dedup();
    if snap.hostname.is_none() && hosts.len() == 1 {
        snap.hostname = hosts.pop();
    }
    snap.bridge_nf_present = bridge_nf_present(snap);
    crate::flags::fill_hints(&snap.logs, &mut snap.hints);
    crate::forms::facts::fill(snap);
}

/// Whether br_netfilter is active: a `net.bridge.*` key exists, or lsmod lists the module. A full
/// `sysctl -a` without any `net.bridge.*` key says it is not; a partial paste cannot tell.
fn bridge_nf_present(snap: &NodeSnapshot) -> Option<Sourced<bool>> {
    if let Some((_, v)) = snap
        .sysctls
        .iter()
        .flatten()
        .find(|(k, _)| k.starts_with("net.bridge."))
    {
        return Some(Sourced::new(true, v.source.clone()));
    }
    if let Some(src) = snap
        .modules
        .as_ref()
        .and_then(|m| m.loaded.as_ref())
        .and_then(|l| l.get("br_netfilter"))
    {
        return Some(Sourced::new(true, src.clone()));
    }
    let sysctls = snap.sysctls.as_ref()?;
    let full = sysctls.len() > 200
        || (sysctls.contains_key("net.ipv4.conf.all.forwarding")
            && sysctls.keys().any(|k| k.starts_with("net.core.")));
    let file = sysctls.values().next()?.source.file.clone();
    full.then(|| Sourced::new(false, Source { file, line: None }))
}
