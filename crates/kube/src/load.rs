//! Reading files, directories and JSON values into a [`Cluster`].

use crate::node::{read_node, PodCidr, PodCidrOrigin};
use crate::objects::{read_endpoints, read_pod, read_service, read_slice, Endpoint};
use crate::{Cluster, Ignored, Problem};
use ipnet::IpNet;
use netdoctor_safefs::{read_regular, FsError};
use serde_json::Value;
use std::path::Path;

/// `json` or `yaml`, by the file's extension.
fn format_of(path: &Path) -> Option<&'static str> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Some("json"),
        Some("yaml" | "yml") => Some("yaml"),
        _ => None,
    }
}

/// The most one file of cluster objects may hold (a 5,000-node cluster's
/// `kubectl get nodes,pods,services,endpointslices -A -o json` is about 200 MiB).
const MAX_FILE: u64 = 512 << 20;

/// Why the cluster objects could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeError {
    /// A file could not be read (missing, a FIFO, too large, no permission).
    #[error(transparent)]
    File(#[from] FsError),
    /// Malformed JSON or YAML, with where.
    #[error("{path}:{line}:{column}: not valid {format}: {message}")]
    Syntax {
        path: String,
        format: &'static str,
        line: usize,
        column: usize,
        message: String,
    },
    /// Nothing usable was found (an empty directory, or no file in it could be read).
    #[error("{path}: no kubectl JSON or YAML (*.json, *.yaml) could be read")]
    Empty { path: String },
}

pub(crate) fn load_path(path: &Path) -> Result<Cluster, KubeError> {
    let mut r = Reader::default();
    r.add_path(path)?;
    Ok(r.finish())
}

/// Accumulates objects; endpoints are joined to services in [`Reader::finish`].
#[derive(Default)]
pub(crate) struct Reader {
    cluster: Cluster,
    slices: Vec<(String, String, Vec<Endpoint>)>,
    old_endpoints: Vec<(String, String, Vec<Endpoint>)>,
    /// (node, cidr, source) from Calico BlockAffinity objects.
    blocks: Vec<(String, IpNet)>,
}

impl Reader {
    /// A file the user named is read or refused whole; in a directory, a file that cannot be
    /// read becomes a problem and the others are still read.
    pub(crate) fn add_path(&mut self, path: &Path) -> Result<(), KubeError> {
        if !path.is_dir() {
            return self.add_file(path);
        }
        let list = std::fs::read_dir(path).map_err(|e| {
            KubeError::File(FsError::Io {
                path: path.to_path_buf(),
                op: "list",
                source: e,
            })
        })?;
        let mut files: Vec<_> = list.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        let mut any = false;
        for f in files {
            if f.is_dir() {
                continue;
            }
            if format_of(&f).is_none() {
                self.cluster.ignored.push(Ignored {
                    kind: "file".into(),
                    name: f.display().to_string(),
                    source: "not *.json, *.yaml or *.yml".into(),
                });
                continue;
            }
            match self.add_file(&f) {
                Ok(()) => any = true,
                Err(e) => self.cluster.problems.push(Problem {
                    source: f.display().to_string(),
                    message: format!("not read: {e}"),
                }),
            }
        }
        if !any {
            return Err(KubeError::Empty {
                path: path.display().to_string(),
            });
        }
        Ok(())
    }

    fn add_file(&mut self, path: &Path) -> Result<(), KubeError> {
        let bytes = read_regular(path, MAX_FILE, "cluster objects")?;
        let text = String::from_utf8_lossy(&bytes);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let shown = path.display().to_string();
        match format_of(path) {
            Some("yaml") => self.add_yaml(&name, &shown, &text),
            _ => self.add_text_inner(&name, &shown, &text),
        }
    }

