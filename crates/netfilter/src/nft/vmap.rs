//! Verdict maps: kube-proxy's nftables mode looks services up by
//! `ip daddr . meta l4proto . th dport`.

use crate::packet::Packet;
use crate::parse::values as v;
use crate::rule::{AddrMask, IfaceName};
use serde::Serialize;
use std::net::IpAddr;

/// An nft verdict map lookup (`ip daddr . meta l4proto . th dport vmap @service-ips`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vmap {
    /// The looked-up fields, in order.
    pub key: Vec<KeyField>,
    /// Elements: one value per key field, and the verdict.
    pub entries: Vec<(Vec<ElemValue>, VmapVerdict)>,
}

/// A packet field used as a map key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyField {
    Saddr,
    Daddr,
    L4proto,
    Sport,
    Dport,
    Iifname,
    Oifname,
    Mark,
}

/// One component of a map element's key.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElemValue {
    Addr(AddrMask),
    AddrRange(IpAddr, IpAddr),
    Number(u32),
    NumberRange(u32, u32),
    Name(String),
}

/// A verdict a map can give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VmapVerdict {
    Accept,
    Drop,
    Continue,
    Return,
    Jump(String),
    Goto(String),
}

/// Look the packet up in the map: `Ok(None)` when no element matches.
pub(crate) fn eval_vmap(vm: &Vmap, pkt: &Packet) -> Result<Option<VmapVerdict>, String> {
    'entries: for (vals, verdict) in &vm.entries {
        if vals.len() != vm.key.len() {
            continue;
        }
        for (f, ev) in vm.key.iter().zip(vals) {
            if !field_matches(f, ev, pkt)? {
                continue 'entries;
            }
        }
        return Ok(Some(verdict.clone()));
    }
    Ok(None)
}

fn field_matches(f: &KeyField, ev: &ElemValue, pkt: &Packet) -> Result<bool, String> {
    let num =
        |n: Option<u32>, what: &str| n.ok_or_else(|| format!("the packet's {what} is not given"));
    let in_num = |x: u32| match ev {
        ElemValue::Number(n) => *n == x,
        ElemValue::NumberRange(a, b) => *a <= x && x <= *b,
        ElemValue::Name(n) => v::protocol(n).map(|p| u32::from(p) == x).unwrap_or(false),
        _ => false,
    };
    Ok(match f {
        KeyField::Saddr | KeyField::Daddr => {
            let a = if *f == KeyField::Saddr {
                pkt.src
            } else {
                pkt.dst
            };
            match ev {
                ElemValue::Addr(m) => m.contains(a),
                ElemValue::AddrRange(x, y) => *x <= a && a <= *y,
                _ => false,
            }
        }
        KeyField::L4proto => in_num(u32::from(pkt.proto)),
        KeyField::Sport => in_num(num(pkt.sport.map(u32::from), "source port")?),
        KeyField::Dport => in_num(num(pkt.dport.map(u32::from), "destination port")?),
        KeyField::Mark => in_num(pkt.mark),
        KeyField::Iifname | KeyField::Oifname => {
            let name = if *f == KeyField::Iifname {
                &pkt.in_iface
            } else {
                &pkt.out_iface
            };
            let name = name
                .as_deref()
                .ok_or("the packet's interface is not given")?;
            match ev {
                ElemValue::Name(n) => IfaceName::new(n.replace('*', "+")).matches(name),
                _ => false,
            }
        }
    })
}
