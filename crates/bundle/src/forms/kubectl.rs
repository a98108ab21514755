//! kubectl's human output read into the same objects as `kubectl get -o json`, so the cluster
//! view does not care which one was pasted: `kubectl get nodes|pods|svc|ep [-o wide]`,
//! `kubectl describe node`, and YAML fragments of a Node (`status.addresses` only).
//!
//! What text leaves out is said, never guessed: an object built from text carries the
//! annotation `netdoctor.io/partial` with what it was read from, and the cluster view then
//! concludes nothing from what is absent (no pod CIDR in `get nodes` is not "no pod CIDR").

use crate::text::{self, Line};
use netdoctor_model::ParseProblem;
use serde_json::{json, Map, Value};

/// The annotation that marks an object read from kubectl's text output.
pub const PARTIAL: &str = "netdoctor.io/partial";

/// Which table a header line starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Nodes,
    Pods,
    Services,
    Endpoints,
}

/// Recognise a `kubectl get` table header.
pub fn table_of(header: &str) -> Option<Table> {
    let cols = columns(header);
    let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
    let has = |c: &str| names.contains(&c);
    if !(names.first() == Some(&"NAME") || names.first() == Some(&"NAMESPACE")) || !has("NAME") {
        return None;
    }
    if has("INTERNAL-IP") || (has("ROLES") && has("VERSION")) {
        Some(Table::Nodes)
    } else if has("READY") && has("STATUS") && has("RESTARTS") {
        Some(Table::Pods)
    } else if has("CLUSTER-IP") || (has("TYPE") && has("PORT(S)")) || has("IP(S)") {
        Some(Table::Services)
    } else if has("ENDPOINTS") {
        Some(Table::Endpoints)
    } else {
        None
    }
}

/// Column names and where each starts (header words are separated by two or more spaces;
/// `NOMINATED NODE` is one column).
fn columns(header: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let b = header.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && !(b[i] == b' ' && (i + 1 >= b.len() || b[i + 1] == b' ')) {
            i += 1;
        }
        out.push((header[start..i].trim().to_string(), start));
    }
    out
}

/// A row's cells: by the header's column starts when the row is aligned to them, else split
/// at runs of two or more spaces.
fn cells(row: &str, cols: &[(String, usize)]) -> Vec<String> {
    let aligned = cols.iter().skip(1).all(|(_, at)| {
        row.len() > *at && row.is_char_boundary(*at) && row.as_bytes()[at - 1] == b' '
    });
    if aligned {
        let mut v = Vec::new();
        for (k, (_, at)) in cols.iter().enumerate() {
            let end = cols.get(k + 1).map_or(row.len(), |c| c.1);
            v.push(row.get(*at..end).unwrap_or("").trim().to_string());
        }
        return v;
    }
    row.split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn meta(name: &str, ns: Option<&str>, from: &str) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    if let Some(ns) = ns {
        m.insert("namespace".into(), json!(ns));
    }
    m.insert("annotations".into(), json!({ PARTIAL: from }));
    Value::Object(m)
}

fn ip_or_none(s: &str) -> Option<&str> {
    (!s.is_empty() && s != "<none>" && s.parse::<std::net::IpAddr>().is_ok()).then_some(s)
}

