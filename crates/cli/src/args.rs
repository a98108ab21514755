//! Command-line interface: every flag documented where it is declared, so `--help` teaches.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "netdoctor",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("NETDOCTOR_COMMIT"), ")"),
    about = "Finds why pods and services in a Kubernetes cluster can't talk to each other",
    long_about = "netdoctor reads a node's real kernel network state (netlink, /proc/sys, iptables \
        in every backend, boot-time sysctl files) or whatever evidence a user pasted, names the \
        root cause with its evidence, and says how to fix it so that the fix survives a reboot.\n\n\
        Start with `netdoctor check` on the broken node (as root, so it can read every iptables \
        backend). On a support desk, put the customer's pasted outputs in a directory and run \
        `netdoctor check --from DIR`.",
    after_help = "Examples:\n  \
        netdoctor check                          diagnose this node, live\n  \
        netdoctor check --cluster-cidr 10.244.0.0/16 --service-cidr 10.96.0.0/12\n  \
        netdoctor check --from ./ticket-4711/    diagnose from pasted evidence\n  \
        netdoctor collect -o node.json.zst       save this node's state for later or elsewhere\n  \
        netdoctor check --snapshot node.json.zst --output markdown"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour on a terminal: auto (when standard output is a terminal and NO_COLOR is not
    /// set), always, or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Say what netdoctor is doing on standard error: -v what it reads and sends, -vv every
    /// command it runs and every file it reads, -vvv everything. RUST_LOG (e.g.
    /// RUST_LOG=netdoctor_collect=debug) takes precedence when set.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour standard output: `auto` follows the terminal, NO_COLOR, CLICOLOR and
    /// CLICOLOR_FORCE as anstream (clap's own terminal layer) decides.
    pub fn stdout(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
            }
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Diagnose a node: live, from a snapshot, or from an evidence bundle.
    #[command(
        long_about = "Diagnose a node and print each root cause with its evidence, an \
        explanation and the fix (now, and at boot).\n\n\
        Without --from or --snapshot it reads the network namespace netdoctor runs in, and the \
        configuration files under --root.\n\n\
        Exit status: 0 no finding at or above --fail-on, 1 there are, 2 netdoctor could not run \
        (bad arguments, unreadable input).",
        after_help = "Examples:\n  \
        netdoctor check                                   # this node, live (as root)\n  \
        netdoctor check --from ./bundle --cluster-cidr 10.244.0.0/16\n  \
        netdoctor check --snapshot node1.json.zst --kube-objects ./kube -o json\n  \
        netdoctor check --list                            # every root cause netdoctor knows"
    )]
    Check(CheckArgs),
    /// Save this node's network state as a snapshot (JSON; a `.zst` name compresses it).
    #[command(
        long_about = "Save this node's network state (links, addresses, routes in every \
        table, rules, neighbours, FDB, sysctls, modules, every iptables backend's rules, \
        conntrack counters, boot-time configuration files, kernel log) as a snapshot. Read it \
        back with `netdoctor check --snapshot FILE`, on any machine.\n\n\
        Each tool it runs (iptables-save, nft, dmesg, ...) gets 30 seconds \
        (NETDOCTOR_COMMAND_TIMEOUT=SECONDS changes it); a tool that hangs is killed and its \
        part listed as not collected, with why. `check` without --from/--snapshot does the same.",
        after_help = "Examples:\n  \
        netdoctor collect -o node1.json.zst             # on the node, as root\n  \
        netdoctor collect --node-name node1 --root /mnt/node1 -o node1.json\n  \
        netdoctor check --snapshot node1.json.zst       # later, anywhere"
    )]
    Collect(CollectArgs),
    /// Run on the node for good: re-check on every change, serve metrics and the results.
    #[command(
        long_about = "Run netdoctor on this node for good (read-only: it never applies a fix). \
        It checks once at start, again after every netlink change of links, addresses, routes, \
        neighbours and FDB entries (a burst of changes gives one check after --debounce), and \
        every --interval for what netlink does not announce (sysctls, rules, boot files).\n\n\
        It serves GET /metrics (Prometheus: netdoctor_finding{id,severity} is 1 while a finding \
        is present and 0 once it clears, netdoctor_findings{severity}, \
        netdoctor_check_duration_seconds, netdoctor_last_check_timestamp_seconds, \
        netdoctor_checks_total{trigger}), GET /healthz (200 once a check has run), and GET \
        /v1/check and /v1/snapshot (the `check -o json` and `collect` documents of the last \
        run) for a client sending `Authorization: Bearer <token>` with the token in \
        --token-file; without --token-file those two answer 401 to everyone.",
        after_help = "Examples:\n  \
        netdoctor agent\n  \
        netdoctor agent --listen 127.0.0.1:9469 --interval 1m --token-file /etc/netdoctor/token\n  \
        curl -s localhost:9469/metrics | grep '^netdoctor_finding'\n  \
        curl -s -H \"Authorization: Bearer $(cat /etc/netdoctor/token)\" localhost:9469/v1/check"
    )]
    Agent(AgentArgs),
    /// Diagnose the whole cluster: every node's snapshot, from agents or files.
    #[command(
        long_about = "Gather every node's snapshot, from running agents (`--agent URL`, their \
        /v1/snapshot with the token from --token-file) or from files written by `netdoctor \
        collect` (`--snapshot FILE`), concurrently. With neither, the API server (--kubeconfig, \
        --context, --in-cluster, else what kubectl would use) names the agents: the pods of \
        --agent-selector in --agent-namespace, one per node, and the nodes of --node-selector \
        that have none (each listed with why: no pod, CrashLoopBackOff, ...); the cluster's \
        objects are read from it too. Needs `list` on those pods and on nodes. Then run every \
        check on each node, with the \
        cluster's objects shared; compare the nodes with each other (duplicate VTEP MACs, one \
        pod subnet on two nodes, overlay devices with a different VNI or port); and summarise \
        per root cause: \"ip-forward-disabled on 37 of 1000 node(s)\". A node that cannot be \
        read is listed with why; the others are still diagnosed.",
        after_help = "Examples:\n  \
        netdoctor fleet --token-file token                # agents found through kubectl's context\n  \
        kubectl netdoctor fleet --context prod --token-file token -o json\n  \
        netdoctor fleet --snapshot n1.json --snapshot n2.json.zst --kube-objects cluster.json\n  \
        netdoctor fleet --agent http://10.0.0.11:9469 --agent http://10.0.0.12:9469 --token-file token -o json\n  \
        netdoctor fleet $(for n in 10.0.0.1{1..9}; do echo --agent http://$n:9469; done) --token-file token"
    )]
    Fleet(FleetArgs),
    /// Where did the packet vanish: captures from several points of one path.
    #[command(
        long_about = "Read pcap or pcapng captures taken at several points of one path, given in \
        the order a request crosses them (the client's side first), as [NODE[:IFACE]=]FILE. \
        Each packet is matched across the captures by what NAT and routing leave alone (IPv4 \
        identification, TCP sequence numbers and flags, payload), so a request to a ClusterIP \
        at the first point and to the pod at the last is one packet; VXLAN is opened and its \
        inner packet followed. For each flow it says whether it was delivered, and if not, in \
        which direction and after which point it vanished, with retransmissions, resets and \
        ICMP errors (fragmentation needed, TTL exceeded) about it. Exit 1 when a flow was \
        dropped.",
        after_help = "Examples:\n  \
        tcpdump -ni eth0 -w client.pcap port 8080   # on the client's node\n  \
        tcpdump -ni any -w server.pcap port 8080    # on the server's node\n  \
        netdoctor pcap node1:eth0=client.pcap node2:any=server.pcap\n  \
        netdoctor pcap a.pcapng b.pcapng --port 8080 -o json"
    )]
    Pcap(PcapArgs),
    /// Send real packets from this node: overlay, pods, MTU, Services, DNS.
    #[command(
        long_about = "Send real packets from this node through its real routes, devices and \
        firewall, to the other nodes, pods and Services the cluster objects name (or only to the \
        --to targets), and say what came back:\n\n\
        - overlay: an ICMP echo to each other node's underlay address, then one to its VTEP \
        through the overlay device (VXLAN on the cluster's port, IPIP), or a TCP connect to BGP \
        179 where the CNI peers by BGP;\n\
        - pod: an ICMP echo to a pod on each other node (--pods-per-node);\n\
        - mtu: the largest packet with DF set that passes each node-to-node path, underlay and \
        overlay, against the MTU of the device it leaves by;\n\
        - service: TCP connects to each ClusterIP and to this node's NodePorts;\n\
        - dns: a query for kubernetes.default.svc.<--cluster-domain> through the cluster DNS \
        Service.\n\n\
        The node's state is read too, so each failure names the finding it confirms; an overlay \
        that the other node's underlay answers but its VTEP does not, with nothing on this node \
        to explain it, is `overlay-blocked-outside-node` (a cloud security group, a network ACL, \
        or the peer's firewall). Needs root (raw ICMP sockets). At most --max-targets targets of \
        each kind, each answer waited for --timeout. Exit status: 0 every probe passed, 1 one \
        failed, 2 nothing could be probed.",
        after_help = "Examples:\n  \
        sudo netdoctor probe --kube-objects cluster.json\n  \
        sudo netdoctor probe --kind overlay,mtu --to node/worker-3 -o json\n  \
        sudo netdoctor probe --to svc/kube-system/kube-dns --to 10.244.3.7 --timeout 2s"
    )]
    Probe(ProbeArgs),
    /// Capture one flow on this node: where it vanished, and the kernel's drop reason.
    #[command(
        long_about = "Capture one flow on every interface of this node it crosses (the device \
        the source is reached by, the route's device to the destination, and the underlay under \
        an overlay device, where it travels encapsulated), send it from the network namespace \
        that holds the source (this node's, or a pod's under /run/netns), or wait --wait for \
        someone else to send it, and say per direction where it was last seen. While it runs, \
        the kernel's own drop reasons (the skb:kfree_skb tracepoint, kernels since 5.17: \
        NETFILTER_DROP, IP_RPFILTER, PKT_TOO_BIG, NEIGH_FAILED, ...) are recorded in a tracing \
        instance of its own; where tracefs is not mounted it is mounted in a private mount \
        namespace, so the node's mounts do not change. The drop reason, where the flow was \
        last seen and this node's diagnosis together name the finding. Every tcpdump and \
        tracing instance it started is ended, also on Ctrl-C. Needs root and tcpdump. Exit \
        status: 0 delivered, 1 dropped, 2 nothing of the flow was captured.",
        after_help = "Examples:\n  \
        sudo netdoctor capture --from 10.244.0.5 --to 10.244.1.7:8080\n  \
        sudo netdoctor capture --from 10.244.0.5 --to 10.244.1.7 --proto icmp -o json\n  \
        sudo netdoctor capture --from 10.0.0.99 --to 10.244.0.5:80 --wait 30s --on eth0 --on cni0"
    )]
    Capture(CaptureArgs),
    /// Print the JSON Schema of one of the JSON outputs (generated from its types).
    #[command(
        long_about = "Print the JSON Schema (draft 2020-12) of one of netdoctor's JSON outputs, \
        generated from the types that are serialised: check (`check -o json`), snapshot \
        (`collect`), trace, probe, capture, pcap, fleet, packet (`explain ... --packet -o \
        json`), explain (`explain ... -o json`), fix (`fix --format json`). The same files are committed under docs/schemas/.",
        after_help = "Examples:\n  \
        netdoctor schema check > check.schema.json\n  \
        netdoctor schema trace | jq '.properties | keys'"
    )]
    Schema {
        /// Which output.
        name: String,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Examples:\n  \
        netdoctor completions bash > /etc/bash_completion.d/netdoctor\n  \
        netdoctor completions zsh > \"${fpath[1]}/_netdoctor\"")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), generated from these same definitions.
    #[command(after_help = "Examples:\n  \
        netdoctor man > /usr/local/share/man/man1/netdoctor.1 && man netdoctor\n  \
        netdoctor man | man -l -")]
    Man,
    /// The remediation plan for this node's findings; changes nothing without --apply.
    #[command(
        long_about = "Print the remediation plan for the node's findings: what to change \
        now, and a drop-in whose name sorts after every sysctl file on the node so the change \
        survives reboots. Service restarts that are needed, and what needs a person, are listed.\n\n\
        --apply makes the changes on this node (root only; never on a snapshot or a bundle): \
        each change is printed first, files are written atomically with a timestamped backup, \
        no line netdoctor did not write is removed, and the first failure stops the run. \
        Afterwards the checks run again and each finding is reported as fixed or still present. \
        A second --apply has nothing to do.\n\n\
        --format shell|ansible exports the same plan for a fleet.",
        after_help = "Examples:\n  \
        netdoctor fix                                   # the plan for this node\n  \
        sudo netdoctor fix --apply --only ip-forward-disabled\n  \
        netdoctor fix --from ./bundle --format ansible > fix.yml"
    )]
    Fix(FixArgs),
    /// Watch a real fault be found and fixed, in a small cluster built in network namespaces.
    #[command(
        long_about = "Build a two-node flannel-style cluster in network namespaces on \
        this machine (real bridges, VXLAN, CNI plugins, kube-proxy rules, pods answering on real \
        sockets), show the healthy flows, inject a fault, show the flows failing, run \
        `netdoctor check` inside the broken node, apply the runtime fix, show the flows working \
        again, and clean everything up. Needs root. Traffic never leaves the lab's namespaces, \
        and the host's own sysctls, routes and firewall are never touched.",
        after_help = "Examples:\n  \
        sudo netdoctor demo --list\n  \
        sudo netdoctor demo --fault bridge-nf-off\n  \
        sudo netdoctor demo --cleanup                   # after a crashed run"
    )]
    Demo(DemoArgs),
    /// Follow a request and its reply through the nodes' real routes and rules, hop by hop.
    #[command(
        long_about = "Follow one packet from SRC to DST and its reply through the snapshots of \
        the nodes on the path (snapshot files, bundles, or the nodes' agents): policy routing, \
        bridges, br_netfilter, every rule set's hooks with NAT and conntrack, forwarding, \
        rp_filter, VXLAN and MTU. Says where it dies and which finding \
        explains it, or which rule or missing data stopped the model. Exit status 0 whatever the \
        verdict (with --fail-on-drop: 1 dropped, 3 undecided), 2 for bad input.",
        after_help = "Examples:\n  \
        netdoctor trace --snapshot n1.json --snapshot n2.json --from pod/default/web-0 --to svc/default/api:http --kube-objects ./kube\n  \
        netdoctor trace --bundle ./n1 --bundle ./n2 --from 10.244.1.5 --to 10.244.2.7:8080 --size 1450\n  \
        netdoctor trace --snapshot n1.json --from 10.244.1.5 --to 10.96.0.10:53 --proto udp --fail-on-drop -o json\n  \
        netdoctor trace --agent http://10.0.0.11:9469 --agent http://10.0.0.12:9469 --token-file ./token --from 10.244.1.5 --to 10.244.2.7:8080"
    )]
    Trace(crate::trace::TraceArgs),
    /// Explain a rule dump in words, or what it does to one packet (--packet).
    #[command(
        long_about = "Explain a rule dump (FILE, or - for standard input) in words: each \
        kube-proxy service with its ClusterIP, NodePort, load-balancer and external IPs, the \
        endpoints its DNAT chooses with their probabilities, masquerade marks, services with no \
        endpoints (REJECT) or no local endpoints (DROP); CNI, Docker and other chains \
        summarised; every rule that drops or rejects highlighted.\n\n\
        With --packet, follow one new connection through the rules instead: every outcome it \
        can have (one per load-balancing branch) with its probability, the DNAT target, \
        whether it leaves masqueraded, the verdict, and the rules that decided. The packet \
        enters at PREROUTING (or OUTPUT with --hook output); after the nat table it goes to \
        INPUT when its destination is one of the --local addresses (or 127.0.0.0/8), and \
        through FORWARD and POSTROUTING otherwise. A file of kube-proxy's chains only (its \
        restore input) gets the built-in chains and kube-proxy's standard jumps, and the \
        output says so.",
        after_help = "Examples:\n  \
        iptables-save | netdoctor explain iptables -\n  \
        netdoctor explain iptables iptables-save.txt --packet 'tcp 10.244.1.5 -> 10.96.0.10:53' --local 192.168.0.2\n  \
        netdoctor explain nft ruleset.nft --packet 'tcp 10.0.0.2:40000 -> 192.168.0.2:30080' --local 192.168.0.2 -o json\n  \
        nft -j list ruleset | netdoctor explain nft -"
    )]
    Explain(ExplainArgs),
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The fault to inject (see --list).
    #[arg(long, value_name = "NAME", default_value = "ip-forward-off")]
    pub fault: String,
    /// List the faults and exit.
    #[arg(long)]
    pub list: bool,
    /// Remove leftovers (namespaces, links) of a demo that crashed, then exit.
    #[arg(long)]
    pub cleanup: bool,
}

