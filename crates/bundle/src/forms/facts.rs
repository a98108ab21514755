//! Facts read from the text around the structured outputs: versions (`iptables -V`, `uname`,
//! `kubectl version`, `docker version|info`, `systemctl --version`, package lists, a kubelet's
//! own version line), the probes people ran (`ping`, `curl -v`, `nslookup`/`dig`, `nc -vz`,
//! `iperf3`) and `conntrack -S` counters. They are scanned in every line no importer read.

use netdoctor_model::{ConntrackStats, LogFile, NodeSnapshot, ProbeResult, Source, Sourced};
use regex::Regex;
use std::sync::LazyLock;

fn re(p: &str) -> Regex {
    Regex::new(p).expect("a valid pattern (tested)")
}

static IPTABLES: LazyLock<Regex> =
    LazyLock::new(|| re(r"\biptables v(\d+\.\d+(?:\.\d+)?)(?: \((nf_tables|legacy)\))?"));
static UNAME_A: LazyLock<Regex> = LazyLock::new(|| re(r"^Linux \S+ (\d+\.\d+\.\d+\S*) #"));
static KERNEL_LINE: LazyLock<Regex> = LazyLock::new(|| re(r"^(\d+\.\d+\.\d+[-.\w]*)$"));
static KERNEL_FIELD: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(?:Kernel Version|KERNEL-VERSION|kernelVersion):\s*(\d+\.\d+\S*)"));
static KUBE_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"^(Client|Server) Version: (?:version\.Info\{.*?GitVersion:"(v[^"]+)"|(v\d[\w.+-]*))"#)
});
static DOCKER_SERVER: LazyLock<Regex> = LazyLock::new(|| re(r"^Server Version: (\S+)"));
static VERSION_FIELD: LazyLock<Regex> = LazyLock::new(|| re(r"^Version:\s+(\S+)"));
static SYSTEMD: LazyLock<Regex> = LazyLock::new(|| re(r"^systemd (\d+) \("));
static KUBELET: LazyLock<Regex> = LazyLock::new(|| re(r#"kubeletVersion="(v[^"]+)""#));
static RPM: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(kubelet|kubeadm|kubectl|kubernetes-cni|iptables|iptables-nft|iptables-legacy|docker-ce|docker|containerd\.io|containerd|cri-o|flannel|kernel|systemd|conntrack-tools)-(\d[\w.]*?)-[\w.]+\.(?:x86_64|aarch64|noarch|ppc64le|s390x)$",
    )
});
static DPKG: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^ii\s+(kubelet|kubeadm|kubectl|kubernetes-cni|iptables|docker-ce|docker\.io|containerd\.io|containerd|cri-o|conntrack|systemd|linux-image-\S+)(?::\w+)?\s+(\S+)",
    )
});
static PING_SUMMARY: LazyLock<Regex> =
    LazyLock::new(|| re(r"(\d+) packets transmitted, (\d+) (?:packets )?received"));
static PING_HEAD: LazyLock<Regex> = LazyLock::new(|| re(r"^PING (\S+)"));
static CONNTRACK_S: LazyLock<Regex> = LazyLock::new(|| re(r"^cpu=\d+\s"));

/// Fill the snapshot's versions, probes and conntrack counters from its text lines.
pub fn fill(snap: &mut NodeSnapshot) {
    let mut versions = Vec::new();
    let mut probes = Vec::new();
    let mut stats: Option<ConntrackStats> = None;
    for log in &snap.logs {
        scan(log, &mut versions, &mut probes, &mut stats);
    }
    for (component, value) in versions {
        snap.versions.entry(component).or_insert(value);
    }
    if snap.iptables_version.is_none() {
        snap.iptables_version = snap.versions.get("iptables").cloned();
    }
    if snap.kernel_release.is_none() {
        snap.kernel_release = snap.versions.get("kernel").map(|v| v.value.clone());
    }
    snap.probes.extend(probes);
    if snap.conntrack_stats.is_none() {
        snap.conntrack_stats = stats;
    }
}

