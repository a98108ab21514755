//! kube-proxy's nftables mode at scale: 10k Services x 3 endpoints, loaded into the kernel of a
//! network namespace this bench creates (and deletes), then read two ways in one run, in
//! alternation:
//! - `nft -j list ruleset` (the baseline: what a tool reading the live rule set as JSON pays);
//! - netdoctor's reader on the `nft list ruleset` text of the same rules (`parse_nft_text`).
//!
//! Prints the median of the paired ratios (target: netdoctor at least 20x faster), and checks
//! that both read the same number of rules. Needs root and `nft`; says so and stops otherwise.
//!
//! Run: `cargo bench -p netdoctor-netfilter --bench nft_scale` (`ND_BENCH_WRITE_NFT=FILE` also
//! writes the listing, to profile the reader on it).

use netdoctor_netfilter::parse_nft_text;
use netdoctor_testkit::kube_dump::chain_id;
use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SERVICES: u32 = 10_000;
const ENDPOINTS: u32 = 3;

/// kube-proxy's nftables mode names chains with 8 base32 characters of a hash (its unit
/// tests' `ULMVA6XW`); the first 8 of the iptables mode's 16 are as unique here.
fn id(kind: &str, n: u32) -> String {
    let mut s = chain_id(kind, n);
    s.truncate(kind.len() + 8);
    s
}

/// A kube-proxy nftables-mode rule set (the shape of kube-proxy 1.31+'s, as in kp.nft).
fn ruleset() -> String {
    let mut s = String::from("table ip kube-proxy {\n");
    s.push_str("\tmap service-ips {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n\t\telements = { ");
    for i in 0..SERVICES {
        let sep = if i + 1 < SERVICES {
            ",\n\t\t\t"
        } else {
            " }\n\t}\n"
        };
        let _ = write!(
            s,
            "10.96.{}.{} . tcp . 80 : goto service-{}-ns{}/svc{}/tcp/http{sep}",
            i / 250,
            i % 250 + 1,
            id("", i),
            i % 50,
            i
        );
    }
    s.push_str("\tchain mark-for-masquerade {\n\t\tmark set mark or 0x4000\n\t}\n");
    s.push_str("\tchain nat-prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tjump services\n\t}\n");
    s.push_str(
        "\tchain services {\n\t\tip daddr . meta l4proto . th dport vmap @service-ips\n\t}\n",
    );
    for i in 0..SERVICES {
        let svc = format!("{}-ns{}/svc{i}/tcp/http", id("", i), i % 50);
        let _ = writeln!(s, "\tchain service-{svc} {{");
        let _ = writeln!(
            s,
            "\t\tip daddr 10.96.{}.{} tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade",
            i / 250,
            i % 250 + 1
        );
        let branches: Vec<String> = (0..ENDPOINTS)
            .map(|e| {
                format!(
                    "{e} : goto endpoint-{}-{svc}__10.{}.{}.{}/8080",
                    id("E", i * 4 + e),
                    100 + e,
                    i / 250,
                    i % 250 + 1
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "\t\tnumgen random mod {ENDPOINTS} vmap {{ {} }}\n\t}}",
            branches.join(", ")
        );
        for e in 0..ENDPOINTS {
            let ip = format!("10.{}.{}.{}", 100 + e, i / 250, i % 250 + 1);
            let _ = writeln!(
                s,
                "\tchain endpoint-{}-{svc}__{ip}/8080 {{\n\t\tip saddr {ip} jump mark-for-masquerade\n\t\tmeta l4proto tcp dnat to {ip}:8080\n\t}}",
                id("E", i * 4 + e)
            );
        }
    }
    s.push_str("}\n");
    s
}

fn sh(args: &[&str]) -> std::process::Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect(args[0])
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let root = netdoctor_testkit::is_root();
    let have_nft = Command::new("nft")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !root || !have_nft {
        println!("nft_scale: needs root and nft (root: {root}, nft: {have_nft}); nothing measured");
        return;
    }
    let ns = format!("ndbench-nft-{}", std::process::id());
    assert!(sh(&["ip", "netns", "add", &ns]).status.success());
    let dir = std::env::temp_dir().join(&ns);
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("kp.nft");
    std::fs::write(&file, ruleset()).expect("write");
    let load = sh(&[
        "ip",
        "netns",
        "exec",
        &ns,
        "nft",
        "-f",
        file.to_str().expect("path"),
    ]);
    let cleanup = || {
        let _ = sh(&["ip", "netns", "del", &ns]);
        let _ = std::fs::remove_dir_all(&dir);
    };
    if !load.status.success() {
        cleanup();
        panic!("nft -f: {}", String::from_utf8_lossy(&load.stderr));
    }
    let listed = sh(&["ip", "netns", "exec", &ns, "nft", "list", "ruleset"]);
    let text = String::from_utf8(listed.stdout).expect("utf-8");
    // For profiling the reader alone: `ND_BENCH_WRITE_NFT=FILE` keeps the listing.
    if let Some(out) = std::env::var_os("ND_BENCH_WRITE_NFT") {
        std::fs::write(out, &text).expect("write the listing");
    }
    println!(
        "rule set: {SERVICES} Services x {ENDPOINTS} endpoints, {:.1} MiB of `nft list ruleset`",
        text.len() as f64 / (1 << 20) as f64
    );
    let mut ratios = Vec::new();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let t = Instant::now();
        let json = sh(&["ip", "netns", "exec", &ns, "nft", "-j", "list", "ruleset"]);
        let nft_j = t.elapsed();
        if !json.status.success() || json.stdout.is_empty() {
            cleanup();
            panic!("nft -j list ruleset failed");
        }
        let t = Instant::now();
        let (rs, errors) = parse_nft_text(&text, "kp.nft");
        let parse = t.elapsed();
        if !errors.is_empty() {
            cleanup();
            panic!("{:?}", &errors[..errors.len().min(3)]);
        }
        let rules: usize = rs
            .tables
            .iter()
            .flat_map(|t| &t.chains)
            .map(|c| c.rules.len())
            .sum();
        // numgen vmaps become one rule per branch; every other line is one rule.
        if rules < (SERVICES * (1 + 3 * ENDPOINTS)) as usize {
            cleanup();
            panic!("only {rules} rules read");
        }
        ours.push(parse);
        theirs.push(nft_j);
        ratios.push(nft_j.as_secs_f64() / parse.as_secs_f64().max(1e-9));
    }
    cleanup();
    let ms = |v: &[Duration]| median(v.iter().map(|d| d.as_secs_f64() * 1000.0).collect());
    println!(
        "`nft -j list ruleset`: {:.0} ms (median of 5); netdoctor parse_nft_text: {:.0} ms",
        ms(&theirs),
        ms(&ours)
    );
    println!(
        "netdoctor is {:.1}x faster (median of 5 paired ratios: {}) (target 20x)",
        median(ratios.clone()),
        ratios
            .iter()
            .map(|r| format!("{r:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