#[derive(Args, Debug)]
pub struct FixArgs {
    /// Make the changes (default: only print the plan).
    #[arg(long)]
    pub apply: bool,
    /// Only fix these finding ids (repeat the flag for several).
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,
    /// How to print the plan: text for a person, a POSIX shell script, or Ansible tasks.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Plan from an evidence bundle (dry run only).
    #[arg(long, value_name = "DIR", conflicts_with = "snapshot")]
    pub from: Option<PathBuf>,
    /// Plan from a snapshot written by `netdoctor collect` (dry run only).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// The node's configuration files live under DIR (a mounted disk image, or a test root);
    /// persistent changes are written there.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    #[command(flatten)]
    pub cluster: ClusterFlags,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanFormat {
    Text,
    Shell,
    Ansible,
    /// `netdoctor.fix/v1`: the steps, restarts and what needs a person, for programs.
    Json,
    /// For a ticket or a change request.
    Markdown,
}

/// Facts about the cluster that sharpen the diagnosis. Each may also come from the bundle's
/// `cluster.json` or the node's `/run/flannel/subnet.env`; flags win.
#[derive(Args, Debug, Clone, Default)]
pub struct ClusterFlags {
    /// Which node this is (default: the hostname).
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// The cluster's pod range, e.g. 10.244.0.0/16 (kubeadm --pod-network-cidr).
    #[arg(long, value_name = "CIDR")]
    pub cluster_cidr: Option<IpNet>,
    /// The Service range, e.g. 10.96.0.0/12 (kube-apiserver --service-cluster-ip-range).
    #[arg(long, value_name = "CIDR")]
    pub service_cidr: Option<IpNet>,
    /// This node's own pod subnet, e.g. 10.244.1.0/24 (Node.spec.podCIDR).
    #[arg(long, value_name = "CIDR")]
    pub pod_cidr: Option<IpNet>,
    /// The CNI in use: flannel, calico, cilium, weave, ... (default: recognised from devices).
    #[arg(long, value_name = "NAME")]
    pub cni: Option<String>,
    /// The CNI's backend: vxlan, host-gw, ipip, wireguard, bgp.
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,
    #[command(flatten)]
    pub objects: ObjectFlags,
}

/// Where the cluster's objects come from (one set of flags for every command).
#[derive(Args, Debug, Clone, Default)]
pub struct ObjectFlags {
    /// The cluster's objects as kubectl prints them (`kubectl get nodes,pods,services,endpointslices
    /// -A -o json`, or -o yaml): a file, or a directory of them. Enables the cross-node checks.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["kubeconfig", "in_cluster"])]
    pub kube_objects: Option<PathBuf>,
    /// Read the cluster's objects live from the API server this kubeconfig names (read-only:
    /// lists nodes, pods, services, endpointslices).
    #[arg(long, value_name = "FILE", conflicts_with = "in_cluster")]
    pub kubeconfig: Option<PathBuf>,
    /// Read the cluster's objects live with the pod's service account (netdoctor running in a pod).
    #[arg(long)]
    pub in_cluster: bool,
    /// Read the cluster's objects live through this context of the kubeconfig (--kubeconfig,
    /// else $KUBECONFIG or ~/.kube/config, as kubectl does).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["kube_objects", "in_cluster"])]
    pub context: Option<String>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Print the catalogue of root causes (id, reasoning step, severity, the evidence each
    /// needs, title) and exit. With `-o json`, as JSON.
    #[arg(long)]
    pub list: bool,
    /// Diagnose from an evidence bundle: a directory of pasted outputs (sysctl.txt,
    /// ip-route.txt, route-n.txt, ifconfig.txt, iptables-save.txt, dmesg.txt, root/, ...).
    #[arg(long, value_name = "DIR", conflicts_with = "snapshot")]
    pub from: Option<PathBuf>,
    /// Diagnose from a snapshot written by `netdoctor collect`.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Read the node's configuration files (sysctl.d, modules-load.d, CNI config) under DIR
    /// instead of / (live checks only).
    #[arg(long, value_name = "DIR", default_value = "/", conflicts_with_all = ["from", "snapshot"])]
    pub root: PathBuf,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    /// Output format: text, json (the contract), markdown (for a ticket), html (one
    /// self-contained page), sarif (2.1.0, for
    /// code-scanning dashboards), junit (XML, one test case per root cause, for CI) or npd
    /// (node-problem-detector's custom plugin protocol: one line; exit 0 OK, 1 a finding at or
    /// above --fail-on, 2 unknown).
    #[arg(short, long, value_enum, default_value_t = CheckFormat::Text)]
    pub output: CheckFormat,
    /// Exit with status 1 when a finding is at least this severe.
    #[arg(long, value_enum, default_value_t = FailOn::Critical)]
    pub fail_on: FailOn,
    /// Also send real packets from this node (as `netdoctor probe` does, live only, as root)
    /// and fold what they show into the diagnosis: a blocked overlay that no host rule explains
    /// is named as a drop outside the node.
    #[arg(long, conflicts_with_all = ["from", "snapshot"])]
    pub probe: bool,
    #[command(flatten)]
    pub probe_flags: ProbeFlags,
}

#[derive(Args, Debug)]
pub struct AgentArgs {
    /// Where to serve: ADDR:PORT, or :PORT for every address.
    #[arg(long, value_name = "ADDR:PORT", default_value = ":9469", value_parser = parse_listen)]
    pub listen: std::net::SocketAddr,
    /// A full check at least this often (30s, 5m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// After a netlink change, wait this long for the burst to end before checking.
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    pub debounce: std::time::Duration,
    /// A file holding the bearer token that /v1/check and /v1/snapshot require.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Do not watch netlink; check only every --interval.
    #[arg(long)]
    pub no_watch: bool,
    /// In a cluster: set this node's condition NetworkProblem (True while a critical finding is
    /// present; reason: the leading finding's id in CamelCase; message: its title) and record an
    /// Event on the Node when a finding appears or clears. Credentials: --kubeconfig, or
    /// --in-cluster, or what kubectl would use. Needs `patch` on nodes/status and `create` on
    /// events; the node is --node-name (in a DaemonSet: the downward API's spec.nodeName).
    #[arg(long)]
    pub node_condition: bool,
    /// Also probe the other nodes, pods and Services with real packets (as `netdoctor probe`
    /// does) every --probe-interval, export each result as netdoctor_probe_success{kind,target},
    /// and fold the last round into every check (so a blocked overlay or a narrowed MTU alerts
    /// before a user notices). Needs the cluster's objects and CAP_NET_RAW.
    #[arg(long)]
    pub probe: bool,
    /// How often the probes run (with --probe).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration, requires = "probe")]
    pub probe_interval: std::time::Duration,
    #[command(flatten)]
    pub probe_flags: ProbeFlags,
    /// Read the node's configuration files under DIR instead of / (a DaemonSet mounts the
    /// node's root here, read-only).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    #[command(flatten)]
    pub cluster: ClusterFlags,
}

#[derive(Args, Debug)]
pub struct FleetArgs {
    /// A node's agent: http://ADDR:PORT (repeat for every node).
    #[arg(long, value_name = "URL", value_parser = parse_agent_url)]
    pub agent: Vec<String>,
    /// A node's snapshot written by `netdoctor collect` (repeat for every node).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Vec<PathBuf>,
    /// The bearer token the agents require.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Without --agent or --snapshot: the agents' namespace, where the API is asked for them.
    #[arg(long, value_name = "NS", default_value = "netdoctor")]
    pub agent_namespace: String,
    /// Without --agent or --snapshot: the label selector of the agents' pods.
    #[arg(
        long,
        value_name = "SELECTOR",
        default_value = "app.kubernetes.io/name=netdoctor"
    )]
    pub agent_selector: String,
    /// Without --agent or --snapshot: the nodes that should each run an agent (the DaemonSet's
    /// node selector); a node of these without one is reported. Empty for every node.
    #[arg(
        long,
        value_name = "SELECTOR",
        default_value = "kubernetes.io/os=linux"
    )]
    pub node_selector: String,
    /// Without --agent or --snapshot: the agents' port (default: the pod's container port named
    /// `metrics`, else 9469).
    #[arg(long, value_name = "PORT")]
    pub agent_port: Option<u16>,
    /// How many nodes are read at once.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub concurrency: usize,
    /// The time limit for one agent.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = FleetFormat::Text)]
    pub output: FleetFormat,
    /// Exit with status 1 when a finding on any node, or across nodes, is at least this severe.
    #[arg(long, value_enum, default_value_t = FailOn::Critical)]
    pub fail_on: FailOn,
}

