//! Pods, Services and their endpoints (EndpointSlices, or Endpoints on old clusters).

use crate::Problem;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A Pod.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub source: String,
    pub node_name: Option<String>,
    /// `status.podIPs` (or `podIP`).
    pub ips: Vec<IpAddr>,
    pub host_ip: Option<IpAddr>,
    pub host_network: bool,
    /// `Running`, `Pending`, ...
    pub phase: Option<String>,
    /// The Ready condition.
    pub ready: Option<bool>,
    pub labels: BTreeMap<String, String>,
}

/// A service's `targetPort`: a number or a container port name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetPort {
    Number(u16),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    pub name: Option<String>,
    /// `TCP`, `UDP`, `SCTP`.
    pub protocol: String,
    pub port: u16,
    pub target_port: Option<TargetPort>,
    pub node_port: Option<u16>,
}

/// What an endpoint points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

/// A port of an endpoint (from its slice, or the Endpoints subset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: String,
}

/// One backend of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addresses: Vec<IpAddr>,
    /// `conditions.ready`; `None` (unknown) counts as ready, as the API says.
    pub ready: Option<bool>,
    pub node_name: Option<String>,
    pub target: Option<ObjectRef>,
    pub ports: Vec<EndpointPort>,
    /// The slice (or Endpoints object) it came from, for evidence.
    pub source: String,
}

impl Endpoint {
    pub fn is_ready(&self) -> bool {
        self.ready != Some(false)
    }

    /// The endpoint's port for the service port named `name` (slices name ports like the service).
    pub fn port_for(&self, name: Option<&str>) -> Option<u16> {
        self.ports
            .iter()
            .find(|p| p.name.as_deref().unwrap_or("") == name.unwrap_or(""))
            .map(|p| p.port)
    }
}

/// A Service and its endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    pub source: String,
    /// `ClusterIP`, `NodePort`, `LoadBalancer`, `ExternalName`.
    pub kind: String,
    /// `clusterIPs` (or `clusterIP`); empty for a headless service.
    pub cluster_ips: Vec<IpAddr>,
    pub headless: bool,
    pub ports: Vec<ServicePort>,
    pub external_traffic_policy: Option<String>,
    pub internal_traffic_policy: Option<String>,
    pub selector: BTreeMap<String, String>,
    pub endpoints: Vec<Endpoint>,
    /// Whether any EndpointSlice or Endpoints object was read for this service (false: the
    /// endpoints are unknown, not empty).
    pub endpoints_known: bool,
}

impl Service {
    /// A port by name or number (`http`, `80`); with one port, `None` picks it.
    pub fn port(&self, name_or_number: Option<&str>) -> Option<&ServicePort> {
        match name_or_number {
            None if self.ports.len() == 1 => self.ports.first(),
            None => None,
            Some(s) => {
                let num: Option<u16> = s.parse().ok();
                self.ports
                    .iter()
                    .find(|p| p.name.as_deref() == Some(s))
                    .or_else(|| self.ports.iter().find(|p| Some(p.port) == num))
            }
        }
    }

    /// Ready endpoints.
    pub fn ready_endpoints(&self) -> impl Iterator<Item = &Endpoint> {
        self.endpoints.iter().filter(|e| e.is_ready())
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

fn str_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn ns_name(v: &Value) -> Option<(String, String)> {
    let name = v.pointer("/metadata/name")?.as_str()?.to_string();
    let ns = v
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    Some((ns, name))
}

fn port_u16(v: Option<&Value>) -> Option<u16> {
    v.and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
}

fn ips_of(
    values: impl Iterator<Item = String>,
    what: &str,
    where_: &str,
    problems: &mut Vec<Problem>,
) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for raw in values {
        match raw.trim().parse::<IpAddr>() {
            Ok(ip) if !out.contains(&ip) => out.push(ip),
            Ok(_) => {}
            Err(_) if raw == "None" || raw.is_empty() => {}
            Err(_) => problems.push(Problem {
                source: where_.to_string(),
                message: format!("{what} {raw:?} is not an IP"),
            }),
        }
    }
    out
}

pub(crate) fn read_pod(v: &Value, source: &str, problems: &mut Vec<Problem>) -> Option<Pod> {
    let (namespace, name) = ns_name(v)?;
    let where_ = format!("{source}: Pod {namespace}/{name}");
    let mut raws: Vec<String> = v
        .pointer("/status/podIPs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| e.get("ip").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(s) = v.pointer("/status/podIP").and_then(Value::as_str) {
        raws.push(s.to_string());
    }
    let ips = ips_of(raws.into_iter(), "status.podIP", &where_, problems);
    let host_ip = v
        .pointer("/status/hostIP")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok());
    Some(Pod {
        source: source.to_string(),
        node_name: v
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .map(str::to_string),
        ips,
        host_ip,
        host_network: v
            .pointer("/spec/hostNetwork")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        phase: v
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .map(str::to_string),
        ready: v
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
            })
            .and_then(|c| c.get("status").and_then(Value::as_str))
            .map(|s| s == "True"),
        labels: str_map(v.pointer("/metadata/labels")),
        namespace,
        name,
    })
}

