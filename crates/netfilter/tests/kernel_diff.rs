//! Differential tests against the kernel: a rule set is loaded into a router network namespace
//! (with `iptables-legacy-restore` and with `iptables-nft-restore`), real packets are sent from
//! a client namespace to a server namespace through it, and the kernel's decision must be one
//! the evaluator predicts.
//!
//! Needs root. Without it the tests skip, unless NETDOCTOR_REQUIRE_LAB=1.
//!
//! Topology (all inside namespaces this test creates and deletes):
//! `client c0 10.77.1.2 — r0 10.77.1.1 [router] r1 10.77.2.1 — s0 10.77.2.2, 10.77.2.3 server`.

use netdoctor_netfilter::*;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const RULES: &str = r#"*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:SVC - [0:0]
:SEP-A - [0:0]
:SEP-B - [0:0]
:MASQ-CHECK - [0:0]
-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -m comment --comment "two endpoints" -j SVC
-A PREROUTING -d 10.96.0.11/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.77.2.2:8080
-A SVC -m statistic --mode random --probability 0.50000000000 -j SEP-A
-A SVC -j SEP-B
-A SEP-A -p tcp -m tcp -j DNAT --to-destination 10.77.2.2:80
-A SEP-B -p tcp -m tcp -j DNAT --to-destination 10.77.2.3:80
-A POSTROUTING -o r1 -j MASQ-CHECK
-A MASQ-CHECK -p tcp -m tcp --dport 8080 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:FWD-USER - [0:0]
:FWD-PORTS - [0:0]
-A INPUT -p udp -m udp --dport 8472 -j DROP
-A INPUT -p udp -m udp --dport 4789 -j REJECT --reject-with icmp-port-unreachable
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i r0 -o r1 -j FWD-USER
-A FWD-USER -p tcp -m tcp --dport 9000 -j REJECT --reject-with tcp-reset
-A FWD-USER -p tcp -m multiport --dports 80,8080 -g FWD-PORTS
-A FWD-USER -d 10.77.2.3/32 -j ACCEPT
-A FWD-USER ! -p tcp -j ACCEPT
-A FWD-USER -p tcp -m tcp ! --dport 7000:7999 -j RETURN
-A FWD-USER -j ACCEPT
-A FWD-PORTS -d 10.77.2.3/32 -j RETURN
-A FWD-PORTS -j ACCEPT
COMMIT
"#;

const SERVER_TCP: &[u16] = &[80, 8080, 7100, 9000, 5000];

// ---------------------------------------------------------------------------------------------
// Helper processes: this test binary, re-run inside a namespace with ND_KDIFF_HELPER set.

#[test]
fn helper_entry() {
    let Ok(spec) = std::env::var("ND_KDIFF_HELPER") else {
        return;
    };
    let words: Vec<&str> = spec.split_whitespace().collect();
    match words.as_slice() {
        ["server", tcp, udp] => serve(tcp, udp),
        ["tcp", addr, ms] => tcp_client(addr, ms),
        ["udp", addr, ms] => udp_client(addr, ms),
        _ => println!("ND:error bad helper spec {spec:?}"),
    }
    std::process::exit(0);
}

fn ports(list: &str) -> Vec<u16> {
    list.split(',').filter_map(|p| p.parse().ok()).collect()
}

fn serve(tcp: &str, udp: &str) {
    for p in ports(tcp) {
        let l = TcpListener::bind(("0.0.0.0", p)).expect("bind tcp");
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                let peer = s.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                let local = s.local_addr().map(|a| a.to_string()).unwrap_or_default();
                let _ = writeln!(s, "peer={peer} local={local}");
            }
        });
    }
    for p in ports(udp) {
        let sock = UdpSocket::bind(("0.0.0.0", p)).expect("bind udp");
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((_, from)) = sock.recv_from(&mut buf) {
                let _ = sock.send_to(format!("peer={from}").as_bytes(), from);
            }
        });
    }
    println!("ND:ready");
    let _ = std::io::stdout().flush();
    // Ends by itself in case the parent dies without killing it.
    std::thread::sleep(Duration::from_secs(120));
}

