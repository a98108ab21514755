//! Tested on real pastes (`tests/pastes/`, each with the thread it comes from).

use super::*;
use crate::forms::pastes::paste;

fn rows(rel: &str) -> Vec<Value> {
    let (text, file) = paste(rel);
    let (objs, _) = parse_table_lines(&text::numbered(&text), &file);
    objs
}

#[test]
fn get_nodes_wide() {
    let nodes = rows("kubectl-get-wide/sig-windows-tools-378-get-nodes-wide.txt");
    assert_eq!(nodes.len(), 6);
    assert_eq!(nodes[0]["metadata"]["name"], "clippy-md-0-2kt4j-4wthh");
    assert_eq!(nodes[0]["status"]["addresses"][0]["address"], "10.13.18.42");
    assert_eq!(
        nodes[4]["status"]["nodeInfo"]["kernelVersion"],
        "10.0.20348.2700"
    );
    assert!(nodes[0]["metadata"]["annotations"][PARTIAL].is_string());
}

#[test]
fn get_pods_wide_with_and_without_a_header() {
    let pods = rows("kubectl-get-wide/kubernetes-60573-get-pods-wide-old.txt");
    assert_eq!(pods.len(), 2);
    assert_eq!(pods[0]["status"]["podIP"], "10.16.25.5");
    assert_eq!(pods[0]["spec"]["nodeName"], "192-168-0-53-kube02");
    // No header pasted: the rows are not guessed at.
    let (text, file) =
        paste("kubectl-get-wide/acs-engine-2388-get-pods-kube-system-owide-noheader.txt");
    let (objs, problems) = parse_table_lines(&text::numbered(&text)[1..], &file);
    assert!(objs.is_empty());
    assert!(!problems.is_empty());
}

#[test]
fn get_svc_and_ep() {
    let svcs = rows("kubectl-get-wide/coreos-kubernetes-924-get-svc.txt");
    let np = &svcs[0];
    assert_eq!(np["spec"]["type"], "NodePort");
    assert_eq!(np["spec"]["clusterIP"], "10.99.12.214");
    assert_eq!(np["spec"]["ports"][0]["nodePort"], 30991);
    let eps = rows("kubectl-get-wide/coreos-kubernetes-924-get-ep.txt");
    assert_eq!(
        eps[0]["subsets"][0]["addresses"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(eps[1]["subsets"][0]["ports"][0]["port"], 6443);
}

#[test]
fn describe_node_old_and_new_annotation_forms() {
    for rel in [
        "kubectl-describe/flannel-946-describe-node-old-annotations.txt",
        "kubectl-describe/sealer-1542-describe-node-flannel-master.txt",
    ] {
        let (text, file) = paste(rel);
        let (nodes, _) = parse_describe_node_lines(&text::numbered(&text)[1..], &file);
        assert_eq!(nodes.len(), 1, "{rel}");
        let a = &nodes[0]["metadata"]["annotations"];
        assert_eq!(a["flannel.alpha.coreos.com/backend-type"], "vxlan", "{rel}");
        assert!(
            a["flannel.alpha.coreos.com/public-ip"]
                .as_str()
                .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok()),
            "{rel}: {a}"
        );
        assert!(a["flannel.alpha.coreos.com/backend-data"]
            .as_str()
            .is_some_and(|d| d.contains("VtepMAC")));
    }
}
