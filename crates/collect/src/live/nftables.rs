//! The nftables rule set that `iptables-save` does not show.
//!
//! `nft -j list ruleset` re-lists every table iptables-nft wrote (as opaque `xt` expressions),
//! and on a node with 100k kube-proxy rules that costs more than `iptables-save` itself. So the
//! table names come from one cheap nfnetlink dump, and `nft -j list table` runs only for the
//! tables iptables-nft does not manage. The listings are merged into one `{"nftables": [...]}`
//! document, the shape of `nft -j list ruleset`.

use super::commands::{find_tool, run};
use netdoctor_model::{NotCollected, Source, Sourced};
use netlink_packet_core::{
    NetlinkBuffer, NlaBuffer, NlasIterator, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
use serde_json::Value;

/// An nftables table: its family as nft names it, and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NftTable {
    pub family: String,
    pub name: String,
}

/// Tables that iptables-nft (and ip6tables-nft) create; their rules are saved by
/// `iptables-nft-save`, faithfully.
const IPTABLES_TABLES: &[&str] = &["filter", "nat", "mangle", "raw", "security"];

impl NftTable {
    pub fn managed_by_iptables_nft(&self) -> bool {
        (self.family == "ip" || self.family == "ip6")
            && IPTABLES_TABLES.contains(&self.name.as_str())
    }
}

/// `nft -j` listings of the tables iptables-nft does not manage, plus `extra` tables
/// (ones `iptables-nft-save` reported as incompatible). `Ok(None)` when `nft` is not
/// installed.
pub(crate) fn nft_json(extra: &[NftTable]) -> Result<Option<Sourced<String>>, NotCollected> {
    let Some(tool) = find_tool("nft") else {
        return Ok(None);
    };
    let not = |reason| NotCollected {
        part: "nft".into(),
        reason,
    };
    let tables = match list_tables() {
        Ok(t) => t,
        // Without the table list, fall back to the whole rule set: slower, never wrong.
        Err(_) => {
            let text = run(&tool, &["-j", "list", "ruleset"]).map_err(not)?;
            let shown = format!("{} -j list ruleset", tool.display());
            return Ok(Some(Sourced::new(text, Source::live(shown))));
        }
    };
    let mut wanted: Vec<NftTable> = tables
        .into_iter()
        .filter(|t| !t.managed_by_iptables_nft())
        .chain(extra.iter().cloned())
        .collect();
    wanted.sort();
    wanted.dedup();
    let mut docs = Vec::new();
    for t in &wanted {
        let text = run(&tool, &["-j", "list", "table", &t.family, &t.name]).map_err(not)?;
        docs.push(text);
    }
    let shown = if wanted.is_empty() {
        "nft: no tables besides iptables-nft's".to_string()
    } else {
        let names: Vec<String> = wanted
            .iter()
            .map(|t| format!("{} {}", t.family, t.name))
            .collect();
        format!("{} -j list table ({})", tool.display(), names.join(", "))
    };
    let text = merge_listings(docs).map_err(|e| not(format!("{shown}: {e}")))?;
    Ok(Some(Sourced::new(text, Source::live(shown))))
}