#[derive(Args, Debug)]
pub struct PcapArgs {
    /// Captures in path order: [NODE[:IFACE]=]FILE (default NODE: the file's name).
    #[arg(value_name = "CAPTURE", required = true)]
    pub captures: Vec<String>,
    /// Only flows to or from this port (at any point).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Only flows to or from this address (at any point).
    #[arg(long, value_name = "IP")]
    pub host: Option<std::net::IpAddr>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// What `probe` sends, and to whom.
#[derive(Args, Debug, Clone)]
pub struct ProbeFlags {
    /// Probe only this target (repeatable): node/NAME, pod/NAMESPACE/NAME, svc/NAMESPACE/NAME,
    /// an IPv4 address (ICMP echo) or ADDRESS:PORT (TCP connect). Default: every target the
    /// cluster objects name.
    #[arg(long = "to", value_name = "TARGET", value_parser = parse_target)]
    pub to: Vec<netdoctor_probe::Target>,
    /// Only these kinds of probe (comma-separated): overlay, pod, mtu, service, dns.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KIND")]
    pub kind: Vec<ProbeKindArg>,
    /// How long to wait for each answer.
    #[arg(long, value_name = "DUR", default_value = "1s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Pods probed on each other node.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub pods_per_node: usize,
    /// At most this many targets of each kind.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub max_targets: usize,
    /// The cluster's DNS domain (for the dns probe).
    #[arg(long, value_name = "DOMAIN", default_value = "cluster.local")]
    pub cluster_domain: String,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKindArg {
    Overlay,
    Pod,
    Mtu,
    Service,
    Dns,
}

#[derive(Args, Debug)]
pub struct ProbeArgs {
    #[command(flatten)]
    pub probe: ProbeFlags,
    /// Read the node's configuration files under DIR instead of /.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtoArg {
    Tcp,
    Udp,
    Icmp,
}

#[derive(Args, Debug)]
pub struct CaptureArgs {
    /// The flow's source address (a pod's, or this node's).
    #[arg(long, value_name = "IP")]
    pub from: std::net::Ipv4Addr,
    /// The flow's destination: IP or IP:PORT.
    #[arg(long, value_name = "IP[:PORT]", value_parser = parse_dest)]
    pub to: (std::net::Ipv4Addr, Option<u16>),
    /// The protocol (default: tcp with a port, icmp without).
    #[arg(long, value_enum)]
    pub proto: Option<ProtoArg>,
    /// How many connections, datagrams or echoes to send.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub count: u32,
    /// How long to wait for each answer.
    #[arg(long, value_name = "DUR", default_value = "1s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// How long to capture when the source is not on this node (someone else sends the flow).
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_duration)]
    pub wait: std::time::Duration,
    /// Capture on these interfaces, in the order the request crosses them, instead of the
    /// ones the routes give (repeatable).
    #[arg(long, value_name = "IFACE")]
    pub on: Vec<String>,
    /// Do not record the kernel's drop reasons.
    #[arg(long)]
    pub no_drop_reasons: bool,
    /// Do not confirm a netfilter drop with the kernel's rule trace (by default, when the
    /// kernel says netfilter dropped the flow, it is sent once more with `meta nftrace` set on
    /// this flow only, by a table of our own that is removed afterwards, and `nft monitor
    /// trace` names the rule).
    #[arg(long)]
    pub no_rule_trace: bool,
    /// Read the node's configuration files under DIR instead of /.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

fn parse_dest(s: &str) -> Result<(std::net::Ipv4Addr, Option<u16>), String> {
    if let Ok(a) = s.parse::<std::net::Ipv4Addr>() {
        return Ok((a, None));
    }
    match s.parse::<std::net::SocketAddrV4>() {
        Ok(sa) => Ok((*sa.ip(), Some(sa.port()))),
        Err(_) => Err(format!("{s:?}: expected an IPv4 address or IP:PORT")),
    }
}

fn parse_target(s: &str) -> Result<netdoctor_probe::Target, String> {
    s.parse()
}

pub(crate) fn parse_agent_url(s: &str) -> Result<String, String> {
    let Some(rest) = s.strip_prefix("http://") else {
        return Err(format!(
            "{s:?}: an agent's URL is http://ADDR:PORT (this build reads agents over plain HTTP; \
             put TLS in front of them with a proxy if the network needs it)"
        ));
    };
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(format!("{s:?}: no address after http://"));
    }
    Ok(s.to_string())
}

fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_string()
    };
    full.parse()
        .map_err(|_| format!("{s:?} is not ADDR:PORT (e.g. :9469, 127.0.0.1:9469, [::]:9469)"))
}

pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e} (e.g. 30s, 5m, 1h)"))?;
    if d.is_zero() {
        return Err(format!("{s:?}: must be more than zero"));
    }
    if d > std::time::Duration::from_secs(7 * 24 * 3600) {
        return Err(format!("{s:?}: more than a week"));
    }
    Ok(d)
}

#[derive(Args, Debug)]
pub struct CollectArgs {
    /// Write the snapshot here (`-` or nothing: standard output). A name ending in .zst is
    /// compressed with zstd.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Read the node's configuration files under DIR instead of /.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Record this node's name in the snapshot (default: none; `check` and `trace` then use the
    /// hostname, which containers and network namespaces may share).
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFormat {
    Text,
    Json,
    Markdown,
    Sarif,
    Junit,
    /// node-problem-detector's custom plugin protocol: one line, exit 0 OK, 1 problem, 2 unknown.
    Npd,
    /// One self-contained HTML page (no script, nothing fetched when opened).
    Html,
}

/// `fleet`'s formats: the common three and one self-contained HTML page.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetFormat {
    Text,
    Json,
    Markdown,
    Html,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
    Markdown,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Critical,
    Warning,
    Info,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// What to explain.
    #[arg(value_enum)]
    pub what: ExplainWhat,
    /// The dump to read; `-` reads standard input.
    #[arg(value_name = "FILE|-")]
    pub file: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ExplainFormat::Text)]
    pub output: ExplainFormat,
    /// Follow one new connection: "PROTO SRC[:SPORT] -> DST[:DPORT]" (IPv6 as [ADDR]:PORT).
    #[arg(long, value_name = "PACKET")]
    pub packet: Option<String>,
    /// The interface the packet arrives on (decides `-i` matches).
    #[arg(long = "in", value_name = "IFACE", requires = "packet")]
    pub in_iface: Option<String>,
    /// The interface a forwarded or sent packet leaves by (decides `-o` matches).
    #[arg(long = "out", value_name = "IFACE", requires = "packet")]
    pub out_iface: Option<String>,
    /// Where the packet enters: prerouting (it arrives) or output (the node sends it).
    #[arg(long, value_enum, default_value_t = PacketHook::Prerouting, requires = "packet")]
    pub hook: PacketHook,
    /// One of the node's own addresses (repeat the flag); decides `addrtype LOCAL`,
    /// `fib daddr type local` and whether a packet goes to INPUT or FORWARD.
    #[arg(long, value_name = "IP", requires = "packet")]
    pub local: Vec<std::net::IpAddr>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExplainWhat {
    /// An iptables-save / ip6tables-save dump (either backend), or kube-proxy's restore input.
    Iptables,
    /// An nftables rule set: `nft list ruleset` text or `nft -j list ruleset` JSON.
    Nft,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketHook {
    Prerouting,
    Output,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExplainFormat {
    Text,
    Json,
    Markdown,
}