fn scan(
    log: &LogFile,
    versions: &mut Vec<(String, Sourced<String>)>,
    probes: &mut Vec<ProbeResult>,
    stats: &mut Option<ConntrackStats>,
) {
    let mut command = String::new();
    let mut docker_server = false;
    let mut ping_target: Option<String> = None;
    for (no, raw) in &log.lines {
        let t = raw.trim();
        let at = || Source::at(log.name.clone(), *no);
        let mut put = |c: &str, v: String| versions.push((c.to_string(), Sourced::new(v, at())));
        // A command line kept for context (`$ uname -r`), with or without a prompt.
        if let Some(c) = crate::command::recognise(raw) {
            command = c.text;
            docker_server = false;
            ping_target = command
                .split_whitespace()
                .last()
                .filter(|w| !w.starts_with('-'))
                .map(str::to_string)
                .filter(|_| command.starts_with("ping"));
            continue;
        }
        if let Some(c) = IPTABLES.captures(t) {
            let mut v = format!("v{}", &c[1]);
            if let Some(b) = c.get(2) {
                v.push_str(&format!(" ({})", b.as_str()));
            }
            put("iptables", v);
        }
        if let Some(c) = UNAME_A.captures(t).or_else(|| KERNEL_FIELD.captures(t)) {
            put("kernel", c[1].to_string());
        } else if command.starts_with("uname -r") {
            if let Some(c) = KERNEL_LINE.captures(t) {
                put("kernel", c[1].to_string());
            }
        }
        if let Some(c) = KUBE_VERSION.captures(t) {
            let v = c.get(2).or(c.get(3)).map_or("", |m| m.as_str()).to_string();
            put(
                if &c[1] == "Client" {
                    "kubectl"
                } else {
                    "kubernetes"
                },
                v,
            );
            continue;
        }
        if t.starts_with("Server:") && t.contains("Docker") {
            docker_server = true;
        }
        if let Some(c) = DOCKER_SERVER.captures(t) {
            put("docker", c[1].to_string());
        } else if docker_server && (command.is_empty() || command.starts_with("docker")) {
            if let Some(c) = VERSION_FIELD.captures(t) {
                put("docker", c[1].to_string());
                docker_server = false;
            }
        }
        if let Some(c) = SYSTEMD.captures(t) {
            put("systemd", c[1].to_string());
        }
        if let Some(c) = KUBELET.captures(t) {
            put("kubelet", c[1].to_string());
        }
        if let Some(c) = RPM.captures(t).or_else(|| DPKG.captures(t)) {
            let name = c[1].trim_end_matches(".io").to_string();
            let name = if name.starts_with("linux-image") {
                "kernel".into()
            } else {
                name
            };
            put(&name, c[2].to_string());
        }
        if let Some(c) = PING_HEAD.captures(t) {
            ping_target = Some(c[1].to_string());
        }
        if let Some(c) = PING_SUMMARY.captures(t) {
            let received: u64 = c[2].parse().unwrap_or(0);
            probes.push(ProbeResult {
                kind: "ping".into(),
                target: ping_target.clone().unwrap_or_else(|| "?".into()),
                ok: Some(received > 0),
                detail: t.to_string(),
                source: at(),
            });
        }
        if let Some(p) = connect_result(t, &command) {
            probes.push(ProbeResult { source: at(), ..p });
        }
        if CONNTRACK_S.is_match(t) {
            let s = stats.get_or_insert_with(|| ConntrackStats {
                source: Some(at()),
                ..ConntrackStats::default()
            });
            for kv in t.split_whitespace() {
                let Some((k, v)) = kv.split_once('=') else {
                    continue;
                };
                let Ok(v) = v.parse::<u64>() else { continue };
                match k {
                    "insert_failed" => s.insert_failed += v,
                    "drop" => s.drop += v,
                    "early_drop" => s.early_drop += v,
                    "invalid" => s.invalid += v,
                    "search_restart" => s.search_restart += v,
                    _ => {}
                }
            }
        }
    }
}