    /// `kubectl get ... -o yaml`: one or more YAML documents.
    pub(crate) fn add_yaml(&mut self, name: &str, path: &str, text: &str) -> Result<(), KubeError> {
        let values: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map_or((1, 1), |l| (l.line() as usize, l.column() as usize));
            KubeError::Syntax {
                path: path.to_string(),
                format: "YAML",
                line,
                column,
                message: e.to_string().lines().next().unwrap_or("").to_string(),
            }
        })?;
        self.cluster.sources.push(path.to_string());
        for v in values {
            self.add_value(name, v);
        }
        Ok(())
    }

    pub(crate) fn problem(&mut self, source: &str, message: String) {
        self.cluster.problems.push(Problem {
            source: source.to_string(),
            message,
        });
    }

    pub(crate) fn add_text(&mut self, name: &str, text: &str) -> Result<(), KubeError> {
        self.add_text_inner(name, name, text)
    }

    fn add_text_inner(&mut self, name: &str, path: &str, text: &str) -> Result<(), KubeError> {
        // kubectl can print several documents one after another (several `get` runs into one file).
        let mut values = Vec::new();
        for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            match v {
                Ok(v) => values.push(v),
                Err(e) => {
                    return Err(KubeError::Syntax {
                        path: path.to_string(),
                        format: "JSON",
                        line: e.line(),
                        column: e.column(),
                        message: e.to_string(),
                    })
                }
            }
        }
        self.cluster.sources.push(path.to_string());
        for v in values {
            self.add_value(name, v);
        }
        Ok(())
    }

    pub(crate) fn add_value(&mut self, source: &str, v: Value) {
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind == "List" || kind.ends_with("List") || (kind.is_empty() && v.get("items").is_some())
        {
            let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
            if let Some(Value::Array(items)) = v.get("items").cloned() {
                for mut item in items {
                    // `kubectl get nodes -o json` items omit kind in some versions; the list says it.
                    if item.get("kind").is_none() {
                        if let (Some(k), Some(o)) = (item_kind, item.as_object_mut()) {
                            o.insert("kind".into(), Value::String(k.to_string()));
                        }
                    }
                    self.add_object(source, &item);
                }
            }
            return;
        }
        self.add_object(source, &v);
    }

    fn add_object(&mut self, source: &str, v: &Value) {
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
        let p = &mut self.cluster.problems;
        let read = match kind {
            "Node" => read_node(v, source, p).map(|n| self.cluster.nodes.push(n)),
            "Pod" => read_pod(v, source, p).map(|n| self.cluster.pods.push(n)),
            "Service" => read_service(v, source, p).map(|n| self.cluster.services.push(n)),
            "EndpointSlice" => read_slice(v, source, p).map(|s| self.slices.push(s)),
            "Endpoints" => read_endpoints(v, source, p).map(|s| self.old_endpoints.push(s)),
            "BlockAffinity" => {
                // A pending affinity is not yet the node's: nothing to read, nothing wrong.
                if let Some(b) = read_block(v) {
                    self.blocks.push(b);
                }
                Some(())
            }
            _ => {
                self.cluster.ignored.push(Ignored {
                    kind: if kind.is_empty() {
                        "(no kind)".into()
                    } else {
                        kind.to_string()
                    },
                    name: v
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    source: source.to_string(),
                });
                return;
            }
        };
        if read.is_none() {
            self.cluster.problems.push(Problem {
                source: source.to_string(),
                message: format!("a {kind} without the fields it needs (metadata.name): skipped"),
            });
        }
    }

    pub(crate) fn finish(mut self) -> Cluster {
        let c = &mut self.cluster;
        for (node, cidr) in self.blocks {
            if let Some(n) = c.nodes.iter_mut().find(|n| n.name == node) {
                if !n.pod_cidrs.iter().any(|p| p.cidr == cidr) {
                    n.pod_cidrs.push(PodCidr {
                        cidr,
                        origin: PodCidrOrigin::CalicoBlock,
                        raw: cidr.to_string(),
                    });
                }
                if n.cni.is_none() {
                    n.cni = Some("calico".into());
                }
            }
        }
        let has_slices = !self.slices.is_empty();
        for (ns, svc, eps) in self.slices {
            attach(c, &ns, &svc, eps);
        }
        // Endpoints only when no slice was read at all: on a new cluster both exist and say
        // the same thing.
        if !has_slices {
            for (ns, svc, eps) in self.old_endpoints {
                attach(c, &ns, &svc, eps);
            }
        }
        self.cluster
    }
}

fn attach(c: &mut Cluster, ns: &str, svc: &str, eps: Vec<Endpoint>) {
    match c
        .services
        .iter_mut()
        .find(|s| s.namespace == ns && s.name == svc)
    {
        Some(s) => {
            s.endpoints_known = true;
            s.endpoints.extend(eps);
        }
        None => c.ignored.push(Ignored {
            kind: "endpoints of an unknown service".into(),
            name: format!("{ns}/{svc}"),
            source: eps.first().map(|e| e.source.clone()).unwrap_or_default(),
        }),
    }
}

/// A Calico `BlockAffinity` (crd.projectcalico.org/v1): `spec.node` owns `spec.cidr`.
fn read_block(v: &Value) -> Option<(String, IpNet)> {
    let spec = v.get("spec")?;
    if spec.get("state").and_then(Value::as_str) == Some("pending") {
        return None;
    }
    let node = spec.get("node")?.as_str()?.to_string();
    let cidr = spec.get("cidr")?.as_str()?.parse::<IpNet>().ok()?.trunc();
    Some((node, cidr))
}
