//! What the node would not let us read, said where it matters: a check that could not run for
//! lack of an input that a live collection tried and failed to read says why (`Permission
//! denied (you must be root)`) instead of asking for a file, and the report's inputs list every
//! source that could not be read.

use netdoctor_model::{Cause, Input, InputRead, NodeSnapshot, NotChecked, NotCollected};

/// The kind of input a part of a live collection feeds.
fn input_of(part: &str) -> Option<Input> {
    Some(
        if part.starts_with("iptables") || part.starts_with("ip6tables") || part == "nft" {
            Input::Rules
        } else if part.starts_with("logs") {
            Input::Logs
        } else if part.starts_with("modules") {
            Input::Modules
        } else if part.starts_with("sysctl") {
            Input::Sysctls
        } else if part.starts_with("conntrack") {
            Input::Conntrack
        } else if part == "links" {
            Input::Links
        } else if part == "addresses" {
            Input::Addresses
        } else if part.starts_with("routes") || part == "rules" {
            Input::Routes
        } else if part == "fdb" || part == "neighbours" {
            Input::Fdb
        } else {
            return None;
        },
    )
}

/// Why the parts feeding `input` could not be read, in one line.
fn why(unread: &[&NotCollected]) -> String {
    let first = unread
        .iter()
        .map(|n| format!("{}: {}", n.part, n.reason))
        .take(2)
        .collect::<Vec<_>>()
        .join("; ");
    if unread.len() > 2 {
        format!("{first} (and {} more)", unread.len() - 2)
    } else {
        first
    }
}

/// Replace "add this file" with the reason the live read failed, for checks whose input the
/// snapshot lacks because it could not be read.
pub fn explain(not_checked: &mut [NotChecked], snap: &NodeSnapshot, available: &[Input]) {
    if snap.not_collected.is_empty() {
        return;
    }
    for n in not_checked.iter_mut() {
        let Some(cause) = Cause::from_id(&n.check) else {
            continue;
        };
        for input in cause.info().needs {
            if available.contains(input) {
                continue;
            }
            let unread: Vec<&NotCollected> = snap
                .not_collected
                .iter()
                .filter(|c| input_of(&c.part) == Some(*input))
                .collect();
            if !unread.is_empty() {
                n.reason = format!(
                    "the {} could not be read on this node: {}",
                    input.as_str(),
                    why(&unread)
                );
                break;
            }
        }
    }
}

/// Every source that could not be read, as inputs "not read: why". Unreadable sysctls (a few
/// are root-only secrets) are one line.
pub fn inputs(snap: &NodeSnapshot) -> Vec<InputRead> {
    let (sysctls, others): (Vec<&NotCollected>, Vec<&NotCollected>) = snap
        .not_collected
        .iter()
        .partition(|n| n.part.starts_with("sysctl:"));
    let mut v: Vec<InputRead> = others
        .iter()
        .map(|n| InputRead {
            source: n.part.clone(),
            read_as: format!("not read: {}", n.reason),
        })
        .collect();
    if let Some(first) = sysctls.first() {
        v.push(InputRead {
            source: format!("{} sysctl(s)", sysctls.len()),
            read_as: format!("not read: {} (the first: {})", first.reason, first.part),
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nc(part: &str, reason: &str) -> NotCollected {
        NotCollected {
            part: part.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn a_rule_check_without_root_says_why_not_which_file_to_add() {
        let snap = NodeSnapshot {
            not_collected: vec![
                nc(
                    "iptables-nft",
                    "iptables-nft-save: Permission denied (you must be root)",
                ),
                nc(
                    "iptables-legacy",
                    "cannot read /proc/net/ip_tables_names: Permission denied",
                ),
                nc("sysctl:net.core.bpf_jit_limit", "Permission denied"),
                nc("sysctl:net.ipv4.tcp_fastopen_key", "Permission denied"),
            ],
            ..NodeSnapshot::default()
        };
        let mut v = vec![
            NotChecked {
                check: "iptables-backend-mismatch".into(),
                reason: "no iptables dumps: add iptables-save.txt".into(),
            },
            NotChecked {
                check: "pod-route-missing".into(),
                reason: "no cluster objects: pass --kube-objects".into(),
            },
        ];
        explain(&mut v, &snap, &[Input::Sysctls]);
        assert!(
            v[0].reason
                .starts_with("the rules could not be read on this node: iptables-nft:"),
            "{}",
            v[0].reason
        );
        assert!(v[0].reason.contains("you must be root"));
        assert_eq!(v[1].reason, "no cluster objects: pass --kube-objects");
        let i = inputs(&snap);
        assert_eq!(i.len(), 3, "{i:?}");
        assert_eq!(i[2].source, "2 sysctl(s)");
        assert!(i.iter().all(|x| x.read_as.starts_with("not read: ")));
    }

    #[test]
    fn an_input_that_was_read_keeps_its_reason() {
        let snap = NodeSnapshot {
            not_collected: vec![nc("iptables-legacy", "Permission denied")],
            ..NodeSnapshot::default()
        };
        let mut v = vec![NotChecked {
            check: "iptables-backend-mismatch".into(),
            reason: "only one backend".into(),
        }];
        explain(&mut v, &snap, &[Input::Rules]);
        assert_eq!(v[0].reason, "only one backend");
    }
}