fn classify(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(111) => "refused",
        Some(113) => "hostunreach",
        Some(101) => "netunreach",
        Some(110) | Some(11) => "timeout",
        _ if e.kind() == std::io::ErrorKind::TimedOut
            || e.kind() == std::io::ErrorKind::WouldBlock =>
        {
            "timeout"
        }
        _ => "error",
    }
}

fn tcp_client(addr: &str, ms: &str) {
    let addr: SocketAddr = addr.parse().expect("addr");
    let t = Duration::from_millis(ms.parse().unwrap_or(1500));
    match TcpStream::connect_timeout(&addr, t) {
        Ok(mut s) => {
            let _ = s.set_read_timeout(Some(t));
            let mut line = String::new();
            let _ = s.read_to_string(&mut line);
            println!("ND:connected {}", line.trim());
        }
        Err(e) => println!("ND:{} {e}", classify(&e)),
    }
}

fn udp_client(addr: &str, ms: &str) {
    let addr: SocketAddr = addr.parse().expect("addr");
    let t = Duration::from_millis(ms.parse().unwrap_or(1000));
    let sock = UdpSocket::bind("0.0.0.0:0").expect("bind");
    sock.connect(addr).expect("connect");
    let _ = sock.set_read_timeout(Some(t));
    let _ = sock.send(b"hello");
    let mut buf = [0u8; 512];
    match sock.recv(&mut buf) {
        Ok(n) => println!("ND:connected {}", String::from_utf8_lossy(&buf[..n])),
        Err(e) => println!("ND:{} {e}", classify(&e)),
    }
}

// ---------------------------------------------------------------------------------------------
// The lab.

