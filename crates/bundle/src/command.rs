//! Recognising the command lines of a paste: `[root@host188 ~]# ip route`, `root@x:~# ip a`,
//! `$ ip -d link show flannel.1`, `# ip link`, `#route -n`, or a bare `route -nv`, and what each
//! command's output is.

/// What a section of pasted output is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Sysctl,
    /// `ip addr` or `ip link` (one parser reads both; `ip addr` adds `inet` lines).
    IpAddr,
    IpLink,
    IpRoute,
    IpRule,
    IpNeigh,
    /// `bridge fdb show [dev X]`: the device the lines leave out.
    BridgeFdb(Option<String>),
    RouteN,
    Ifconfig,
    Lsmod,
    Arp,
    /// `iptables-save` and friends; the command or file name (for the backend).
    IptablesSave(String),
    IptablesList,
    NftText,
    NftJson,
    /// Kubernetes objects as kubectl prints them with `-o json` or `-o yaml`.
    KubeObjects,
    /// `kubectl get nodes|pods|svc|ep [-o wide]` tables.
    KubectlTable,
    /// `kubectl describe node`.
    KubectlDescribeNode,
    /// `ipvsadm -Ln`.
    Ipvsadm,
    /// `ipset list`.
    Ipset,
    /// `ip tunnel show`.
    IpTunnel,
    /// `brctl show`, `bridge link`.
    Bridge,
    /// `ethtool -k DEV`: the device when the command names it.
    Ethtool(Option<String>),
    /// `netstat -i`.
    LinkStats,
    /// `calicoctl node status`.
    CalicoStatus,
    /// `calicoctl get ippool [-o wide]`.
    CalicoPools,
    Log,
    /// `cat /sys/.../BRIDGE/brif/PORT/hairpin_mode` (PORT may be a glob): (bridge, port).
    Hairpin(String, String),
    /// `cat /proc/sys/net/ipv4/ip_forward`: a single value of this key.
    SysctlValue(String),
    /// `cat /etc/sysctl.d/k8s.conf`: a node configuration file, by its path on the node.
    ConfigFile(String),
}

impl Kind {
    /// How the `inputs` list names it.
    pub fn read_as(&self) -> String {
        match self {
            Kind::Sysctl | Kind::SysctlValue(_) => "sysctl".into(),
            Kind::IpAddr => "ip addr".into(),
            Kind::IpLink => "ip link".into(),
            Kind::IpRoute => "ip route".into(),
            Kind::IpRule => "ip rule".into(),
            Kind::IpNeigh => "ip neigh".into(),
            Kind::BridgeFdb(_) => "bridge fdb".into(),
            Kind::RouteN => "route -n".into(),
            Kind::Ifconfig => "ifconfig".into(),
            Kind::Lsmod => "lsmod".into(),
            Kind::Arp => "arp".into(),
            Kind::IptablesSave(_) => "iptables-save".into(),
            Kind::IptablesList => "iptables listing".into(),
            Kind::NftText => "nft list ruleset".into(),
            Kind::NftJson => "nft -j list ruleset".into(),
            Kind::KubeObjects => "kubectl objects".into(),
            Kind::KubectlTable => "kubectl get (table)".into(),
            Kind::KubectlDescribeNode => "kubectl describe node".into(),
            Kind::Ipvsadm => "ipvsadm -Ln".into(),
            Kind::Ipset => "ipset list".into(),
            Kind::IpTunnel => "ip tunnel show".into(),
            Kind::Bridge => "brctl show / bridge link".into(),
            Kind::Ethtool(_) => "ethtool -k".into(),
            Kind::LinkStats => "netstat -i".into(),
            Kind::CalicoStatus => "calicoctl node status".into(),
            Kind::CalicoPools => "calicoctl get ippool".into(),
            Kind::Log => "log".into(),
            Kind::ConfigFile(p) => format!("node file {p}"),
            Kind::Hairpin(..) => "bridge port hairpin_mode".into(),
        }
    }
}

