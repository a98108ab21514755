//! Live access to the Kubernetes API: the cluster view (read-only), the node agents for `fleet`
//! ([`agents`]: read-only too), and the agent's report on its own node ([`report`]: one Node
//! condition and Events, nothing else).
//!
//! It lists Nodes, Pods, Services and EndpointSlices (and Calico's BlockAffinities when that
//! CRD exists) and hands them to `netdoctor-kube` as the same JSON `kubectl get -o json`
//! prints, so a live cluster and a directory of kubectl output take one code path. It only ever
//! issues `list` requests (see README.md for the RBAC this needs).
//!
//! This crate must not interpret the objects: that is `netdoctor-kube`'s job.

pub mod agents;
pub mod report;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, Config};
use netdoctor_kube::Cluster;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Where the API server and credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// A kubeconfig file (`--kubeconfig`), its current context.
    Kubeconfig(PathBuf),
    /// The pod's service account (`KUBERNETES_SERVICE_HOST`, the mounted token and CA).
    InCluster,
    /// `$KUBECONFIG`, `~/.kube/config`, then in-cluster: what kubectl would use.
    Infer,
    /// A plain server URL without credentials (a `kubectl proxy`, or a test server).
    Url(String),
    /// A named context (`--context`), of a kubeconfig file or of what kubectl would read
    /// (`$KUBECONFIG`, `~/.kube/config`).
    Context {
        kubeconfig: Option<PathBuf>,
        context: String,
    },
}

/// Why the live objects could not be read.
#[derive(Debug)]
pub struct ApiError {
    pub what: String,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.message)
    }
}

impl std::error::Error for ApiError {}

fn err(what: impl Into<String>, e: impl std::fmt::Display) -> ApiError {
    ApiError {
        what: what.into(),
        message: e.to_string(),
    }
}

async fn config(access: &Access) -> Result<Config, ApiError> {
    match access {
        Access::Kubeconfig(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| err(path.display().to_string(), e))?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| err(path.display().to_string(), e))
        }
        Access::InCluster => Config::incluster().map_err(|e| err("in-cluster config", e)),
        Access::Infer => Config::infer()
            .await
            .map_err(|e| err("kubeconfig or in-cluster config", e)),
        Access::Context {
            kubeconfig,
            context,
        } => {
            let opts = KubeConfigOptions {
                context: Some(context.clone()),
                ..KubeConfigOptions::default()
            };
            let what = format!("context {context}");
            match kubeconfig {
                Some(path) => {
                    let kc = Kubeconfig::read_from(path)
                        .map_err(|e| err(path.display().to_string(), e))?;
                    Config::from_custom_kubeconfig(kc, &opts)
                        .await
                        .map_err(|e| err(what, e))
                }
                None => Config::from_kubeconfig(&opts)
                    .await
                    .map_err(|e| err(what, e)),
            }
        }
        Access::Url(url) => {
            let uri = url.parse().map_err(|e| err(url.clone(), e))?;
            Ok(Config::new(uri))
        }
    }
}

/// A `List` document for `items` serialized as the API serves them (with apiVersion and kind).
fn list<T: serde::Serialize>(items: &[T]) -> Result<Value, ApiError> {
    let items: Result<Vec<Value>, _> = items.iter().map(serde_json::to_value).collect();
    Ok(
        json!({"apiVersion": "v1", "kind": "List", "items": items.map_err(|e| err("serialising", e))?}),
    )
}

/// List the four kinds (and Calico block affinities when present) and return them as
/// `(name, List document)` pairs for [`Cluster::from_values`].
pub async fn fetch(client: Client) -> Result<Vec<(String, Value)>, ApiError> {
    let lp = ListParams::default();
    let mut out = Vec::new();
    let nodes = Api::<Node>::all(client.clone())
        .list(&lp)
        .await
        .map_err(|e| err("list nodes", e))?;
    out.push(("api: nodes".to_string(), list(&nodes.items)?));
    let pods = Api::<Pod>::all(client.clone())
        .list(&lp)
        .await
        .map_err(|e| err("list pods", e))?;
    out.push(("api: pods".to_string(), list(&pods.items)?));
    let svcs = Api::<Service>::all(client.clone())
        .list(&lp)
        .await
        .map_err(|e| err("list services", e))?;
    out.push(("api: services".to_string(), list(&svcs.items)?));
    let slices = Api::<EndpointSlice>::all(client.clone())
        .list(&lp)
        .await
        .map_err(|e| err("list endpointslices", e))?;
    out.push(("api: endpointslices".to_string(), list(&slices.items)?));
    // Calico IPAM blocks: optional, absent on other CNIs (404) or without RBAC (403).
    let gvk = GroupVersionKind::gvk("crd.projectcalico.org", "v1", "BlockAffinity");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "blockaffinities");
    if let Ok(blocks) = Api::<DynamicObject>::all_with(client, &ar).list(&lp).await {
        let items: Vec<Value> = blocks
            .items
            .iter()
            .filter_map(|b| {
                let mut v = serde_json::to_value(b).ok()?;
                v["kind"] = json!("BlockAffinity");
                Some(v)
            })
            .collect();
        out.push((
            "api: blockaffinities".to_string(),
            json!({"kind": "List", "items": items}),
        ));
    }
    Ok(out)
}

/// Read the cluster live. Blocking: runs its own single-threaded runtime, so callers need no
/// async code.
pub fn load(access: &Access) -> Result<Cluster, ApiError> {
    let (rt, client) = connect(access)?;
    rt.block_on(async { Ok(Cluster::from_values(fetch(client).await?)) })
}

/// The start of every blocking entry point: a single-threaded runtime of its own, and a client
/// for `access` built inside it.
pub(crate) fn connect(access: &Access) -> Result<(tokio::runtime::Runtime, Client), ApiError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| err("starting the I/O runtime", e))?;
    let client = rt.block_on(async {
        let cfg = config(access).await?;
        Client::try_from(cfg).map_err(|e| err("building the API client", e))
    })?;
    Ok((rt, client))
}

/// `--kubeconfig PATH` if given, else what kubectl would use.
pub fn access_for(kubeconfig: Option<&Path>) -> Access {
    kubeconfig.map_or(Access::Infer, |p| Access::Kubeconfig(p.to_path_buf()))
}
