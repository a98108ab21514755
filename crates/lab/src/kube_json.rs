//! What `kubectl get nodes,pods,services,endpointslices -A -o json` would print for the lab,
//! and each node's fake root (`--root`) with the files a kubeadm + flannel node carries.

use crate::plan::{
    NodeHandle, PodHandle, ServiceHandle, CLUSTER_CIDR, OVERLAY_MTU, SERVICE_CIDR, VXLAN_ID,
};
use crate::LabError;
use serde_json::{json, Value};
use std::path::Path;

pub(crate) fn write_file(path: &Path, content: &str) -> Result<(), LabError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| LabError::Io {
            path: parent.display().to_string(),
            source: e,
        })?;
    }
    std::fs::write(path, content).map_err(|e| LabError::Io {
        path: path.display().to_string(),
        source: e,
    })
}

fn list(items: Vec<Value>) -> String {
    let v = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items});
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

fn node_json(n: &NodeHandle) -> Value {
    let backend = json!({"VNI": VXLAN_ID, "VtepMAC": n.vtep_mac}).to_string();
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": n.name,
            "labels": {"kubernetes.io/hostname": n.name, "kubernetes.io/os": "linux"},
            "annotations": {
                "flannel.alpha.coreos.com/backend-data": backend,
                "flannel.alpha.coreos.com/backend-type": "vxlan",
                "flannel.alpha.coreos.com/kube-subnet-manager": "true",
                "flannel.alpha.coreos.com/public-ip": n.ip.to_string(),
            }
        },
        "spec": {"podCIDR": n.pod_cidr, "podCIDRs": [n.pod_cidr]},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": n.ip.to_string()},
                {"type": "Hostname", "address": n.name},
            ],
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    })
}

fn pod_json(p: &PodHandle, nodes: &[NodeHandle]) -> Value {
    let node = &nodes[p.node];
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": p.name, "namespace": p.namespace, "labels": {"app": p.name}},
        "spec": {
            "nodeName": node.name,
            "containers": [{"name": "echo", "ports": [{"containerPort": crate::plan::ECHO_PORT, "protocol": "TCP"}]}]
        },
        "status": {
            "phase": "Running",
            "hostIP": node.ip.to_string(),
            "podIP": p.ip.to_string(),
            "podIPs": [{"ip": p.ip.to_string()}],
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    })
}

fn service_json(s: &ServiceHandle) -> Value {
    let mut port = json!({"name": s.port_name, "port": s.port, "targetPort": s.target_port, "protocol": "TCP"});
    if let Some(np) = s.node_port {
        port["nodePort"] = json!(np);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": s.name, "namespace": s.namespace},
        "spec": {
            "type": s.kind,
            "clusterIP": s.cluster_ip.to_string(),
            "clusterIPs": [s.cluster_ip.to_string()],
            "ports": [port],
            "selector": {"app": s.name},
        }
    })
}

fn slice_json(s: &ServiceHandle, endpoints: &[&PodHandle], nodes: &[NodeHandle]) -> Value {
    let eps: Vec<Value> = endpoints
        .iter()
        .map(|p| {
            json!({
                "addresses": [p.ip.to_string()],
                "conditions": {"ready": true, "serving": true, "terminating": false},
                "nodeName": nodes[p.node].name,
                "targetRef": {"kind": "Pod", "name": p.name, "namespace": p.namespace},
            })
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": format!("{}-lab01", s.name),
            "namespace": s.namespace,
            "labels": {"kubernetes.io/service-name": s.name, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
        },
        "addressType": "IPv4",
        "endpoints": eps,
        "ports": [{"name": s.port_name, "port": s.target_port, "protocol": "TCP"}],
    })
}

/// Write `nodes.json`, `pods.json`, `services.json` and `endpointslices.json` into `dir`.
/// Services named in `without_endpoints` get an empty slice (as when no pod is ready).
pub(crate) fn write_kube_dir(
    dir: &Path,
    nodes: &[NodeHandle],
    pods: &[PodHandle],
    services: &[ServiceHandle],
    without_endpoints: &[&str],
) -> Result<(), LabError> {
    write_file(
        &dir.join("nodes.json"),
        &list(nodes.iter().map(node_json).collect()),
    )?;
    write_file(
        &dir.join("pods.json"),
        &list(pods.iter().map(|p| pod_json(p, nodes)).collect()),
    )?;
    write_file(
        &dir.join("services.json"),
        &list(services.iter().map(service_json).collect()),
    )?;
    let slices = services
        .iter()
        .map(|s| {
            let eps: Vec<&PodHandle> = if without_endpoints.contains(&s.name.as_str()) {
                Vec::new()
            } else {
                s.endpoints
                    .iter()
                    .filter_map(|n| pods.iter().find(|p| &p.name == n))
                    .collect()
            };
            slice_json(s, &eps, nodes)
        })
        .collect();
    write_file(&dir.join("endpointslices.json"), &list(slices))
}

/// Today's kubeadm `/etc/sysctl.d/k8s.conf`: only forwarding (the Kubernetes docs dropped the
/// bridge-nf keys because the kernel default is already 1).
pub(crate) const K8S_SYSCTL_CONF: &str = "net.ipv4.ip_forward = 1\n";

/// The node's fake root and `cluster.json`.
pub(crate) fn write_node_root(n: &NodeHandle) -> Result<(), LabError> {
    let root = n.root_dir();
    write_file(&root.join("etc/sysctl.d/k8s.conf"), K8S_SYSCTL_CONF)?;
    write_file(
        &root.join("etc/modules-load.d/k8s.conf"),
        "overlay\nbr_netfilter\n",
    )?;
    let first = n.pod_cidr.replace(".0/24", ".1/24");
    write_file(
        &root.join("run/flannel/subnet.env"),
        &format!(
            "FLANNEL_NETWORK={CLUSTER_CIDR}\nFLANNEL_SUBNET={first}\nFLANNEL_MTU={OVERLAY_MTU}\nFLANNEL_IPMASQ=true\n"
        ),
    )?;
    // The conflist kube-flannel.yml installs.
    let conflist = json!({
        "name": "cbr0",
        "cniVersion": "0.3.1",
        "plugins": [
            {"type": "flannel", "delegate": {"hairpinMode": true, "isDefaultGateway": true}},
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    });
    write_file(
        &root.join("etc/cni/net.d/10-flannel.conflist"),
        &serde_json::to_string_pretty(&conflist).unwrap_or_default(),
    )?;
    let cluster = json!({
        "node_name": n.name,
        "cluster_cidr": CLUSTER_CIDR,
        "service_cidr": SERVICE_CIDR,
        "cni": "flannel",
        "backend": "vxlan",
    });
    write_file(
        &n.cluster_json(),
        &serde_json::to_string_pretty(&cluster).unwrap_or_default(),
    )
}