/// A command line found in a paste.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The command as typed, without the prompt.
    pub text: String,
    /// What its output is, when netdoctor reads it.
    pub kind: Option<Kind>,
    /// `ip route show table all` (every table is in the output).
    pub all_tables: bool,
    /// The host named in the prompt (`root@host188`).
    pub host: Option<String>,
    /// The output shows only part of what the command knows: piped through `grep`/`head`/...,
    /// or asked for one device, chain or table (`ip addr show eth0`, `ifconfig flannel.1`).
    pub filtered: bool,
}

/// Commands whose output we recognise as such (read or not).
const KNOWN: &[&str] = &[
    "ip",
    "route",
    "ifconfig",
    "bridge",
    "sysctl",
    "lsmod",
    "arp",
    "iptables",
    "ip6tables",
    "iptables-save",
    "ip6tables-save",
    "iptables-legacy-save",
    "iptables-nft-save",
    "ip6tables-legacy-save",
    "ip6tables-nft-save",
    "iptables-legacy",
    "iptables-nft",
    "nft",
    "dmesg",
    "journalctl",
    "kubectl",
    "docker",
    "crictl",
    "cat",
    "grep",
    "tail",
    "head",
    "less",
    "netstat",
    "ss",
    "ping",
    "curl",
    "uname",
    "etcdctl",
    "calicoctl",
    "firewall-cmd",
    "tcpdump",
    "conntrack",
    "ethtool",
    "brctl",
    "systemctl",
    "nslookup",
    "dig",
    "traceroute",
    "tracepath",
    "modprobe",
    "ls",
    "wg",
    "ipvsadm",
    "k3s",
    "cilium",
    "kubeadm",
];