/// Whether the lab can run; `false` means skip (or panic when the lab is required).
fn lab_available(tools: &[&str]) -> bool {
    netdoctor_testkit::lab_available("kernel differential test", tools)
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Three namespaces, removed (with the helper processes) on drop, even after a panic.
struct Lab {
    client: String,
    router: String,
    server: String,
    children: Vec<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.client, &self.router, &self.server] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

impl Lab {
    fn new() -> Lab {
        let id = format!(
            "nd{}k{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let lab = Lab {
            client: format!("{id}c"),
            router: format!("{id}r"),
            server: format!("{id}s"),
            children: Vec::new(),
        };
        for ns in [&lab.client, &lab.router, &lab.server] {
            run(&["ip", "netns", "add", ns]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        let (c, r, s) = (&lab.client, &lab.router, &lab.server);
        run(&[
            "ip", "-n", r, "link", "add", "r0", "type", "veth", "peer", "name", "c0", "netns", c,
        ]);
        run(&[
            "ip", "-n", r, "link", "add", "r1", "type", "veth", "peer", "name", "s0", "netns", s,
        ]);
        run(&["ip", "-n", c, "addr", "add", "10.77.1.2/24", "dev", "c0"]);
        run(&["ip", "-n", r, "addr", "add", "10.77.1.1/24", "dev", "r0"]);
        run(&["ip", "-n", r, "addr", "add", "10.77.2.1/24", "dev", "r1"]);
        run(&["ip", "-n", s, "addr", "add", "10.77.2.2/24", "dev", "s0"]);
        run(&["ip", "-n", s, "addr", "add", "10.77.2.3/24", "dev", "s0"]);
        for (ns, dev) in [(c, "c0"), (r, "r0"), (r, "r1"), (s, "s0")] {
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        run(&["ip", "-n", c, "route", "add", "default", "via", "10.77.1.1"]);
        run(&["ip", "-n", s, "route", "add", "default", "via", "10.77.2.1"]);
        // Forwarding on inside the router namespace only; the host's own setting is untouched.
        run(&[
            "ip",
            "netns",
            "exec",
            r,
            "sh",
            "-c",
            "echo 1 > /proc/sys/net/ipv4/ip_forward",
        ]);
        lab
    }

    fn helper(&self, ns: &str, spec: &str) -> Child {
        let exe = std::env::current_exe().expect("test binary");
        let exe = exe.to_str().expect("utf-8 path");
        Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                exe,
                "helper_entry",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ND_KDIFF_HELPER", spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn helper")
    }

    fn start_server(&mut self, ns: &str, tcp: &str, udp: &str) {
        let mut child = self.helper(ns, &format!("server {tcp} {udp}"));
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        // The test harness prints `test helper_entry ... ` before the helper's own output.
        let ready = lines.any(|l| l.map(|l| l.contains("ND:ready")).unwrap_or(false));
        assert!(ready, "server in {ns} did not start");
        self.children.push(child);
    }

    /// Run a client in the client namespace and return its `ND:` line.
    fn client(&self, spec: &str) -> String {
        let out = self
            .helper(&self.client, spec)
            .wait_with_output()
            .expect("client");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.split_once("ND:").map(|(_, rest)| rest.to_string()))
            .unwrap_or_else(|| "error no output".into())
    }

    fn load(&self, restore: &str, rules: &str) {
        self.load_with(&[restore], rules);
    }

    /// Load rules by piping them to `cmd` in the router (`nft -f -`, `iptables-nft-restore`).
    fn load_with(&self, cmd: &[&str], rules: &str) {
        let restore = cmd.join(" ");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.router])
            .args(cmd)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("restore");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(rules.as_bytes())
            .expect("write rules");
        let out = child.wait_with_output().expect("restore");
        assert!(
            out.status.success(),
            "{restore}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Reply-source addresses (the DNAT targets) of the router's conntrack entries for `vip`.
    fn conntrack_targets(&self, vip: &str) -> Vec<(IpAddr, bool)> {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.router,
                "conntrack",
                "-L",
                "-p",
                "tcp",
                "--orig-dst",
                vip,
            ])
            .output()
            .expect("conntrack");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let srcs: Vec<&str> = l
                    .split_whitespace()
                    .filter_map(|w| w.strip_prefix("src="))
                    .collect();
                let target = srcs.get(1)?.parse().ok()?;
                Some((target, !l.contains("UNREPLIED")))
            })
            .collect()
    }
}

/// What the kernel did, as the client saw it.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Connected {
        peer: Option<IpAddr>,
        local: Option<SocketAddr>,
    },
    Refused,
    Timeout,
    Other(String),
}

fn parse_seen(line: &str) -> Seen {
    if let Some(rest) = line.strip_prefix("connected") {
        let field = |k: &str| {
            rest.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .map(str::to_string)
        };
        let peer = field("peer=")
            .and_then(|p| p.parse::<SocketAddr>().ok())
            .map(|a| a.ip());
        let local = field("local=").and_then(|p| p.parse().ok());
        return Seen::Connected { peer, local };
    }
    if line.starts_with("refused") {
        return Seen::Refused;
    }
    if line.starts_with("timeout") {
        return Seen::Timeout;
    }
    Seen::Other(line.to_string())
}

/// Whether an evaluator outcome explains what the kernel did.
fn agrees(o: &Outcome, seen: &Seen) -> bool {
    match (seen, &o.verdict) {
        (Seen::Connected { peer, local }, Verdict::Accept) => {
            let dst_ok = local.is_none_or(|l| {
                o.packet.dst == l.ip() && o.packet.dport.is_none_or(|p| p == l.port())
            });
            let src_ok = peer.is_none_or(|p| o.packet.src == p);
            dst_ok && src_ok
        }
        (Seen::Refused, Verdict::Reject { with }) => {
            matches!(
                with.as_str(),
                "tcp-reset" | "icmp-port-unreachable" | "icmp6-port-unreachable" | "port-unreach"
            )
        }
        (Seen::Timeout, Verdict::Drop) => true,
        _ => false,
    }
}