/// The rows of a `kubectl get` table as objects, and the rows that could not be read.
pub fn parse_table_lines(lines: &[Line<'_>], file: &str) -> (Vec<Value>, Vec<ParseProblem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut current: Option<(Table, Vec<(String, usize)>)> = None;
    for line in lines {
        let t = line.text.trim_end();
        if t.trim().is_empty() {
            continue;
        }
        if let Some(tbl) = table_of(t.trim_start()) {
            let offset = t.len() - t.trim_start().len();
            let cols = columns(&t[offset..]);
            current = Some((tbl, cols));
            continue;
        }
        let Some((tbl, cols)) = &current else {
            problems.push(text::unreadable(
                file,
                line,
                "kubectl get",
                "a row before any header",
            ));
            continue;
        };
        let c = cells(t.trim_start(), cols);
        let col = |name: &str| {
            cols.iter()
                .position(|(n, _)| n == name)
                .and_then(|i| c.get(i))
                .map(String::as_str)
                .unwrap_or("")
        };
        let name = col("NAME");
        if name.is_empty() || line.cut {
            problems.push(text::unreadable(
                file,
                line,
                "kubectl get",
                "no NAME in the row (cut?)",
            ));
            continue;
        }
        let ns = Some(col("NAMESPACE")).filter(|s| !s.is_empty());
        let from = format!("kubectl get ({file}:{})", line.no);
        let obj = match tbl {
            Table::Nodes => {
                let mut addrs = Vec::new();
                if let Some(ip) = ip_or_none(col("INTERNAL-IP")) {
                    addrs.push(json!({"type": "InternalIP", "address": ip}));
                }
                if let Some(ip) = ip_or_none(col("EXTERNAL-IP")) {
                    addrs.push(json!({"type": "ExternalIP", "address": ip}));
                }
                let mut status = json!({ "addresses": addrs });
                // `INTERNAL-IP <none>` is a fact (the node registered none), not a gap.
                if col("INTERNAL-IP") == "<none>" {
                    status["netdoctorNoInternalIP"] = json!(true);
                }
                if !col("KERNEL-VERSION").is_empty() {
                    status["nodeInfo"] = json!({
                        "kernelVersion": col("KERNEL-VERSION"),
                        "kubeletVersion": col("VERSION"),
                        "containerRuntimeVersion": col("CONTAINER-RUNTIME"),
                    });
                }
                json!({"apiVersion": "v1", "kind": "Node", "metadata": meta(name, None, &from), "status": status})
            }
            Table::Pods => {
                let mut status = json!({ "phase": col("STATUS") });
                if let Some(ip) = ip_or_none(col("IP")) {
                    status["podIP"] = json!(ip);
                }
                let mut spec = json!({});
                let node = col("NODE");
                if !node.is_empty() && node != "<none>" {
                    spec["nodeName"] = json!(node);
                }
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta(name, ns.or(Some("default")), &from), "spec": spec, "status": status})
            }
            Table::Services => {
                let ip = col("CLUSTER-IP");
                let ip = if ip.is_empty() { col("IP(S)") } else { ip };
                let ports: Vec<Value> = col("PORT(S)")
                    .split(',')
                    .filter_map(|p| {
                        let (port, proto) = p.trim().split_once('/')?;
                        let (port, node) = match port.split_once(':') {
                            Some((a, b)) => (a, b.parse::<u16>().ok()),
                            None => (port, None),
                        };
                        let mut v = json!({"port": port.parse::<u16>().ok()?, "protocol": proto});
                        if let Some(n) = node {
                            v["nodePort"] = json!(n);
                        }
                        Some(v)
                    })
                    .collect();
                let mut spec = json!({ "ports": ports, "type": if col("TYPE").is_empty() { "ClusterIP" } else { col("TYPE") } });
                if let Some(ip) = ip_or_none(ip) {
                    spec["clusterIP"] = json!(ip);
                } else if ip == "None" {
                    spec["clusterIP"] = json!("None");
                }
                json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(name, ns.or(Some("default")), &from), "spec": spec})
            }
            Table::Endpoints => {
                let eps = col("ENDPOINTS");
                // `10.0.0.1:80,10.0.0.2:80 + 1 more...` shows part of them.
                let more = eps.contains("more...");
                let mut addresses = Vec::new();
                let mut ports = Vec::new();
                for e in eps.split(['+', ' ']).next().unwrap_or("").split(',') {
                    if let Some((ip, port)) = e.trim().rsplit_once(':') {
                        if let (Ok(ip), Ok(port)) =
                            (ip.parse::<std::net::IpAddr>(), port.parse::<u16>())
                        {
                            addresses.push(json!({"ip": ip.to_string()}));
                            if !ports.iter().any(|p: &Value| p["port"] == json!(port)) {
                                ports.push(json!({"port": port}));
                            }
                        }
                    }
                }
                let subsets = if addresses.is_empty() {
                    json!([])
                } else {
                    json!([{ "addresses": addresses, "ports": ports }])
                };
                let mut m = meta(name, ns.or(Some("default")), &from);
                if more {
                    m["annotations"][PARTIAL] =
                        json!(format!("{from}: + more endpoints not shown"));
                }
                json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": m, "subsets": subsets})
            }
        };
        out.push(obj);
    }
    (out, problems)
}

