//! `ip -j link` / `ip -j addr` (and `-d`, `-p`) JSON.

use crate::iplink::bare_link;
use crate::text;
use netdoctor_model::{Address, Link, ParseProblem, Source, VxlanInfo};
use serde_json::Value;

/// The text starts (after blanks) with `[` or `{`.
pub fn looks_like_json(text: &str) -> bool {
    text.trim_start().starts_with(['[', '{'])
}

/// The first JSON value of `text`, complete: as it is, or, when the paste was cut before its end,
/// up to the last complete member with the open brackets closed. The flag says it was cut.
/// `None` when the text is not JSON at all.
pub(crate) fn complete_json(text: &str) -> Option<(Value, bool)> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    match stream.next()? {
        Ok(v) => Some((v, false)),
        Err(e) if e.is_eof() => {
            let cut = cut_to_complete(text)?;
            serde_json::from_str(&cut).ok().map(|v| (v, true))
        }
        // Prose after a cut (`[... truncated]`, a note): read what came before that line.
        Err(e) if e.line() > 1 => {
            let start: usize = text
                .split_inclusive('\n')
                .take(e.line() - 1)
                .map(str::len)
                .sum();
            let before = &text[..start];
            match serde_json::Deserializer::from_str(before)
                .into_iter::<Value>()
                .next()?
            {
                Err(e) if e.is_eof() => {
                    let cut = cut_to_complete(before)?;
                    serde_json::from_str(&cut).ok().map(|v| (v, true))
                }
                _ => None,
            }
        }
        Err(_) => None,
    }
}

