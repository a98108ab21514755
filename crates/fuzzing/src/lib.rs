//! Every reader's fuzz harness: what each reader is fed, and what it must keep on any input.
//!
//! One place for both ways the readers are fuzzed:
//! - `fuzz/` (cargo-fuzz, nightly): one libFuzzer target per [`Target`], each a one-line call
//!   to [`run`]; the corpora they grew are kept in `fuzz/corpus/<target>/`;
//! - `tests/smoke.rs` (stable, in CI): every target over its kept corpus and a few thousand
//!   deterministic mutations of it, in seconds.
//!
//! Invariants, beyond "no panic" (a panic is the failure either way):
//! - every value and problem a bundle reader keeps points at a line of the input
//!   ([`check_sources`]);
//! - the checks run on whatever was read, without panicking;
//! - every iptables error and rule names a line of the input; a packet can be evaluated
//!   through whatever rule set was read;
//! - a snapshot that parses writes back and parses to the same snapshot.
//!
//! This crate is test tooling: nothing in netdoctor depends on it.

use netdoctor_model::{ConfigFile, NodeSnapshot, Source};
use serde_json::Value;

/// A fuzzed reader.
pub struct Target {
    /// The libFuzzer target's name (`fuzz/fuzz_targets/<name>.rs`).
    pub name: &'static str,
    /// What it feeds, for `fuzz/README.md`.
    pub feeds: &'static str,
    pub run: fn(&[u8]),
}

/// Commands whose pasted output a target feeds: the input's first byte picks one, and the
/// rest is pasted under a prompt with it, as a user's paste would be.
const IPVSADM: &[&str] = &["ipvsadm -Ln", "ipvsadm -L -n --stats"];
const IPSET: &[&str] = &["ipset list", "ipset -L"];
const IP_TUNNEL: &[&str] = &["ip tunnel show", "ip -d tunnel"];
const BRIDGE_PORTS: &[&str] = &["brctl show", "bridge link", "bridge link show"];
const ETHTOOL: &[&str] = &["ethtool -k eth0", "ethtool --show-offload flannel.1"];
const LINK_STATS: &[&str] = &["ip -s link", "ip -s -s link show eth0", "netstat -i"];
const KUBECTL_GET: &[&str] = &[
    "kubectl get nodes -o wide",
    "kubectl get pods -A -o wide",
    "kubectl get svc -A",
    "kubectl get ep -A",
    "kubectl get node n1 -o yaml",
];
const KUBECTL_DESCRIBE: &[&str] = &["kubectl describe node n1", "kubectl describe pod web-0"];
const CALICOCTL: &[&str] = &[
    "calicoctl node status",
    "calicoctl get ippool -o wide",
    "cat /run/flannel/subnet.env",
];
const FACTS: &[&str] = &[
    "iptables -V",
    "uname -r",
    "uname -a",
    "kubectl version",
    "docker version",
    "docker info",
    "ping -c 3 10.244.1.2",
    "curl -v http://10.96.0.1",
    "nslookup kubernetes.default",
    "dig kubernetes.default.svc.cluster.local",
    "tcpdump -ni eth0 udp port 8472",
    "iperf3 -c 10.0.0.2",
    "nc -vz 10.0.0.2 8472",
    "conntrack -S",
    "conntrack -L",
    "cat /proc/sys/net/ipv4/ip_forward",
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
];
const LISTING: &[&str] = &[
    "iptables -L -n -v",
    "iptables -L -n -v --line-numbers",
    "iptables -t nat -L -n",
    "iptables -S",
    "iptables -L FORWARD -n -v",
];

/// Bundle file names; the first byte of a `sections` input picks one.
const NAMES: &[&str] = &[
    "paste.txt",
    "sysctl.txt",
    "ip-addr.txt",
    "ip-link.txt",
    "ip-route.txt",
    "ip-rule.txt",
    "ip-neigh.txt",
    "bridge-fdb.txt",
    "route-n.txt",
    "ifconfig.txt",
    "lsmod.txt",
    "iptables-save.txt",
    "iptables-list.txt",
    "nft.txt",
    "nft.json",
    "dmesg.txt",
    "kubelet.log",
];

