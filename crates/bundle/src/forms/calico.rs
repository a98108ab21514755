//! `calicoctl node status` (its BGP peers, in the three layouts Calico has printed) and
//! `calicoctl get ippool -o wide` (the pool is the cluster CIDR; its IPIP/VXLAN mode the backend).

use crate::text::{self, Line};
use netdoctor_model::{BgpPeer, ParseProblem, Source};

/// What `calicoctl node status` said.
#[derive(Debug, Default)]
pub struct NodeStatus {
    /// `Calico process is running.` (or the Docker-era `calico-node container is running`).
    pub running: Option<(bool, Source)>,
    pub peers: Vec<BgpPeer>,
}

/// `calicoctl node status`.
pub fn parse_node_status_lines(lines: &[Line<'_>], file: &str) -> (NodeStatus, Vec<ParseProblem>) {
    let mut st = NodeStatus::default();
    let mut problems = Vec::new();
    for line in lines {
        let t = line.text.trim();
        if t.is_empty() || t.starts_with('+') || t.contains("BGP status") || t.starts_with("IP:") {
            continue;
        }
        let lower = t.to_ascii_lowercase();
        if lower.contains("is running") || lower.contains("is not running") {
            st.running = Some((!lower.contains("not running"), Source::at(file, line.no)));
            continue;
        }
        if lower.starts_with("no ipv") {
            continue;
        }
        if !t.starts_with('|') {
            problems.push(text::unreadable(
                file,
                line,
                "calicoctl node status",
                "not a status or table line",
            ));
            continue;
        }
        let cells: Vec<&str> = t.trim_matches('|').split('|').map(str::trim).collect();
        if cells
            .first()
            .is_some_and(|c| c.eq_ignore_ascii_case("peer address"))
        {
            continue;
        }
        match (cells.first().and_then(|a| a.parse().ok()), cells.len()) {
            (Some(address), n) if n >= 5 => st.peers.push(BgpPeer {
                address,
                peer_type: cells[1].to_string(),
                state: cells[2].to_string(),
                info: cells[4].to_string(),
                source: Source::at(file, line.no),
            }),
            // A wrapped INFO cell continues on a row with an empty address.
            (None, _) if cells.first() == Some(&"") => {
                if let (Some(p), Some(more)) = (st.peers.last_mut(), cells.last()) {
                    if !more.is_empty() {
                        p.info = format!("{} {more}", p.info);
                    }
                }
            }
            _ => problems.push(text::unreadable(
                file,
                line,
                "calicoctl node status",
                "not a peer row",
            )),
        }
    }
    (st, problems)
}

/// An IP pool of `calicoctl get ippool [-o wide]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub name: String,
    pub cidr: ipnet::IpNet,
    /// `Always`, `CrossSubnet`, `Never` (IPIPMODE); VXLAN likewise.
    pub ipip: Option<String>,
    pub vxlan: Option<String>,
    pub disabled: bool,
    pub source: Source,
}

/// `calicoctl get ippool [-o wide]`.
pub fn parse_ippool_lines(lines: &[Line<'_>], file: &str) -> (Vec<Pool>, Vec<ParseProblem>) {
    let mut pools = Vec::new();
    let mut problems = Vec::new();
    let mut header: Vec<String> = Vec::new();
    for line in lines {
        let t = line.text.trim().trim_matches('_');
        if t.is_empty() {
            continue;
        }
        let w: Vec<&str> = t.split_whitespace().collect();
        if w.first() == Some(&"NAME") {
            header = w.iter().map(|s| s.to_string()).collect();
            continue;
        }
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .and_then(|i| w.get(i))
                .copied()
        };
        match col("CIDR").and_then(|c| c.parse::<ipnet::IpNet>().ok()) {
            Some(cidr) if !header.is_empty() => pools.push(Pool {
                name: w[0].to_string(),
                cidr: cidr.trunc(),
                ipip: col("IPIPMODE").map(str::to_string),
                vxlan: col("VXLANMODE").map(str::to_string),
                disabled: col("DISABLED") == Some("true"),
                source: Source::at(file, line.no),
            }),
            _ => problems.push(text::unreadable(
                file,
                line,
                "calicoctl get ippool",
                "no CIDR in the row",
            )),
        }
    }
    (pools, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::pastes::paste;

    #[test]
    fn node_status_layouts() {
        let (text, file) = paste("calicoctl/felix-1942-node-status-mesh-established.txt");
        let (st, problems) = parse_node_status_lines(&text::numbered(&text)[1..], &file);
        assert_eq!(st.peers.len(), 3, "{problems:?}");
        assert!(st.peers.iter().all(BgpPeer::established));
        assert_eq!(st.running.map(|r| r.0), Some(true));
        let (text, file) = paste("calicoctl/felix-1942-node-status-not-running.txt");
        let (st, _) = parse_node_status_lines(&text::numbered(&text)[1..3], &file);
        assert_eq!(st.running.map(|r| r.0), Some(false));
        // The Docker-era layout with centred states and an `IP: ... AS Number` line.
        let t = "calico-node container is running. Status: Up About a minute\n\nIPv4 BGP status\nIP: 172.17.8.101    AS Number: 64511 (inherited)\n+--------------+-------------------+-------+---------+-------------+\n| Peer address |     Peer type     | State |  Since  |     Info    |\n+--------------+-------------------+-------+---------+-------------+\n| 172.17.8.102 | node-to-node mesh |   up  | 0:00:49 | Established |\n+--------------+-------------------+-------+---------+-------------+\n";
        let (st, problems) = parse_node_status_lines(&text::numbered(t), "s.txt");
        assert!(problems.is_empty(), "{problems:?}");
        assert!(st.peers[0].established());
    }

    #[test]
    fn ippools() {
        let t = "NAME                  CIDR             NAT    IPIPMODE   VXLANMODE   DISABLED   SELECTOR\ndefault-ipv4-ippool   192.168.0.0/16   true   Always     Never       false      all()\n";
        let (pools, problems) = parse_ippool_lines(&text::numbered(t), "p.txt");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(pools[0].cidr.to_string(), "192.168.0.0/16");
        assert_eq!(pools[0].ipip.as_deref(), Some("Always"));
        let (text, file) = paste("calicoctl/calico-3951-get-ippools-empty.txt");
        let (pools, problems) = parse_ippool_lines(&text::numbered(&text)[1..], &file);
        assert!(pools.is_empty() && problems.is_empty(), "{problems:?}");
    }
}
