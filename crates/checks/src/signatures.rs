//! The signature catalogue: messages that flannel, Calico, BIRD, Cilium, weave, kube-proxy, the
//! kubelet, kubeadm, containerd, CRI-O, the CNI plugins, dockerd, CoreDNS, iptables and the
//! kernel print when the network is broken, each read from the component's source and tied to
//! the root cause it implies. The data is in `signatures/*.toml` (format in its README); this
//! module loads it once and matches log lines against it.
//!
//! Matching is tolerant of how people paste: case is ignored, every run of whitespace is one
//! space, curly quotes are straight, and a message wrapped onto the next line still matches
//! (the line is tried joined to the next one).

use netdoctor_model::Cause;
use regex::bytes::{RegexSet, RegexSetBuilder};
use regex::Regex;
use serde::Deserialize;
use std::sync::LazyLock;

/// The catalogue's files, embedded.
const FILES: &[(&str, &str)] = &[
    ("cni.toml", include_str!("../signatures/cni.toml")),
    (
        "k8s-runtime.toml",
        include_str!("../signatures/k8s-runtime.toml"),
    ),
    (
        "kernel-dns.toml",
        include_str!("../signatures/kernel-dns.toml"),
    ),
];

/// How much a message says on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Certainty {
    /// The message alone names the cause.
    Decisive,
    /// Several causes print it: it says where to look, not what is wrong.
    Symptom,
    /// An ordinary message that reports a value (the address an agent chose); a check judges
    /// the value, and names the cause only when it is wrong.
    Observation,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    signature: Vec<SignatureDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureDef {
    name: String,
    component: String,
    pattern: String,
    upstream: String,
    finding: String,
    certainty: Certainty,
    #[serde(default)]
    causes: Vec<String>,
    meaning: String,
    #[serde(default)]
    example: Vec<Example>,
}

/// A real pasted line the signature was tested on, and where it was pasted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub text: String,
    pub source: String,
}

/// One known message.
#[derive(Debug)]
pub struct Signature {
    pub name: String,
    pub component: String,
    pub upstream: String,
    /// The root cause it implies (for a symptom: the most likely one).
    pub cause: Cause,
    pub certainty: Certainty,
    /// For a symptom: every cause that prints it, most likely first.
    pub causes: Vec<Cause>,
    pub meaning: String,
    pub examples: Vec<Example>,
    pub regex: Regex,
    /// The catalogue file it is declared in.
    pub file: &'static str,
}

impl Signature {
    /// A symptom whose only known cause is its finding says as much as a decisive message, but
    /// less surely.
    pub fn single_cause(&self) -> bool {
        self.causes.iter().all(|c| *c == self.cause)
    }
}

/// Every signature, compiled.
pub struct Catalogue {
    pub signatures: Vec<Signature>,
    set: RegexSet,
}

/// Why the catalogue could not be loaded (only ever a mistake in `signatures/*.toml`, which the
/// tests catch).
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("signatures/{file}: {message}")]
    Toml { file: &'static str, message: String },
    #[error("signatures/{file}: {name}: {message}")]
    Signature {
        file: &'static str,
        name: String,
        message: String,
    },
}

/// The catalogue, loaded on first use.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: LazyLock<Catalogue> =
        LazyLock::new(|| Catalogue::load(FILES).expect("signatures/*.toml is valid (tested)"));
    &CATALOGUE
}

