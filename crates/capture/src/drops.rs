//! The kernel's own drop reasons: the `skb:kfree_skb` tracepoint (kernels since 5.17 give every
//! freed-on-drop packet a reason and the function that dropped it), read through tracefs in a
//! tracing instance of our own, so the node's global tracing is left alone. The instance is
//! removed when the watch ends, also on a panic (Drop).
//!
//! The tracepoint carries no addresses, so drops are tied to a flow by time (only the capture
//! window is read) and family (IPv4 only); `NOT_SPECIFIED` (the kernel's "freed, no reason
//! given") is filtered out in the kernel.

use crate::TracingError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One kind of drop seen during the window.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DropCount {
    /// `NETFILTER_DROP`, `IP_RPFILTER`, ...
    pub reason: String,
    /// The kernel function that dropped it (`nf_hook_slow`).
    pub function: String,
    pub count: usize,
}

/// A running watch on `skb:kfree_skb`.
pub struct DropWatch {
    instance: PathBuf,
}

/// Where tracefs is mounted: the standard places, then any tracefs in /proc/mounts.
pub fn find_tracefs() -> Option<PathBuf> {
    let standard = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
    let mut candidates: Vec<PathBuf> = standard.iter().map(PathBuf::from).collect();
    if let Ok(m) = std::fs::read_to_string("/proc/mounts") {
        candidates.extend(
            m.lines()
                .filter_map(|l| {
                    let mut f = l.split_whitespace();
                    let (_, dir, fs) = (f.next()?, f.next()?, f.next()?);
                    (fs == "tracefs").then(|| PathBuf::from(dir))
                })
                .collect::<Vec<_>>(),
        );
    }
    candidates
        .into_iter()
        .find(|d| d.join("events/skb/kfree_skb").is_dir())
}

/// The reason codes of this kernel (`{ 2, "NOT_SPECIFIED" }` in the event's print format).
pub fn reason_codes(format: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    let mut rest = format;
    while let Some(i) = rest.find("{ ") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find(" }") else { break };
        let entry = &rest[..end];
        if let Some((num, name)) = entry.split_once(", \"") {
            if let (Ok(n), Some(name)) = (num.trim().parse::<u32>(), name.strip_suffix('"')) {
                out.insert(name.to_string(), n);
            }
        }
        rest = &rest[end..];
    }
    out
}

fn write(path: &Path, what: &str) -> Result<(), TracingError> {
    std::fs::write(path, what).map_err(|source| TracingError::Io {
        what: "writing to",
        path: path.to_path_buf(),
        source,
    })
}

impl DropWatch {
    /// Start recording IPv4 drops in an instance of our own under `tracefs`.
    pub fn start(tracefs: &Path) -> Result<DropWatch, TracingError> {
        let event = tracefs.join("events/skb/kfree_skb");
        if !event.is_dir() {
            return Err(TracingError::NoDropEvent(tracefs.to_path_buf()));
        }
        let instance = tracefs.join(format!("instances/netdoctor-{}", std::process::id()));
        // A leftover of a run killed with SIGKILL: start clean.
        let _ = std::fs::remove_dir(&instance);
        std::fs::create_dir(&instance).map_err(|source| TracingError::Io {
            what: "creating the tracing instance",
            path: instance.clone(),
            source,
        })?;
        let watch = DropWatch { instance };
        let format = std::fs::read_to_string(event.join("format")).unwrap_or_default();
        let codes = reason_codes(&format);
        let mut filter = String::from("protocol == 2048");
        if let Some(n) = codes.get("NOT_SPECIFIED") {
            filter.push_str(&format!(" && reason != {n}"));
        }
        let ev = watch.instance.join("events/skb/kfree_skb");
        write(&ev.join("filter"), &filter)?;
        write(&ev.join("enable"), "1")?;
        Ok(watch)
    }