/// Every target. Adding a reader means adding a line here (and `fuzz/` gets its target from
/// `fuzz/gen-targets.sh`).
pub const TARGETS: &[Target] = &[
    Target {
        name: "sysctl",
        feeds: "`sysctl -a` output (sysctl.txt)",
        run: |d| named("sysctl.txt", d),
    },
    Target {
        name: "ip_addr",
        feeds: "`ip addr` text and `-j` JSON (ip-addr.txt)",
        run: |d| named("ip-addr.txt", d),
    },
    Target {
        name: "ip_link",
        feeds: "`ip -d link` text and JSON (ip-link.txt)",
        run: |d| named("ip-link.txt", d),
    },
    Target {
        name: "ip_route",
        feeds: "`ip route show table all` text and JSON (ip-route.txt)",
        run: |d| named("ip-route.txt", d),
    },
    Target {
        name: "ip_rule",
        feeds: "`ip rule` (ip-rule.txt)",
        run: |d| named("ip-rule.txt", d),
    },
    Target {
        name: "ip_neigh",
        feeds: "`ip neigh` and `arp -n` (ip-neigh.txt)",
        run: |d| named("ip-neigh.txt", d),
    },
    Target {
        name: "bridge_fdb",
        feeds: "`bridge fdb` (bridge-fdb.txt)",
        run: |d| named("bridge-fdb.txt", d),
    },
    Target {
        name: "route_n",
        feeds: "`route -n` / `netstat -rn` (route-n.txt)",
        run: |d| named("route-n.txt", d),
    },
    Target {
        name: "ifconfig",
        feeds: "`ifconfig -a`, old and new formats (ifconfig.txt)",
        run: |d| named("ifconfig.txt", d),
    },
    Target {
        name: "lsmod",
        feeds: "`lsmod` (lsmod.txt)",
        run: |d| named("lsmod.txt", d),
    },
    Target {
        name: "log",
        feeds: "a journal or dmesg: section splitting, flag importer, the signature scan",
        run: |d| named("journal.txt", d),
    },
    Target {
        name: "sections",
        feeds: "a paste under a file name picked by the first byte: prompts, several commands, sniffing",
        run: sections,
    },
    Target {
        name: "ipvsadm",
        feeds: "`ipvsadm -Ln` pasted under its prompt",
        run: |d| pasted(IPVSADM, d),
    },
    Target {
        name: "ipset",
        feeds: "`ipset list`",
        run: |d| pasted(IPSET, d),
    },
    Target {
        name: "ip_tunnel",
        feeds: "`ip tunnel show`",
        run: |d| pasted(IP_TUNNEL, d),
    },
    Target {
        name: "bridge_ports",
        feeds: "`brctl show`, `bridge link`",
        run: |d| pasted(BRIDGE_PORTS, d),
    },
    Target {
        name: "ethtool",
        feeds: "`ethtool -k`",
        run: |d| pasted(ETHTOOL, d),
    },
    Target {
        name: "link_stats",
        feeds: "`ip -s link`, `netstat -i`",
        run: |d| pasted(LINK_STATS, d),
    },
    Target {
        name: "kubectl_get",
        feeds: "`kubectl get ... -o wide` tables and `-o yaml` of a node",
        run: |d| pasted(KUBECTL_GET, d),
    },
    Target {
        name: "kubectl_describe",
        feeds: "`kubectl describe node|pod`",
        run: |d| pasted(KUBECTL_DESCRIBE, d),
    },
    Target {
        name: "calicoctl",
        feeds: "`calicoctl node status`, `calicoctl get ippool -o wide`, flannel's subnet.env",
        run: |d| pasted(CALICOCTL, d),
    },
    Target {
        name: "facts",
        feeds: "versions (`iptables -V`, `uname`, `kubectl version`, `docker info`) and probes (`ping`, `curl -v`, `dig`, `tcpdump`, `iperf3`, `nc`, `conntrack -S`, `/proc/sys` writes)",
        run: |d| pasted(FACTS, d),
    },
    Target {
        name: "iptables_list",
        feeds: "`iptables -L -n -v`, `-S`, one chain or table (pasted, and `parse_listing` directly)",
        run: listing,
    },
    Target {
        name: "iptables_save",
        feeds: "`iptables-save`: `parse_iptables_save`, then a packet evaluated through the result",
        run: iptables_save,
    },
    Target {
        name: "nft",
        feeds: "`nft -j list ruleset` (`parse_nft_json`) and `nft list ruleset` text (nft.txt)",
        run: nft,
    },
    Target {
        name: "snapshot",
        feeds: "`parse_snapshot` (JSON, zstd), and a write/parse round trip",
        run: snapshot,
    },
    Target {
        name: "cluster_json",
        feeds: "`cluster.json` and flannel's `subnet.env`",
        run: cluster_json,
    },
    Target {
        name: "kube_objects",
        feeds: "`kubectl get -o json|yaml` documents as cluster objects",
        run: kube_objects,
    },
    Target {
        name: "pcap",
        feeds: "pcap and pcapng captures: `netdoctor_pcap::read`, then the flows of the capture taken as two points of a path",
        run: pcap,
    },
    Target {
        name: "boot_sysctl",
        feeds: "sysctl.d files evaluated in systemd and procps order",
        run: boot_sysctl,
    },
];