/// Recognise a command line. `None` when the line is output, a comment or prose.
pub fn recognise(line: &str) -> Option<Command> {
    let t = line.trim();
    if t.is_empty() || t.len() > 400 {
        return None;
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    if is_bare_prompt(&words) {
        return Some(Command {
            text: String::new(),
            kind: None,
            all_tables: false,
            host: prompt_host(&words),
            filtered: false,
        });
    }
    for start in 0..words.len().min(8) {
        let prefix = &words[..start];
        let mut rest: Vec<&str> = words[start..].to_vec();
        if start == 0 {
            // `#route -n`, `$ip a`: a prompt glued to the command.
            let glued = rest[0].trim_start_matches(['#', '$']);
            if glued.len() < rest[0].len() {
                if glued.is_empty() {
                    continue;
                }
                rest[0] = glued;
                return command(&rest, None, false);
            }
        } else if !is_prompt(prefix) {
            continue;
        }
        // A lone `#` is a root prompt or the start of a comment: only a plausible command
        // line counts then.
        let strict = start == 0 || prefix == ["#"];
        if let Some(c) = command(&rest, prompt_host(prefix), strict) {
            return Some(c);
        }
    }
    None
}

fn is_prompt(prefix: &[&str]) -> bool {
    let Some(last) = prefix.last() else {
        return false;
    };
    // `# (prose) ... docker >= 17` is a comment, not a prompt.
    if prefix.len() > 1 && prefix[0] == "#" {
        return false;
    }
    last.ends_with(['#', '$', '%', '➜']) || prefix.iter().any(|w| w.contains('➜'))
}

/// A prompt with nothing typed after it: `[root@host188 ~]# `, `root@x:~$`.
fn is_bare_prompt(words: &[&str]) -> bool {
    let Some(last) = words.last() else {
        return false;
    };
    words.len() <= 3 && last.ends_with(['#', '$']) && words[0].contains('@')
}

/// `[root@host188 ~]#`, `root@master01:~#`: the host part.
fn prompt_host(prefix: &[&str]) -> Option<String> {
    let first = prefix.first()?.trim_start_matches('[');
    let (_, host) = first.split_once('@')?;
    let host = host.split([':', ' ', ']']).next()?;
    let ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    ok.then(|| host.to_string())
}

fn command(words: &[&str], host: Option<String>, bare: bool) -> Option<Command> {
    let mut words = words;
    if words.first() == Some(&"sudo") {
        words = &words[1..];
    }
    // Stop at what is no longer part of the command: a comment or a pipe's tail.
    let end = words
        .iter()
        .position(|w| w.starts_with('#') || w.starts_with('(') || *w == "|")
        .unwrap_or(words.len());
    let piped = words
        .get(end + 1)
        .filter(|_| words.get(end) == Some(&"|"))
        .is_some_and(|w| {
            matches!(
                *w,
                "grep"
                    | "egrep"
                    | "fgrep"
                    | "head"
                    | "tail"
                    | "awk"
                    | "sed"
                    | "cut"
                    | "sort"
                    | "uniq"
            )
        });
    let words = &words[..end];
    let name = *words.first()?;
    if !KNOWN.contains(&name) {
        return None;
    }
    let args = &words[1..];
    if bare && !plausible_bare(name, args) {
        return None;
    }
    let (kind, all_tables) = kind_of(name, args);
    Some(Command {
        text: words.join(" "),
        filtered: piped || one_object(name, args),
        kind,
        all_tables,
        host,
    })
}

/// Without a prompt, a line is a command only when it reads like one: output lines never start
/// with these words followed by such arguments.
fn plausible_bare(name: &str, args: &[&str]) -> bool {
    let opts = |a: &[&str]| a.iter().all(|w| w.starts_with('-'));
    match name {
        "ip" => args
            .first()
            .is_some_and(|a| a.starts_with('-') || ip_object(a).is_some()),
        "route"
        | "lsmod"
        | "dmesg"
        | "ifconfig"
        | "arp"
        | "iptables-save"
        | "ip6tables-save"
        | "iptables-legacy-save"
        | "iptables-nft-save" => opts(args) || (name == "ifconfig" && args.len() == 1),
        "iptables" | "ip6tables" | "netstat" | "journalctl" => {
            args.first().is_some_and(|a| a.starts_with('-'))
        }
        // `sysctl -a`, `sysctl net.ipv4.ip_forward`, `sysctl net.ipv4.ip_forward=1`: its
        // output lines start with a key, never with the word `sysctl`.
        "sysctl" => {
            !args.is_empty()
                && args.iter().all(|a| {
                    a.starts_with('-')
                        || (a.contains(['.', '/'])
                            && a.split('=').next().is_some_and(|k| {
                                k.bytes().all(|b| {
                                    b.is_ascii_alphanumeric()
                                        || matches!(b, b'.' | b'/' | b'_' | b'-')
                                })
                            }))
                })
        }
        "bridge" => args.first() == Some(&"fdb"),
        "nft" => args.contains(&"list"),
        "kubectl" => args
            .iter()
            .any(|a| matches!(*a, "logs" | "get" | "describe" | "exec")),
        "cat" | "tail" | "grep" => !args.is_empty() && args.len() <= 4,
        "ping" | "traceroute" | "tracepath" => {
            args.len() <= 4
                && args
                    .last()
                    .is_some_and(|a| a.parse::<std::net::IpAddr>().is_ok() || a.contains('.'))
        }
        "firewall-cmd" | "calicoctl" | "etcdctl" | "conntrack" | "curl" | "wg" | "ipvsadm"
        | "ethtool" | "ss" | "uname" | "modprobe" | "tcpdump" | "ls" | "systemctl" => {
            !args.is_empty() && args.iter().all(|a| !a.ends_with(['.', ',', ':', ')']))
        }
        _ => false,
    }
}

/// Whether the command asks for one device (`ip addr show eth0`, `ip link show dev x`,
/// `ifconfig flannel.1`, `bridge fdb show dev flannel.1`).
fn one_object(name: &str, args: &[&str]) -> bool {
    let plain: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| !a.starts_with('-'))
        .collect();
    match name {
        "ifconfig" => plain.iter().any(|a| !matches!(*a, "up" | "down")),
        "ip" => {
            let obj = plain.first().and_then(|a| ip_object(a));
            let rest = plain.get(1..).unwrap_or(&[]);
            match obj {
                Some("address" | "link" | "neighbour" | "neighbor") => rest
                    .iter()
                    .any(|a| !matches!(*a, "show" | "list" | "ls" | "lst")),
                Some("route") => rest
                    .iter()
                    .any(|a| !matches!(*a, "show" | "list" | "ls" | "table" | "all" | "main")),
                _ => false,
            }
        }
        "bridge" => args.contains(&"dev"),
        _ => false,
    }
}

