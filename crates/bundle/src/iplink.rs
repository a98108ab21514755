//! `ip link` / `ip -d link show` text (and `-j` JSON, see [`crate::ipjson`]). The same block
//! walker reads `ip addr`, whose blocks are `ip link` blocks plus `inet` lines.

use crate::text::{self, Line};
use netdoctor_model::{Address, Link, ParseProblem, Source, VxlanInfo};
use std::net::IpAddr;

/// rtnetlink kinds `ip -d link` prints at the start of a detail line.
const KINDS: &[&str] = &[
    "vxlan",
    "bridge",
    "veth",
    "ipip",
    "sit",
    "gre",
    "gretap",
    "ip6gre",
    "ip6gretap",
    "ip6tnl",
    "vti",
    "vti6",
    "wireguard",
    "dummy",
    "tun",
    "vlan",
    "macvlan",
    "macvtap",
    "ipvlan",
    "ipvtap",
    "bond",
    "team",
    "geneve",
    "vrf",
    "nlmon",
    "ifb",
    "xfrm",
    "erspan",
    "ip6erspan",
    "openvswitch",
    "bareudp",
    "netkit",
];

/// Parse `ip link` / `ip -d link show` output, text or `-j` JSON.
pub fn parse_ip_link(text: &str, file: &str) -> (Vec<Link>, Vec<ParseProblem>) {
    if crate::ipjson::looks_like_json(text) {
        let (links, _addrs, problems) = crate::ipjson::parse_links_json(text, file, 1);
        return (links, problems);
    }
    let out = parse_link_blocks(&text::numbered(text), file);
    (out.links, out.problems)
}

/// What the block walker found.
#[derive(Debug, Default)]
pub(crate) struct LinkBlocks {
    pub links: Vec<Link>,
    pub addrs: Vec<Address>,
    pub problems: Vec<ParseProblem>,
}

/// Walk `N: name: <FLAGS> ...` blocks and their detail lines.
pub(crate) fn parse_link_blocks(lines: &[Line<'_>], file: &str) -> LinkBlocks {
    let mut out = LinkBlocks::default();
    for line in lines {
        // `ip -o` puts a whole block on one line, separated by backslashes.
        for (i, part) in line.text.split('\\').enumerate() {
            let sub = Line {
                no: line.no,
                text: part,
                cut: line.cut,
                marker: line.marker,
            };
            if i > 0 && part.trim().is_empty() {
                continue;
            }
            walk_line(&sub, file, &mut out);
        }
    }
    out
}

fn walk_line(line: &Line<'_>, file: &str, out: &mut LinkBlocks) {
    let t = line.text.trim();
    if text::skip(line, file, "ip link/addr", &mut out.problems) {
        return;
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    if is_header(t) {
        match parse_header(&words, file, line.no) {
            Some(HeaderOrOneline::Link(link)) => out.links.push(*link),
            Some(HeaderOrOneline::Oneline { index, name, rest }) => {
                if out.links.last().map(|l| l.name.as_str()) != Some(name.as_str()) {
                    out.links
                        .push(bare_link(index, &name, Source::at(file, line.no)));
                }
                detail(&rest, line, file, out);
            }
            None => out.problems.push(text::unreadable(
                file,
                line,
                "an ip link header",
                "malformed",
            )),
        }
        return;
    }
    let first = words.first().copied().unwrap_or("");
    let known = first.starts_with("link/")
        || matches!(
            first,
            "inet" | "inet6" | "valid_lft" | "altname" | "bridge_slave" | "bond_slave" | "prop"
        )
        || KINDS.contains(&first);
    if out.links.is_empty() || (!known && !line.text.starts_with(char::is_whitespace)) {
        out.problems.push(text::unreadable(
            file,
            line,
            "ip link/addr",
            "not a link header or a detail line of one",
        ));
        return;
    }
    detail(&words, line, file, out);
}

fn is_header(t: &str) -> bool {
    let Some((idx, rest)) = t.split_once(':') else {
        return false;
    };
    !idx.is_empty() && idx.chars().all(|c| c.is_ascii_digit()) && rest.starts_with([' ', '\t'])
}

enum HeaderOrOneline<'a> {
    Link(Box<Link>),
    /// `ip -o addr`: `2: eth0    inet 10.0.0.1/24 ...`.
    Oneline {
        index: Option<u32>,
        name: String,
        rest: Vec<&'a str>,
    },
}

fn parse_header<'a>(words: &[&'a str], file: &str, no: u32) -> Option<HeaderOrOneline<'a>> {
    let index = words.first()?.trim_end_matches(':').parse().ok();
    let raw_name = *words.get(1)?;
    if !raw_name.ends_with(':') {
        let name = raw_name.split('@').next().unwrap_or(raw_name).to_string();
        return Some(HeaderOrOneline::Oneline {
            index,
            name,
            rest: words[2..].to_vec(),
        });
    }
    let raw_name = raw_name.trim_end_matches(':');
    let mut link = bare_link(index, raw_name, Source::at(file, no));
    if let Some((name, at)) = raw_name.split_once('@') {
        link.name = name.to_string();
        match at.strip_prefix("if").and_then(|n| n.parse().ok()) {
            Some(peer) => link.peer_index = Some(peer),
            None if at != "NONE" && !at.is_empty() => link.parent = Some(at.to_string()),
            None => {}
        }
    }
    if link.name.is_empty() {
        return None;
    }
    let mut i = 2;
    if let Some(flags) = words.get(2).filter(|w| w.starts_with('<')) {
        link.flags = flags
            .trim_matches(['<', '>'])
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect();
        i = 3;
    }
    while i < words.len() {
        let value = words.get(i + 1).copied();
        match (words[i], value) {
            ("mtu", Some(v)) => link.mtu = v.parse().ok(),
            ("master", Some(v)) => link.master = Some(v.to_string()),
            ("state", Some(v)) => link.operstate = Some(v.to_string()),
            _ => {}
        }
        i += 1;
    }
    Some(HeaderOrOneline::Link(Box::new(link)))
}

