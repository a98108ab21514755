//! `bridge fdb show` text. `bridge fdb show dev flannel.1` leaves `dev` out of every line, so
//! the section reader passes the device from the command.

use crate::text::{self, Line};
use netdoctor_model::{FdbEntry, ParseProblem, Source};

/// Flags `bridge fdb` prints.
const FLAGS: &[&str] = &[
    "self",
    "master",
    "permanent",
    "static",
    "dynamic",
    "offload",
    "extern_learn",
    "sticky",
    "router",
    "local",
    "use",
    "added_by_user",
    "locked",
    "blackhole",
];

/// Attributes with one value that the model does not keep.
const SKIP_WITH_VALUE: &[&str] = &["port", "vni", "via", "src_vni", "nhid", "used", "updated"];

/// Parse `bridge fdb show` output.
pub fn parse_bridge_fdb(text: &str, file: &str) -> (Vec<FdbEntry>, Vec<ParseProblem>) {
    parse_fdb_lines(&text::numbered(text), file, None)
}

/// Parse numbered lines; `default_dev` is the device of `bridge fdb show dev X`.
pub fn parse_fdb_lines(
    lines: &[Line<'_>],
    file: &str,
    default_dev: Option<&str>,
) -> (Vec<FdbEntry>, Vec<ParseProblem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for line in lines {
        let t = line.text.trim();
        if text::skip(line, file, "bridge fdb", &mut problems) {
            continue;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        let mut rest: &[&str] = &words;
        while !rest.is_empty() {
            match parse_entry(rest, default_dev, Source::at(file, line.no)) {
                Ok((e, used)) => {
                    out.push(e);
                    rest = &rest[used..];
                }
                Err(why) => {
                    problems.push(text::unreadable(file, line, "bridge fdb", &why));
                    break;
                }
            }
        }
    }
    (out, problems)
}

fn parse_entry(
    words: &[&str],
    default_dev: Option<&str>,
    source: Source,
) -> Result<(FdbEntry, usize), String> {
    let mac = words[0];
    if !text::is_mac(mac) {
        return Err(format!("bad MAC {mac:?}"));
    }
    let mut e = FdbEntry {
        mac: mac.to_ascii_lowercase(),
        dev: default_dev.unwrap_or_default().to_string(),
        dst: None,
        master: None,
        vlan: None,
        flags: Vec::new(),
        source,
    };
    let mut i = 1;
    while i < words.len() {
        let w = words[i];
        let next = words.get(i + 1).copied();
        match (w, next) {
            ("dev", Some(v)) => e.dev = v.to_string(),
            ("dst", Some(v)) => {
                e.dst = Some(v.parse().map_err(|_| format!("bad dst {v:?}"))?);
            }
            ("vlan", Some(v)) => {
                e.vlan = Some(v.parse().map_err(|_| format!("bad vlan {v:?}"))?);
            }
            // `master br0` names the bridge; a bare `master` is a flag.
            ("master", Some(v)) if !FLAGS.contains(&v) && !text::is_mac(v) => {
                e.master = Some(v.to_string());
            }
            (w, Some(_)) if SKIP_WITH_VALUE.contains(&w) => {}
            (w, _) if FLAGS.contains(&w) => {
                e.flags.push(w.to_string());
                i += 1;
                continue;
            }
            // A joined line: the next entry starts with its MAC.
            (w, _) if text::is_mac(w) => break,
            (w, _) => return Err(format!("unknown word {w:?}")),
        }
        i += 2;
    }
    if e.dev.is_empty() {
        return Err("no `dev`".into());
    }
    Ok((e, i.min(words.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/realworld/flannel/"
    );

    #[test]
    fn flannel342_full_table() {
        let text = std::fs::read_to_string(format!("{REAL}bridge_fdb_full__flannel342.txt"))
            .expect("fixture");
        let start = text
            .lines()
            .position(|l| l.ends_with("# bridge fdb"))
            .expect("section");
        let lines: Vec<_> = text::numbered(&text).into_iter().skip(start + 1).collect();
        let (fdb, problems) = parse_fdb_lines(&lines, "f", None);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(fdb.len(), 13);
        let vtep = fdb.iter().find(|e| e.dev == "flannel.1").expect("vtep");
        assert_eq!(vtep.dst, Some("10.10.10.8".parse().expect("ip")));
        assert_eq!(vtep.flags, vec!["self", "permanent"]);
        assert_eq!(vtep.mac, "ea:b1:30:03:df:cb");
        assert_eq!(fdb.iter().filter(|e| e.vlan == Some(1)).count(), 3);
    }

    #[test]
    fn show_dev_fills_device_and_master_forms() {
        let text = "a2:05:9f:ac:40:da dst 192.168.56.103 self permanent\n\
            0a:58:0a:f4:01:02 dev veth1 master cni0 0e:22:e2:f3:09:04 dst 192.168.56.102 self permanent\n\
            zz dst 1.2.3.4\n";
        let (fdb, problems) = parse_fdb_lines(&text::numbered(text), "f", Some("flannel.1"));
        assert_eq!(fdb.len(), 3, "{fdb:?}");
        assert_eq!(fdb[0].dev, "flannel.1");
        assert_eq!(fdb[1].master.as_deref(), Some("cni0"));
        assert_eq!(fdb[2].dev, "flannel.1");
        assert_eq!(fdb[2].source.line, Some(2));
        assert_eq!(problems.len(), 1);
        let (none, p) = parse_bridge_fdb("a2:05:9f:ac:40:da dst 192.168.56.103 self", "f");
        assert!(none.is_empty());
        assert!(p[0].message.contains("dev"));
    }
}