/// `text` cut after its last complete member, with the brackets still open then closed.
fn cut_to_complete(text: &str) -> Option<String> {
    let b = text.as_bytes();
    // (position after which the prefix is complete, bracket depth there)
    let mut safe: Option<usize> = None;
    let mut stack: Vec<u8> = Vec::new();
    let mut in_string = false;
    let mut escape = false;
    // In an object: the next string is a key.
    let mut expect_key = false;
    let mut string_is_key = false;
    for (i, &c) in b.iter().enumerate() {
        if in_string {
            if escape {
                escape = false;
            } else if c == b'\\' {
                escape = true;
            } else if c == b'"' {
                in_string = false;
                if !string_is_key {
                    safe = Some(i + 1);
                }
            }
            continue;
        }
        match c {
            b'"' => {
                in_string = true;
                string_is_key = expect_key;
                expect_key = false;
            }
            b'{' | b'[' => {
                stack.push(c);
                expect_key = c == b'{';
            }
            b'}' | b']' => {
                stack.pop();
                safe = Some(i + 1);
                expect_key = false;
            }
            b',' => {
                safe = Some(i);
                expect_key = stack.last() == Some(&b'{');
            }
            b':' => expect_key = false,
            _ => {}
        }
    }
    let end = safe?;
    // Replay to the cut to know which brackets are open there.
    let mut open: Vec<u8> = Vec::new();
    let mut in_string = false;
    let mut escape = false;
    for &c in &b[..end] {
        if in_string {
            if escape {
                escape = false;
            } else if c == b'\\' {
                escape = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => open.push(c),
            b'}' | b']' => {
                open.pop();
            }
            _ => {}
        }
    }
    let mut out = text[..end].to_string();
    for c in open.iter().rev() {
        out.push(if *c == b'{' { '}' } else { ']' });
    }
    Some(out)
}

/// Parse JSON text whose first line is line `first_line` of `file`. Errors become one problem.
pub(crate) fn parse_json(text: &str, file: &str, first_line: u32) -> Result<Value, ParseProblem> {
    serde_json::from_str(text).map_err(|e| {
        // An error at the end of text that ends with a newline is reported on the line after
        // it: keep it on the last line the input has.
        let last = u32::try_from(text.lines().count().max(1)).unwrap_or(u32::MAX);
        let at = u32::try_from(e.line()).unwrap_or(1).clamp(1, last);
        let line = first_line.saturating_add(at - 1);
        text::problem(
            file,
            line,
            format!("invalid JSON at column {}: {e}", e.column()),
        )
    })
}

/// Line (absolute) of the first occurrence of `needle` in `text`, else `first_line`.
pub(crate) fn line_of(text: &str, needle: &str, first_line: u32) -> u32 {
    match text.find(needle) {
        Some(at) => {
            let nl = text[..at].matches('\n').count();
            first_line.saturating_add(u32::try_from(nl).unwrap_or(0))
        }
        None => first_line,
    }
}

/// Links and addresses from `ip -j [-d] link|addr` output.
pub fn parse_links_json(
    text: &str,
    file: &str,
    first_line: u32,
) -> (Vec<Link>, Vec<Address>, Vec<ParseProblem>) {
    let mut links = Vec::new();
    let mut addrs = Vec::new();
    let mut problems = Vec::new();
    let value = match parse_json(text, file, first_line) {
        Ok(v) => v,
        Err(p) => return (links, addrs, vec![p]),
    };
    let items = match value {
        Value::Array(a) => a,
        obj @ Value::Object(_) => vec![obj],
        _ => {
            problems.push(text::problem(
                file,
                first_line,
                "JSON is not a list of links",
            ));
            return (links, addrs, problems);
        }
    };
    for item in &items {
        let Some(name) = item.get("ifname").and_then(Value::as_str) else {
            problems.push(text::problem(
                file,
                first_line,
                "JSON object without \"ifname\": not an ip link/addr entry",
            ));
            continue;
        };
        let line = line_of(text, &format!("\"{name}\""), first_line);
        let source = Source::at(file, line);
        let link = link_from_json(item, name, source.clone());
        if let Some(infos) = item.get("addr_info").and_then(Value::as_array) {
            for info in infos {
                match addr_from_json(info, name, source.clone()) {
                    Some(a) => addrs.push(a),
                    None => problems.push(text::problem(
                        file,
                        line,
                        format!(
                            "address of {name} not read: {}",
                            text::shorten(&info.to_string(), 100)
                        ),
                    )),
                }
            }
        }
        links.push(link);
    }
    (links, addrs, problems)
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn u32_of(v: &Value, key: &str) -> Option<u32> {
    v.get(key)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

fn link_from_json(item: &Value, name: &str, source: Source) -> Link {
    let mut link = bare_link(u32_of(item, "ifindex"), name, source);
    link.mtu = u32_of(item, "mtu");
    link.flags = item
        .get("flags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    link.operstate = str_of(item, "operstate");
    link.mac = str_of(item, "address").filter(|m| text::is_mac(m));
    link.master = str_of(item, "master");
    if item.get("link_netnsid").is_some() {
        link.peer_index = u32_of(item, "link_index");
    } else {
        link.parent = str_of(item, "link");
    }
    if let Some(info) = item.get("linkinfo") {
        link.kind = str_of(info, "info_kind");
        if link.kind.as_deref() == Some("vxlan") {
            link.vxlan = info.get("info_data").map(vxlan_from_json);
        }
    }
    link
}

fn vxlan_from_json(d: &Value) -> VxlanInfo {
    VxlanInfo {
        id: u32_of(d, "id"),
        local: str_of(d, "local").and_then(|s| s.parse().ok()),
        dev: str_of(d, "link"),
        dstport: u32_of(d, "port").and_then(|p| u16::try_from(p).ok()),
        learning: d.get("learning").and_then(Value::as_bool),
    }
}

fn addr_from_json(info: &Value, ifname: &str, source: Source) -> Option<Address> {
    let addr = str_of(info, "local")?.parse().ok()?;
    let prefix_len = info
        .get("prefixlen")
        .and_then(Value::as_u64)
        .and_then(|p| u8::try_from(p).ok())?;
    Some(Address {
        ifname: ifname.to_string(),
        addr,
        prefix_len,
        scope: str_of(info, "scope"),
        peer: str_of(info, "address").and_then(|s| s.parse().ok()),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vxlan_and_addresses() {
        let text = r#"[{"ifindex":5,"ifname":"flannel.1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450,"operstate":"UNKNOWN","address":"da:83:06:ab:33:25","linkinfo":{"info_kind":"vxlan","info_data":{"id":1,"local":"192.168.1.72","link":"enp0s3","port":8472,"learning":false}},"addr_info":[{"family":"inet","local":"10.42.0.0","prefixlen":32,"scope":"global"}]},
{"ifindex":7,"link_index":3,"link_netnsid":0,"ifname":"veth1","flags":["UP"],"mtu":1450,"master":"cni0","addr_info":[{"family":"inet","local":"bad"}]}]"#;
        let (links, addrs, problems) = parse_links_json(text, "ip-addr.txt", 1);
        assert_eq!(links.len(), 2);
        let v = links[0].vxlan.as_ref().expect("vxlan");
        assert_eq!(v.dstport, Some(8472));
        assert_eq!(v.dev.as_deref(), Some("enp0s3"));
        assert_eq!(v.learning, Some(false));
        assert_eq!(addrs.len(), 1);
        assert_eq!(addrs[0].prefix_len, 32);
        assert_eq!(links[1].peer_index, Some(3));
        assert_eq!(links[1].master.as_deref(), Some("cni0"));
        assert_eq!(links[1].source.line, Some(2));
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn invalid_json_is_a_problem_with_line() {
        let (l, a, p) = parse_links_json("[\n{\"ifname\": }\n]", "f", 10);
        assert!(l.is_empty() && a.is_empty());
        assert_eq!(p[0].source.line, Some(11));
    }
}

#[cfg(test)]
mod cut_tests {
    use super::*;

    #[test]
    fn a_cut_paste_is_read_up_to_its_last_complete_member() {
        let (v, cut) = complete_json(
            "{\n \"kind\": \"Node\",\n \"metadata\": {\"name\": \"n1\", \"labels\": {\"a\": \"b\"},\n \"uid\": \"11",
        )
        .expect("json");
        assert!(cut);
        assert_eq!(v["kind"], "Node");
        assert_eq!(v["metadata"]["name"], "n1");
        assert_eq!(v["metadata"]["labels"]["a"], "b");
        assert!(v["metadata"].get("uid").is_none());
        let (v, cut) = complete_json("[1, 2, {\"x\": [3, 4").expect("json");
        assert!(cut);
        assert_eq!(v, serde_json::json!([1, 2, {"x": [3]}]));
        let (v, cut) = complete_json("{\"a\": 1} trailing words").expect("json");
        assert!(!cut);
        assert_eq!(v["a"], 1);
        assert_eq!(complete_json("not json"), None);
        assert_eq!(complete_json("{\"key-only"), None);
    }
}