pub(crate) fn read_service(
    v: &Value,
    source: &str,
    problems: &mut Vec<Problem>,
) -> Option<Service> {
    let (namespace, name) = ns_name(v)?;
    let where_ = format!("{source}: Service {namespace}/{name}");
    let spec = v.get("spec").unwrap_or(&Value::Null);
    let mut raws: Vec<String> = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let single = spec.get("clusterIP").and_then(Value::as_str);
    raws.extend(single.map(str::to_string));
    let headless = single == Some("None");
    let cluster_ips = ips_of(raws.into_iter(), "spec.clusterIP", &where_, problems);
    let ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let port = port_u16(p.get("port"));
                    if port.is_none() {
                        problems.push(Problem {
                            source: where_.clone(),
                            message: format!("a port without a valid number: {p}"),
                        });
                    }
                    Some(ServicePort {
                        name: p.get("name").and_then(Value::as_str).map(str::to_string),
                        protocol: p
                            .get("protocol")
                            .and_then(Value::as_str)
                            .unwrap_or("TCP")
                            .to_string(),
                        port: port?,
                        target_port: match p.get("targetPort") {
                            Some(Value::String(s)) => Some(
                                s.parse()
                                    .map(TargetPort::Number)
                                    .unwrap_or_else(|_| TargetPort::Name(s.clone())),
                            ),
                            t => port_u16(t).map(TargetPort::Number),
                        },
                        node_port: port_u16(p.get("nodePort")),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let s = |k: &str| spec.get(k).and_then(Value::as_str).map(str::to_string);
    Some(Service {
        source: source.to_string(),
        kind: s("type").unwrap_or_else(|| "ClusterIP".into()),
        cluster_ips,
        headless,
        ports,
        external_traffic_policy: s("externalTrafficPolicy"),
        internal_traffic_policy: s("internalTrafficPolicy"),
        selector: str_map(spec.get("selector")),
        endpoints: Vec::new(),
        endpoints_known: false,
        namespace,
        name,
    })
}

fn object_ref(v: Option<&Value>) -> Option<ObjectRef> {
    let v = v?;
    Some(ObjectRef {
        kind: v
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        namespace: v
            .get("namespace")
            .and_then(Value::as_str)
            .map(str::to_string),
        name: v.get("name")?.as_str()?.to_string(),
    })
}

fn endpoint_ports(v: Option<&Value>) -> Vec<EndpointPort> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some(EndpointPort {
                        name: p
                            .get("name")
                            .and_then(Value::as_str)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string),
                        port: port_u16(p.get("port"))?,
                        protocol: p
                            .get("protocol")
                            .and_then(Value::as_str)
                            .unwrap_or("TCP")
                            .to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An EndpointSlice: (namespace, service name, endpoints).
pub(crate) fn read_slice(
    v: &Value,
    source: &str,
    problems: &mut Vec<Problem>,
) -> Option<(String, String, Vec<Endpoint>)> {
    let (namespace, name) = ns_name(v)?;
    let where_ = format!("{source}: EndpointSlice {namespace}/{name}");
    let service = v
        .pointer("/metadata/labels/kubernetes.io~1service-name")
        .and_then(Value::as_str)?
        .to_string();
    let ports = endpoint_ports(v.get("ports"));
    let eps = v
        .get("endpoints")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| Endpoint {
                    addresses: ips_of(
                        e.get("addresses")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(str::to_string),
                        "endpoint address",
                        &where_,
                        problems,
                    ),
                    ready: e.pointer("/conditions/ready").and_then(Value::as_bool),
                    node_name: e
                        .get("nodeName")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    target: object_ref(e.get("targetRef")),
                    ports: ports.clone(),
                    source: where_.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    Some((namespace, service, eps))
}

/// An Endpoints object (old clusters): (namespace, service name, endpoints).
pub(crate) fn read_endpoints(
    v: &Value,
    source: &str,
    problems: &mut Vec<Problem>,
) -> Option<(String, String, Vec<Endpoint>)> {
    let (namespace, name) = ns_name(v)?;
    let where_ = format!("{source}: Endpoints {namespace}/{name}");
    let mut eps = Vec::new();
    for subset in v
        .get("subsets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ports = endpoint_ports(subset.get("ports"));
        for (key, ready) in [("addresses", true), ("notReadyAddresses", false)] {
            for a in subset
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let addresses = ips_of(
                    a.get("ip")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .into_iter(),
                    "endpoint address",
                    &where_,
                    problems,
                );
                eps.push(Endpoint {
                    addresses,
                    ready: Some(ready),
                    node_name: a
                        .get("nodeName")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    target: object_ref(a.get("targetRef")),
                    ports: ports.clone(),
                    source: where_.clone(),
                });
            }
        }
    }
    Some((namespace, name, eps))
}
