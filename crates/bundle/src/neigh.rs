//! `ip neigh` text, and net-tools `arp -n` (columns) and `arp -an` (BSD style), all of which list
//! the neighbour table.

use crate::text::{self, Line};
use netdoctor_model::{Neighbour, ParseProblem, Source};
use std::net::IpAddr;

/// NUD states and flags `ip neigh` prints after the link-layer address.
const STATES: &[&str] = &[
    "PERMANENT",
    "NOARP",
    "REACHABLE",
    "STALE",
    "NONE",
    "INCOMPLETE",
    "DELAY",
    "PROBE",
    "FAILED",
    "router",
    "proxy",
    "extern_learn",
    "offload",
];

/// Parse `ip neigh` output.
pub fn parse_ip_neigh(text: &str, file: &str) -> (Vec<Neighbour>, Vec<ParseProblem>) {
    parse_ip_neigh_lines(&text::numbered(text), file)
}

/// Parse numbered lines of `ip neigh` output.
pub fn parse_ip_neigh_lines(lines: &[Line<'_>], file: &str) -> (Vec<Neighbour>, Vec<ParseProblem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for line in lines {
        let t = line.text.trim();
        if text::skip(line, file, "ip neigh", &mut problems) {
            continue;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        let mut rest: &[&str] = &words;
        while !rest.is_empty() {
            match parse_neigh(rest, Source::at(file, line.no)) {
                Ok((n, used)) => {
                    out.push(n);
                    rest = &rest[used..];
                }
                Err(why) => {
                    problems.push(text::unreadable(file, line, "ip neigh", &why));
                    break;
                }
            }
        }
    }
    (out, problems)
}

fn parse_neigh(words: &[&str], source: Source) -> Result<(Neighbour, usize), String> {
    let addr: IpAddr = words[0]
        .parse()
        .map_err(|_| format!("bad address {:?}", words[0]))?;
    let mut n = Neighbour {
        addr,
        dev: String::new(),
        lladdr: None,
        state: Vec::new(),
        source,
    };
    let mut i = 1;
    while i < words.len() {
        let w = words[i];
        let next = words.get(i + 1).copied();
        match (w, next) {
            ("dev", Some(v)) => {
                n.dev = v.to_string();
                i += 2;
            }
            ("lladdr", Some(v)) => {
                n.lladdr = Some(v.to_string());
                i += 2;
            }
            ("vrf" | "protocol" | "proto", Some(_)) => i += 2,
            (w, _) if STATES.contains(&w) => {
                n.state.push(w.to_string());
                i += 1;
            }
            // A joined line: the next entry starts with its address.
            (w, _) if w.parse::<IpAddr>().is_ok() => break,
            (w, _) => return Err(format!("unknown word {w:?}")),
        }
    }
    if n.dev.is_empty() {
        return Err("no `dev`".into());
    }
    Ok((n, i))
}

/// Parse `arp -n` (columns `Address HWtype HWaddress Flags Mask Iface`) or `arp -an`
/// (`? (10.0.0.1) at aa:bb:.. [ether] on eth0`).
pub fn parse_arp_lines(lines: &[Line<'_>], file: &str) -> (Vec<Neighbour>, Vec<ParseProblem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for line in lines {
        let t = line.text.trim();
        if text::skip(line, file, "arp", &mut problems) || t.starts_with("Address") {
            continue;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        let source = Source::at(file, line.no);
        let parsed = if words.get(1).is_some_and(|w| w.starts_with('(')) {
            arp_bsd(&words, source)
        } else {
            arp_columns(&words, source)
        };
        match parsed {
            Some(n) => out.push(n),
            None => problems.push(text::unreadable(file, line, "arp", "unexpected columns")),
        }
    }
    (out, problems)
}

fn arp_columns(words: &[&str], source: Source) -> Option<Neighbour> {
    let addr = words.first()?.parse().ok()?;
    let dev = words.last()?.to_string();
    // `10.0.0.9  (incomplete)  eth0`
    let lladdr = words
        .get(2)
        .filter(|w| text::is_mac(w))
        .map(|w| w.to_string());
    let state = if lladdr.is_none() {
        vec!["INCOMPLETE".to_string()]
    } else if words.get(3).is_some_and(|f| f.contains('M')) {
        vec!["PERMANENT".to_string()]
    } else {
        Vec::new()
    };
    Some(Neighbour {
        addr,
        dev,
        lladdr,
        state,
        source,
    })
}

fn arp_bsd(words: &[&str], source: Source) -> Option<Neighbour> {
    let addr = words.get(1)?.trim_matches(['(', ')']).parse().ok()?;
    let at = words.iter().position(|w| *w == "at")?;
    let on = words.iter().position(|w| *w == "on")?;
    let lladdr = words
        .get(at + 1)
        .filter(|w| text::is_mac(w))
        .map(|w| w.to_string());
    let mut state = Vec::new();
    if lladdr.is_none() {
        state.push("INCOMPLETE".to_string());
    }
    if words.contains(&"PERM") {
        state.push("PERMANENT".to_string());
    }
    Some(Neighbour {
        addr,
        dev: words.get(on + 1)?.to_string(),
        lladdr,
        state,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_neigh_states_and_joined() {
        let text = "10.244.1.0 dev flannel.1 lladdr 0e:22:e2:f3:09:04 PERMANENT\n\
            192.168.1.1 dev eth0 lladdr 00:1c:c2:18:d9:a6 REACHABLE 10.0.0.9 dev eth0  FAILED\n\
            fe80::1 dev eth0 lladdr 00:1c:c2:18:d9:a6 router STALE\nnonsense\n";
        let (n, p) = parse_ip_neigh(text, "ip-neigh.txt");
        assert_eq!(n.len(), 4, "{n:?}");
        assert_eq!(n[0].state, vec!["PERMANENT"]);
        assert_eq!(n[0].lladdr.as_deref(), Some("0e:22:e2:f3:09:04"));
        assert_eq!(n[2].state, vec!["FAILED"]);
        assert_eq!(n[2].source.line, Some(2));
        assert_eq!(n[3].state, vec!["router", "STALE"]);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].source.line, Some(4));
    }

    #[test]
    fn arp_n_from_flannel342() {
        let text = "Address                  HWtype  HWaddress           Flags Mask            Iface\n\
            10.10.10.8               ether   00:50:56:2e:46:26   C                     eno16777736\n\
            11.0.44.5                ether   02:42:0b:00:2c:05   C                     docker0\n\
            ? (10.0.0.1) at 00:1c:c2:18:d9:a6 [ether] on eth0\n";
        let (n, p) = parse_arp_lines(&text::numbered(text), "f");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(n.len(), 3);
        assert_eq!(n[1].dev, "docker0");
        assert_eq!(n[1].lladdr.as_deref(), Some("02:42:0b:00:2c:05"));
        assert_eq!(n[2].dev, "eth0");
    }
}