/// A capture read, and analysed as if taken at two points (the same file twice): every flow
/// names both points, and a dropped one says where it was last seen.
fn pcap(data: &[u8]) {
    let Ok(cap) = netdoctor_pcap::read(data, "fuzz.pcap") else {
        return;
    };
    let points = [
        netdoctor_pcap::Point {
            node: "a".into(),
            interface: "eth0".into(),
        },
        netdoctor_pcap::Point {
            node: "b".into(),
            interface: "eth0".into(),
        },
    ];
    let caps = [
        cap,
        netdoctor_pcap::read(data, "fuzz.pcap").expect("read twice"),
    ];
    let r = netdoctor_pcap::analyse(&points, &caps);
    for f in &r.flows {
        assert_eq!(f.points.len(), 2, "{f:?}");
        assert!(matches!(f.verdict, "delivered" | "dropped"), "{f:?}");
        if f.verdict == "dropped" {
            assert!(f.last_seen.is_some() && f.lost_at.is_some(), "{f:?}");
        }
    }
}

/// Run target `name` on `data`.
///
/// # Panics
/// When `name` is not a target (a typo in a fuzz target), or when the reader breaks an
/// invariant (the point of fuzzing).
pub fn run(name: &str, data: &[u8]) {
    let t = TARGETS
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no fuzz target {name}"));
    (t.run)(data)
}

/// Lines the readers number in `text` (`split('\n')`, as they do).
pub fn line_count(text: &str) -> u32 {
    u32::try_from(text.split('\n').count()).unwrap_or(u32::MAX)
}

/// Every `Source` in `snap` that names `file` points at a line inside it.
///
/// # Panics
/// When one does not.
pub fn check_sources(snap: &NodeSnapshot, file: &str, lines: u32) {
    let v = serde_json::to_value(snap).expect("a snapshot serialises");
    walk(&v, &mut |obj| {
        let (Some(Value::String(f)), line) = (obj.get("file"), obj.get("line")) else {
            return;
        };
        if f != file {
            return;
        }
        if let Some(l) = line.and_then(Value::as_u64) {
            assert!(
                l >= 1 && l <= u64::from(lines),
                "{file}:{l} is outside the input's {lines} lines: {obj:?}"
            );
        }
    });
    for p in &snap.problems {
        assert!(!p.message.is_empty(), "an empty problem at {}", p.source);
    }
}

fn walk(v: &Value, f: &mut impl FnMut(&serde_json::Map<String, Value>)) {
    match v {
        Value::Object(m) => {
            f(m);
            for x in m.values() {
                walk(x, f);
            }
        }
        Value::Array(a) => {
            for x in a {
                walk(x, f);
            }
        }
        _ => {}
    }
}

/// Read `text` as bundle file `name`, check the sources, then run every check on the result.
fn read_and_check(name: &str, text: &str) {
    let mut snap = NodeSnapshot::default();
    netdoctor_bundle::read_file(name, text, &mut snap);
    check_sources(&snap, name, line_count(text));
    let report = netdoctor_checks::run(&snap, &netdoctor_checks::Options::default());
    for f in &report.findings {
        assert!(!f.id.is_empty() && !f.title.is_empty(), "{f:?}");
    }
}

fn named(name: &str, data: &[u8]) {
    read_and_check(name, &String::from_utf8_lossy(data));
}

fn pasted(commands: &[&str], data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let cmd = commands[usize::from(pick) % commands.len()];
    let text = format!("[root@node1 ~]# {cmd}\n{}", String::from_utf8_lossy(rest));
    read_and_check("paste.txt", &text);
}

fn sections(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(pick) % NAMES.len()];
    let text = String::from_utf8_lossy(rest);
    let lines = line_count(&text);
    let numbered = netdoctor_bundle::text::numbered(&text);
    for section in netdoctor_bundle::sections::split(&numbered) {
        let _ = netdoctor_bundle::sections::sniff(&section.lines, name);
        assert!(section.first_line() <= lines);
    }
    read_and_check(name, &text);
}