/// What the kernel did (the client's report) when none of the evaluator's outcomes explains it.
fn disagreement(what: &str, client: &str, res: &Evaluation) -> Option<String> {
    let seen = parse_seen(client);
    (!res.outcomes.iter().any(|o| agrees(o, &seen))).then(|| {
        format!(
            "{what}: kernel {seen:?}, evaluator {:?}",
            res.outcomes
                .iter()
                .map(|o| (&o.verdict, o.packet.src, o.packet.dst, o.packet.dport))
                .collect::<Vec<_>>()
        )
    })
}

fn router_ctx() -> HostContext {
    HostContext::with_addresses([
        ("r0", "10.77.1.1/24".parse().expect("net")),
        ("r1", "10.77.2.1/24".parse().expect("net")),
    ])
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn differential(restore: &str) {
    if !lab_available(&["ip", restore, "conntrack"]) {
        return;
    }
    let (rs, errs) = parse_iptables_save(RULES, "kernel_diff");
    assert!(errs.is_empty(), "{errs:?}");
    let ctx = router_ctx();
    let ev = Evaluator::new(&rs, &ctx);

    let mut lab = Lab::new();
    lab.load(restore, RULES);
    let tcp_ports: Vec<String> = SERVER_TCP.iter().map(u16::to_string).collect();
    let server = lab.server.clone();
    let router = lab.router.clone();
    lab.start_server(&server, &tcp_ports.join(","), "53");
    lab.start_server(&router, "-", "8472,4789,5353");

    // Timeouts are generous: on a loaded 2-core machine a SYN-ACK can take over a second, and a
    // late reply would read as a drop.
    let forward = [Hook::Prerouting, Hook::Forward, Hook::Postrouting];
    let input = [Hook::Prerouting, Hook::Input];
    // (what, client spec, packet, hooks, expected kernel behaviour in words)
    let cases: Vec<(&str, String, Packet, &[Hook])> = vec![
        (
            "goto'd chain accepts",
            "tcp 10.77.2.2:80 3000".into(),
            Packet::tcp(ip("10.77.1.2"), ip("10.77.2.2"), 80),
            &forward,
        ),
        (
            "RETURN from a goto'd chain returns past its caller to the FORWARD policy DROP",
            "tcp 10.77.2.3:80 3000".into(),
            Packet::tcp(ip("10.77.1.2"), ip("10.77.2.3"), 80),
            &forward,
        ),
        (
            "REJECT tcp-reset: connection refused",
            "tcp 10.77.2.2:9000 3000".into(),
            Packet::tcp(ip("10.77.1.2"), ip("10.77.2.2"), 9000),
            &forward,
        ),
        (
            "negated port range falls to ACCEPT",
            "tcp 10.77.2.2:7100 3000".into(),
            Packet::tcp(ip("10.77.1.2"), ip("10.77.2.2"), 7100),
            &forward,
        ),
        (
            "negated port range RETURNs to the FORWARD policy DROP",
            "tcp 10.77.2.2:5000 3000".into(),
            Packet::tcp(ip("10.77.1.2"), ip("10.77.2.2"), 5000),
            &forward,
        ),
        (
            "! -p tcp accepts UDP",
            "udp 10.77.2.2:53 2000".into(),
            Packet::udp(ip("10.77.1.2"), ip("10.77.2.2"), 53),
            &forward,
        ),
        (
            "INPUT drops VXLAN 8472",
            "udp 10.77.1.1:8472 2000".into(),
            Packet::udp(ip("10.77.1.2"), ip("10.77.1.1"), 8472),
            &input,
        ),
        (
            "INPUT rejects 4789",
            "udp 10.77.1.1:4789 2000".into(),
            Packet::udp(ip("10.77.1.2"), ip("10.77.1.1"), 4789),
            &input,
        ),
        (
            "INPUT accepts other UDP",
            "udp 10.77.1.1:5353 2000".into(),
            Packet::udp(ip("10.77.1.2"), ip("10.77.1.1"), 5353),
            &input,
        ),
        (
            "DNAT then MASQUERADE: the server sees the router's address",
            "tcp 10.96.0.11:80 3000".into(),
            Packet::tcp(ip("10.77.1.2"), ip("10.96.0.11"), 80),
            &forward,
        ),
    ];
    let mut failures = Vec::new();
    for (what, spec, pkt, hooks) in &cases {
        let pkt = pkt.clone().in_iface("r0").out_iface("r1");
        let pkt = if hooks.contains(&Hook::Input) {
            Packet {
                out_iface: None,
                ..pkt
            }
        } else {
            pkt
        };
        let res = ev.path(hooks, &pkt);
        failures.extend(disagreement(what, &lab.client(spec), &res));
        // The evaluator is certain in all these cases: one outcome.
        assert_eq!(res.outcomes.len(), 1, "{what}");
    }
    // The MASQUERADE case checks the source the server saw.
    let seen = parse_seen(&lab.client("tcp 10.96.0.11:80 3000"));
    assert_eq!(
        seen,
        Seen::Connected {
            peer: Some(ip("10.77.2.1")),
            local: Some("10.77.2.2:8080".parse().expect("addr"))
        },
        "{restore}"
    );

    // statistic: every kernel choice must be one of the evaluator's outcomes.
    let pkt = Packet::tcp(ip("10.77.1.2"), ip("10.96.0.10"), 80)
        .in_iface("r0")
        .out_iface("r1");
    let res = ev.path(&forward, &pkt);
    assert_eq!(res.outcomes.len(), 2);
    let predicted: BTreeSet<IpAddr> = res.dnat_targets().iter().map(|((a, _), _)| *a).collect();
    assert_eq!(
        predicted,
        [ip("10.77.2.2"), ip("10.77.2.3")].into_iter().collect()
    );
    let mut kinds = BTreeSet::new();
    for _ in 0..8 {
        let seen = parse_seen(&lab.client("tcp 10.96.0.10:80 2000"));
        if !res.outcomes.iter().any(|o| agrees(o, &seen)) {
            failures.push(format!(
                "statistic: kernel {seen:?} is none of the evaluator's outcomes"
            ));
        }
        kinds.insert(format!("{seen:?}").chars().take(9).collect::<String>());
    }
    // The conntrack entries' DNAT targets are among the predicted ones, and an entry is
    // replied exactly when the evaluator says that endpoint is accepted. (A connection whose
    // first packet is dropped in FORWARD leaves no entry: conntrack confirms an entry only when
    // its first packet leaves POSTROUTING.)
    let entries = lab.conntrack_targets("10.96.0.10");
    assert!(!entries.is_empty(), "no conntrack entries for the VIP");
    for (target, replied) in &entries {
        let o = res.outcomes.iter().find(|o| o.packet.dst == *target);
        match o {
            None => failures.push(format!("conntrack DNAT target {target} not predicted")),
            Some(o) => {
                if o.verdict.is_accept() != *replied {
                    failures.push(format!(
                        "conntrack entry to {target}: replied={replied}, evaluator {}",
                        o.verdict
                    ));
                }
            }
        }
    }
    eprintln!("{restore}: statistic outcomes seen: {kinds:?}; conntrack: {entries:?}");
    assert!(failures.is_empty(), "{restore}: {failures:#?}");
}

#[test]
fn kernel_agrees_legacy() {
    differential("iptables-legacy-restore");
}

#[test]
fn kernel_agrees_nft() {
    differential("iptables-nft-restore");
}

/// A host firewall's own nftables table beside the iptables rules above: a filter chain at
/// priority -110 (before iptables' filter at 0), a nat chain at -110 (before iptables' nat at
/// -100) and one at -90 (after it).
const HOST_NFT: &str = "table ip hostfw {
	chain fw-filter {
		type filter hook forward priority -110; policy accept;
		tcp dport 7100 drop
	}
	chain fw-nat {
		type nat hook prerouting priority -110; policy accept;
		ip daddr 10.96.0.12 tcp dport 80 dnat to 10.77.2.2:80
	}
	chain fw-nat-late {
		type nat hook prerouting priority -90; policy accept;
		tcp dport 8080 dnat to 10.77.2.3:8080
	}
}
";