/// curl, nc, DNS and iperf3 results, with the target the command names.
fn connect_result(t: &str, command: &str) -> Option<ProbeResult> {
    let target = || {
        command
            .split_whitespace()
            .skip(1)
            .filter(|w| !w.starts_with('-'))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let probe = |kind: &str, ok: bool| ProbeResult {
        kind: kind.into(),
        target: target(),
        ok: Some(ok),
        detail: t.to_string(),
        source: Source::live(""),
    };
    let l = t.trim_start_matches(['"', '\'', '`']).to_ascii_lowercase();
    if l.starts_with("curl: (") {
        return Some(probe("curl", false));
    }
    if t.starts_with("* Connected to ") && command.starts_with("curl") {
        return Some(probe("curl", true));
    }
    if l.contains("no servers could be reached")
        || l.contains("server can't find")
        || l.contains("can't resolve")
        || l.contains("status: nxdomain")
        || l.contains("status: servfail")
    {
        return Some(probe("dns", false));
    }
    if command.starts_with("nc") || command.starts_with("ncat") {
        if l.contains("succeeded") || l.ends_with(" open") {
            return Some(probe("tcp", true));
        }
        if l.contains("timed out")
            || l.contains("connection refused")
            || l.contains("no route to host")
        {
            return Some(probe("tcp", false));
        }
    }
    if l.starts_with("iperf3: error") {
        return Some(probe("iperf3", false));
    }
    if command.starts_with("iperf3") && l.contains(" receiver") && l.contains("bits/sec") {
        return Some(probe("iperf3", true));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::pastes::paste;

    fn snap_of(rels: &[&str]) -> NodeSnapshot {
        let mut s = NodeSnapshot::default();
        for rel in rels {
            let (text, file) = paste(rel);
            s.logs.push(crate::raw::log_file(&file, &text, 1));
        }
        fill(&mut s);
        s
    }

    #[test]
    fn versions_from_real_pastes() {
        let s = snap_of(&[
            "versions/k0s-2157-iptables-V-nf-tables-debian-testing.txt",
            "versions/k3s-116-uname-a-lsmod.txt",
            "versions/kwok-270-kubectl-version-old-client-server.txt",
            "versions/kata-3385-docker-version-20-10.txt",
            "versions/flannel-1022-rpm-package-list-kube.txt",
        ]);
        let v = |c: &str| s.versions.get(c).map(|v| v.value.as_str());
        assert_eq!(v("iptables"), Some("v1.8.8 (nf_tables)"));
        assert_eq!(v("kernel"), Some("4.15.0-45-generic"));
        assert_eq!(v("kubectl"), Some("v1.19.15"));
        assert_eq!(v("kubernetes"), Some("v1.19.15"));
        assert_eq!(v("docker"), Some("20.10.2"));
        assert_eq!(v("kubelet"), Some("1.11.0"));
        assert_eq!(
            s.iptables_version.as_ref().map(|v| v.value.as_str()),
            Some("v1.8.8 (nf_tables)")
        );
        let s = snap_of(&["versions/kubectl-1495-kubectl-version-new-form.txt"]);
        assert_eq!(
            s.versions.get("kubectl").map(|v| v.value.as_str()),
            Some("v1.28.2")
        );
    }

    #[test]
    fn probes_and_conntrack_from_real_pastes() {
        let s = snap_of(&[
            "probes/weave-3262-ping-c10-100pct-loss.txt",
            "probes/kthw-331-curl-connection-refused.txt",
            "probes/rke2-3924-conntrack-S-percpu.txt",
        ]);
        assert!(
            s.probes
                .iter()
                .any(|p| p.kind == "ping" && p.ok == Some(false)),
            "{:?}",
            s.probes
        );
        assert!(
            s.probes
                .iter()
                .any(|p| p.kind == "curl" && p.ok == Some(false)),
            "{:?}",
            s.probes
        );
        let c = s.conntrack_stats.expect("conntrack -S");
        assert!(c.source.is_some());
    }
}
