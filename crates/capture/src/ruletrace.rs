//! The kernel's own trace of the rules, on one flow only: a table of our own marks the flow's
//! packets with `meta nftrace set 1` before any other chain sees them, and `nft monitor trace`
//! prints every nf_tables rule they meet with its verdict (iptables-nft's rules included, in nft
//! syntax). The table and the monitor are removed when the trace ends, also on a panic (Drop);
//! nothing else in the rule set is touched. iptables-legacy rules are not traced this way.

use crate::TracingError;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running trace.
pub struct RuleTrace {
    table: String,
    monitor: Option<Child>,
    out: PathBuf,
}

fn nft(args: &[&str]) -> Result<(), TracingError> {
    let out = Command::new("nft")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| TracingError::Spawn {
            tool: "nft",
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(TracingError::Failed {
            command: format!("nft {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

impl RuleTrace {
    /// Start tracing packets between `a` and `b` (both ways), and the overlay's UDP `ports`
    /// (a reply that arrives encapsulated is a packet between the nodes until it is opened).
    pub fn start(
        a: Ipv4Addr,
        b: Ipv4Addr,
        ports: &[u16],
        dir: &Path,
    ) -> Result<RuleTrace, TracingError> {
        let table = format!("netdoctor_trace_{}", std::process::id());
        let out = dir.join("nft-trace.txt");
        let file = std::fs::File::create(&out).map_err(|source| TracingError::Io {
            what: "creating",
            path: out.clone(),
            source,
        })?;
        let monitor = Command::new("nft")
            .args(["monitor", "trace"])
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| TracingError::Spawn {
                tool: "nft monitor trace",
                source,
            })?;
        tracing::info!(table = %table, pid = monitor.id(), "rule trace started");
        let t = RuleTrace {
            table,
            monitor: Some(monitor),
            out,
        };
        let tb = t.table.as_str();
        nft(&["add", "table", "ip", tb])?;
        for (chain, hook) in [("pre", "prerouting"), ("out", "output")] {
            nft(&[
                "add",
                "chain",
                "ip",
                tb,
                chain,
                &format!("{{ type filter hook {hook} priority -400; }}"),
            ])?;
            for (s, d) in [(a, b), (b, a)] {
                nft(&[
                    "add",
                    "rule",
                    "ip",
                    tb,
                    chain,
                    "ip",
                    "saddr",
                    &s.to_string(),
                    "ip",
                    "daddr",
                    &d.to_string(),
                    "meta",
                    "nftrace",
                    "set",
                    "1",
                ])?;
            }
            for p in ports {
                nft(&[
                    "add",
                    "rule",
                    "ip",
                    tb,
                    chain,
                    "udp",
                    "dport",
                    &p.to_string(),
                    "meta",
                    "nftrace",
                    "set",
                    "1",
                ])?;
            }
        }
        // The monitor subscribes asynchronously: give it a moment before the flow is sent.
        std::thread::sleep(Duration::from_millis(300));
        Ok(t)
    }

    /// Stop, remove the table, and return the rules that dropped a traced packet (`ip filter
    /// INPUT rule udp dport 8472 counter packets 1 bytes 110 drop (verdict drop)`), and chain
    /// policies that did.
    pub fn finish(mut self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(200));
        self.stop();
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        drops(&text, &self.table)
    }

    fn stop(&mut self) {
        let _ = nft(&["delete", "table", "ip", &self.table]);
        if let Some(mut m) = self.monitor.take() {
            let _ = m.kill();
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = m.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = m.wait();
        }
    }
}

impl Drop for RuleTrace {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The drop lines of `nft monitor trace` output, without the trace id and without our own
/// table's marking rules.
pub fn drops(text: &str, own_table: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("trace id "))
        .filter(|l| !l.contains(own_table))
        .filter(|l| {
            l.contains("(verdict drop)") || l.contains("policy drop") || l.ends_with("verdict drop")
        })
        .map(|l| {
            // `trace id 3f2a... ip filter INPUT rule ...`: drop the id.
            l.splitn(4, ' ').nth(3).unwrap_or(l).trim().to_string()
        })
        .collect();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drop_lines_are_kept_without_ids_or_our_own_rules() {
        let t = "\
trace id 6c5b1a01 ip netdoctor_trace_7 pre packet: iif \"eth0\" ip saddr 172.31.255.11 ip daddr 172.31.255.10 udp dport 8472
trace id 6c5b1a01 ip netdoctor_trace_7 pre rule udp dport 8472 meta nftrace set 1 (verdict continue)
trace id 6c5b1a01 ip filter INPUT packet: iif \"eth0\" udp dport 8472
trace id 6c5b1a01 ip filter INPUT rule meta l4proto udp udp dport 8472 counter packets 3 bytes 330 drop (verdict drop)
trace id 6c5b1a02 ip filter FORWARD policy drop
trace id 6c5b1a03 ip filter FORWARD rule ip saddr 10.244.0.0/16 counter packets 1 bytes 60 accept (verdict accept)
";
        assert_eq!(
            drops(t, "netdoctor_trace_7"),
            vec![
                "ip filter INPUT rule meta l4proto udp udp dport 8472 counter packets 3 bytes 330 drop (verdict drop)".to_string(),
                "ip filter FORWARD policy drop".to_string(),
            ]
        );
        assert!(drops("", "x").is_empty());
    }
}
