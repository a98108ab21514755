//! Hairpin mode of bridge ports, as people check it: `cat /sys/devices/virtual/net/cni0/brif/
//! veth*/hairpin_mode` (one value per line, names lost to the glob), a loop printing
//! `PATH = VALUE`, or `grep . .../brif/*/hairpin_mode` (`PATH:VALUE`).

use crate::text::{self, Line};
use netdoctor_model::{BridgePort, ParseProblem, Source};

/// The bridge and port a sysfs path names: `.../net/BRIDGE/brif/PORT/hairpin_mode` or
/// `.../net/PORT/brport/hairpin_mode` (the bridge is not in the path then).
pub fn port_of(path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = path.trim().split('/').collect();
    let last = parts.last()?;
    if *last != "hairpin_mode" || parts.len() < 4 {
        return None;
    }
    let kind = parts[parts.len() - 3];
    match kind {
        "brif" => Some((
            parts.get(parts.len() - 4)?.to_string(),
            parts[parts.len() - 2].to_string(),
        )),
        "brport" => None,
        _ => (parts[parts.len() - 2] == "brport")
            .then(|| ("?".to_string(), parts[parts.len() - 3].to_string())),
    }
}

fn value(v: &str) -> Option<bool> {
    match v.trim() {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// Lines of hairpin values. `from` is the (bridge, port) of a `cat PATH` command whose output
/// holds bare values.
pub fn parse_hairpin_lines(
    lines: &[Line<'_>],
    file: &str,
    from: Option<(&str, &str)>,
) -> (Vec<BridgePort>, Vec<ParseProblem>) {
    let mut ports = Vec::new();
    let mut problems = Vec::new();
    for line in lines {
        if text::skip(line, file, "hairpin_mode", &mut problems) {
            continue;
        }
        let t = line.text.trim();
        let read = match (from, value(t)) {
            (Some((bridge, port)), Some(v)) => Some((bridge.to_string(), port.to_string(), v)),
            _ => t
                .rsplit_once(" = ")
                .or_else(|| t.rsplit_once(':'))
                .and_then(|(p, v)| {
                    let (bridge, port) = port_of(p)?;
                    Some((bridge, port, value(v)?))
                }),
        };
        match read {
            Some((bridge, port, hairpin)) => ports.push(BridgePort {
                bridge,
                port,
                hairpin: Some(hairpin),
                source: Source::at(file, line.no),
            }),
            None => problems.push(text::unreadable(
                file,
                line,
                "hairpin_mode",
                "expected 0 or 1, or PATH = VALUE",
            )),
        }
    }
    (ports, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kubernetes/kubernetes#43966 (a loop) and #23322 (cat of a glob).
    #[test]
    fn loop_and_glob_forms() {
        let text = "/sys/devices/virtual/net/cni0/brif/veth4bfbfe74/hairpin_mode = 0\n/sys/devices/virtual/net/cni0/brif/vethfc2a18c5/hairpin_mode = 0\n";
        let (p, e) = parse_hairpin_lines(&text::numbered(text), "h.txt", None);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].bridge.as_str(), p[0].port.as_str()),
            ("cni0", "veth4bfbfe74")
        );
        assert_eq!(p[1].hairpin, Some(false));
        let (p, e) = parse_hairpin_lines(
            &text::numbered("    0\n    0\n    1\n"),
            "h.txt",
            Some(("docker0", "veth*")),
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(p.len(), 3);
        assert_eq!(p[2].hairpin, Some(true));
        assert_eq!(p[0].source, Source::at("h.txt", 1));
    }

    #[test]
    fn paths() {
        assert_eq!(
            port_of("/sys/class/net/cni0/brif/veth1/hairpin_mode"),
            Some(("cni0".into(), "veth1".into()))
        );
        assert_eq!(
            port_of("/sys/class/net/veth1/brport/hairpin_mode"),
            Some(("?".into(), "veth1".into()))
        );
        assert_eq!(port_of("/proc/sys/net/ipv4/ip_forward"), None);
    }
}