pub(crate) fn bare_link(index: Option<u32>, name: &str, source: Source) -> Link {
    Link {
        index,
        name: name.to_string(),
        kind: None,
        mtu: None,
        flags: Vec::new(),
        operstate: None,
        mac: None,
        master: None,
        peer_index: None,
        parent: None,
        vxlan: None,
        source,
    }
}

fn detail(words: &[&str], line: &Line<'_>, file: &str, out: &mut LinkBlocks) {
    let Some(link) = out.links.last_mut() else {
        return;
    };
    let first = words.first().copied().unwrap_or("");
    if let Some(kind) = first.strip_prefix("link/") {
        if matches!(kind, "ether" | "loopback" | "infiniband" | "ieee802.11") {
            link.mac = words
                .get(1)
                .filter(|m| text::is_mac(m))
                .map(|m| m.to_string());
        }
        return;
    }
    match first {
        "inet" | "inet6" => match parse_inet(words, &link.name, Source::at(file, line.no)) {
            Some(addr) => out.addrs.push(addr),
            None => out
                .problems
                .push(text::unreadable(file, line, "an address", "bad address")),
        },
        "vxlan" => {
            link.kind = Some("vxlan".into());
            link.vxlan = Some(parse_vxlan(words));
        }
        k if KINDS.contains(&k) => link.kind = Some(k.to_string()),
        _ => {}
    }
}

fn parse_vxlan(words: &[&str]) -> VxlanInfo {
    // The kernel always reports learning; `ip` prints only `nolearning`, so no word means on.
    let mut v = VxlanInfo {
        learning: Some(true),
        ..VxlanInfo::default()
    };
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or("");
        match *w {
            "id" => v.id = next.parse().ok(),
            "local" => v.local = next.parse().ok(),
            "dev" => v.dev = Some(next.to_string()).filter(|d| !d.is_empty()),
            "dstport" => v.dstport = next.parse().ok(),
            "nolearning" => v.learning = Some(false),
            "learning" => v.learning = Some(true),
            _ => {}
        }
    }
    v
}

/// `inet 10.1.2.3/24 brd ... scope global eth0`, `inet 10.0.0.1 peer 10.0.0.2/32 scope link`.
pub(crate) fn parse_inet(words: &[&str], ifname: &str, source: Source) -> Option<Address> {
    let (addr, mut prefix_len) = split_addr(words.get(1)?)?;
    let mut peer = None;
    let mut scope = None;
    for (i, w) in words.iter().enumerate().skip(2) {
        let next = words.get(i + 1).copied().unwrap_or("");
        match *w {
            "peer" => {
                let (p, plen) = split_addr(next)?;
                peer = Some(p);
                prefix_len = plen;
            }
            "scope" => scope = Some(next.to_string()).filter(|s| !s.is_empty()),
            _ => {}
        }
    }
    Some(Address {
        ifname: ifname.to_string(),
        addr,
        prefix_len,
        scope,
        peer,
        source,
    })
}