/// iptables-nft rules and a native nft table in one kernel: the evaluator runs them together
/// by priority, and the first nat chain to bind a connection wins.
#[test]
fn kernel_agrees_iptables_and_nft_together() {
    if !lab_available(&["ip", "iptables-nft-restore", "nft", "conntrack"]) {
        return;
    }
    let (ipt, errs) = parse_iptables_save(RULES, "kernel_diff");
    assert!(errs.is_empty(), "{errs:?}");
    let (nft, errs) = parse_nft_text(HOST_NFT, "hostfw.nft");
    assert!(errs.is_empty(), "{errs:?}");
    let ctx = router_ctx();
    let mut lab = Lab::new();
    lab.load("iptables-nft-restore", RULES);
    lab.load_with(&["nft", "-f", "-"], HOST_NFT);
    let tcp_ports: Vec<String> = SERVER_TCP.iter().map(u16::to_string).collect();
    let server = lab.server.clone();
    lab.start_server(&server, &tcp_ports.join(","), "53");
    let forward = [Hook::Prerouting, Hook::Forward, Hook::Postrouting];
    let cases: Vec<(&str, &str, Packet)> = vec![
        (
            "iptables accepts 7100, the nft chain at -110 drops it first",
            "tcp 10.77.2.2:7100 3000",
            Packet::tcp(ip("10.77.1.2"), ip("10.77.2.2"), 7100),
        ),
        (
            "the nft nat chain at -110 DNATs a VIP iptables does not know; no MASQUERADE (it \
             matches 8080), so the server sees the client",
            "tcp 10.96.0.12:80 3000",
            Packet::tcp(ip("10.77.1.2"), ip("10.96.0.12"), 80),
        ),
        (
            "iptables' nat at -100 binds the connection to :8080 first: the nft nat chain at -90 \
             that would send :8080 elsewhere is not consulted",
            "tcp 10.96.0.11:80 3000",
            Packet::tcp(ip("10.77.1.2"), ip("10.96.0.11"), 80),
        ),
        (
            "what neither set changes passes both",
            "tcp 10.77.2.2:80 3000",
            Packet::tcp(ip("10.77.1.2"), ip("10.77.2.2"), 80),
        ),
    ];
    let mut failures = Vec::new();
    // Whatever the order the sets are given in: priorities decide here, not registration.
    for order in [[&ipt, &nft], [&nft, &ipt]] {
        let ev = Evaluator::combined(&order, &ctx);
        for (what, spec, pkt) in &cases {
            let pkt = pkt.clone().in_iface("r0").out_iface("r1");
            let res = ev.path(&forward, &pkt);
            assert_eq!(res.outcomes.len(), 1, "{what}");
            failures.extend(disagreement(what, &lab.client(spec), &res));
        }
        // The drop names the nft rule, in the set that holds it.
        let o = &ev
            .path(
                &forward,
                &Packet::tcp(ip("10.77.1.2"), ip("10.77.2.2"), 7100)
                    .in_iface("r0")
                    .out_iface("r1"),
            )
            .outcomes[0];
        let r = o.deciding_rule().expect("a rule decided");
        assert_eq!((r.table.as_str(), &*r.chain), ("hostfw", "fw-filter"));
        assert!(std::ptr::eq(order[r.set], &nft));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
