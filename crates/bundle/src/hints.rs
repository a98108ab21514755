//! What the bundle says about the cluster: the user's `cluster.json`, and flannel's
//! `/run/flannel/subnet.env` from `root/`.

use crate::ipjson::line_of;
use crate::text;
use ipnet::IpNet;
use netdoctor_model::{ClusterHints, ParseProblem, Source, Sourced};
use serde_json::Value;

/// Parse `cluster.json`. What cannot be read (invalid JSON, a CIDR that is not one, an unknown
/// key) is reported with its line and left out; the rest is used.
pub fn parse_cluster_json(text: &str, file: &str) -> (ClusterHints, Vec<ParseProblem>) {
    let mut hints = ClusterHints::default();
    let mut problems = Vec::new();
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(text::problem(
                file,
                u32::try_from(e.line()).unwrap_or(u32::MAX),
                format!("not read: invalid JSON (column {}): {e}", e.column()),
            ));
            return (hints, problems);
        }
    };
    let Value::Object(map) = value else {
        problems.push(text::problem(
            file,
            1,
            "not read: expected a JSON object like {\"cni\": \"flannel\"}",
        ));
        return (hints, problems);
    };
    for (key, v) in &map {
        let line = line_of(text, &format!("\"{key}\""), 1);
        let source = Source::at(file, line);
        let string = || {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("expected a string, found {v}"))
        };
        let cidr = || -> Result<Sourced<IpNet>, String> {
            let s = string()?;
            let net: IpNet = s
                .trim()
                .parse()
                .map_err(|_| format!("{s:?} is not a CIDR (like 10.244.0.0/16)"))?;
            Ok(Sourced::new(net, source.clone()))
        };
        let result: Result<(), String> = (|| {
            match key.as_str() {
                "node_name" => hints.node_name = Some(Sourced::new(string()?, source.clone())),
                "cluster_cidr" => hints.cluster_cidr = Some(cidr()?),
                "service_cidr" => hints.service_cidr = Some(cidr()?),
                "pod_cidr" => hints.pod_cidr = Some(cidr()?),
                "cni" => hints.cni = Some(Sourced::new(string()?.to_lowercase(), source.clone())),
                "backend" => {
                    hints.backend = Some(Sourced::new(string()?.to_lowercase(), source.clone()))
                }
                "mtu" => {
                    let mtu = v
                        .as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                        .and_then(|m| u32::try_from(m).ok())
                        .ok_or_else(|| format!("expected an MTU number, found {v}"))?;
                    hints.mtu = Some(Sourced::new(mtu, source.clone()));
                }
                other => return Err(format!("unknown key {other:?} ignored (known: node_name, cluster_cidr, service_cidr, pod_cidr, cni, backend, mtu)")),
            }
            Ok(())
        })();
        if let Err(why) = result {
            problems.push(text::problem(file, line, format!("{key}: {why}")));
        }
    }
    (hints, problems)
}

/// flannel's `/run/flannel/subnet.env`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlannelSubnetEnv {
    /// `FLANNEL_NETWORK`: the cluster CIDR.
    pub network: Option<Sourced<IpNet>>,
    /// `FLANNEL_SUBNET` as written: `10.244.1.1/24` holds both this node's pod CIDR
    /// (`10.244.1.0/24`, see [`FlannelSubnetEnv::pod_cidr`]) and the address the bridge
    /// (`cni0`) should carry (`10.244.1.1`, see [`FlannelSubnetEnv::bridge_address`]).
    pub subnet: Option<Sourced<IpNet>>,
    /// `FLANNEL_MTU`: the MTU flannel gives pods.
    pub mtu: Option<Sourced<u32>>,
    /// `FLANNEL_IPMASQ`.
    pub ipmasq: Option<Sourced<bool>>,
}

impl FlannelSubnetEnv {
    /// This node's pod CIDR (`FLANNEL_SUBNET` without the host bits).
    pub fn pod_cidr(&self) -> Option<Sourced<IpNet>> {
        self.subnet
            .as_ref()
            .map(|s| Sourced::new(s.value.trunc(), s.source.clone()))
    }

    /// The address flannel expects on the bridge (`FLANNEL_SUBNET`'s address).
    pub fn bridge_address(&self) -> Option<std::net::IpAddr> {
        self.subnet.as_ref().map(|s| s.value.addr())
    }

    /// Fill hints that are still empty: what the user said in `cluster.json` wins.
    pub fn fill_hints(&self, hints: &mut ClusterHints) {
        let source = self
            .subnet
            .as_ref()
            .map(|s| s.source.clone())
            .or_else(|| self.network.as_ref().map(|n| n.source.clone()));
        if hints.cluster_cidr.is_none() {
            hints.cluster_cidr = self.network.clone();
        }
        if hints.pod_cidr.is_none() {
            hints.pod_cidr = self.pod_cidr();
        }
        if hints.mtu.is_none() {
            hints.mtu = self.mtu.clone();
        }
        if hints.cni.is_none() {
            if let Some(source) = source {
                hints.cni = Some(Sourced::new(
                    "flannel".into(),
                    Source {
                        file: source.file,
                        line: None,
                    },
                ));
            }
        }
    }
}

