use super::*;

/// Every signature matches every one of its real examples (as pasted), and is declared with
/// what a reader needs: where it comes from, a real paste, a meaning.
#[test]
fn every_signature_matches_its_real_examples() {
    let cat = catalogue();
    assert!(cat.signatures.len() >= 150, "{}", cat.signatures.len());
    let mut names: Vec<&str> = cat.signatures.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "duplicate signature names");
    for (i, s) in cat.signatures.iter().enumerate() {
        assert!(!s.examples.is_empty(), "{}: no real example", s.name);
        assert!(
            !s.upstream.is_empty() && !s.meaning.is_empty(),
            "{}",
            s.name
        );
        for e in &s.examples {
            assert!(
                e.source.starts_with("https://") || e.source.starts_with("http://"),
                "{}: example source {:?} is not a public address",
                s.name,
                e.source
            );
            let hits = scan("example.log", &[(1, e.text.clone())]);
            assert!(
                hits.iter().any(|h| h.index == i),
                "{} does not match its example {:?}",
                s.name,
                e.text
            );
        }
    }
}

/// A pattern must say something: it matches none of a set of ordinary log lines.
#[test]
fn no_signature_matches_ordinary_lines() {
    let ordinary = [
        "I0530 18:36:44.303997       1 main.go:475] Determining IP address of default interface",
        "I0530 18:36:44.304297       1 main.go:488] Using interface with name eth0 and address 10.0.0.4",
        "I1120 06:09:11.546212       1 server_others.go:186] Using iptables Proxier.",
        "2021-01-12 10:45:50.560 [INFO][67] felix/int_dataplane.go 1035: Started internal iptables dataplane driver",
        "[INFO] plugin/reload: Running configuration SHA512 = 591cf328cccc12bc490481273e738df59329c62c0b729d94e8b61db9961c2fa5f046dd37f1cf888b953814040d180f52594972691cd6ff41be96639138a43908",
        "Mar 12 17:26:36 node1 kubelet[1234]: I0312 17:26:36.123456 1234 kubelet.go:1820] Starting kubelet main sync loop.",
        "[ 3774.709092] IPVS: Registered protocols (TCP, UDP, SCTP, AH, ESP)",
        "default via 10.0.0.1 dev eth0 proto dhcp metric 100",
        "net.ipv4.ip_forward = 1",
        "-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment \"kube-system/kube-dns:dns cluster IP\" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU",
    ];
    for line in ordinary {
        // Observations match ordinary lines on purpose: their values are judged.
        let hits: Vec<Hit> = scan("x.log", &[(1, line.to_string())])
            .into_iter()
            .filter(|h| h.signature().certainty != Certainty::Observation)
            .collect();
        assert!(
            hits.is_empty(),
            "{line:?} matched {:?}",
            hits.iter().map(|h| &h.signature().name).collect::<Vec<_>>()
        );
    }
}

#[test]
fn wrapped_and_retyped_messages_still_match() {
    let lines = vec![
        (
            7,
            "E0712 07:31:01.180389       1 vxlan_network.go:158] failed to add vxlanRoute"
                .to_string(),
        ),
        (
            8,
            "  (10.244.2.0/24 -> 10.244.2.0): invalid argument".to_string(),
        ),
    ];
    let hits = scan("flanneld.log", &lines);
    let h = hits
        .iter()
        .find(|h| h.signature().name == "flannel-vxlan-route-einval")
        .expect("wrapped");
    assert_eq!(h.line, 7);
    assert_eq!(h.capture("gw"), Some("10.244.2.0"));
    // Curly quotes and doubled spaces, as a chat or a word processor leaves them.
    let hits = scan(
        "calico.log",
        &[(
            1,
            "Kernel\u{2019}s RPF check is set to \u{2018}loose\u{2019}.  This would allow endpoints to spoof their IP address."
                .to_string(),
        )],
    );
    assert!(
        hits.iter()
            .any(|h| h.signature().cause == Cause::RpFilterLoose),
        "{:?}",
        hits.iter().map(|h| &h.signature().name).collect::<Vec<_>>()
    );
}

#[test]
fn normalising_collapses_spaces_and_straightens_quotes() {
    assert_eq!(normalise("  a \t b\u{2019}c  "), "a b'c");
    assert_eq!(normalise(""), "");
}

/// A huge single line is cut, not scanned whole.
#[test]
fn a_ten_megabyte_line_is_bounded() {
    let line = "x".repeat(10 << 20);
    let start = std::time::Instant::now();
    let hits = scan("big.log", &[(1, line)]);
    assert!(hits.is_empty());
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}
