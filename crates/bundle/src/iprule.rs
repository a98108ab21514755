//! `ip rule` (`ip rule show`, `ip -6 rule`) text.

use crate::text::{self, Line};
use netdoctor_model::{Family, ParseProblem, RoutingRule, Source};

/// Selectors the model does not keep, each followed by one value.
const SKIP_WITH_VALUE: &[&str] = &[
    "tos",
    "dsfield",
    "ipproto",
    "sport",
    "dport",
    "uidrange",
    "protocol",
    "proto",
    "realms",
    "suppress_prefixlength",
    "suppress_ifgroup",
    "l3mdev",
    "tun_id",
    "flowlabel",
];

/// Parse `ip rule` output.
pub fn parse_ip_rule(text: &str, file: &str) -> (Vec<RoutingRule>, Vec<ParseProblem>) {
    parse_ip_rule_lines(&text::numbered(text), file)
}

/// Parse numbered lines of `ip rule` output.
pub fn parse_ip_rule_lines(
    lines: &[Line<'_>],
    file: &str,
) -> (Vec<RoutingRule>, Vec<ParseProblem>) {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for line in lines {
        let t = line.text.trim();
        if text::skip(line, file, "ip rule", &mut problems) {
            continue;
        }
        match parse_rule(t, Source::at(file, line.no)) {
            Ok(r) => rules.push(r),
            Err(why) => problems.push(text::unreadable(file, line, "ip rule", &why)),
        }
    }
    (rules, problems)
}

fn parse_rule(t: &str, source: Source) -> Result<RoutingRule, String> {
    let (prio, rest) = t.split_once(':').ok_or("no `PRIORITY:`")?;
    let priority = prio
        .trim()
        .parse()
        .map_err(|_| format!("bad priority {prio:?}"))?;
    let words: Vec<&str> = rest.split_whitespace().collect();
    let mut rule = RoutingRule {
        // Pasted text does not say which of `ip rule` and `ip -6 rule` made it; an IPv6
        // selector does (below), else IPv4, the common paste.
        family: Family::Ipv4,
        priority,
        not: false,
        from: None,
        to: None,
        iif: None,
        oif: None,
        fwmark: None,
        table: None,
        action: String::new(),
        source,
    };
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let next = words.get(i + 1).copied();
        let value = || next.ok_or_else(|| format!("{w} without a value"));
        match w {
            "not" => rule.not = true,
            "from" | "to" => {
                let v = value()?;
                let net = if v == "all" {
                    None
                } else {
                    Some(text::parse_prefix(v).ok_or_else(|| format!("bad prefix {v:?}"))?)
                };
                if net.is_some_and(|n| matches!(n, ipnet::IpNet::V6(_))) {
                    rule.family = Family::Ipv6;
                }
                if w == "from" {
                    rule.from = net;
                } else {
                    rule.to = net;
                }
                i += 1;
            }
            "iif" | "oif" => {
                let v = Some(value()?.to_string());
                if w == "iif" {
                    rule.iif = v;
                } else {
                    rule.oif = v;
                }
                i += 1;
            }
            "fwmark" => {
                rule.fwmark = Some(parse_fwmark(value()?)?);
                i += 1;
            }
            "lookup" | "table" => {
                let v = value()?;
                rule.table = Some(text::table_id(v).ok_or_else(|| format!("unknown table {v:?}"))?);
                rule.action = "lookup".into();
                i += 1;
            }
            "goto" => {
                value()?;
                rule.action = "goto".into();
                i += 1;
            }
            "blackhole" | "unreachable" | "prohibit" | "nop" => rule.action = w.to_string(),
            "[detached]" | "[l3mdev-table]" => {}
            w if SKIP_WITH_VALUE.contains(&w) => i += 1,
            other => return Err(format!("unknown selector {other:?}")),
        }
        i += 1;
    }
    if rule.action.is_empty() {
        return Err("no action (lookup, goto, blackhole, ...)".into());
    }
    Ok(rule)
}

fn parse_fwmark(v: &str) -> Result<(u32, u32), String> {
    let num = |s: &str| {
        let r = match s.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16),
            None => s.parse(),
        };
        r.map_err(|_| format!("bad fwmark {v:?}"))
    };
    match v.split_once('/') {
        Some((m, mask)) => Ok((num(m)?, num(mask)?)),
        None => Ok((num(v)?, u32::MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_and_wg_quick() {
        let text = "0:\tfrom all lookup local\n32764:\tfrom all lookup main suppress_prefixlength 0\n32765:\tnot from all fwmark 0xca6c lookup 51820\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n100: from 10.244.0.0/16 iif cni0 fwmark 0x10/0xff blackhole\n";
        let (rules, problems) = parse_ip_rule(text, "ip-rule.txt");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(rules.len(), 6);
        assert_eq!(rules[0].table, Some(255));
        assert_eq!(rules[0].from, None);
        assert!(rules[2].not);
        assert_eq!(rules[2].fwmark, Some((0xca6c, u32::MAX)));
        assert_eq!(rules[2].table, Some(51820));
        assert_eq!(rules[4].table, Some(253));
        assert_eq!(rules[5].action, "blackhole");
        assert_eq!(rules[5].fwmark, Some((0x10, 0xff)));
        assert_eq!(rules[5].iif.as_deref(), Some("cni0"));
        assert_eq!(rules[5].source.line, Some(6));
    }

    #[test]
    fn ipv6_selectors_make_an_ipv6_rule() {
        let text = "0:\tfrom all lookup local\n1000:\tfrom fd00:10::/64 lookup 100\n1001:\tfrom 10.9.0.0/16 lookup 200\n";
        let (rules, problems) = parse_ip_rule(text, "ip-rule.txt");
        assert!(problems.is_empty(), "{problems:?}");
        let fams: Vec<Family> = rules.iter().map(|r| r.family).collect();
        assert_eq!(fams, [Family::Ipv4, Family::Ipv6, Family::Ipv4]);
    }

    #[test]
    fn bad_rules_reported() {
        let (rules, problems) = parse_ip_rule("0: from all lookup local\nfoo\n5: from all\n", "f");
        assert_eq!(rules.len(), 1);
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[1].source.line, Some(3));
    }
}