fn check_rules(
    rs: &netdoctor_netfilter::Ruleset,
    errors: &[netdoctor_netfilter::ParseError],
    lines: u32,
) {
    for e in errors {
        assert!(e.line <= lines, "error at line {} of {lines}: {e}", e.line);
        assert!(e.to_string().starts_with("f:"), "{e}");
    }
    for t in &rs.tables {
        for c in &t.chains {
            for r in &c.rules {
                assert!(
                    r.line >= 1 && r.line <= lines,
                    "rule at {} of {lines}",
                    r.line
                );
            }
        }
    }
}

fn evaluate(rs: &netdoctor_netfilter::Ruleset) {
    use netdoctor_netfilter::{Evaluator, Hook, HostContext, Packet};
    let Ok(net) = "10.0.0.1/24".parse() else {
        return;
    };
    let ctx = HostContext::with_addresses([("eth0", net)]);
    let ev = Evaluator::new(rs, &ctx);
    let (Ok(src), Ok(dst)) = ("10.0.0.2".parse(), "10.96.0.1".parse()) else {
        return;
    };
    let pkt = Packet::tcp(src, dst, 443)
        .in_iface("eth0")
        .out_iface("eth0");
    let _ = ev.path(&[Hook::Prerouting, Hook::Forward, Hook::Postrouting], &pkt);
}

fn iptables_save(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines = u32::try_from(text.lines().count()).unwrap_or(u32::MAX);
    let (rs, errors) = netdoctor_netfilter::parse_iptables_save(&text, "f");
    check_rules(&rs, &errors, lines);
    evaluate(&rs);
    read_and_check("iptables-save.txt", &text);
}

fn listing(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let lines = u32::try_from(text.lines().count()).unwrap_or(u32::MAX);
    let (rs, errors, _info) = netdoctor_netfilter::parse_listing(&text, "f");
    check_rules(&rs, &errors, lines.max(1));
    evaluate(&rs);
    pasted(LISTING, &[&[pick], rest].concat());
}

fn nft(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = netdoctor_netfilter::parse_nft_json(&text, "f");
    read_and_check("nft.txt", &text);
    read_and_check("nft.json", &text);
}

fn snapshot(data: &[u8]) {
    if let Ok(snap) = netdoctor_collect::snapshot_io::parse_snapshot(data, "fuzz.json") {
        let json = serde_json::to_vec(&snap).expect("a parsed snapshot serialises");
        let again = netdoctor_collect::snapshot_io::parse_snapshot(&json, "again.json")
            .expect("a written snapshot parses");
        assert_eq!(again, snap);
        let _ = netdoctor_checks::run(&snap, &netdoctor_checks::Options::default());
    }
}

fn cluster_json(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines = line_count(&text);
    let (_, problems) = netdoctor_bundle::hints::parse_cluster_json(&text, "cluster.json");
    for p in &problems {
        check_source(&p.source, "cluster.json", lines);
    }
    let (_, problems) = netdoctor_bundle::hints::parse_subnet_env(&text, "subnet.env");
    for p in &problems {
        check_source(&p.source, "subnet.env", lines);
    }
}

fn check_source(s: &Source, file: &str, lines: u32) {
    assert_eq!(s.file, file);
    if let Some(l) = s.line {
        assert!(l >= 1 && l <= lines, "{file}:{l} outside {lines} lines");
    }
}

fn kube_objects(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let name = if pick % 2 == 0 {
        "kube/objects.json"
    } else {
        "kube/objects.yaml"
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    let docs = [(name.to_string(), text)];
    let _ = netdoctor_kube::Cluster::from_documents(&docs);
    let _ = netdoctor_kube::Cluster::from_evidence(&docs);
}

fn boot_sysctl(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // Two files: the input, and the input again under a later name (precedence).
    let file = |path: &str| ConfigFile {
        path: path.to_string(),
        symlink_target: None,
        content: text.to_string(),
        source: Source::live(path),
    };
    let files = [
        file("/usr/lib/sysctl.d/00-system.conf"),
        file("/etc/sysctl.d/99-z.conf"),
        file("/etc/sysctl.conf"),
    ];
    for order in [
        netdoctor_bootconf::Order::Systemd,
        netdoctor_bootconf::Order::Procps,
        netdoctor_bootconf::Order::Procps2018,
    ] {
        let _ = netdoctor_bootconf::BootSysctl::evaluate(&files, order);
    }
    let _ = netdoctor_bootconf::dropin_name(&files);
}