    /// Stop, and count what was dropped while it ran.
    pub fn finish(self) -> Vec<DropCount> {
        let _ = std::fs::write(self.instance.join("events/skb/kfree_skb/enable"), "0");
        let text = std::fs::read_to_string(self.instance.join("trace")).unwrap_or_default();
        count(&text)
        // Drop removes the instance.
    }
}

impl Drop for DropWatch {
    fn drop(&mut self) {
        let _ = std::fs::write(self.instance.join("events/skb/kfree_skb/enable"), "0");
        let _ = std::fs::remove_dir(&self.instance);
    }
}

/// Frees that carry a reason but are the stack's housekeeping, not a packet of the flow lost on
/// its way: a socket's queue purged on close, and an echo reply that found no ping socket (our
/// raw socket got its copy).
fn housekeeping(reason: &str, function: &str) -> bool {
    matches!(reason, "QUEUE_PURGE" | "SOCKET_CLOSE" | "TCP_CLOSE")
        || (reason == "NO_SOCKET" && function == "ping_rcv")
}

/// Count `kfree_skb` lines of a trace by reason and function.
pub fn count(trace: &str) -> Vec<DropCount> {
    let mut by: BTreeMap<(String, String), usize> = BTreeMap::new();
    for line in trace.lines().filter(|l| !l.starts_with('#')) {
        let Some(i) = line.find("kfree_skb:") else {
            continue;
        };
        let rest = &line[i..];
        let Some(reason) = rest
            .split("reason: ")
            .nth(1)
            .map(|r| r.split_whitespace().next().unwrap_or("").to_string())
        else {
            continue;
        };
        let function = rest
            .split("location=")
            .nth(1)
            .and_then(|l| l.split_whitespace().next())
            .map(|l| l.split('+').next().unwrap_or(l).to_string())
            .unwrap_or_default();
        if housekeeping(&reason, &function) {
            continue;
        }
        *by.entry((reason, function)).or_default() += 1;
    }
    let mut v: Vec<DropCount> = by
        .into_iter()
        .map(|((reason, function), count)| DropCount {
            reason,
            function,
            count,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.cmp(b)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_come_from_the_events_own_format() {
        let f = r#"print fmt: "skbaddr=%p", __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, { 3, "NO_SOCKET" }, { 12, "NETFILTER_DROP" })"#;
        let c = reason_codes(f);
        assert_eq!(c.get("NOT_SPECIFIED"), Some(&2));
        assert_eq!(c.get("NETFILTER_DROP"), Some(&12));
        assert_eq!(c.len(), 3);
        assert!(reason_codes("").is_empty());
        assert!(reason_codes("{ x, \"Y\" } { 4").is_empty());
    }

    #[test]
    fn trace_lines_are_counted_by_reason_and_function() {
        let t = "\
# tracer: nop
#
          <idle>-0       [001] ..s1.   812.120000: kfree_skb: skbaddr=000000001 rx_sk=0000000000000000 protocol=2048 location=nf_hook_slow+0xa1/0xf0 reason: NETFILTER_DROP
          <idle>-0       [001] ..s1.   813.120000: kfree_skb: skbaddr=000000002 rx_sk=0000000000000000 protocol=2048 location=nf_hook_slow+0xa1/0xf0 reason: NETFILTER_DROP
            ping-77      [000] ..s1.   813.5: kfree_skb: skbaddr=000000003 rx_sk=0000000000000000 protocol=2048 location=ip_rcv_finish_core+0x1/0x2 reason: IP_RPFILTER
            ping-77      [000] ..s1.   813.6: kfree_skb: skbaddr=000000004 rx_sk=0000000000000000 protocol=2048 location=ping_rcv+0x1/0x2 reason: NO_SOCKET
garbage line
";
        assert_eq!(
            count(t),
            vec![
                DropCount {
                    reason: "NETFILTER_DROP".into(),
                    function: "nf_hook_slow".into(),
                    count: 2
                },
                DropCount {
                    reason: "IP_RPFILTER".into(),
                    function: "ip_rcv_finish_core".into(),
                    count: 1
                },
            ]
        );
    }
}
