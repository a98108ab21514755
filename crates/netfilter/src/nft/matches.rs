//! nft match expressions (`{"match": {"op", "left", "right"}}`) as [`Match`]es.

use super::{elem_value, key_field, Ctx, ElemValue, KeyField};
use crate::packet::{CtDir, CtStateSet};
use crate::parse::values as v;
use crate::rule::*;
use serde_json::Value;

/// The values on the right of a match: a list for sets.
fn right_values(ctx: &Ctx, r: &Value) -> Result<Vec<Value>, String> {
    match r {
        Value::String(s) if s.starts_with('@') => ctx
            .set_elems(&s[1..])
            .ok_or_else(|| format!("set {s} is not in the ruleset")),
        Value::Object(o) if o.contains_key("set") => {
            Ok(o["set"].as_array().cloned().unwrap_or_default())
        }
        Value::Array(a) => Ok(a.clone()),
        other => Ok(vec![other.clone()]),
    }
}

pub(super) fn translate_match(ctx: &Ctx, m: &Value) -> Result<Match, String> {
    let op = m.get("op").and_then(Value::as_str).unwrap_or("==");
    let left = m.get("left").ok_or("match without left")?;
    let right = m.get("right").ok_or("match without right")?;
    let negated = match op {
        "==" | "in" => false,
        "!=" => true,
        "<" | "<=" | ">" | ">=" => {
            // Only port comparisons are modelled.
            let f = key_field(left).ok_or("comparison not modelled")?;
            let n = right
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .ok_or("comparison not modelled")?;
            let range = match op {
                "<" => PortRange {
                    lo: 0,
                    hi: n.checked_sub(1).ok_or("empty range")?,
                },
                "<=" => PortRange { lo: 0, hi: n },
                ">" => PortRange {
                    lo: n.checked_add(1).ok_or("empty range")?,
                    hi: u16::MAX,
                },
                _ => PortRange {
                    lo: n,
                    hi: u16::MAX,
                },
            };
            let side = match f {
                KeyField::Dport => PortSide::Dst,
                KeyField::Sport => PortSide::Src,
                _ => return Err("comparison not modelled".into()),
            };
            return Ok(Match::new(MatchKind::Port {
                side,
                proto: payload_proto(left),
                ranges: Box::new([range]),
            }));
        }
        other => return Err(format!("operator {other} not modelled")),
    };
    let vals = right_values(ctx, right)?;
    let kind = if let Some(f) = key_field(left) {
        match f {
            KeyField::Saddr | KeyField::Daddr => {
                let nets = vals
                    .iter()
                    .map(|x| match elem_value(x) {
                        Some(ElemValue::Addr(a)) => Ok(a),
                        _ => Err(format!("address {x} not modelled")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if f == KeyField::Saddr {
                    MatchKind::Source { nets: nets.into() }
                } else {
                    MatchKind::Dest { nets: nets.into() }
                }
            }
            KeyField::Dport | KeyField::Sport => {
                let ranges = vals
                    .iter()
                    .map(|x| match elem_value(x) {
                        Some(ElemValue::Number(n)) => u16::try_from(n)
                            .map(|p| PortRange { lo: p, hi: p })
                            .map_err(|_| "bad port".to_string()),
                        Some(ElemValue::NumberRange(a, b)) => Ok(PortRange {
                            lo: a as u16,
                            hi: b as u16,
                        }),
                        _ => Err(format!("port {x} not modelled")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let side = if f == KeyField::Dport {
                    PortSide::Dst
                } else {
                    PortSide::Src
                };
                MatchKind::Port {
                    side,
                    proto: payload_proto(left),
                    ranges: ranges.into(),
                }
            }
            KeyField::L4proto => MatchKind::ProtocolIn {
                protos: protocols(&vals)?,
            },
            KeyField::Iifname | KeyField::Oifname => {
                let [Value::String(n)] = vals.as_slice() else {
                    return Err("interface sets not modelled".into());
                };
                let name = IfaceName::new(n.replace('*', "+"));
                if f == KeyField::Iifname {
                    MatchKind::InIface { name }
                } else {
                    MatchKind::OutIface { name }
                }
            }
            KeyField::Mark => {
                let [Value::Number(n)] = vals.as_slice() else {
                    return Err("mark sets not modelled".into());
                };
                MatchKind::Mark {
                    value: n.as_u64().unwrap_or(0) as u32,
                    mask: u32::MAX,
                }
            }
        }
    } else if let Some(and) = left.get("&").and_then(Value::as_array) {
        // `meta mark & 0x4000 == 0`
        let what = and.first().ok_or("bad &")?;
        let mask = and
            .get(1)
            .and_then(Value::as_u64)
            .ok_or("mask not a number")? as u32;
        let [Value::Number(n)] = vals.as_slice() else {
            return Err("masked comparison not modelled".into());
        };
        let value = n.as_u64().unwrap_or(0) as u32;
        match key_field(what) {
            Some(KeyField::Mark) => MatchKind::Mark { value, mask },
            _ if what
                .get("ct")
                .and_then(|c| c.get("key"))
                .and_then(Value::as_str)
                == Some("mark") =>
            {
                MatchKind::ConnMark { value, mask }
            }
            _ => return Err("masked comparison not modelled".into()),
        }
    } else if let Some(ct) = left.get("ct") {
        let k = ct.get("key").and_then(Value::as_str).unwrap_or("");
        match k {
            "state" => {
                let names: Vec<String> = vals
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect();
                MatchKind::CtState {
                    states: CtStateSet::parse(&names.join(","))?,
                }
            }
            "direction" => MatchKind::CtDir {
                dir: match vals.first().and_then(Value::as_str) {
                    Some("reply") => CtDir::Reply,
                    _ => CtDir::Original,
                },
            },
            "mark" => {
                let [Value::Number(n)] = vals.as_slice() else {
                    return Err("ct mark sets not modelled".into());
                };
                MatchKind::ConnMark {
                    value: n.as_u64().unwrap_or(0) as u32,
                    mask: u32::MAX,
                }
            }
            "status" => MatchKind::CtStatus {
                status: vals
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
            },
            _ => return Err(format!("ct {k} not modelled")),
        }
    } else if let Some(fib) = left.get("fib") {
        if fib.get("result").and_then(Value::as_str) != Some("type") {
            return Err("fib lookups other than type are not modelled".into());
        }
        let flags = fib.get("flags").map(|f| f.to_string()).unwrap_or_default();
        let side = if flags.contains("saddr") {
            Side::Src
        } else {
            Side::Dst
        };
        let limit_iface = if flags.contains("iif") {
            Some(LimitIface::In)
        } else if flags.contains("oif") {
            Some(LimitIface::Out)
        } else {
            None
        };
        let names: Vec<String> = vals
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
        MatchKind::AddrType {
            side,
            types: v::addr_types(&names.join(","))?,
            limit_iface,
        }
    } else if let Some(p) = left.get("payload") {
        let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("");
        let field = p.get("field").and_then(Value::as_str).unwrap_or("");
        if (proto == "ip" && field == "protocol") || (proto == "ip6" && field == "nexthdr") {
            MatchKind::ProtocolIn {
                protos: protocols(&vals)?,
            }
        } else if (proto == "icmp" || proto == "icmpv6") && field == "type" {
            let [Value::String(t)] = vals.as_slice() else {
                return Err("ICMP type sets not modelled".into());
            };
            let v6 = proto == "icmpv6";
            let (ty, code) = v::icmp_type(t, v6)?;
            MatchKind::Icmp {
                v6,
                icmp_type: ty,
                code,
            }
        } else {
            return Err(format!("payload {proto} {field} not modelled"));
        }
    } else {
        return Err("expression not modelled".into());
    };
    Ok(Match { negated, kind })
}

/// `tcp dport` implies TCP; `th dport` does not.
fn payload_proto(left: &Value) -> Option<u8> {
    match left.get("payload")?.get("protocol")?.as_str()? {
        "tcp" => Some(6),
        "udp" => Some(17),
        "sctp" => Some(132),
        _ => None,
    }
}

/// Protocols given by name or number.
fn protocols(vals: &[Value]) -> Result<Vec<u8>, String> {
    vals.iter()
        .map(|x| match x {
            Value::String(s) => v::protocol(s),
            Value::Number(n) => {
                u8::try_from(n.as_u64().unwrap_or(999)).map_err(|_| "bad protocol".into())
            }
            _ => Err("bad protocol".into()),
        })
        .collect()
}
