//! `explain` on the real kube-proxy dumps.

mod common;
use common::*;
use netdoctor_netfilter::EntryKind;
use netdoctor_netfilter::*;

#[test]
fn overall_services_in_words() {
    let (rs, _) = parse_fixture("kubeproxy_test_overall_v1.30.rules", "");
    let ex = Explanation::of(&rs);
    let svc = |n: &str| {
        ex.services
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("{n} missing: {ex:#?}"))
    };
    let s4 = svc("ns4/svc4:p80");
    assert!(s4.entries.iter().any(|e| e.kind == EntryKind::ClusterIp
        && e.address.as_deref() == Some("172.30.0.44")
        && e.port.as_deref() == Some("80/tcp")));
    assert!(s4
        .entries
        .iter()
        .any(|e| e.kind == EntryKind::ExternalIp && e.address.as_deref() == Some("192.168.99.33")));
    let eps: Vec<(Option<&str>, f64)> = s4
        .endpoints
        .iter()
        .map(|e| (e.dnat_to.as_deref(), e.probability))
        .collect();
    assert_eq!(
        eps,
        vec![(Some("10.180.0.4:80"), 0.5), (Some("10.180.0.5:80"), 0.5)]
    );
    let s2 = svc("ns2/svc2:p80");
    assert!(s2.local_traffic_policy);
    assert_eq!(s2.no_local_endpoints_drops.len(), 3);
    assert!(s2
        .entries
        .iter()
        .any(|e| e.kind == EntryKind::NodePort && e.port.as_deref() == Some("3001/tcp")));
    assert!(!svc("ns3/svc3:p80").local_traffic_policy);
    let s5 = svc("ns5/svc5:p80");
    assert_eq!(s5.lb_source_ranges, vec!["203.0.113.0/25".to_string()]);
    assert!(s5.session_affinity);
    let s6 = svc("ns6/svc6:p80");
    assert!(s6.no_endpoints_reject.is_some());
    assert!(s6.endpoints.is_empty());
    assert!(ex
        .drops
        .iter()
        .any(|d| d.action.starts_with("REJECT") && d.text.contains("ns6/svc6")));
    let text = ex.render_text();
    assert!(
        text.contains("ns6/svc6:p80") && text.contains("has no endpoints"),
        "{text}"
    );
    let json = serde_json::to_value(&ex).expect("serialises");
    assert!(json["services"].as_array().is_some_and(|a| a.len() == 6));
}

#[test]
fn docker_and_partial_dumps() {
    let (rs, _) = parse_fixture(
        "moby_docker_bridge_golden_icc_false_masq__iptables-save.rules",
        "",
    );
    let ex = Explanation::of(&rs);
    let iso = ex
        .other_chains
        .iter()
        .find(|c| c.chain == "DOCKER-ISOLATION-STAGE-2")
        .expect("docker chain");
    assert_eq!(iso.owner, "Docker");
    assert_eq!(iso.drops, 1);
    assert_eq!(
        iso.entered_from,
        vec!["DOCKER-ISOLATION-STAGE-1".to_string()]
    );
    assert!(ex.drops.iter().any(|d| d.table == "raw"));

    let (rs, _) = parse_fixture(
        "kubeproxy_test_repeated_2_partial_sync_no_endpoints_reject.rules",
        "",
    );
    let ex = Explanation::of(&rs);
    assert!(ex
        .notes
        .iter()
        .any(|n| n.contains("KUBE-SVC-XPGD46QRK7WJZT7O")));
}

#[test]
fn old_xlb_chains_with_and_without_local_endpoints() {
    let text = fixture("real_xlb_externalTrafficPolicy_local_vs_cluster__sn0rt_blog_2020.txt");
    // The first slice: a node with local endpoints.
    let with: String = text
        .split("## Node WITHOUT")
        .next()
        .expect("slice")
        .to_string();
    let (rs, _) = parse_iptables_save(&with, "blog");
    let ex = Explanation::of(&rs);
    let s = &ex.services[0];
    assert!(s.local_traffic_policy);
    assert!(s
        .entries
        .iter()
        .any(|e| e.kind == EntryKind::NodePort && e.port.as_deref() == Some("30687/tcp")));
    // The grep slices repeat one XLB rule; after the two balancing rules it gets no traffic.
    let live: Vec<_> = s.endpoints.iter().filter(|e| e.probability > 0.0).collect();
    assert_eq!(live.len(), 2);
    assert!(live.iter().all(|e| (e.probability - 0.5).abs() < 1e-9));
    // In this slice the endpoint's DNAT line carries the blog's "// here is" note, so it is not
    // read, and the explanation does not invent a target.
    assert_eq!(s.endpoints[0].chain, "KUBE-SEP-TVXZJYL67XY2CHS2");
    assert_eq!(s.endpoints[0].dnat_to, None);
}

/// kube-proxy's nftables mode is explained in the same words as its iptables mode: the same
/// Services (kp.nft renders the same Services as kube-proxy's TestOverallIPTablesRules dump)
/// with the same entries and endpoint shares, and the Services without endpoints.
#[test]
fn nftables_mode_in_the_words_of_iptables_mode() {
    let nft_text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/kp.nft"))
            .expect("kp.nft");
    let (rs, errors) = netdoctor_netfilter::parse_nft_text(&nft_text, "kp.nft");
    assert!(errors.is_empty(), "{errors:?}");
    let nft = Explanation::of(&rs);
    let ipt_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/realworld/iptables/kubeproxy_test_overall_v1.30.rules"
    ))
    .expect("overall");
    let (rs, _) = netdoctor_netfilter::parse_iptables_save(&ipt_text, "overall");
    let ipt = Explanation::of(&rs);
    let endpoints = |ex: &Explanation, name: &str| -> Vec<(String, String)> {
        ex.services
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "{name} not explained: {:?}",
                    ex.services.iter().map(|s| &s.name).collect::<Vec<_>>()
                )
            })
            .endpoints
            .iter()
            .map(|e| {
                (
                    e.dnat_to.clone().unwrap_or_default(),
                    format!("{:.2}", e.probability),
                )
            })
            .collect()
    };
    for name in ["ns1/svc1:p80", "ns4/svc4:p80"] {
        assert_eq!(endpoints(&nft, name), endpoints(&ipt, name), "{name}");
    }
    assert_eq!(
        endpoints(&nft, "ns4/svc4:p80"),
        vec![
            ("10.180.0.4:80".to_string(), "0.50".to_string()),
            ("10.180.0.5:80".to_string(), "0.50".to_string())
        ]
    );
    let svc4 = nft
        .services
        .iter()
        .find(|s| s.name == "ns4/svc4:p80")
        .expect("svc4");
    let kinds: Vec<String> = svc4
        .entries
        .iter()
        .map(|e| format!("{:?} {:?} {:?}", e.kind, e.address, e.port))
        .collect();
    assert!(
        kinds.contains(&"ClusterIp Some(\"172.30.0.44\") Some(\"80/tcp\")".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"NodePort None Some(\"3001/tcp\")".to_string()),
        "{kinds:?}"
    );
    let rejected: Vec<&str> = nft
        .services
        .iter()
        .filter(|s| s.no_endpoints_reject.is_some())
        .map(|s| s.name.as_str())
        .collect();
    assert!(
        rejected.contains(&"172.30.0.46 80/tcp (no endpoints)"),
        "{rejected:?}"
    );
    let text = nft.render_text();
    assert!(text.contains("50.0% -> endpoint-UKSFD7AG"), "{text}");
}