/// Parse `subnet.env` (`KEY=VALUE` lines, as flannel writes them).
pub fn parse_subnet_env(text: &str, file: &str) -> (FlannelSubnetEnv, Vec<ParseProblem>) {
    let mut env = FlannelSubnetEnv::default();
    let mut problems = Vec::new();
    for line in text::numbered(text) {
        let t = line.text.trim();
        if text::is_blank_or_comment(t) {
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            problems.push(text::unreadable(file, &line, "subnet.env", "no `=`"));
            continue;
        };
        let v = v.trim().trim_matches('"');
        let source = Source::at(file, line.no);
        let ok = match k.trim() {
            "FLANNEL_NETWORK" => v
                .parse()
                .map(|n| env.network = Some(Sourced::new(n, source)))
                .is_ok(),
            "FLANNEL_SUBNET" => v
                .parse()
                .map(|n| env.subnet = Some(Sourced::new(n, source)))
                .is_ok(),
            "FLANNEL_MTU" => v
                .parse()
                .map(|m| env.mtu = Some(Sourced::new(m, source)))
                .is_ok(),
            "FLANNEL_IPMASQ" => v
                .parse()
                .map(|b| env.ipmasq = Some(Sourced::new(b, source)))
                .is_ok(),
            // FLANNEL_IPV6_NETWORK and friends: not modelled yet, not wrong either.
            _ => true,
        };
        if !ok {
            problems.push(text::unreadable(file, &line, "subnet.env", "bad value"));
        }
    }
    (env, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_json_values_and_lines() {
        let text = "{\n  \"node_name\": \"n2\",\n  \"cluster_cidr\": \"10.244.0.0/16\",\n  \"service_cidr\": \"10.96.0.0/12\",\n  \"cni\": \"Flannel\",\n  \"backend\": \"vxlan\",\n  \"mtu\": 1450,\n  \"colour\": \"blue\"\n}";
        let (h, p) = parse_cluster_json(text, "cluster.json");
        assert_eq!(
            h.cluster_cidr.as_ref().expect("cidr").value,
            "10.244.0.0/16".parse::<IpNet>().expect("net")
        );
        assert_eq!(
            h.cluster_cidr.expect("cidr").source,
            Source::at("cluster.json", 3)
        );
        assert_eq!(h.cni.expect("cni").value, "flannel");
        assert_eq!(h.mtu.expect("mtu").value, 1450);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].source.line, Some(8));
    }

    #[test]
    fn cluster_json_problems_name_file_and_line_and_keep_the_rest() {
        let (h, p) = parse_cluster_json(
            "{\n \"cluster_cidr\": \"10.244.0.0/16\",\n}",
            "cluster.json",
        );
        assert_eq!(h, ClusterHints::default());
        assert_eq!(p[0].source, Source::at("cluster.json", 3), "{p:?}");
        let (h, p) = parse_cluster_json(
            "{\n \"service_cidr\": \"10.96.0.0/33\",\n \"cni\": \"calico\"\n}",
            "cluster.json",
        );
        assert_eq!(p[0].source, Source::at("cluster.json", 2), "{p:?}");
        assert!(p[0].message.starts_with("service_cidr:"), "{p:?}");
        assert_eq!(h.cni.expect("the good key is kept").value, "calico");
        assert_eq!(h.service_cidr, None);
    }

    #[test]
    fn subnet_env_fills_only_missing_hints() {
        let text = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\nBROKEN\n";
        let (env, p) = parse_subnet_env(text, "root/run/flannel/subnet.env");
        assert_eq!(p.len(), 1);
        assert_eq!(
            env.bridge_address(),
            Some("10.244.1.1".parse().expect("ip"))
        );
        let mut hints = ClusterHints {
            cluster_cidr: Some(Sourced::new(
                "10.0.0.0/8".parse().expect("net"),
                Source::at("cluster.json", 2),
            )),
            ..ClusterHints::default()
        };
        env.fill_hints(&mut hints);
        assert_eq!(
            hints.cluster_cidr.expect("kept").source.file,
            "cluster.json"
        );
        let pod = hints.pod_cidr.expect("pod");
        assert_eq!(pod.value, "10.244.1.0/24".parse::<IpNet>().expect("net"));
        assert_eq!(pod.source, Source::at("root/run/flannel/subnet.env", 2));
        assert_eq!(hints.mtu.expect("mtu").value, 1450);
        assert_eq!(hints.cni.expect("cni").value, "flannel");
    }
}