/// `kubectl describe node`: its name, labels, annotations, pod CIDRs and addresses, as a Node.
pub fn parse_describe_node_lines(
    lines: &[Line<'_>],
    file: &str,
) -> (Vec<Value>, Vec<ParseProblem>) {
    let mut nodes = Vec::new();
    let problems = Vec::new();
    let mut cur: Option<(Value, u32)> = None;
    let mut block = "";
    let mut saw_cidr = false;
    let finish = |cur: Option<(Value, u32)>, saw_cidr: bool, nodes: &mut Vec<Value>| {
        if let Some((mut n, _)) = cur {
            if saw_cidr {
                if let Some(a) = n["metadata"]["annotations"].as_object_mut() {
                    a.remove(PARTIAL);
                }
            }
            nodes.push(n);
        }
    };
    for line in lines {
        let raw = line.text;
        let t = raw.trim();
        if t.is_empty() {
            continue;
        }
        let indented = raw.starts_with(' ') || raw.starts_with('\t');
        if !indented {
            if let Some((k, v)) = t.split_once(':') {
                block = match k {
                    "Labels" => "labels",
                    "Annotations" => "annotations",
                    "Addresses" => "addresses",
                    _ => "",
                };
                let v = v.trim();
                match k {
                    "Name" => {
                        finish(cur.take(), saw_cidr, &mut nodes);
                        saw_cidr = false;
                        let from = format!(
                            "kubectl describe node ({file}:{}): no PodCIDR line",
                            line.no
                        );
                        cur = Some((
                            json!({"apiVersion": "v1", "kind": "Node", "metadata": meta(v, None, &from), "spec": {}, "status": {"addresses": []}}),
                            line.no,
                        ));
                    }
                    "PodCIDR" | "PodCIDRs" => {
                        saw_cidr = true;
                        if let Some((n, _)) = &mut cur {
                            let cidrs: Vec<&str> = v
                                .split(',')
                                .map(str::trim)
                                .filter(|c| c.contains('/'))
                                .collect();
                            if let Some(first) = cidrs.first() {
                                n["spec"]["podCIDR"] = json!(first);
                            }
                            n["spec"]["podCIDRs"] = json!(cidrs);
                        }
                    }
                    _ => {}
                }
                if !v.is_empty() && !matches!(block, "") {
                    entry(&mut cur, block, v);
                }
                continue;
            }
        }
        if indented && !block.is_empty() {
            entry(&mut cur, block, t);
        }
    }
    finish(cur, saw_cidr, &mut nodes);
    let _ = file;
    (nodes, problems)
}

/// One line of a Labels / Annotations / Addresses block.
fn entry(cur: &mut Option<(Value, u32)>, block: &str, t: &str) {
    let Some((n, _)) = cur else { return };
    // `key=value` (old kubectl) or `key: value`; a trailing `<====` a person added is dropped.
    let t = t.split("<==").next().unwrap_or(t).trim();
    let (k, v) = match (t.split_once(": "), t.split_once('=')) {
        (Some((k, v)), Some((k2, _))) if k.len() < k2.len() => (k, v),
        (_, Some((k, v))) if !k.contains(' ') => (k, v),
        (Some((k, v)), _) => (k, v),
        _ => return,
    };
    let (k, v) = (k.trim(), v.trim());
    match block {
        "labels" => n["metadata"]["labels"][k] = json!(v),
        "annotations" => n["metadata"]["annotations"][k] = json!(v),
        "addresses" => {
            if let Some(a) = n["status"]["addresses"].as_array_mut() {
                a.push(json!({"type": k, "address": v}));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[path = "kubectl_tests.rs"]
mod tests;
