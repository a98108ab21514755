//! net-tools `ifconfig -a`, in both formats: the old one (`Link encap:Ethernet  HWaddr`,
//! `inet addr:10.1.2.3  Bcast:...  Mask:255.255.255.0`) and the one since net-tools 2.10
//! (`flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500`, `inet 10.1.2.3  netmask ...`).

use crate::iplink::bare_link;
use crate::text::{self, Line};
use netdoctor_model::{Address, Link, ParseProblem, Source};
use std::net::IpAddr;

/// Parse `ifconfig` output into links and addresses.
pub fn parse_ifconfig(text: &str, file: &str) -> (Vec<Link>, Vec<Address>, Vec<ParseProblem>) {
    parse_ifconfig_lines(&text::numbered(text), file)
}

/// Parse numbered lines of `ifconfig` output.
pub fn parse_ifconfig_lines(
    lines: &[Line<'_>],
    file: &str,
) -> (Vec<Link>, Vec<Address>, Vec<ParseProblem>) {
    let mut links: Vec<Link> = Vec::new();
    let mut addrs = Vec::new();
    let mut problems = Vec::new();
    for line in lines {
        let t = line.text.trim();
        if text::skip(line, file, "ifconfig", &mut problems) {
            continue;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        let source = Source::at(file, line.no);
        if !line.text.starts_with(char::is_whitespace) {
            match header(&words, source) {
                Some(link) => links.push(link),
                None => problems.push(text::unreadable(
                    file,
                    line,
                    "ifconfig",
                    "not an interface header",
                )),
            }
            continue;
        }
        let Some(link) = links.last_mut() else {
            problems.push(text::unreadable(
                file,
                line,
                "ifconfig",
                "no interface before it",
            ));
            continue;
        };
        match detail(&words, link, source) {
            Ok(Some(addr)) => addrs.push(addr),
            Ok(None) => {}
            Err(why) => problems.push(text::unreadable(file, line, "ifconfig", why)),
        }
    }
    (links, addrs, problems)
}

/// The first line of a block, or `None` when it is not one.
fn header(words: &[&str], source: Source) -> Option<Link> {
    let name = *words.first()?;
    let second = words.get(1).copied().unwrap_or("");
    if let Some(rest) = second.strip_prefix("flags=") {
        let name = name.strip_suffix(':')?;
        let mut link = bare_link(None, name, source);
        let flags = rest.split_once('<')?.1.trim_end_matches('>');
        link.flags = flag_names(flags.split(',').filter(|f| !f.is_empty()));
        if let Some(i) = words.iter().position(|w| *w == "mtu") {
            link.mtu = words.get(i + 1).and_then(|m| m.parse().ok());
        }
        return Some(link);
    }
    if second == "Link" && words.get(2).is_some_and(|w| w.starts_with("encap:")) {
        let mut link = bare_link(None, name, source);
        if let Some(i) = words.iter().position(|w| *w == "HWaddr") {
            link.mac = words
                .get(i + 1)
                .filter(|m| text::is_mac(m))
                .map(|m| m.to_ascii_lowercase());
        }
        return Some(link);
    }
    None
}

/// ifconfig says RUNNING where `ip` says LOWER_UP; keep both so either reading works.
fn flag_names<'a>(flags: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = flags.map(str::to_string).collect();
    if out.iter().any(|f| f == "RUNNING") {
        out.push("LOWER_UP".into());
    }
    out
}

fn detail(
    words: &[&str],
    link: &mut Link,
    source: Source,
) -> Result<Option<Address>, &'static str> {
    let first = words[0];
    match first {
        "inet" | "inet6" => parse_inet(words, &link.name, source).map(Some),
        "ether" => {
            link.mac = words
                .get(1)
                .filter(|m| text::is_mac(m))
                .map(|m| m.to_string());
            Ok(None)
        }
        _ if words.iter().any(|w| w.starts_with("MTU:")) => {
            // Old format: `UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1`.
            let flags = words.iter().take_while(|w| !w.contains(':')).copied();
            link.flags = flag_names(flags);
            link.mtu = words
                .iter()
                .find_map(|w| w.strip_prefix("MTU:"))
                .and_then(|m| m.parse().ok());
            Ok(None)
        }
        _ => Ok(None),
    }
}

fn parse_inet(words: &[&str], ifname: &str, source: Source) -> Result<Address, &'static str> {
    let value_after = |key: &str| {
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|i| words.get(i + 1).copied())
    };
    let glued = |key: &str| words.iter().find_map(|w| w.strip_prefix(key));
    let v6 = words[0] == "inet6";
    // Old: `inet addr:10.0.0.1`, `inet6 addr: fe80::1/64`; new: `inet 10.0.0.1`.
    let raw = match words.get(1).copied() {
        Some("addr:") => words.get(2).copied(),
        Some(w) => Some(w.strip_prefix("addr:").unwrap_or(w)),
        None => None,
    }
    .ok_or("no address")?;
    let (addr_s, plen_s) = match raw.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (raw, None),
    };
    let addr: IpAddr = addr_s.parse().map_err(|_| "bad address")?;
    let prefix_len = if let Some(p) = plen_s.or_else(|| value_after("prefixlen")) {
        p.parse().map_err(|_| "bad prefix length")?
    } else if let Some(m) = glued("Mask:").or_else(|| value_after("netmask")) {
        text::mask_to_prefix(m).ok_or("bad netmask")?
    } else if v6 {
        128
    } else {
        32
    };
    let scope = glued("Scope:").map(str::to_ascii_lowercase).or_else(|| {
        value_after("scopeid")
            .and_then(|s| s.split_once('<'))
            .map(|(_, s)| s.trim_end_matches('>').to_string())
    });
    let peer = glued("P-t-P:")
        .or_else(|| value_after("destination"))
        .and_then(|p| p.parse().ok());
    Ok(Address {
        ifname: ifname.to_string(),
        addr,
        prefix_len,
        scope,
        peer,
        source,
    })
}

#[cfg(test)]
#[path = "ifconfig_tests.rs"]
mod tests;