/// The `ip` object an abbreviation names.
fn ip_object(w: &str) -> Option<&'static str> {
    let objects = [
        ("address", 1),
        ("link", 1),
        ("route", 1),
        ("rule", 2),
        ("neighbour", 1),
        ("neighbor", 1),
        ("tunnel", 2),
        ("netns", 4),
        ("xfrm", 1),
        ("maddress", 1),
        ("monitor", 3),
    ];
    // `ip r` is route and `ip n` neighbour; `ip ru` rule; `ip a` address.
    objects
        .iter()
        .find(|(full, min)| {
            w.len() >= *min && full.starts_with(w) && !(w == "r" && *full == "rule")
        })
        .map(|(full, _)| *full)
        .or(match w {
            "addr" => Some("address"),
            "neigh" => Some("neighbour"),
            "tunl" => Some("tunnel"),
            _ => None,
        })
}

fn kind_of(name: &str, args: &[&str]) -> (Option<Kind>, bool) {
    let has = |w: &str| args.contains(&w);
    let kind = match name {
        "ip" => return ip_kind(args),
        "route" => Some(Kind::RouteN),
        "netstat" if args.iter().any(|a| a.starts_with('-') && a.contains('r')) => {
            Some(Kind::RouteN)
        }
        "ifconfig" => Some(Kind::Ifconfig),
        "bridge" if has("fdb") => {
            let dev = args
                .iter()
                .position(|a| *a == "dev")
                .and_then(|i| args.get(i + 1));
            Some(Kind::BridgeFdb(dev.map(|d| d.to_string())))
        }
        "sysctl" if !has("--system") => Some(Kind::Sysctl),
        "lsmod" => Some(Kind::Lsmod),
        "arp" => Some(Kind::Arp),
        n if n.ends_with("tables-save") => Some(Kind::IptablesSave(n.to_string())),
        // `iptables -S` is iptables-save's syntax, one table: read as a (partial) dump.
        "iptables" | "ip6tables" | "iptables-legacy" | "iptables-nft"
            if args.iter().any(|a| {
                matches!(*a, "-S" | "--list-rules")
                    || (a.starts_with('-') && !a.starts_with("--") && a.contains('S'))
            }) =>
        {
            Some(Kind::IptablesSave(name.to_string()))
        }
        "iptables" | "ip6tables" | "iptables-legacy" | "iptables-nft"
            if args.iter().any(|a| {
                matches!(*a, "-L" | "--list")
                    || (a.starts_with('-') && !a.starts_with("--") && a.contains('L'))
            }) =>
        {
            Some(Kind::IptablesList)
        }
        "nft" if has("list") => Some(if has("-j") || has("--json") {
            Kind::NftJson
        } else {
            Kind::NftText
        }),
        "dmesg" | "journalctl" => Some(Kind::Log),
        "kubectl" | "docker" | "crictl" if has("logs") => Some(Kind::Log),
        "kubectl" => kubectl_kind(args),
        "ipvsadm"
            if args
                .iter()
                .any(|a| a.starts_with('-') && a.to_ascii_lowercase().contains('l')) =>
        {
            Some(Kind::Ipvsadm)
        }
        "ipset" if has("list") || has("-L") || has("save") => Some(Kind::Ipset),
        "brctl" if has("show") => Some(Kind::Bridge),
        "bridge" if has("link") => Some(Kind::Bridge),
        "ethtool" if has("-k") || has("--show-features") || has("--show-offload") => {
            Some(Kind::Ethtool(
                args.iter()
                    .rev()
                    .find(|a| !a.starts_with('-'))
                    .map(|d| d.to_string()),
            ))
        }
        "netstat" if args.iter().any(|a| a.starts_with('-') && a.contains('i')) => {
            Some(Kind::LinkStats)
        }
        "calicoctl" if has("status") => Some(Kind::CalicoStatus),
        "calicoctl" if has("get") && args.iter().any(|a| a.starts_with("ippool")) => {
            Some(Kind::CalicoPools)
        }
        "cat" | "tail" | "head" | "less" | "grep" => file_kind(name, args),
        _ => None,
    };
    (kind, false)
}

