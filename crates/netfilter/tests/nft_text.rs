//! `nft list ruleset` text: the kernel as the oracle (the text and the JSON the kernel prints
//! for one ruleset read to the same rules), and the real pastes people post (fragments, cut
//! listings, iptables-nft compat rules).

use netdoctor_netfilter::*;
use netdoctor_testkit::Netns;

fn paste(name: &str) -> String {
    let path = format!("{}/tests/nft_text/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn lab_available() -> bool {
    netdoctor_testkit::lab_available("nft text vs the kernel", &["ip", "nft"])
}

fn nft(ns: &Netns, args: &[&str]) -> String {
    let mut all = vec!["nft"];
    all.extend_from_slice(args);
    ns.exec(&all)
}

/// A chain as the evaluator sees it: base hook, priority, policy and each rule's matches and
/// targets (not the rule's text or line, which differ by form).
fn shape(rs: &Ruleset) -> Vec<String> {
    let mut out = Vec::new();
    for t in &rs.tables {
        for c in &t.chains {
            out.push(format!(
                "{:?} {} {}: {:?} {:?}",
                t.family, t.name, c.name, c.base, c.policy
            ));
            for r in &c.rules {
                out.push(format!(
                    "  {:?} -> {:?} goto={} also={:?} comment={:?}",
                    r.matches,
                    r.target,
                    r.goto,
                    r.also,
                    r.comment.as_ref().map(|c| c.to_string())
                ));
            }
        }
    }
    out
}

#[test]
fn the_kernels_text_and_json_read_to_the_same_rules() {
    if !lab_available() {
        return;
    }
    let ns = Netns::new("nft");
    let file = format!("{}/tests/data/host-fw.nft", env!("CARGO_MANIFEST_DIR"));
    nft(&ns, &["-f", &file]);
    let text = nft(&ns, &["list", "ruleset"]);
    let json = nft(&ns, &["-j", "list", "ruleset"]);
    let (from_text, text_errors) = parse_nft_text(&text, "ruleset.txt");
    let (from_json, json_errors) = parse_nft_json(&json, "ruleset.json");
    assert!(text_errors.is_empty(), "{text_errors:?}");
    assert!(json_errors.is_empty(), "{json_errors:?}");
    let (a, b) = (shape(&from_text), shape(&from_json));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "text (left) and JSON (right) differ");
    }
    assert_eq!(a.len(), b.len(), "{a:#?}\n{b:#?}");
    // Rules point at their lines in the text.
    let input = from_text
        .tables
        .iter()
        .find(|t| t.name == "filter")
        .and_then(|t| t.chain("input"))
        .expect("input chain");
    let first = &input.rules[0];
    let line = text.lines().nth(first.line as usize - 1).expect("line");
    assert!(
        line.contains("ct state established,related accept"),
        "{line}"
    );
}

/// kube-proxy's nftables mode (verdict maps over concatenations, `numgen` endpoint choice,
/// masks, `fib`): the kernel's text reads to the same rules as its JSON.
#[test]
fn the_kernels_text_of_kube_proxys_nft_mode_reads_like_its_json() {
    if !lab_available() {
        return;
    }
    let ns = Netns::new("kp");
    let file = format!("{}/tests/data/kp.nft", env!("CARGO_MANIFEST_DIR"));
    nft(&ns, &["-f", &file]);
    let text = nft(&ns, &["list", "ruleset"]);
    let json = nft(&ns, &["-j", "list", "ruleset"]);
    let (from_text, text_errors) = parse_nft_text(&text, "kp.txt");
    let (from_json, _) = parse_nft_json(&json, "kp.json");
    let (a, b) = (shape(&from_text), shape(&from_json));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "text (left) and JSON (right) differ");
    }
    assert_eq!(a.len(), b.len());
    assert!(
        text_errors.iter().all(|e| e.kind != ErrorKind::Truncated),
        "{text_errors:#?}"
    );
    let kp = from_text
        .tables
        .iter()
        .find(|t| t.name == "kube-proxy")
        .expect("table");
    let nat = kp.chain("nat-prerouting").expect("chain");
    assert_eq!(
        nat.base.map(|b| (b.hook, b.priority)),
        Some((Hook::Prerouting, -100))
    );
}

#[test]
fn a_forward_policy_drop_is_read_from_a_real_paste_cut_mid_rule() {
    // kubernetes#97283: `nft list table ip filter` on a RHEL 8 master, cut in chain FORWARD.
    let (rs, errors) = parse_nft_text(
        &paste("kubernetes-97283-nft-list-table-ip-filter.txt"),
        "nft.txt",
    );
    let fwd = rs
        .tables
        .iter()
        .find(|t| t.name == "filter")
        .and_then(|t| t.chain("FORWARD"))
        .expect("FORWARD");
    assert_eq!(fwd.policy, Some(Policy::Drop));
    assert_eq!(fwd.base.map(|b| b.hook), Some(Hook::Forward));
    assert!(fwd.rules.len() >= 8, "{}", fwd.rules.len());
    assert!(
        errors.iter().any(|e| e.kind == ErrorKind::Truncated),
        "the cut is reported: {errors:?}"
    );
}

