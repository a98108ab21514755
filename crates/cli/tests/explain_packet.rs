//! `netdoctor explain iptables|nft FILE --packet "…"`: every outcome of one packet, on real
//! kube-proxy rule sets of both modes.

use serde_json::Value;
use std::process::Command;

const OVERALL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/realworld/iptables/kubeproxy_test_overall_v1.30.rules"
);
const KP_NFT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../netfilter/tests/data/kp.nft"
);

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(args)
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn packet(what: &str, file: &str, pkt: &str, extra: &[&str]) -> Value {
    let mut args = vec!["explain", what, file, "--packet", pkt, "-o", "json"];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["schema"], "netdoctor.packet/v1");
    v
}

/// `(probability, verdict, dnat, masquerade)` of every outcome, sorted.
fn summary(v: &Value) -> Vec<(String, String, String, bool)> {
    let mut out: Vec<_> = v["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .map(|o| {
            (
                o["probability"]
                    .as_f64()
                    .map_or("?".into(), |p| format!("{p:.2}")),
                o["verdict"].as_str().unwrap_or("").to_string(),
                o["dnat"].as_str().unwrap_or("-").to_string(),
                o["masquerade"].as_bool().expect("masquerade"),
            )
        })
        .collect();
    out.sort();
    out
}

fn s(p: &str, v: &str, d: &str, m: bool) -> (String, String, String, bool) {
    (p.into(), v.into(), d.into(), m)
}

#[test]
fn iptables_clusterip_load_balancing_and_masquerade() {
    // svc4 has two endpoints: one outcome per branch of `statistic`, with its chance.
    let v = packet(
        "iptables",
        OVERALL,
        "tcp 10.0.0.2 -> 172.30.0.44:80",
        &["--local", "192.168.0.2"],
    );
    assert_eq!(
        summary(&v),
        vec![
            s("0.50", "accept", "10.180.0.4:80", false),
            s("0.50", "accept", "10.180.0.5:80", false)
        ]
    );
    // From outside the cluster CIDR (10.0.0.0/8 in this rule set) it is marked and leaves
    // masqueraded.
    let v = packet(
        "iptables",
        OVERALL,
        "tcp 1.2.3.4:5555 -> 172.30.0.41:80",
        &["--local", "192.168.0.2"],
    );
    assert_eq!(
        summary(&v),
        vec![s("1.00", "accept", "10.180.0.1:80", true)]
    );
    let rules: Vec<&str> = v["outcomes"][0]["rules"]
        .as_array()
        .expect("present")
        .iter()
        .map(|r| r.as_str().expect("present"))
        .collect();
    assert!(
        rules.contains(&"nat KUBE-SVC-XPGD46QRK7WJZT7O 1"),
        "{rules:?}"
    );
    assert!(rules.contains(&"nat KUBE-POSTROUTING 3"), "{rules:?}");
    // The file is kube-proxy's restore input: the answer says what it added.
    let notes = v["notes"].to_string();
    assert!(notes.contains("kube-proxy's standard jumps"), "{notes}");
}

#[test]
fn iptables_service_without_endpoints_is_rejected_in_filter() {
    let v = packet(
        "iptables",
        OVERALL,
        "tcp 10.0.0.2 -> 172.30.0.46:80",
        &["--local", "192.168.0.2"],
    );
    assert_eq!(summary(&v), vec![s("1.00", "reject", "-", false)]);
    let last = v["outcomes"][0]["rules"]
        .as_array()
        .expect("present")
        .last()
        .cloned();
    assert_eq!(last, Some(Value::from("filter KUBE-SERVICES 1")));
}