/// What a kubectl command prints: objects (`-o json|yaml`), a table, or a node description.
fn kubectl_kind(args: &[&str]) -> Option<Kind> {
    let output = args
        .iter()
        .position(|a| *a == "-o" || *a == "--output")
        .and_then(|i| args.get(i + 1).copied())
        .or_else(|| {
            args.iter()
                .find_map(|a| a.strip_prefix("-o").or(a.strip_prefix("--output=")))
        });
    let is = |w: &[&str]| args.iter().any(|a| w.iter().any(|x| a.starts_with(x)));
    if matches!(output, Some("json" | "yaml")) {
        return Some(Kind::KubeObjects);
    }
    if args.first() == Some(&"describe") || args.contains(&"describe") {
        return is(&["node", "no"]).then_some(Kind::KubectlDescribeNode);
    }
    (args.contains(&"get")
        && is(&[
            "node",
            "no",
            "pod",
            "po",
            "svc",
            "service",
            "ep",
            "endpoints",
        ]))
    .then_some(Kind::KubectlTable)
}

fn ip_kind(args: &[&str]) -> (Option<Kind>, bool) {
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        // Options that take a value.
        if matches!(
            args[i],
            "-n" | "-netns" | "-f" | "-family" | "-rc" | "-b" | "-batch"
        ) {
            i += 1;
        }
        if args[i] == "-br" || args[i] == "-brief" {
            return (None, false);
        }
        i += 1;
    }
    let Some(object) = args.get(i).and_then(|a| ip_object(a)) else {
        return (None, false);
    };
    let rest = &args[i + 1..];
    let kind = match object {
        "address" => Some(Kind::IpAddr),
        "link" => Some(Kind::IpLink),
        "route" if rest.first() == Some(&"get") => None,
        "route" => Some(Kind::IpRoute),
        "rule" => Some(Kind::IpRule),
        "neighbour" | "neighbor" => Some(Kind::IpNeigh),
        "tunnel" => Some(Kind::IpTunnel),
        _ => None,
    };
    let all = rest.windows(2).any(|w| w == ["table", "all"]);
    (kind, all)
}