#[test]
fn a_chain_pasted_without_its_table_is_read_in_an_assumed_one() {
    // firewalld#527: one chain of table inet firewalld, no table line.
    let (rs, errors) = parse_nft_text(
        &paste("firewalld-527-nft-firewalld-forward-zones-fragment.txt"),
        "nft.txt",
    );
    assert!(
        errors
            .iter()
            .any(|e| e.kind == ErrorKind::Assumption && e.message.contains("assumed")),
        "{errors:?}"
    );
    let rules: usize = rs
        .tables
        .iter()
        .flat_map(|t| &t.chains)
        .map(|c| c.rules.len())
        .sum();
    assert!(rules >= 3, "{rules}");
}

#[test]
fn real_pastes_are_read_without_panics_and_with_lines_inside_the_input() {
    let dir = format!("{}/tests/nft_text", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("dir").flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("txt") {
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("read");
        assert!(looks_like_nft_text(&text), "{}", p.display());
        let lines = text.lines().count() as u32;
        let (rs, errors) = parse_nft_text(&text, "nft.txt");
        for e in &errors {
            assert!(e.line <= lines, "{e}");
        }
        for t in &rs.tables {
            for c in &t.chains {
                for r in &c.rules {
                    assert!(r.line >= 1 && r.line <= lines);
                }
            }
        }
        n += 1;
    }
    assert!(n >= 4, "{n}");
}

/// A listing past 1 MiB is translated on several threads: the rule set is the one a single
/// thread reads, rule for rule and error for error. The listing is kube-proxy's nftables mode
/// (crates/lab renders the same shape), with a `numgen` vmap and a rule nft cannot be read for.
#[test]
fn threads_read_what_one_thread_reads() {
    let mut s = String::from(
        "table ip kube-proxy {\n\tchain nat-prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tjump services\n\t}\n\tchain services {\n",
    );
    for i in 0..6000u32 {
        s.push_str(&format!(
            "\t\tip daddr 10.96.{}.{} tcp dport 80 goto service-{i}\n",
            i / 250,
            i % 250
        ));
    }
    s.push_str("\t\tip saddr 10.0.0.1 some-unknown-thing drop\n\t}\n");
    for i in 0..6000u32 {
        s.push_str(&format!(
            "\tchain service-{i} {{\n\t\tip daddr 10.96.{0}.{1} tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade\n\t\tnumgen random mod 2 vmap {{ 0 : goto ep-{i}-a, 1 : goto ep-{i}-b }} comment \"svc {i}\"\n\t}}\n",
            i / 250,
            i % 250
        ));
    }
    s.push_str("\tchain mark-for-masquerade {\n\t\tmark set mark or 0x4000\n\t}\n}\n");
    assert!(
        s.len() > 1 << 20,
        "{} bytes: not enough for threads",
        s.len()
    );
    let (one, e1) = parse_nft_text_threads(&s, "kp.nft", 1);
    let (two, e2) = parse_nft_text_threads(&s, "kp.nft", 3);
    assert_eq!(shape(&one), shape(&two));
    assert_eq!(e1, e2);
    assert!(
        e1.iter().any(|e| e.message.contains("some-unknown-thing")),
        "{e1:?}"
    );
    let rules: usize = one.tables[0].chains.iter().map(|c| c.rules.len()).sum();
    assert!(rules > 6000 * 3, "{rules} rules");
}

/// The real listings people pasted read alike on one thread and on several (each split into
/// runs of rules, whatever its size).
#[test]
fn real_listings_read_alike_on_several_threads() {
    let dir = format!("{}/tests/nft_text", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("nft_text") {
        let path = e.expect("entry").path();
        if path.extension().and_then(|x| x.to_str()) != Some("txt") {
            continue;
        }
        let name = path.file_name().and_then(|f| f.to_str()).expect("name");
        let text = paste(name);
        let (one, e1) = parse_nft_text_threads(&text, name, 1);
        let (three, e3) = parse_nft_text_threads(&text, name, 3);
        assert!(!shape(&one).is_empty(), "{name}: nothing read");
        assert_eq!(shape(&one), shape(&three), "{name}");
        assert_eq!(e1, e3, "{name}");
        n += 1;
    }
    assert!(n >= 4, "{n} listings");
}
