//! Pod networking through the real CNI `bridge` + `host-local` plugins, invoked the way kubelet
//! (via the container runtime) does: `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`
//! and `CNI_PATH` in the environment, the network configuration on stdin, run in the node's
//! network namespace. The configuration is the one flannel's CNI plugin delegates to `bridge`.
//!
//! When the plugins are not installed the lab wires the same topology with `ip` and says so
//! ([`CniMode::Fallback`]).

use crate::exec::{have_program, ip, ns_run, ns_sh};
use crate::plan::{bridge_ip, OVERLAY_MTU};
use crate::LabError;
use std::net::Ipv4Addr;
use std::path::Path;

/// Where the Debian package `containernetworking-plugins` installs the plugins.
pub const CNI_PATH: &str = "/usr/lib/cni";

/// How pods were wired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CniMode {
    /// Through `/usr/lib/cni/bridge` and `host-local`.
    Plugins,
    /// With `ip` commands, because the plugins could not run; the reason.
    Fallback(String),
}

/// Decide once per lab whether the plugins can be used.
pub(crate) fn detect_mode() -> CniMode {
    for p in ["bridge", "host-local"] {
        let path = format!("{CNI_PATH}/{p}");
        if !have_program(&path) {
            return CniMode::Fallback(format!(
                "{path} not found (install containernetworking-plugins)"
            ));
        }
    }
    CniMode::Plugins
}

/// The delegate configuration flannel's CNI plugin hands to `bridge` for node subnet `subnet`.
pub(crate) fn bridge_conf(subnet: &str, data_dir: &Path) -> String {
    serde_json::json!({
        "cniVersion": "0.3.1",
        "name": "cbr0",
        "type": "bridge",
        "bridge": "cni0",
        "mtu": OVERLAY_MTU,
        "hairpinMode": true,
        "isGateway": true,
        "isDefaultGateway": true,
        "ipMasq": false,
        "ipam": {
            "type": "host-local",
            "dataDir": data_dir.display().to_string(),
            "ranges": [[{"subnet": subnet}]],
            "routes": [{"dst": crate::plan::CLUSTER_CIDR}],
        }
    })
    .to_string()
}

/// `CNI_COMMAND=ADD` for a pod; returns the address host-local allocated.
pub(crate) fn add(
    node_ns: &str,
    pod_ns: &str,
    container_id: &str,
    conf: &str,
) -> Result<Ipv4Addr, LabError> {
    let out = invoke("ADD", node_ns, pod_ns, container_id, conf)?;
    parse_add_result(&out).ok_or_else(|| {
        LabError::Unexpected(format!(
            "CNI bridge ADD for {container_id} returned no IPv4 address: {out}"
        ))
    })
}

/// `CNI_COMMAND=DEL` for a pod.
pub(crate) fn del(
    node_ns: &str,
    pod_ns: &str,
    container_id: &str,
    conf: &str,
) -> Result<(), LabError> {
    invoke("DEL", node_ns, pod_ns, container_id, conf).map(|_| ())
}

fn invoke(
    command: &str,
    node_ns: &str,
    pod_ns: &str,
    container_id: &str,
    conf: &str,
) -> Result<String, LabError> {
    let netns_path = format!("/run/netns/{pod_ns}");
    let plugin = format!("{CNI_PATH}/bridge");
    ns_run(
        node_ns,
        &plugin,
        &[],
        &[
            ("CNI_COMMAND", command),
            ("CNI_CONTAINERID", container_id),
            ("CNI_NETNS", &netns_path),
            ("CNI_IFNAME", "eth0"),
            ("CNI_PATH", CNI_PATH),
        ],
        Some(conf),
    )
}

/// The first IPv4 address of a CNI result (`{"ips":[{"address":"10.244.0.2/24",...}]}`).
fn parse_add_result(out: &str) -> Option<Ipv4Addr> {
    let v: serde_json::Value = serde_json::from_str(out).ok()?;
    v.get("ips")?.as_array()?.iter().find_map(|ip| {
        ip.get("address")?
            .as_str()?
            .split('/')
            .next()?
            .parse::<Ipv4Addr>()
            .ok()
    })
}

/// Without plugins: the same bridge, veth, addresses and routes, by hand. `host_index` numbers
/// the pod's address from .2 as host-local would.
pub(crate) fn add_fallback(
    node_index: usize,
    node_ns: &str,
    pod_ns: &str,
    host_index: usize,
) -> Result<Ipv4Addr, LabError> {
    let gw = bridge_ip(node_index);
    let mtu = OVERLAY_MTU.to_string();
    if ip(node_ns, &["link", "show", "cni0"]).is_err() {
        ip(
            node_ns,
            &["link", "add", "cni0", "mtu", &mtu, "type", "bridge"],
        )?;
        ip(
            node_ns,
            &["addr", "add", &format!("{gw}/24"), "dev", "cni0"],
        )?;
        ip(node_ns, &["link", "set", "cni0", "up"])?;
    }
    let addr = Ipv4Addr::new(10, 244, node_index as u8, 2 + host_index as u8);
    let host_if = format!("veth{node_index}p{host_index}");
    ip(
        node_ns,
        &[
            "link", "add", &host_if, "mtu", &mtu, "type", "veth", "peer", "name", "eth0", "mtu",
            &mtu, "netns", pod_ns,
        ],
    )?;
    ip(node_ns, &["link", "set", &host_if, "master", "cni0", "up"])?;
    ns_sh(
        node_ns,
        &format!("echo 1 > /sys/class/net/{host_if}/brport/hairpin_mode"),
    )?;
    ip(
        pod_ns,
        &["addr", "add", &format!("{addr}/24"), "dev", "eth0"],
    )?;
    ip(pod_ns, &["link", "set", "eth0", "up"])?;
    let gws = gw.to_string();
    ip(
        pod_ns,
        &[
            "route",
            "add",
            crate::plan::CLUSTER_CIDR,
            "via",
            &gws,
            "dev",
            "eth0",
        ],
    )?;
    ip(
        pod_ns,
        &["route", "add", "default", "via", &gws, "dev", "eth0"],
    )?;
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_bridge_plugins_result() {
        let out = r#"{"cniVersion":"0.3.1","interfaces":[{"name":"cni0"}],"ips":[{"version":"4","interface":2,"address":"10.244.1.3/24","gateway":"10.244.1.1"}],"dns":{}}"#;
        assert_eq!(parse_add_result(out), Some(Ipv4Addr::new(10, 244, 1, 3)));
        assert_eq!(parse_add_result("{}"), None);
        assert_eq!(parse_add_result("not json"), None);
    }

    #[test]
    fn conf_has_flannels_delegate_shape() {
        let c: serde_json::Value =
            serde_json::from_str(&bridge_conf("10.244.0.0/24", Path::new("/tmp/x"))).expect("json");
        assert_eq!(c["type"], "bridge");
        assert_eq!(c["isDefaultGateway"], true);
        assert_eq!(c["ipam"]["dataDir"], "/tmp/x");
        assert_eq!(c["ipam"]["ranges"][0][0]["subnet"], "10.244.0.0/24");
    }
}