fn file_kind(name: &str, args: &[&str]) -> Option<Kind> {
    let path = args.iter().rev().find(|a| !a.starts_with('-'))?;
    if name == "grep" {
        // `grep -r . /proc/sys/net/ipv4` prints `path:value`.
        return path.starts_with("/proc/sys").then_some(Kind::Sysctl);
    }
    let files = args.iter().filter(|a| !a.starts_with('-')).count();
    // The hairpin mode of a bridge's ports: a glob is fine, the bridge is in the path.
    if let Some((bridge, port)) = crate::hairpin::port_of(path) {
        return (files == 1).then_some(Kind::Hairpin(bridge, port));
    }
    if files != 1 || path.contains(['*', '?']) {
        // Several files or a glob: their contents run together, unnamed.
        return None;
    }
    if let Some(key) = path.strip_prefix("/proc/sys/") {
        return Some(Kind::SysctlValue(crate::sysctl::normalise_key(key)));
    }
    if *path == "/proc/modules" {
        return Some(Kind::Lsmod);
    }
    if path.ends_with(".log") {
        return Some(Kind::Log);
    }
    let node_file = crate::NODE_FILE_PREFIXES
        .iter()
        .any(|p| path.starts_with(p));
    node_file.then(|| Kind::ConfigFile(path.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(line: &str) -> Option<Kind> {
        recognise(line).and_then(|c| c.kind)
    }

    #[test]
    fn prompts_of_every_shape() {
        assert_eq!(kind("[root@host188 ~]# ip route"), Some(Kind::IpRoute));
        assert_eq!(
            kind("root@aks-nodepool1-12355964-vmss000000:/# ip a"),
            Some(Kind::IpAddr)
        );
        assert_eq!(kind("$ ip -d link show flannel.1"), Some(Kind::IpLink));
        assert_eq!(kind("# ip link"), Some(Kind::IpLink));
        assert_eq!(kind("#route -n"), Some(Kind::RouteN));
        assert_eq!(kind("route -nv"), Some(Kind::RouteN));
        assert_eq!(kind("bash# ip tunl show tunl0"), Some(Kind::IpTunnel));
        assert!(recognise("bash# ip tunl show tunl0").is_some());
        assert_eq!(kind("/ # ping 10.244.1.5"), None);
        assert!(recognise("/ # ping 10.244.1.5").is_some());
        assert_eq!(
            kind("[root@k8s-master01 ~]# bridge fdb show dev flannel.1"),
            Some(Kind::BridgeFdb(Some("flannel.1".into())))
        );
        assert_eq!(kind("# ip route   (on vm-1 / master)"), Some(Kind::IpRoute));
        assert_eq!(
            kind("mzuccala @ eagle ➜  ~  kubectl -n kube-system logs canal-n2h22 -c kube-flannel"),
            Some(Kind::Log)
        );
        assert_eq!(
            kind("worker/ddbb5012:/var/lib/cni/networks# ifconfig"),
            Some(Kind::Ifconfig)
        );
        assert_eq!(
            kind("iptables --list-rules"),
            Some(Kind::IptablesSave("iptables".into()))
        );
        assert_eq!(
            kind("# iptables -nvL FORWARD --line-numbers"),
            Some(Kind::IptablesList)
        );
        assert_eq!(
            kind("$ sudo iptables -t nat -S"),
            Some(Kind::IptablesSave("iptables".into()))
        );
        assert_eq!(
            kind("$ sudo iptables-save"),
            Some(Kind::IptablesSave("iptables-save".into()))
        );
        assert_eq!(
            kind("# cat /proc/sys/net/ipv4/ip_forward"),
            Some(Kind::SysctlValue("net.ipv4.ip_forward".into()))
        );
        assert!(recognise("$ ip route show table all").is_some_and(|c| c.all_tables));
        assert_eq!(kind("$ ip r get 10.0.0.1"), None);
        assert_eq!(
            kind("# grep -r . /proc/sys/net/ipv4/conf"),
            Some(Kind::Sysctl)
        );
        assert_eq!(kind("# cat /proc/sys/net/ipv4/conf/*/rp_filter"), None);
        assert_eq!(kind("$ cat /var/log/flanneld.log"), Some(Kind::Log));
        assert_eq!(
            kind("$ cat /run/flannel/subnet.env"),
            Some(Kind::ConfigFile("/run/flannel/subnet.env".into()))
        );
        assert_eq!(kind("$ ip ru"), Some(Kind::IpRule));
        assert_eq!(kind("$ ip n"), Some(Kind::IpNeigh));
        // A root prompt `#` before `sysctl KEY`, as after `# systemctl restart systemd-sysctl`
        // (nixpkgs#118656): the read of one key is a command, not a comment.
        assert!(recognise("# sysctl net.ipv4.conf.default.forwarding").is_some());
        assert!(recognise("# sysctl -w net.ipv4.ip_forward=1").is_some());
        assert!(recognise("# sysctl net.ipv4.ip_forward=1").is_some());
    }

    #[test]
    fn prose_and_output_are_not_commands() {
        for line in [
            "# Kind: `ip link` on k8smaster1 (verbatim)",
            "# Source: https://github.com/x",
            "default via 10.0.0.1 dev eth0",
            "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536",
            "# Generated by iptables-save v1.6.0 on Mon Dec 25 14:04:53 2017",
            "route is missing on node 2",
            "ip is 10.0.0.1",
            "cat",
            "# sysctl settings are defined through files in",
            "# sysctl is used to set bridge-nf-call-iptables",
        ] {
            assert_eq!(recognise(line), None, "{line}");
        }
        assert_eq!(
            recognise("[root@k3s-master ~]# ip addr show enp0s3").and_then(|c| c.host),
            Some("k3s-master".into())
        );
    }
}