fn split_addr(s: &str) -> Option<(IpAddr, u8)> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let plen = match p {
        Some(p) => p.parse().ok().filter(|p| *p <= max)?,
        None => max,
    };
    Some((addr, plen))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/realworld/"
    );

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{REAL}{name}")).expect("fixture")
    }

    fn content_after_command(text: &str, cmd: &str) -> String {
        let at = text.find(cmd).expect("command in fixture");
        let start = text[at..].find('\n').map_or(text.len(), |n| at + n + 1);
        // Keep the original line numbers by blanking what came before.
        let mut out: String = text[..start]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.push_str(&text[start..]);
        out
    }

    #[test]
    fn flannel1757_vxlan_details() {
        let text = content_after_command(
            &fixture("flannel/ip_-d_link_show_flannel.1__flannel1757.txt"),
            "$ ip -d link show flannel.1",
        );
        let text = text.split("$ netstat").next().expect("section").to_string();
        let (links, problems) = parse_ip_link(&text, "ip-link.txt");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(links.len(), 1);
        let l = &links[0];
        assert_eq!(l.name, "flannel.1");
        assert_eq!(l.index, Some(5));
        assert_eq!(l.mtu, Some(1370));
        assert_eq!(l.kind.as_deref(), Some("vxlan"));
        assert_eq!(l.operstate.as_deref(), Some("UNKNOWN"));
        assert_eq!(l.mac.as_deref(), Some("aa:bb:cc:dd:ee:ff"));
        assert_eq!(l.source.line, Some(5));
        let v = l.vxlan.as_ref().expect("vxlan");
        assert_eq!(v.id, Some(1));
        assert_eq!(v.local, Some("10.0.0.1".parse().expect("ip")));
        assert_eq!(v.dev.as_deref(), Some("abc"));
        assert_eq!(v.dstport, Some(8472));
        assert_eq!(v.learning, Some(false));
        assert!(!l.is_down());
    }

    #[test]
    fn flannel1039_down_device() {
        let text = fixture("flannel/ip_link_flannel.1_down_and_flannel_cli_flags__flannel1039.txt");
        let section: String = text.lines().take(10).collect::<Vec<_>>().join("\n");
        let (links, problems) = parse_ip_link(&section, "f");
        assert!(problems.is_empty(), "{problems:?}");
        let names: Vec<_> = links.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["lo", "eth0", "flannel.1"]);
        assert!(links[2].is_down());
        assert_eq!(links[2].mtu, Some(8951));
        assert_eq!(links[1].mtu, Some(9001));
        assert!(!links[1].is_down());
    }

    #[test]
    fn peer_parent_and_master() {
        let text = "6: cali55f439ddb0e@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n\
            7: eth0.100@eth0: <UP> mtu 1500\n\
            2: tunl0@NONE: <NOARP> mtu 1480 qdisc noop\n    link/ipip 0.0.0.0 brd 0.0.0.0\n\
            9: veth1: <UP,LOWER_UP> mtu 1450 qdisc noqueue master cni0 state UP\n    link/ether 0a:58:0a:f4:01:01 brd ff:ff:ff:ff:ff:ff link-netnsid 0\n    veth\n    bridge_slave state forwarding";
        let (links, problems) = parse_ip_link(text, "f");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(links[0].peer_index, Some(3));
        assert_eq!(links[0].name, "cali55f439ddb0e");
        assert_eq!(links[1].parent.as_deref(), Some("eth0"));
        assert_eq!(links[2].parent, None);
        assert_eq!(links[2].mac, None);
        assert_eq!(links[3].master.as_deref(), Some("cni0"));
        assert_eq!(links[3].kind.as_deref(), Some("veth"));
        assert_eq!(links[3].mac.as_deref(), Some("0a:58:0a:f4:01:01"));
    }

    #[test]
    fn oneline_and_garbage() {
        let text = "3: flannel.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UNKNOWN \\    link/ether da:83:06:ab:33:25 brd ff:ff:ff:ff:ff:ff\nthis is not ip output";
        let (links, problems) = parse_ip_link(text, "f");
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].mac.as_deref(), Some("da:83:06:ab:33:25"));
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].source.line, Some(2));
    }
}