impl Catalogue {
    fn load(files: &[(&'static str, &str)]) -> Result<Catalogue, CatalogueError> {
        let mut signatures = Vec::new();
        for (file, text) in files {
            let def: FileDef = toml::from_str(text).map_err(|e| CatalogueError::Toml {
                file,
                message: e.to_string(),
            })?;
            for s in def.signature {
                let err = |message: String| CatalogueError::Signature {
                    file,
                    name: s.name.clone(),
                    message,
                };
                let cause = Cause::from_id(&s.finding).ok_or_else(|| {
                    err(format!("finding {:?} is not in the catalogue", s.finding))
                })?;
                let causes = s
                    .causes
                    .iter()
                    .map(|c| {
                        Cause::from_id(c)
                            .ok_or_else(|| err(format!("cause {c:?} is not in the catalogue")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let regex = compile(&s.pattern).map_err(|e| err(e.to_string()))?;
                signatures.push(Signature {
                    name: s.name,
                    component: s.component,
                    upstream: s.upstream,
                    cause,
                    certainty: s.certainty,
                    causes,
                    meaning: s.meaning,
                    examples: s.example,
                    regex,
                    file,
                });
            }
        }
        // The set decides which signatures a line matches; it runs on bytes with ASCII classes
        // and ASCII case folding. The messages are ASCII, and a Unicode-aware set of 180
        // case-insensitive patterns falls back to a slow engine on text in other scripts (a
        // 1 MB paste in Cyrillic or CJK took 9 s; this way it takes as long as English).
        let set = RegexSetBuilder::new(signatures.iter().map(|s| s.regex.as_str()))
            .case_insensitive(true)
            .unicode(false)
            .size_limit(1 << 26)
            .dfa_size_limit(1 << 26)
            .build()
            .map_err(|e| CatalogueError::Toml {
                file: "*",
                message: e.to_string(),
            })?;
        Ok(Catalogue { signatures, set })
    }

    /// The signatures that match one normalised text.
    pub fn matches(&self, normalised: &str) -> Vec<usize> {
        self.set
            .matches(normalised.as_bytes())
            .into_iter()
            .collect()
    }
}

fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 22)
        .build()
}

/// A log line as signatures see it: runs of whitespace are one space, curly quotes straight.
pub fn normalise(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut space = false;
    for c in line.chars() {
        let c = match c {
            '\u{2018}' | '\u{2019}' | '\u{201b}' | '\u{2032}' => '\'',
            '\u{201c}' | '\u{201d}' | '\u{201f}' | '\u{2033}' => '"',
            c => c,
        };
        if c.is_whitespace() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

/// A signature found in a log: which, where, and what it captured.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Index into [`Catalogue::signatures`].
    pub index: usize,
    /// The log's name and the line the message starts on.
    pub file: String,
    pub line: u32,
    /// The line as pasted (joined with the next one when the message was wrapped).
    pub text: String,
    /// Named captures (`ip`, `gw`, `iface`, ...).
    pub captures: Vec<(String, String)>,
}

impl Hit {
    pub fn signature(&self) -> &'static Signature {
        &catalogue().signatures[self.index]
    }

    pub fn capture(&self, name: &str) -> Option<&str> {
        self.captures
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Longest line (in bytes) a signature is tried on: a 10 MB single-line paste is not one
/// message, and its pieces are matched elsewhere (the bundle splits flattened pastes).
const MAX_LINE: usize = 16 << 10;

/// Every signature in `lines` (`(line number, text)`, as a log file keeps them).
pub fn scan(file: &str, lines: &[(u32, String)]) -> Vec<Hit> {
    let cat = catalogue();
    let norm: Vec<String> = lines
        .iter()
        .map(|(_, t)| {
            let t = &t[..t.floor_char_boundary(t.len().min(MAX_LINE))];
            normalise(t)
        })
        .collect();
    let own: Vec<Vec<usize>> = norm.iter().map(|n| cat.matches(n)).collect();
    let mut hits = Vec::new();
    for (i, (no, raw)) in lines.iter().enumerate() {
        for &idx in &own[i] {
            hits.push(hit(cat, idx, file, *no, raw, &norm[i]));
        }
        // A message wrapped onto the next line: it matches the two joined, and neither alone.
        let Some(next) = norm.get(i + 1) else {
            continue;
        };
        if norm[i].is_empty() || next.is_empty() {
            continue;
        }
        let joined = format!("{} {next}", norm[i]);
        for idx in cat.matches(&joined) {
            if own[i].contains(&idx) || own[i + 1].contains(&idx) {
                continue;
            }
            let text = format!("{} {}", raw.trim_end(), lines[i + 1].1.trim());
            hits.push(hit(cat, idx, file, *no, &text, &joined));
        }
    }
    hits
}

fn hit(cat: &Catalogue, index: usize, file: &str, line: u32, raw: &str, norm: &str) -> Hit {
    let sig = &cat.signatures[index];
    let captures = sig
        .regex
        .captures(norm)
        .map(|c| {
            sig.regex
                .capture_names()
                .flatten()
                .filter_map(|n| c.name(n).map(|m| (n.to_string(), m.as_str().to_string())))
                .collect()
        })
        .unwrap_or_default();
    Hit {
        index,
        file: file.to_string(),
        line,
        text: raw.trim().to_string(),
        captures,
    }
}

#[cfg(test)]
mod tests;