/// Why `nft -j` listings could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nft printed bad JSON: {0}")]
    BadJson(#[source] serde_json::Error),
    #[error("nft printed JSON without an \"nftables\" array")]
    NoArray,
    #[error("cannot write JSON: {0}")]
    Write(#[source] serde_json::Error),
}

/// One `{"nftables": [...]}` document from several; the first `metainfo` is kept.
pub fn merge_listings(mut docs: Vec<String>) -> Result<String, MergeError> {
    if docs.len() == 1 {
        return Ok(docs.remove(0));
    }
    let mut items: Vec<Value> = Vec::new();
    let mut have_meta = false;
    for d in &docs {
        let mut v: Value = serde_json::from_str(d).map_err(MergeError::BadJson)?;
        let Some(Value::Array(list)) = v.get_mut("nftables").map(Value::take) else {
            return Err(MergeError::NoArray);
        };
        for item in list {
            let is_meta = item.get("metainfo").is_some();
            if is_meta && have_meta {
                continue;
            }
            have_meta |= is_meta;
            items.push(item);
        }
    }
    let mut doc = serde_json::Map::new();
    doc.insert("nftables".into(), Value::Array(items));
    serde_json::to_string(&doc).map_err(MergeError::Write)
}

/// Tables named by `iptables-nft-save` as incompatible (`# Table `filter' is incompatible,
/// use 'nft' tool.`): native nft rules in a table name iptables uses.
pub fn incompatible_tables(save_text: &str, v6: bool) -> Vec<NftTable> {
    save_text
        .lines()
        .filter(|l| l.contains("is incompatible, use 'nft' tool"))
        .filter_map(|l| {
            let start = l.find('`')? + 1;
            let end = start + l[start..].find('\'')?;
            Some(NftTable {
                family: if v6 { "ip6" } else { "ip" }.into(),
                name: l[start..end].to_string(),
            })
        })
        .collect()
}

// nfnetlink message layout (include/uapi/linux/netfilter/nfnetlink.h, nf_tables.h).
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_GETTABLE: u16 = 1;
const NFTA_TABLE_NAME: u16 = 1;
const NFGENMSG_LEN: usize = 4;
const HEADER_LEN: usize = 16;

/// The table list of this namespace: a single `NFT_MSG_GETTABLE` dump over all families.
fn list_tables() -> Result<Vec<NftTable>, String> {
    let mut socket = Socket::new(NETLINK_NETFILTER).map_err(|e| format!("socket: {e}"))?;
    socket.bind_auto().map_err(|e| format!("bind: {e}"))?;
    socket
        .connect(&SocketAddr::new(0, 0))
        .map_err(|e| format!("connect: {e}"))?;
    let seq: u32 = 1;
    let mut req = vec![0u8; HEADER_LEN + NFGENMSG_LEN];
    let len = req.len() as u32;
    req[0..4].copy_from_slice(&len.to_ne_bytes());
    req[4..6].copy_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE).to_ne_bytes());
    req[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req[8..12].copy_from_slice(&seq.to_ne_bytes());
    // nfgenmsg: family NFPROTO_UNSPEC (all), version 0, resource id 0.
    socket.send(&req, 0).map_err(|e| format!("send: {e}"))?;

    let mut tables = Vec::new();
    loop {
        let (data, _) = socket.recv_from_full().map_err(|e| format!("recv: {e}"))?;
        if data.is_empty() {
            return Err("empty reply".into());
        }
        let mut offset = 0;
        while offset < data.len() {
            let frame = NetlinkBuffer::new_checked(&data[offset..]).map_err(|e| e.to_string())?;
            let len = frame.length() as usize;
            if len < HEADER_LEN || offset + len > data.len() {
                return Err(format!("bad message length {len}"));
            }
            let kind = frame.message_type();
            let payload = &data[offset + HEADER_LEN..offset + len];
            offset += (len + 3) & !3;
            if frame.sequence_number() != seq {
                continue;
            }
            match kind {
                NLMSG_DONE => return Ok(tables),
                NLMSG_ERROR => {
                    let code = payload
                        .get(0..4)
                        .and_then(|b| <[u8; 4]>::try_from(b).ok())
                        .map(i32::from_ne_bytes)
                        .unwrap_or(0);
                    if code != 0 {
                        return Err(std::io::Error::from_raw_os_error(-code).to_string());
                    }
                }
                k if k == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE => {
                    if let Some(t) = parse_table(payload) {
                        tables.push(t);
                    }
                }
                _ => {}
            }
        }
    }
}

fn parse_table(payload: &[u8]) -> Option<NftTable> {
    let family = family_name(*payload.first()?)?;
    let attrs = payload.get(NFGENMSG_LEN..)?;
    for nla in NlasIterator::new(attrs) {
        let nla: NlaBuffer<&[u8]> = nla.ok()?;
        if nla.kind() == NFTA_TABLE_NAME {
            let raw = nla.value();
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            return Some(NftTable {
                family: family.into(),
                name: String::from_utf8_lossy(&raw[..end]).into_owned(),
            });
        }
    }
    None
}

/// NFPROTO_* numbers as nft names the families.
fn family_name(n: u8) -> Option<&'static str> {
    Some(match n {
        1 => "inet",
        2 => "ip",
        3 => "arp",
        5 => "netdev",
        7 => "bridge",
        10 => "ip6",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_tables_are_left_to_iptables_save() {
        let t = |f: &str, n: &str| NftTable {
            family: f.into(),
            name: n.into(),
        };
        assert!(t("ip", "nat").managed_by_iptables_nft());
        assert!(t("ip6", "filter").managed_by_iptables_nft());
        assert!(!t("inet", "filter").managed_by_iptables_nft());
        assert!(!t("ip", "kube-proxy").managed_by_iptables_nft());
        assert!(!t("bridge", "filter").managed_by_iptables_nft());
    }

    #[test]
    fn listings_merge_into_one_document() {
        let a = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "inet", "name": "a"}}]}"#;
        let b = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "ip", "name": "b"}}]}"#;
        let merged = merge_listings(vec![a.into(), b.into()]).expect("merge");
        let v: Value = serde_json::from_str(&merged).expect("json");
        let items = v["nftables"].as_array().expect("array");
        assert_eq!(items.len(), 3);
        assert_eq!(items[2]["table"]["name"], "b");
        assert_eq!(
            merge_listings(Vec::new()).expect("empty"),
            r#"{"nftables":[]}"#
        );
        assert!(merge_listings(vec!["[".into(), "{}".into()]).is_err());
    }

    #[test]
    fn incompatible_tables_from_save_warnings() {
        let text = "# Table `filter' is incompatible, use 'nft' tool.\n*nat\n";
        assert_eq!(
            incompatible_tables(text, true),
            [NftTable {
                family: "ip6".into(),
                name: "filter".into()
            }]
        );
    }
}