#[test]
fn nodeport_needs_the_node_addresses() {
    // With the node's address, `addrtype --dst-type LOCAL` decides: svc3's NodePort is DNATed
    // and, coming from outside, leaves masqueraded.
    let v = packet(
        "iptables",
        OVERALL,
        "tcp 1.2.3.4 -> 192.168.0.2:3003",
        &["--local", "192.168.0.2"],
    );
    assert_eq!(
        summary(&v),
        vec![s("1.00", "accept", "10.180.0.3:80", true)]
    );
    // svc2 is externalTrafficPolicy=Local with no endpoint on this node: dropped in filter.
    let v = packet(
        "iptables",
        OVERALL,
        "tcp 1.2.3.4 -> 192.168.0.2:3001",
        &["--local", "192.168.0.2"],
    );
    assert_eq!(summary(&v), vec![s("1.00", "drop", "-", false)]);
    let last = v["outcomes"][0]["rules"]
        .as_array()
        .expect("present")
        .last()
        .cloned();
    assert_eq!(last, Some(Value::from("filter KUBE-EXTERNAL-SERVICES 3")));
    // Without the node's addresses, the answer is unknown at the addrtype rule, not a guess.
    let v = packet("iptables", OVERALL, "tcp 1.2.3.4 -> 192.168.0.2:3003", &[]);
    let o = &v["outcomes"][0];
    assert_eq!(o["verdict"], "unknown");
    assert!(
        o["detail"]
            .as_str()
            .expect("present")
            .contains("KUBE-SERVICES"),
        "{o}"
    );
    assert!(v["notes"].to_string().contains("no --local"));
}

#[test]
fn nft_mode_gives_the_same_answers() {
    let two = packet(
        "nft",
        KP_NFT,
        "tcp 10.0.0.2 -> 172.30.0.44:80",
        &["--local", "192.168.0.2"],
    );
    assert_eq!(
        summary(&two),
        vec![
            s("0.50", "accept", "10.180.0.4:80", false),
            s("0.50", "accept", "10.180.0.5:80", false)
        ]
    );
    let outside = packet(
        "nft",
        KP_NFT,
        "tcp 1.2.3.4 -> 172.30.0.41:80",
        &["--local", "192.168.0.2"],
    );
    assert_eq!(
        summary(&outside),
        vec![s("1.00", "accept", "10.180.0.1:80", true)]
    );
    let none = packet(
        "nft",
        KP_NFT,
        "tcp 10.0.0.2 -> 172.30.0.46:80",
        &["--local", "192.168.0.2"],
    );
    assert_eq!(summary(&none), vec![s("1.00", "reject", "-", false)]);
    // A ClusterIP on a port the Service does not have: kube-proxy rejects it.
    let port = packet(
        "nft",
        KP_NFT,
        "tcp 10.0.0.2 -> 172.30.0.41:81",
        &["--local", "192.168.0.2"],
    );
    assert_eq!(summary(&port), vec![s("1.00", "reject", "-", false)]);
}

