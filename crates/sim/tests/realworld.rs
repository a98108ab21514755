//! kube-proxy's real rules (the `TestOverallIPTablesRules` golden output from
//! kubernetes/kubernetes, in `tests/fixtures/realworld/iptables/`) on a hand-built node whose
//! bridge holds the fixture's endpoints: the ClusterIP choices, the reply's un-DNAT and a
//! service without endpoints.

mod common;

use netdoctor_sim::{trace, Cluster, Proto, TraceRequest, TraceVerdict};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/realworld/iptables/kubeproxy_test_overall_v1.30.rules"
);

/// The fixture is what kube-proxy restores into its own chains; the jumps from the built-in
/// chains are installed separately (`iptables -I PREROUTING -j KUBE-SERVICES` ...), so they are
/// added here as kube-proxy adds them.
fn node_rules() -> String {
    let text = std::fs::read_to_string(FIXTURE).expect("read fixture");
    text.replacen(
        "*filter\n",
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
         -A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
         -A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n",
        1,
    )
    .replacen(
        "*nat\n",
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
         -A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
         -A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
         -A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n",
        1,
    )
}

fn node(extra: &str) -> Vec<netdoctor_model::NodeSnapshot> {
    let text = format!(
        "link lo - mtu 65536\nlink eth0 veth mtu 1500\nlink cni0 bridge mtu 1500\n\
         addr lo 127.0.0.1/8\naddr eth0 192.168.0.2/24\naddr cni0 10.180.0.254/24\n\
         route default via 192.168.0.1 dev eth0\n{extra}\niptables:\n{}",
        node_rules()
    );
    vec![common::snapshot("node1", &text)]
}

fn req(dst: &str) -> TraceRequest {
    TraceRequest {
        src: "10.180.0.9".parse().expect("ip"),
        dst: dst.parse().expect("ip"),
        dport: Some(80),
        proto: Proto::Tcp,
        size: 60,
        endpoint: None,
    }
}

#[test]
fn kubeproxy_overall_clusterip_picks_each_endpoint_half_the_time() {
    let t = trace(&Cluster::new(node(""), None), &req("172.30.0.44"));
    eprintln!("{}", t.render_text());
    let mut eps: Vec<(String, f64)> = t
        .paths
        .iter()
        .map(|p| {
            (
                p.endpoint.clone().unwrap_or_default(),
                p.probability.unwrap_or(-1.0),
            )
        })
        .collect();
    eps.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(eps.len(), 2, "{eps:?}");
    assert_eq!(eps[0].0, "10.180.0.4:80");
    assert_eq!(eps[1].0, "10.180.0.5:80");
    assert!(eps.iter().all(|(_, p)| (p - 0.5).abs() < 1e-9), "{eps:?}");
    assert_eq!(
        t.verdict,
        TraceVerdict::Delivered,
        "the bridged reply is un-DNATed"
    );
}

#[test]
fn kubeproxy_overall_hairpin_reply_needs_bridge_nf() {
    let t = trace(
        &Cluster::new(node("sysctl net.bridge.bridge-nf-call-iptables=0"), None),
        &req("172.30.0.41"),
    );
    eprintln!("{}", t.render_text());
    assert_eq!(t.verdict, TraceVerdict::Dropped);
    let d = t.drop.expect("drop");
    assert_eq!(
        d.finding.as_deref(),
        Some("bridge-nf-call-iptables-disabled")
    );
}

#[test]
fn kubeproxy_overall_service_without_endpoints_is_rejected() {
    let t = trace(&Cluster::new(node(""), None), &req("172.30.0.46"));
    eprintln!("{}", t.render_text());
    assert_eq!(t.verdict, TraceVerdict::Dropped);
    let d = t.drop.expect("drop");
    assert_eq!(d.finding.as_deref(), Some("service-no-endpoints"));
    assert!(
        d.detail.contains("ns6/svc6:p80 has no endpoints"),
        "{}",
        d.detail
    );
}