#[test]
fn text_and_markdown_name_the_rules() {
    let (code, out, err) = run(&[
        "explain",
        "iptables",
        OVERALL,
        "--packet",
        "tcp 10.0.0.2 -> 172.30.0.44:80",
        "--local",
        "192.168.0.2",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 outcome(s)"), "{out}");
    assert!(
        out.contains("ACCEPT, DNAT to 10.180.0.4:80 (50.0%"),
        "{out}"
    );
    assert!(
        out.contains("-j DNAT --to-destination 10.180.0.5:80"),
        "{out}"
    );
    let (code, md, _) = run(&[
        "explain",
        "nft",
        KP_NFT,
        "--packet",
        "tcp 10.0.0.2 -> 172.30.0.46:80",
        "--local",
        "192.168.0.2",
        "-o",
        "markdown",
    ]);
    assert_eq!(code, 0);
    assert!(md.contains("| 1 | always | reject | - | no |"), "{md}");
}

#[test]
fn a_packet_sent_by_the_node_starts_at_output() {
    let v = packet(
        "iptables",
        OVERALL,
        "tcp 192.168.0.2 -> 172.30.0.41:80",
        &[
            "--hook",
            "output",
            "--local",
            "192.168.0.2",
            "--out",
            "eth0",
        ],
    );
    let hooks = v["outcomes"][0]["hooks"].to_string();
    assert!(hooks.starts_with("[\"OUTPUT\""), "{hooks}");
    assert_eq!(summary(&v)[0].2, "10.180.0.1:80");
}

#[test]
fn bad_packets_and_wrong_formats_are_clear_errors() {
    let (code, _, err) = run(&["explain", "iptables", OVERALL, "--packet", "tcp 10.0.0.2"]);
    assert_eq!(code, 2);
    assert!(err.contains("no `->`"), "{err}");
    let (code, _, err) = run(&[
        "explain",
        "iptables",
        KP_NFT,
        "--packet",
        "tcp 1.1.1.1 -> 2.2.2.2:80",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("use `explain nft`"), "{err}");
    let (code, _, err) = run(&["explain", "nft", OVERALL]);
    assert_eq!(code, 2);
    assert!(err.contains("use `explain iptables`"), "{err}");
    let (code, _, err) = run(&["explain", "iptables", OVERALL, "--local", "1.2.3.4"]);
    assert_eq!(code, 2, "--local without --packet");
    assert!(err.contains("--packet"), "{err}");
}

/// kube-proxy's own packet-flow tests (`tests/fixtures/kube-proxy-flows/*`: a literal dump,
/// the flows its test tracer expects on it, and the addresses it treats as the node's): every
/// flow must agree. Where kube-proxy's simplified tracer and the kernel legitimately differ
/// (it never runs POSTROUTING, so `masq` means "KUBE-MARK-MASQ was jumped to", even for a
/// packet that is then delivered locally or dropped), the comparison says so below.
#[test]
fn kube_proxy_packet_flow_tests_agree() {
    let root = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/kube-proxy-flows"
    );
    let mut checked = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("flows.json").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let (what, rules) = if dir.join("rules.nft").is_file() {
            ("nft", dir.join("rules.nft"))
        } else {
            ("iptables", dir.join("rules.txt"))
        };
        let rules = rules.to_str().expect("utf-8 path").to_string();
        let local: Vec<String> = std::fs::read_to_string(dir.join("local-ips.txt"))
            .expect("local-ips.txt")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_string())
            .collect();
        let flows: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(dir.join("flows.json")).expect("flows.json"),
        )
        .expect("flows json");
        for f in flows {
            let name = f["name"].as_str().expect("name");
            let dport = f["dport"].as_u64().expect("dport");
            let pkt = format!(
                "{} {} -> {}:{dport}",
                f["proto"].as_str().expect("proto"),
                f["src"].as_str().expect("src"),
                f["dst"].as_str().expect("dst"),
            );
            let mut extra: Vec<&str> = Vec::new();
            for l in &local {
                extra.push("--local");
                extra.push(l);
            }
            let v = packet(what, &rules, &pkt, &extra);
            let outcomes = v["outcomes"].as_array().expect("outcomes");
            let ctx = format!("{}: {name}: {pkt}: {v:#}", dir.display());
            let verdicts: Vec<&str> = outcomes
                .iter()
                .map(|o| o["verdict"].as_str().expect("verdict"))
                .collect();
            let dnats: Vec<&str> = outcomes.iter().filter_map(|o| o["dnat"].as_str()).collect();
            let expected = f["output"].as_str().expect("output");
            match expected {
                "DROP" | "REJECT" => {
                    let want = expected.to_ascii_lowercase();
                    assert!(verdicts.iter().all(|v| *v == want), "{ctx}");
                }
                "ACCEPT" => {
                    // A filter rule accepted it (not a policy, not a DNAT).
                    assert!(verdicts.iter().all(|v| *v == "accept"), "{ctx}");
                    for o in outcomes {
                        let last = o["rule_texts"]
                            .as_array()
                            .and_then(|r| r.last())
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        assert!(last.ends_with("-j ACCEPT"), "{ctx}");
                        assert!(o["dnat"].is_null(), "{ctx}");
                    }
                }
                "" => {
                    // No rule decided: not translated, and nothing dropped it.
                    assert!(verdicts.iter().all(|v| *v == "accept"), "{ctx}");
                    assert!(dnats.is_empty(), "{ctx}");
                }
                list => {
                    // Endpoints, in kube-proxy's rule order, one outcome each.
                    let want: Vec<&str> = list.split(", ").collect();
                    assert_eq!(dnats, want, "{ctx}");
                    assert!(verdicts.iter().all(|v| *v == "accept"), "{ctx}");
                    let total: f64 = outcomes
                        .iter()
                        .map(|o| o["probability"].as_f64().expect("known chance"))
                        .sum();
                    assert!((total - 1.0).abs() < 1e-9, "{ctx}");
                }
            }
            // masq: compared where the packet really reaches POSTROUTING.
            let want_masq = f["masq"].as_bool().expect("masq");
            for o in outcomes {
                let through = o["hooks"].to_string().contains("POSTROUTING");
                if through {
                    assert_eq!(o["masquerade"].as_bool(), Some(want_masq), "{ctx}");
                } else {
                    assert_eq!(o["masquerade"].as_bool(), Some(false), "{ctx}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 7, "{checked} flows");
}
