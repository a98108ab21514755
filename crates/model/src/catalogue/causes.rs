// The root causes. Each entry is the one place its id, step, default severity, inputs and words
// are declared; see the module documentation of `catalogue`. The order is the tie-break of a
// report's ranking: between two findings of one severity that do not explain each other, the one
// declared first comes first, so causes that hide others come before them (a blocked overlay
// before FORWARD: no cross-node packet reaches FORWARD while the overlay is blocked).

catalogue! {
    IpForwardDisabled {
        id: "ip-forward-disabled",
        step: Kernel,
        severity: Critical,
        needs: [Sysctls, Logs],
        after_reboot: false,
        title: "IPv4 forwarding is off: this node drops every packet it should route to or from pods",
        explanation: "With net.ipv4.ip_forward = 0 the node routes nothing: traffic from its pods to other nodes, and the replies of Service traffic it DNATed, are dropped while the node still looks Ready. A network restart, a VM resume or a hardening script often resets it. Verify with `sysctl net.ipv4.ip_forward`.",
        fix: ["sysctl -w net.ipv4.ip_forward=1", "set net.ipv4.ip_forward = 1 in a sysctl.d drop-in that sorts after every other file"],
    }
    IfaceForwardingDisabled {
        id: "iface-forwarding-disabled",
        step: Kernel,
        severity: Critical,
        needs: [Sysctls],
        after_reboot: false,
        title: "Forwarding is off on an interface pod traffic crosses",
        explanation: "net.ipv4.conf.<if>.forwarding = 0 stops routing through that interface even when net.ipv4.ip_forward is 1 (writing ip_forward resets every interface, so a per-interface 0 was set on purpose or by a script). Verify with `sysctl -a | grep '\\.forwarding'`.",
        fix: ["sysctl -w net.ipv4.conf.<if>.forwarding=1"],
    }
    BrNetfilterMissing {
        id: "br-netfilter-missing",
        step: Kernel,
        severity: Critical,
        needs: [Sysctls, Modules, Logs],
        after_reboot: false,
        title: "br_netfilter is not loaded: bridged pod traffic bypasses iptables",
        explanation: "Without br_netfilter, packets between pods on the same bridge never pass iptables, so kube-proxy's DNAT of Service traffic is not undone on the reply and same-node Service connections hang; /proc/sys/net/bridge does not exist. Verify with `ls /proc/sys/net/bridge`.",
        fix: ["modprobe br_netfilter", "echo br_netfilter > /etc/modules-load.d/br_netfilter.conf"],
    }
    BridgeNfCallIptablesDisabled {
        id: "bridge-nf-call-iptables-disabled",
        step: Kernel,
        severity: Critical,
        needs: [Sysctls, Logs],
        after_reboot: false,
        title: "Bridged pod traffic skips iptables: same-node Service replies are never de-NATed",
        explanation: "net.bridge.bridge-nf-call-iptables = 0 lets bridged traffic bypass iptables, so a Service reply from a pod on the same node is not de-NATed and the client drops it. CentOS 7's /usr/lib/sysctl.d/00-system.conf sets it to 0 at every boot unless a later file wins. Verify with `sysctl net.bridge.bridge-nf-call-iptables`.",
        fix: ["sysctl -w net.bridge.bridge-nf-call-iptables=1", "set it to 1 in a sysctl.d drop-in that sorts after every other file"],
    }
    SysctlNotPersistent {
        id: "sysctl-not-persistent",
        step: Kernel,
        severity: Warning,
        needs: [Sysctls, NodeFiles],
        after_reboot: true,
        title: "A setting Kubernetes needs is right now, but nothing sets it at boot",
        explanation: "The runtime value is right, but no boot-time configuration sets it: a reboot, a network restart or a VM resume brings back the kernel's default and the node silently breaks again. Verify with `sysctl --system` on a test node, or grep the key in /etc/sysctl.d /run/sysctl.d /usr/lib/sysctl.d /etc/sysctl.conf.",
        fix: ["write the value into a sysctl.d drop-in that sorts after every other file"],
    }
    SysctlOverridden {
        id: "sysctl-overridden",
        step: Kernel,
        severity: Critical,
        needs: [Sysctls, NodeFiles],
        after_reboot: true,
        title: "A configuration file sets a needed value wrong, and it wins at boot",
        explanation: "A sysctl file sets a value Kubernetes networking needs to the wrong value, and precedence (directory order, same-name override, lexical order, /etc/sysctl.conf last for procps) makes it win at the next boot. Verify with `systemd-sysctl --cat-config` or `sysctl --system` output.",
        fix: ["write the right value into a drop-in whose name sorts after the file that wins (never edit /usr/lib/sysctl.d)"],
    }
    ModuleNotPersistent {
        id: "module-not-persistent",
        step: Kernel,
        severity: Warning,
        needs: [Modules, NodeFiles],
        after_reboot: true,
        title: "A module Kubernetes networking needs is loaded now, but nothing loads it at boot",
        explanation: "The module was loaded by hand or by a component at runtime; after a reboot it is missing until something loads it again, and the sysctls that live under it fail to apply at boot. Verify with `grep -r <module> /etc/modules-load.d /usr/lib/modules-load.d /etc/modules`.",
        fix: ["echo <module> > /etc/modules-load.d/<module>.conf"],
    }
    RpFilterStrict {
        id: "rp-filter-strict",
        step: Kernel,
        severity: Critical,
        needs: [Sysctls, Links, Routes],
        after_reboot: false,
        title: "Strict reverse-path filtering on an interface that receives tunnelled or asymmetric pod traffic",
        explanation: "With rp_filter = 1 the kernel drops a packet unless the route back to its source leaves through the interface it arrived on. Overlay and pod traffic is often asymmetric, so packets vanish without a log. Verify with `sysctl net.ipv4.conf.all.rp_filter` and `nstat -az TcpExtIPReversePathFilter`.",
        fix: ["sysctl -w net.ipv4.conf.<if>.rp_filter=2"],
    }
    RpFilterLoose {
        id: "rp-filter-loose",
        step: Kernel,
        severity: Critical,
        needs: [Sysctls, Logs],
        after_reboot: false,
        title: "Loose reverse-path filtering (2) where the CNI refuses it: Calico felix exits",
        explanation: "systemd 240+ ships net.ipv4.conf.all.rp_filter = 2. Calico felix before v3.12 refuses to start unless rp_filter is 0 or 1 (\"RPF check is set to 'loose'\"), so calico-node crash-loops. Flannel is fine with 2. Verify with `sysctl net.ipv4.conf.all.rp_filter`.",
        fix: ["sysctl -w net.ipv4.conf.all.rp_filter=1"],
    }
    ConntrackTableFull {
        id: "conntrack-table-full",
        step: Kernel,
        severity: Critical,
        needs: [Conntrack, Logs],
        after_reboot: false,
        title: "The conntrack table is full: the kernel drops new connections",
        explanation: "When nf_conntrack_count reaches nf_conntrack_max the kernel drops every new connection (\"nf_conntrack: table full, dropping packet\"): health checks fail, Services time out at random. Verify with `conntrack -S` or `cat /proc/sys/net/netfilter/nf_conntrack_count`.",
        fix: ["sysctl -w net.netfilter.nf_conntrack_max=<twice the current value>"],
    }
    TcpTwRecycleEnabled {
        id: "tcp-tw-recycle-enabled",
        step: Kernel,
        severity: Warning,
        needs: [Sysctls],
        after_reboot: false,
        title: "net.ipv4.tcp_tw_recycle is on: the node silently drops new connections from clients behind NAT",
        explanation: "With tcp_tw_recycle = 1 (kernels before 4.12) the kernel remembers the last TCP timestamp of every peer address and drops a SYN whose timestamp is older. Behind NAT many hosts share one address with unrelated timestamp clocks, and in Kubernetes almost everything is NAT: NodePort and LoadBalancer traffic, masqueraded pod traffic from other nodes, SNAT to the node's address. Connections then time out at random (the SYN is never answered) while others work, often for about a minute after a burst of short connections. Reported for flannel (flannel-io/flannel#530), Calico (projectcalico/calico#6439) and kube-proxy NodePorts (kubernetes/kubernetes#33945). Verify with `sysctl net.ipv4.tcp_tw_recycle` and `netstat -s | grep 'passive connections rejected because of time stamp'`.",
        fix: ["sysctl -w net.ipv4.tcp_tw_recycle=0", "remove tcp_tw_recycle from the sysctl files (tuning guides set it), or set it to 0 in a sysctl.d drop-in that sorts after every other file"],
    }
    OverlayPortBlocked {
        id: "overlay-port-blocked",
        step: Rules,
        severity: Critical,
        needs: [Rules],
        after_reboot: false,
        title: "The host firewall drops the overlay's transport",
        explanation: "A host firewall rule drops the overlay's packets between nodes: UDP 8472/4789 (VXLAN), TCP 179 (BGP), IP protocol 4 (IPIP), UDP 51820/51821 (WireGuard). Same-node pod traffic works, cross-node traffic dies. Verify by capturing on both ends (`tcpdump -ni any udp port 8472`).",
        fix: ["allow the overlay's port from every node in the host firewall"],
    }
    OverlayBlockedOutsideNode {
        id: "overlay-blocked-outside-node",
        step: Rules,
        severity: Critical,
        needs: [Probes],
        after_reboot: false,
        title: "The overlay's packets are dropped outside this node (a cloud security group, a network ACL, or the peer's firewall)",
        explanation: "A probe showed it: the other node answers on the underlay, but a packet through the overlay (VXLAN's UDP port, IPIP, or BGP's TCP 179) gets no answer, and nothing on this node explains it: its firewall lets the overlay through, and its routes and FDB entries are right. The packets die between the nodes, in a cloud security group or network ACL that allows ICMP but not the overlay's port, or in the peer's own host firewall. Verify with `tcpdump -ni <uplink> udp port 8472` on both nodes while the probe runs: the request leaves this node and never arrives, or arrives and its answer never comes back.",
        fix: ["allow the overlay's transport between every pair of nodes in the cloud security group or network ACL (flannel VXLAN: UDP 8472; Calico VXLAN: UDP 4789; IPIP: IP protocol 4; BGP: TCP 179)", "run `netdoctor check --probe` on the peer node too: its host firewall may be the one dropping"],
    }
    ForwardPolicyDrop {
        id: "forward-policy-drop",
        step: Rules,
        severity: Critical,
        needs: [Rules],
        after_reboot: false,
        title: "The FORWARD chain drops pod traffic",
        explanation: "The filter FORWARD chain drops traffic between pods on different nodes (policy DROP, as Docker sets it, without an ACCEPT for the pod CIDR, or a REJECT placed before the CNI's rules). Verify with `iptables -S FORWARD` and `iptables -nvL FORWARD`.",
        fix: ["iptables -I FORWARD -s <cluster CIDR> -j ACCEPT; iptables -I FORWARD -d <cluster CIDR> -j ACCEPT"],
    }
    NodeportBlocked {
        id: "nodeport-blocked",
        step: Rules,
        severity: Warning,
        needs: [Rules],
        after_reboot: false,
        title: "The host firewall drops NodePort traffic",
        explanation: "A host firewall rule drops connections to the NodePort range (30000-32767 by default) before kube-proxy's rules see them. Verify with `iptables -nvL INPUT`.",
        fix: ["allow TCP/UDP 30000-32767 in the host firewall"],
    }
    IptablesBackendMismatch {
        id: "iptables-backend-mismatch",
        step: Rules,
        severity: Critical,
        needs: [Rules, Logs],
        after_reboot: false,
        title: "Rules sit in both iptables-legacy and iptables-nft",
        explanation: "iptables-legacy and iptables-nft are two rule sets the kernel runs both; each save command shows only its own. When components write with different backends, stale rules in one still DNAT or drop Service traffic. Verify with `iptables-legacy-save | grep -c KUBE` and `iptables-nft-save | grep -c KUBE`.",
        fix: ["choose the backend kube-proxy uses, flush the other, restart kube-proxy and the CNI agent"],
    }
    IptablesVersionBuggy {
        id: "iptables-version-buggy",
        step: Rules,
        severity: Warning,
        needs: [Versions, Rules, Logs],
        after_reboot: false,
        title: "An iptables release with known bugs that break kube-proxy's rules",
        explanation: "The nft backend of iptables 1.8.0 to 1.8.2 (and a few later releases) mistranslates, misplaces or duplicates rules that kube-proxy and CNIs write. Verify with `iptables --version`.",
        fix: ["upgrade iptables (1.8.3 or later for the 1.8.0-1.8.2 bugs), or use the legacy backend until then"],
    }
    ConntrackToolMissing {
        id: "conntrack-tool-missing",
        step: Rules,
        severity: Warning,
        needs: [Versions, Logs],
        after_reboot: false,
        title: "The conntrack tool is missing: kube-proxy cannot flush stale UDP entries",
        explanation: "kube-proxy runs `conntrack -D` to drop stale UDP entries when a Service's endpoint goes away; without the binary, DNS (UDP) keeps going to a CoreDNS pod that moved, for minutes. Verify with `which conntrack`.",
        fix: ["install the conntrack package (conntrack-tools)"],
    }
    PodCidrOverlap {
        id: "pod-cidr-overlap",
        step: Ip,
        severity: Critical,
        needs: [Addresses, Routes, Context, Logs],
        after_reboot: false,
        title: "The pod CIDR overlaps a network the node already uses",
        explanation: "Pod addresses share address space with a host network, a route or docker0: the CNI's routes are refused or steal traffic meant for the host network. The pod CIDR must be re-planned.",
        fix: ["choose a pod CIDR disjoint from every host network and route, in kubeadm and in the CNI's config"],
    }
    ServiceCidrOverlap {
        id: "service-cidr-overlap",
        step: Ip,
        severity: Critical,
        needs: [Addresses, Routes, Context],
        after_reboot: false,
        title: "The service CIDR overlaps a host network or the pod CIDR",
        explanation: "Service ClusterIPs share address space with a host network or the pod CIDR, so traffic to them is routed instead of DNATed, or pods get addresses that are also Service IPs.",
        fix: ["re-plan the service CIDR (--service-cluster-ip-range) so it is disjoint from every other network"],
    }
    StaleInterfaceAddress {
        id: "stale-interface-address",
        step: Ip,
        severity: Critical,
        needs: [Addresses, Context, Logs],
        after_reboot: false,
        title: "A leftover device holds an address of another node's pod subnet: its route cannot be installed",
        explanation: "A leftover interface (an old tunl0, docker0, a previous CNI's bridge) holds an address inside the cluster CIDR that is not this node's; the kernel refuses the CNI's route through that gateway (\"invalid argument\"), so a whole node's pods are unreachable from here. Verify with `ip -br addr`.",
        fix: ["ip addr del <address> dev <device>, then restart the CNI agent"],
    }
    BridgeAddressMismatch {
        id: "bridge-address-mismatch",
        step: Ip,
        severity: Critical,
        needs: [Addresses, NodeFiles, Context],
        after_reboot: false,
        title: "The CNI bridge holds an address outside this node's pod subnet",
        explanation: "cni0 keeps the address of an earlier pod subnet (a re-registered node, a changed lease) while the CNI now hands out addresses of another: new pods fail with \"cni0 already has an IP address different from ...\" or get unroutable addresses. Verify with `ip addr show cni0` against /run/flannel/subnet.env.",
        fix: ["ip link delete cni0 (the CNI recreates it with the right address), then restart the affected pods"],
    }
    LeftoverCniInterface {
        id: "leftover-cni-interface",
        step: Ip,
        severity: Warning,
        needs: [Links, Context],
        after_reboot: false,
        title: "Devices of a CNI that is not the one running are still here",
        explanation: "Interfaces of a previous CNI (tunl0, cali*, flannel.1, weave, cilium_*) stay after a CNI change; their addresses and routes can shadow the current CNI's. Verify with `ip -br link`.",
        fix: ["remove the old CNI's devices (ip link delete <dev>) and its files in /etc/cni/net.d, then restart the CNI agent"],
    }
    PodRouteMissing {
        id: "pod-route-missing",
        step: Route,
        severity: Critical,
        needs: [Routes, ClusterObjects],
        after_reboot: false,
        title: "No route to another node's pod CIDR",
        explanation: "The node has no route to another node's pod subnet as the CNI programs it, so pods here cannot reach pods there. Verify with `ip route get <a pod IP on that node>`.",
        fix: ["restart the CNI agent on this node and read its log for the reason the route was not added"],
    }
    PodRouteConflict {
        id: "pod-route-conflict",
        step: Route,
        severity: Critical,
        needs: [Routes, ClusterObjects],
        after_reboot: false,
        title: "A route to a pod subnet has the wrong prefix, device, gateway or type",
        explanation: "A route to another node's pod subnet points the wrong way (another device, a wrong gateway, a stale route left by another CNI or backend), so traffic to those pods leaves on the wrong path. Verify with `ip route get <a pod IP on that node>`.",
        fix: ["delete the wrong route (ip route del ...) and restart the CNI agent so it adds its own"],
    }
    VxlanFdbMissing {
        id: "vxlan-fdb-missing",
        step: Route,
        severity: Critical,
        needs: [Fdb, ClusterObjects],
        after_reboot: false,
        title: "The VXLAN device has no (or a wrong) FDB entry or neighbour for a remote VTEP",
        explanation: "flannel programs one neighbour (VTEP MAC) and one FDB entry (the node's address) per remote node; without them the overlay cannot encapsulate to that node. Verify with `bridge fdb show dev flannel.1` and `ip neigh show dev flannel.1`.",
        fix: ["restart the CNI agent so it re-adds the entries"],
    }
    VxlanDeviceDown {
        id: "vxlan-device-down",
        step: Ip,
        severity: Critical,
        needs: [Links, Context],
        after_reboot: false,
        title: "The overlay device is missing or down",
        explanation: "The overlay device (flannel.1, vxlan.calico, tunl0) is missing or administratively down, so nothing crosses to other nodes. Verify with `ip -d link show flannel.1`.",
        fix: ["ip link set <dev> up, or restart the CNI agent to recreate it"],
    }
    MtuMismatch {
        id: "mtu-mismatch",
        step: Ip,
        severity: Critical,
        needs: [Links, Context, Logs],
        after_reboot: false,
        title: "The overlay MTU plus its encapsulation does not fit the underlay MTU",
        explanation: "Overlay MTU plus encapsulation exceeds the underlay MTU (or a pod MTU exceeds the overlay's): small packets work, large ones (TLS handshakes, image pulls) vanish silently. Verify with `ping -M do -s <size>` between pods.",
        fix: ["set the CNI's MTU to the underlay MTU minus the encapsulation overhead, then restart the CNI agent and the pods"],
    }
    VxlanChecksumOffload {
        id: "vxlan-checksum-offload",
        step: Ip,
        severity: Critical,
        needs: [Logs, Versions],
        after_reboot: false,
        title: "VXLAN packets arrive with bad UDP checksums (the kernel's checksum-offload bug)",
        explanation: "A kernel bug (fixed in 5.7) miscalculates UDP checksums of VXLAN packets that NAT touched when checksum offload is on; the receiver drops them. Verify with `tcpdump -vv udp port 8472` (bad udp cksum).",
        fix: ["ethtool -K flannel.1 tx-checksum-ip-generic off   # on every node", "upgrade the kernel"],
    }
    PodcidrNotAllocated {
        id: "podcidr-not-allocated",
        step: Ip,
        severity: Critical,
        needs: [ClusterObjects, Logs],
        after_reboot: false,
        title: "The node has no pod CIDR: the CNI cannot start",
        explanation: "kube-controller-manager assigns Node.spec.podCIDR only with --allocate-node-cidrs and --cluster-cidr; without it flanneld (kube subnet manager) exits and no pod on the node gets an address. Verify with `kubectl get node <name> -o jsonpath='{.spec.podCIDR}'`.",
        fix: ["run kube-controller-manager with --allocate-node-cidrs=true --cluster-cidr=<pod range>"],
    }
    WrongNodeIp {
        id: "wrong-node-ip",
        step: Ip,
        severity: Critical,
        needs: [Addresses, ClusterObjects, Logs],
        after_reboot: false,
        title: "The overlay uses the wrong node address",
        explanation: "The CNI picked an address other nodes cannot reach (flannel's public-ip or Calico's IPv4Address on docker0, a NAT interface every VM shares, a wrong NIC), so tunnels are built to addresses that do not lead to this node. Verify with the node's flannel/Calico annotations against `ip -br addr`.",
        fix: ["set the CNI's interface explicitly (flannel --iface, Calico IP_AUTODETECTION_METHOD) and restart it"],
    }
    ServiceNoEndpoints {
        id: "service-no-endpoints",
        step: App,
        severity: Warning,
        needs: [Rules, ClusterObjects],
        after_reboot: false,
        title: "The Service has no endpoints: kube-proxy rejects its traffic",
        explanation: "kube-proxy installs a REJECT for a Service without ready endpoints, so clients get connection refused (or ICMP unreachable for UDP). The Service's pods are missing, not ready, or its selector matches nothing. Verify with `kubectl get endpointslices -n <ns>`.",
        fix: ["fix the Service's selector or its pods' readiness"],
    }
    KubeProxyRulesMissing {
        id: "kube-proxy-rules-missing",
        step: App,
        severity: Critical,
        needs: [Rules, ClusterObjects, Logs],
        after_reboot: false,
        title: "A Service that has endpoints has no kube-proxy rules on this node",
        explanation: "kube-proxy did not (or could not) program this Service on this node: its ClusterIP leads nowhere from here. kube-proxy may be down, failing its iptables-restore, or using another backend. Verify with `iptables-save | grep <service>` and kube-proxy's log.",
        fix: ["read kube-proxy's log on this node and restart it"],
    }
    BgpPortInUse {
        id: "bgp-port-in-use",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "Another process holds TCP 179, so the CNI's BGP speaker cannot listen",
        explanation: "BIRD in calico-node (or kube-router) cannot bind TCP 179 because another process (another BGP daemon, an old calico-node) holds it, so no BGP peer comes up and no pod routes are exchanged. Verify with `ss -ltnp sport = :179`.",
        fix: ["stop the other process that listens on TCP 179"],
    }
    KernelNetfilterFeatureMissing {
        id: "kernel-netfilter-feature-missing",
        step: Kernel,
        severity: Critical,
        needs: [Logs, Modules],
        after_reboot: false,
        title: "The kernel lacks a netfilter match, target or nft expression that kube-proxy or the CNI writes",
        explanation: "A rule kube-proxy or the CNI writes uses a netfilter extension the kernel does not have (a missing module, a stripped-down kernel), so the whole restore fails and their rules never load. Verify by loading the module named in the error (`modprobe xt_<name>`).",
        fix: ["modprobe the missing module and list it in /etc/modules-load.d, or use a kernel that has it"],
    }
    IptablesVersionSkew {
        id: "iptables-version-skew",
        step: Rules,
        severity: Warning,
        needs: [Versions, Logs],
        after_reboot: false,
        title: "The iptables in kube-proxy's or the CNI's image and the host's read each other's rules differently",
        explanation: "Two iptables versions of the same backend share the rule set; one writes rules in a form the other cannot read back, so a save-and-restore by the older one rewrites or loses them. Verify with `iptables --version` on the host and inside the kube-proxy and CNI containers.",
        fix: ["make the host and the containers use the same iptables version (or a newer one everywhere)"],
    }
    CniStartedBeforeNetworkOnline {
        id: "cni-started-before-network-online",
        step: App,
        severity: Warning,
        needs: [Logs],
        after_reboot: false,
        title: "The CNI agent started before the node's interface had its address and never retried",
        explanation: "The CNI agent looked for its interface before the node's network was up (unit ordering, cloud-init), failed to pick it, and stayed broken. Verify in the agent's log that its first lines say it found no address, then restart it.",
        fix: ["restart the CNI agent; order its unit after network-online.target"],
    }
    HairpinModeDisabled {
        id: "hairpin-mode-disabled",
        step: Ip,
        severity: Warning,
        needs: [Links, Logs],
        after_reboot: false,
        title: "Hairpin mode is off on the pod bridge ports: a pod cannot reach itself through its own Service",
        explanation: "When a Service load-balances a pod's connection back to that same pod, the packet must leave and re-enter the same bridge port; that needs hairpin_mode = 1 on the port (or a promiscuous bridge). With it off the pod gets no reply. The kubelet sets it (hairpin-veth) unless its hairpin mode is none or the CNI's bridge plugin has hairpinMode false. Verify with `cat /sys/class/net/cni0/brif/*/hairpin_mode`.",
        fix: ["set \"hairpinMode\": true in the bridge plugin's config (or kubelet --hairpin-mode=hairpin-veth) and recreate the pods"],
    }
    PodToHostBlocked {
        id: "pod-to-host-blocked",
        step: Rules,
        severity: Critical,
        needs: [Rules, Logs],
        after_reboot: false,
        title: "The host firewall rejects traffic from pods to the node itself",
        explanation: "The node's INPUT rules (firewalld's REJECT with icmp-host-prohibited, ufw, a DROP policy) reject traffic from cni0 or the pod CIDR to the node: pods see `no route to host` to the API server through the kubernetes Service, to node-local DNS or to the kubelet. It is the INPUT side of forward-policy-drop. Verify with `iptables -nvL INPUT` and kernel log lines of the firewall.",
        fix: ["accept the pod CIDR (or cni0) in INPUT before the reject: iptables -I INPUT -s <cluster CIDR> -j ACCEPT, or put cni0 in firewalld's trusted zone"],
    }
    RpFilterOnCniDevice {
        id: "rp-filter-on-cni-device",
        step: Kernel,
        severity: Critical,
        needs: [Sysctls, Links],
        after_reboot: false,
        title: "Reverse-path filtering is on for the CNI's own devices where the CNI needs it off",
        explanation: "Cilium redirects pod traffic between its devices (lxc*, cilium_host) in ways reverse-path filtering does not expect; systemd 245+ applies rp_filter = 2 to every new interface through net.ipv4.conf.*.rp_filter, and the pods' packets are dropped. Verify with `sysctl -a | grep 'lxc.*rp_filter'`.",
        fix: ["add net.ipv4.conf.lxc*.rp_filter = 0 to a sysctl.d drop-in (the CNI's devices, by glob), then restart the CNI agent"],
    }
    ServiceCidrBlackholeRoute {
        id: "service-cidr-blackhole-route",
        step: Route,
        severity: Critical,
        needs: [Routes, Context],
        after_reboot: false,
        title: "A blackhole route covers the service CIDR: traffic the node sends to ClusterIPs is dropped before DNAT",
        explanation: "A blackhole or unreachable route for the service CIDR (for example BIRD's static route for advertised cluster IPs) makes the node's own connections to ClusterIPs fail, so agents on the host network (calico-node, kubelet plugins) cannot reach the API server through the kubernetes Service. Verify with `ip route get <the kubernetes Service IP>`.",
        fix: ["remove the blackhole route for the service CIDR, and its source (Calico BGPConfiguration serviceClusterIPs, a static route)"],
    }
    DefaultRouteMissing {
        id: "default-route-missing",
        step: Route,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The node has no default route, so the CNI agent cannot pick its interface or reach the service network",
        explanation: "flanneld (and Calico's can-reach autodetection) choose the node's interface from the default route, and the kubernetes service VIP (10.96.0.1) is normally reached through it. With no default route at the moment the agent starts, it exits or picks nothing and pods get no network. Verify with `ip route show default` on the node; a missing route at boot that appears later points at a unit-ordering problem instead.",
        fix: ["ip route show default", "add a default route (or a route covering the service CIDR) in the node's network configuration, e.g. `ip route add default via <gateway> dev <iface>`", "or pin the interface explicitly: flanneld --iface=<iface>, Calico IP_AUTODETECTION_METHOD=interface=<regex>"],
    }
    IfaceSelectionMismatch {
        id: "iface-selection-mismatch",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The CNI's interface/address selection setting matches no usable interface on this node",
        explanation: "flanneld's --iface/--iface-regex/--iface-can-reach and Calico's IP_AUTODETECTION_METHOD (interface=, can-reach=, cidrs=) must match an interface that holds an address on every node. When the regex names an interface that does not exist here (eth0 vs ens192, ib0 without an address), the agent cannot determine the node address and never comes up, or BGP/VXLAN peers use nothing. Compare `ip -4 addr` with the configured method.",
        fix: ["ip -4 -o addr", "kubectl -n kube-system get ds calico-node -o yaml | grep -A1 IP_AUTODETECTION_METHOD", "set a method that matches on every node, e.g. `kubectl set env ds/calico-node -n kube-system IP_AUTODETECTION_METHOD=interface=eth.*,ens.*` or flanneld --iface-regex='^(eth|ens)'"],
    }
    CniAgentNotRunning {
        id: "cni-agent-not-running",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The CNI agent (flanneld, calico-node, cilium-agent) is not running or not ready on this node",
        explanation: "The CNI plugin binary the kubelet calls only works when the node agent has done its part: flanneld writes /run/flannel/subnet.env, calico-node writes /var/lib/calico/nodename, cilium-agent serves /var/run/cilium/cilium.sock. When the agent pod is crash-looping, not scheduled, or lacks its host mounts, every pod sandbox on the node fails. Check the agent pod on that node and its own log for the real cause.",
        fix: ["kubectl -n kube-system get pods -o wide | grep -E 'flannel|calico-node|cilium'", "kubectl -n kube-system logs <agent-pod-on-this-node> --previous", "ls -l /run/flannel/subnet.env /var/lib/calico/nodename /var/run/cilium/cilium.sock"],
    }
    StaleCniConfig {
        id: "stale-cni-config",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "A CNI configuration file of a CNI that is not (or no longer) deployed is active in /etc/cni/net.d",
        explanation: "The kubelet/containerd use the lexically first file in /etc/cni/net.d. A leftover 10-flannel.conflist, 05-cilium.conflist or 10-calico.conflist from an earlier install makes every pod sandbox call a plugin whose agent is gone, so sandboxes fail with that plugin's 'agent not running' error even though the intended CNI is healthy.",
        fix: ["ls -l /etc/cni/net.d/", "move the config files of the CNI you no longer run out of /etc/cni/net.d and restart the kubelet/containerd", "delete the leftover interfaces (cni0, flannel.1, cilium_*) of the removed CNI"],
    }
    CniCredentialsInvalid {
        id: "cni-credentials-invalid",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The API server rejects the CNI's credentials (expired or invalid service-account token)",
        explanation: "CNI agents and plugins talk to the API server with a service-account token: flanneld and calico-node with their pod's token, the Calico CNI plugin with the token calico-node writes into /etc/cni/net.d/calico-kubeconfig and refreshes. If the token is expired, was issued for a deleted/recreated service account, or the API server's service-account signing key changed, every request answers Unauthorized: the agent cannot start, or every pod add/delete on the node fails.",
        fix: ["kubectl -n kube-system get pods -o wide | grep -E 'flannel|calico-node'", "recreate the agent pod so it gets a fresh token (for Calico this also rewrites /etc/cni/net.d/calico-kubeconfig): kubectl -n kube-system delete pod <agent-pod>", "check the node clock (timedatectl) and whether the API server's --service-account-key-file changed"],
    }
    CniRbacMissing {
        id: "cni-rbac-missing",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The CNI agent's service account lacks the RBAC permissions it needs",
        explanation: "flanneld with the kube subnet manager must get its own pod and get/list/watch/patch nodes; calico-node and weave need similar ClusterRoles. When the ClusterRole/ClusterRoleBinding from the CNI manifest was not applied (old split RBAC manifests, hardened install tooling that trimmed verbs, a namespace change such as kube-system -> kube-flannel), the API server answers Forbidden and the agent never starts.",
        fix: ["kubectl auth can-i get pods -n kube-flannel --as=system:serviceaccount:kube-flannel:flannel", "kubectl get clusterrole flannel -o yaml; kubectl get clusterrolebinding flannel -o yaml", "re-apply the CNI's manifest (it contains the ClusterRole and ClusterRoleBinding) matching the namespace the DaemonSet runs in"],
    }
    IppoolMissing {
        id: "ippool-missing",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "No enabled Calico IP pool can serve this node",
        explanation: "Calico IPAM assigns pod addresses only from IPPool resources that exist, are not disabled, and whose nodeSelector matches the node. With no matching pool (deleted, disabled during a migration, IPv6 requested without an IPv6 pool) the CNI plugin cannot allocate an address and pods stay in ContainerCreating.",
        fix: ["calicoctl get ippools -o wide", "kubectl get ippools.crd.projectcalico.org -o yaml", "create or re-enable a pool covering the cluster CIDR, with a nodeSelector that matches the node"],
    }
    FlannelNetworkConfigMissing {
        id: "flannel-network-config-missing",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "flanneld's network configuration is missing from its datastore",
        explanation: "With the etcd subnet manager, flanneld reads <etcd-prefix>/config (default /coreos.com/network/config) before it can lease a subnet. If the key was never written, was written under another prefix, or was written with the etcd v3 API while flanneld reads v2 (or the reverse), flanneld loops on 'Key not found' and the node never gets a subnet.",
        fix: ["ETCDCTL_API=2 etcdctl get /coreos.com/network/config; ETCDCTL_API=3 etcdctl get /coreos.com/network/config", "write the config under the prefix flanneld uses, with the API version it reads: etcdctl set /coreos.com/network/config '{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}'", "check flanneld's -etcd-prefix flag"],
    }
    KernelVxlanMissing {
        id: "kernel-vxlan-missing",
        step: Kernel,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The kernel cannot create VXLAN devices (vxlan module missing or not built)",
        explanation: "Creating flannel.1 / vxlan.calico / cilium_vxlan needs CONFIG_VXLAN. Minimal and Raspberry Pi kernels (e.g. Ubuntu 21.10+ raspi without linux-modules-extra) and some embedded boards ship without it, so the netlink request fails with 'operation not supported' and the overlay never comes up.",
        fix: ["modprobe vxlan && lsmod | grep vxlan", "grep -w vxlan /lib/modules/$(uname -r)/modules.builtin; zgrep CONFIG_VXLAN /proc/config.gz", "install the extra modules package (Ubuntu raspi: apt install linux-modules-extra-raspi) or switch the backend (host-gw) if the nodes share an L2 segment"],
    }
    VxlanPortConflict {
        id: "vxlan-port-conflict",
        step: Ip,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "Another VXLAN device on the node already uses the overlay's UDP port",
        explanation: "The kernel allows one VXLAN device per UDP destination port (and VNI) per address. A leftover flannel.1, a cilium_vxlan from a previous CNI, or Ubuntu fan networking already bound to 8472/4789 makes the new CNI's device fail to come up with 'address already in use', so the overlay is down.",
        fix: ["ip -d link show type vxlan", "delete the stale device of the CNI you no longer run (ip link del flannel.1 / cilium_vxlan) or move the new CNI to another port (cilium tunnel-port, flannel Backend.Port)"],
    }
    NextHopNotOnLink {
        id: "next-hop-not-on-link",
        step: Route,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "Routes use another node as next hop, but that node is not directly reachable (not on the same L2 segment)",
        explanation: "Direct-routing modes (flannel host-gw or vxlan DirectRouting, Cilium autoDirectNodeRoutes, BIRD-installed routes without IPIP/VXLAN) install 'pod-CIDR via <node-IP>'. That only works when the node IP is on-link. If the nodes are in different subnets (behind a router, cloud /32 interface addresses, Hetzner-style gateways) the kernel refuses the route (EINVAL) or the routing daemon ignores it, and cross-node pod traffic has no route.",
        fix: ["ip route get <other-node-ip>   # must show no 'via'", "use an encapsulating backend (flannel vxlan, Calico IPIP/VXLAN CrossSubnet, Cilium tunnel mode) or put the nodes on one L2 segment"],
    }
    BpffsNotMounted {
        id: "bpffs-not-mounted",
        step: Kernel,
        severity: Warning,
        needs: [Logs],
        after_reboot: false,
        title: "The BPF filesystem is not mounted on the host at /sys/fs/bpf",
        explanation: "Cilium pins its maps and programs under /sys/fs/bpf. If the host has no bpffs mount (or it is not propagated into the agent pod), the agent mounts a private one that disappears when the pod restarts; pinned maps are lost and the node drops connections (or all traffic) during every agent restart or upgrade.",
        fix: ["mount | grep /sys/fs/bpf", "mount bpffs at boot: add `bpffs /sys/fs/bpf bpf defaults 0 0` to /etc/fstab or enable sys-fs-bpf.mount", "ensure the DaemonSet mounts /sys/fs/bpf with mountPropagation: Bidirectional"],
    }
    WeaveIpamSplit {
        id: "weave-ipam-split",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "Weave Net IPAM was seeded independently on different peers (split allocation ring)",
        explanation: "Weave Net's allocator agrees on the owner of the address range once, at consensus. Peers that formed consensus separately (started while partitioned, rejoined after their persisted data survived a reset, or nodes recreated with a reused IP) refuse each other's connections with 'IP allocation was seeded by different peers', so the mesh never forms and cross-node pod traffic fails.",
        fix: ["kubectl exec -n kube-system <weave-pod> -c weave -- /home/weave/weave --local status ipam", "on the minority side: stop weave, remove the persisted data (/var/lib/weave/weave-netdata.db), restart it so it joins the existing ring", "weave rmpeer for peers that no longer exist"],
    }
    DuplicateNodeName {
        id: "duplicate-node-name",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "Two nodes register with the same node name",
        explanation: "Calico keys its Node resource (and BGP address) by node name. Hosts cloned from one image keep the same hostname (e.g. localhost.localdomain), so the second host overwrites or collides with the first: calico-node refuses to start with an address conflict, or routes for one node point at the other.",
        fix: ["hostnamectl set-hostname <unique-name> on each host, then re-join the node", "calicoctl get nodes -o wide"],
    }
    TyphaPortBlocked {
        id: "typha-port-blocked",
        step: Rules,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "Calico nodes cannot reach Typha on TCP 5473",
        explanation: "In clusters with Typha (operator installs, large clusters) every calico-node (felix and confd) syncs through a Typha pod on TCP 5473 of another node. A host or cloud firewall that blocks 5473 between nodes leaves calico-node unable to start on every node except the ones hosting Typha.",
        fix: ["nc -vz <typha-node-ip> 5473 from an affected node", "open TCP 5473 between all nodes (security group / firewalld: firewall-cmd --add-port=5473/tcp --permanent)"],
    }
    CniConfigMissing {
        id: "cni-config-missing",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "No usable CNI network configuration: the container runtime cannot set up pod networking",
        explanation: "The runtime (containerd, CRI-O, dockershim/cri-dockerd) found no valid network configuration in its CNI conf dir (usually /etc/cni/net.d), so it reports NetworkReady=false, the kubelet keeps the node NotReady and every new pod sandbox fails. The file is normally written by the CNI daemonset (flannel, calico-node, cilium ...) once it is running, so the real cause is often that the CNI pod is not running on this node, writes to another directory, or wrote an invalid file. Verify with `ls -l /etc/cni/net.d` and `crictl info | grep -A3 lastCNILoadStatus`.",
        fix: ["ls -l /etc/cni/net.d/ && crictl info | grep -i -A3 cniload", "kubectl -n kube-system get pods -o wide --field-selector spec.nodeName=$(hostname)   # is the CNI daemonset pod running here?", "install the CNI add-on (kubectl apply -f <cni manifest>) or fix the runtime's conf_dir / --cni-conf-dir to point where the CNI writes its file"],
    }
    CniPluginMissing {
        id: "cni-plugin-missing",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "A CNI plugin binary named in the network configuration is missing from the CNI bin dir",
        explanation: "The network configuration names a plugin type (loopback, bridge, portmap, host-local, flannel ...) that the runtime cannot find in its CNI bin directories (usually /opt/cni/bin), so every pod sandbox setup, and its teardown, fails. This happens when the containernetworking-plugins package (kubernetes-cni) was never installed, when the runtime looks in another bin_dir, or when the CNI installer only copied its own binary. Verify with `ls /opt/cni/bin` against the `type` fields of the files in /etc/cni/net.d.",
        fix: ["ls -l /opt/cni/bin/   # compare with the \"type\" values in /etc/cni/net.d/*", "install the reference plugins: mkdir -p /opt/cni/bin && curl -L https://github.com/containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-amd64-v1.9.1.tgz | tar -C /opt/cni/bin -xz", "or point the runtime at the right directory (containerd: [plugins.\"io.containerd.grpc.v1.cri\".cni] bin_dir; kubelet dockershim: --cni-bin-dir)"],
    }
    CniPluginsOutdated {
        id: "cni-plugins-outdated",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The CNI plugin binaries are too old for the network configuration or the runtime",
        explanation: "The installed plugin binaries do not support the cniVersion that the configuration declares (for example config 1.0.0, plugins that stop at 0.4.0), or they carry a fixed bug such as the bridge plugin's address race at node start-up. Pod sandbox creation fails with a version error or intermittently. Verify with `/opt/cni/bin/bridge --version` (or `CNI_COMMAND=VERSION /opt/cni/bin/<plugin> </dev/null`) and the cniVersion field in /etc/cni/net.d.",
        fix: ["CNI_COMMAND=VERSION /opt/cni/bin/bridge </dev/null; grep -h cniVersion /etc/cni/net.d/*", "upgrade the plugins (containernetworking/plugins >= v1.0.0 supports cniVersion 1.0.0) or lower cniVersion in the configuration to one the plugin lists"],
    }
    IpamExhausted {
        id: "ipam-exhausted",
        step: Ip,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The node's host-local IPAM range has no free address (often leaked reservations of deleted pods)",
        explanation: "host-local keeps one file per allocated address under /var/lib/cni/networks/<network>/. When pod teardown fails (runtime restarts, CNI errors on delete) these files are never removed, and once every address of the node's pod CIDR is reserved no new pod can get an IP: sandboxes fail with 'no IP addresses available in range set'. Verify by comparing `ls /var/lib/cni/networks/<network> | wc -l` with the number of running pods on the node.",
        fix: ["ls /var/lib/cni/networks/*/ | wc -l; crictl pods -q | wc -l", "kubectl drain <node> --ignore-daemonsets; remove the reservation files whose container id is no longer running (or all of them with the runtime stopped): rm /var/lib/cni/networks/<network>/10.*; restart the runtime; kubectl uncordon <node>", "if the range is simply too small, give nodes a larger pod CIDR (--node-cidr-mask-size)"],
    }
    IpvsModulesMissing {
        id: "ipvs-modules-missing",
        step: Kernel,
        severity: Warning,
        needs: [Logs],
        after_reboot: false,
        title: "The IPVS kernel modules kube-proxy's ipvs mode needs are not loaded and cannot be loaded",
        explanation: "kube-proxy in ipvs mode needs ip_vs, ip_vs_rr, ip_vs_wrr, ip_vs_sh and nf_conntrack. When they are neither loaded, built in, nor loadable (kube-proxy runs in a container without /lib/modules, or the kernel lacks them), kube-proxy before v1.27 silently fell back to iptables mode and newer versions fail to start; Services then behave differently from what the cluster was configured for, or not at all. This is only a problem when mode is ipvs. Verify with `lsmod | grep -e ip_vs -e nf_conntrack` and `grep -e ip_vs /lib/modules/$(uname -r)/modules.builtin`.",
        fix: ["modprobe -a ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh nf_conntrack", "printf 'ip_vs\\nip_vs_rr\\nip_vs_wrr\\nip_vs_sh\\nnf_conntrack\\n' > /etc/modules-load.d/ipvs.conf", "mount /lib/modules read-only into the kube-proxy pod, or switch kube-proxy to iptables/nftables mode"],
    }
    ClusterCidrExhausted {
        id: "cluster-cidr-exhausted",
        step: Ip,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The cluster CIDR has no room for another node's pod CIDR (too small for the node count or the node CIDR mask size)",
        explanation: "kube-controller-manager carves one pod CIDR of --node-cidr-mask-size (default /24) per node out of --cluster-cidr. When the cluster CIDR holds fewer such blocks than there are nodes (or is smaller than one block), new nodes get no spec.podCIDR: the CNI (flannel, kube-router, host-local with usePodCidr) cannot start there and pods stay in ContainerCreating. Verify with `kubectl get nodes -o custom-columns=NAME:.metadata.name,CIDR:.spec.podCIDR` and the controller-manager flags.",
        fix: ["kubectl get nodes -o custom-columns=NAME:.metadata.name,PODCIDR:.spec.podCIDR", "enlarge --cluster-cidr (kubeadm: networking.podSubnet) or raise --node-cidr-mask-size(-ipv4/-ipv6) on kube-controller-manager, then restart it; existing node CIDRs cannot be changed in place"],
    }
    DockerChainsFlushed {
        id: "docker-chains-flushed",
        step: Rules,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "Docker's iptables chains were removed after dockerd started (firewalld reload, iptables flush or restore by another tool)",
        explanation: "dockerd creates the DOCKER, DOCKER-ISOLATION-STAGE-* and DOCKER-USER chains once, at start. When firewalld is reloaded or restarted, or a script runs iptables -F/-X or iptables-restore, those chains disappear and dockerd can no longer program networks or published ports ('Chain DOCKER does not exist', 'No chain/target/match by that name'); container and pod traffic through docker0 loses its NAT and forwarding rules. Verify with `iptables -t nat -S DOCKER` and `iptables -S DOCKER-USER`.",
        fix: ["systemctl restart docker   # recreates the chains and the rules of existing networks", "with firewalld: put docker0/br-* in a trusted zone and restart docker after every firewalld reload, or run docker >= 20.10 which registers the docker zone itself", "find and stop the tool that flushes iptables (iptables-restore without --noflush, cloud-init scripts)"],
    }
    XtablesLockContention {
        id: "xtables-lock-contention",
        step: Rules,
        severity: Warning,
        needs: [Logs],
        after_reboot: false,
        title: "Another process holds the xtables lock, so kube-proxy's (or dockerd's) iptables updates fail or time out",
        explanation: "Every iptables, iptables-save and iptables-restore call takes /run/xtables.lock. When another program holds it for long (a hung iptables, firewalld, a CNI agent rewriting large rule sets, a kernel stuck in netfilter), kube-proxy's syncs fail with 'Another app is currently holding the xtables lock' and Service rules go stale: new Services and endpoint changes are not applied. Verify with `fuser -v /run/xtables.lock` and by timing `iptables-save | wc -l`.",
        fix: ["fuser -v /run/xtables.lock; ps -eo pid,etime,cmd | grep -e iptables -e nft", "kill the stuck iptables process; reduce other writers (firewalld, periodic scripts); make sure kube-proxy and the CNI share the same /run/xtables.lock (hostPath mount)"],
    }
    ProxySysctlNotWritable {
        id: "proxy-sysctl-not-writable",
        step: Kernel,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "kube-proxy cannot write the sysctls and conntrack parameters it sets at start",
        explanation: "At start-up kube-proxy writes net.netfilter.nf_conntrack_max, /sys/module/nf_conntrack/parameters/hashsize, route_localnet and (ipvs) net.ipv4.vs.* sysctls. When /proc/sys or /sys is read-only or denied (kube-proxy not privileged, an AppArmor or runtime default profile, a nested container such as LXD/kind/docker-in-docker, or kernels >= 5.12.2 that refuse nf_conntrack_max outside the initial network namespace) kube-proxy exits and restarts forever, so no Service rules are installed on the node. Verify with the kube-proxy log and `sysctl net.netfilter.nf_conntrack_max`.",
        fix: ["run kube-proxy privileged with /proc and /sys writable (the kubeadm DaemonSet does)", "in nested environments set the values on the host and tell kube-proxy to leave them alone: conntrack.maxPerCore: 0 (--conntrack-max-per-core=0) in the KubeProxyConfiguration", "sysctl -w net.netfilter.nf_conntrack_max=<value> on the host"],
    }
    IptablesBinaryMissing {
        id: "iptables-binary-missing",
        step: Rules,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The iptables binary is not in the PATH of the kubelet or kube-proxy",
        explanation: "The kubelet and kube-proxy (iptables and ipvs modes) shell out to iptables, iptables-save and iptables-restore. When the binary is missing from the host or from the PATH the service runs with (minimal distributions, systemd units with a reduced PATH, custom images), chain creation fails and no Service, hostPort or masquerade rules are written. Verify with `command -v iptables iptables-restore` as the service's user and PATH.",
        fix: ["install iptables (apt-get install iptables / dnf install iptables-nft)", "make sure the unit's PATH contains /usr/sbin (systemctl show kubelet -p Environment)"],
    }
    NftablesVersionSkew {
        id: "nftables-version-skew",
        step: Rules,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "Two nft versions share the host's nftables ruleset and the older one cannot parse what the newer wrote",
        explanation: "kube-proxy in nftables mode runs the nft binary of its image. When another program on the node (or in a host-network container) created tables or sets with a newer nft/kernel feature, the older nft crashes or errors while listing the ruleset, so kube-proxy's nftables syncs fail and Services break on that node. Verify with `nft --version` on the host and in the kube-proxy image, and `nft list ruleset` from both.",
        fix: ["upgrade kube-proxy to a release whose image ships an nft at least as new as the host's", "remove or move the foreign tables/sets created by the newer nft, or run kube-proxy in iptables mode on such nodes"],
    }
    DnsForwardingLoop {
        id: "dns-forwarding-loop",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "CoreDNS forwards queries back to itself: the upstream it uses is a loopback stub resolver or the cluster DNS",
        explanation: "CoreDNS's forward plugin sends queries it cannot answer to the nameservers in the resolv.conf it was given (by default the node's /etc/resolv.conf via dnsPolicy Default). When that file names a local stub such as systemd-resolved's 127.0.0.53, dnsmasq on 127.0.0.1, or the cluster DNS Service IP, every forwarded query comes back to CoreDNS. The loop plugin detects this at start-up and exits, so CoreDNS pods crash-loop and all DNS in the cluster fails. Verify with `cat /etc/resolv.conf` on the node (and the file kubelet's resolvConf points to).",
        fix: ["point kubelet at the real upstream list: set resolvConf: /run/systemd/resolve/resolv.conf in /var/lib/kubelet/config.yaml (or --resolv-conf=/run/systemd/resolve/resolv.conf), then systemctl restart kubelet", "or edit the coredns ConfigMap: replace 'forward . /etc/resolv.conf' with 'forward . <upstream-ip>'", "kubectl -n kube-system rollout restart deployment coredns"],
    }
    PodEgressMasqueradeMissing {
        id: "pod-egress-masquerade-missing",
        step: Rules,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "Pod traffic leaving the cluster is not masqueraded, so replies from outside (upstream DNS, internet) never come back",
        explanation: "Pod addresses are usually not routable outside the cluster; the CNI (flannel --ip-masq, Calico natOutgoing, the bridge plugin's ipMasq) adds a MASQUERADE rule so packets leave with the node's address. Without it, requests from pods (including CoreDNS talking to the upstream resolver) go out with a pod source address and the replies are dropped upstream. Verify with `iptables -t nat -S POSTROUTING` and look for a MASQUERADE rule for the pod CIDR.",
        fix: ["flannel: run flanneld with --ip-masq (kube-flannel.yml sets it) and restart the DaemonSet", "Calico: calicoctl patch ippool default-ipv4-ippool -p '{\"spec\": {\"natOutgoing\": true}}'", "temporary: iptables -t nat -A POSTROUTING -s <pod-cidr> ! -d <pod-cidr> -j MASQUERADE"],
    }
    NeighGcThreshTooLow {
        id: "neigh-gc-thresh-too-low",
        step: Kernel,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The kernel neighbour (ARP/NDP) table is full: gc_thresh3 is too low for the number of pods and nodes",
        explanation: "Every pod on a bridge or routed veth and every peer node costs a neighbour entry. Once the table reaches net.ipv4.neigh.default.gc_thresh3 (1024 by default) the kernel refuses new entries and drops packets to addresses it cannot resolve, logging 'neighbor table overflow!'. Connections to new pods and nodes fail at random while existing ones keep working. Verify with `ip -4 neigh show | wc -l` against `sysctl net.ipv4.neigh.default.gc_thresh3`.",
        fix: ["sysctl -w net.ipv4.neigh.default.gc_thresh1=8192 net.ipv4.neigh.default.gc_thresh2=32768 net.ipv4.neigh.default.gc_thresh3=65536", "persist the same keys (and the net.ipv6.neigh.default.* ones) in /etc/sysctl.d/90-neigh.conf"],
    }
    DuplicateMacAddress {
        id: "duplicate-mac-address",
        step: Ip,
        severity: Warning,
        needs: [Logs],
        after_reboot: false,
        title: "A frame carrying this node's own MAC address arrived from outside: a duplicated MAC (cloned VM, static MAC on a virtual device) or a layer-2 loop",
        explanation: "The bridge saw a packet whose source MAC is one of its own local addresses coming in on a port. Either another machine uses the same MAC (VMs cloned from one image, a CNI or udev policy that gives virtual devices a fixed MAC) or the segment loops frames back. The bridge's forwarding database then points at the wrong port and traffic for that MAC is black-holed intermittently. Verify with `ip -br link` on every node and compare MACs of the bridge and overlay devices.",
        fix: ["give every node unique MACs (regenerate the cloned VM's NICs; set MACAddressPolicy=none in a .link file for cni0/flannel.1 if udev assigns fixed ones)", "remove the layer-2 loop (hairpin on the uplink, two bridged NICs on one switch) and enable STP on the bridge if loops are possible"],
    }
    DuplicatePodSubnet {
        id: "duplicate-pod-subnet",
        step: Ip,
        severity: Critical,
        needs: [Addresses],
        after_reboot: false,
        title: "Two nodes hold the same pod subnet address: each one's pods are reachable from only part of the cluster",
        explanation: "Found only by comparing nodes (netdoctor fleet). Every node's overlay device and pod bridge carry an address of that node's own pod subnet (flannel: flannel.1 10.244.N.0/32 and cni0 10.244.N.1/24). When two nodes carry the same one, both were given one subnet (a re-registered node that kept its old flannel lease, a cloned VM with /run/flannel/subnet.env, a podCIDR assigned twice): the other nodes route that subnet to one of them, so pods on the other are unreachable from outside their node, and their IPs can collide. Verify with `ip -br addr` on both nodes and `kubectl get nodes -o custom-columns=NAME:.metadata.name,CIDR:.spec.podCIDR`.",
        fix: ["drain one of the two nodes, delete its Node object and its CNI state (/run/flannel/subnet.env, /var/lib/cni), and let it rejoin to get a subnet of its own"],
    }
    OverlayConfigMismatch {
        id: "overlay-config-mismatch",
        step: Ip,
        severity: Critical,
        needs: [Links],
        after_reboot: false,
        title: "The overlay device differs between nodes (VNI or UDP port): their encapsulated traffic is dropped",
        explanation: "Found only by comparing nodes (netdoctor fleet). A VXLAN packet is accepted only by a device with the same VNI listening on the UDP port it was sent to. Nodes whose overlay device was created before a change of the CNI's VNI or port (flannel net-conf.json, Calico's vxlanPort/vxlanVNI) and not recreated since send and expect something the others do not: pods across the two groups cannot talk, while each group works. Verify with `ip -d link show flannel.1` (or vxlan.calico) on each node: `vxlan id N ... dstport P`.",
        fix: ["restart the CNI agent on the nodes whose device differs from the configuration (flannel, calico-node): it recreates the device with the configured VNI and port", "if the configuration itself is what changed, change it back or roll it to every node"],
    }
    NftNativeRulesInIptablesTable {
        id: "nft-native-rules-in-iptables-table",
        step: Rules,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The nftables table that iptables-nft manages holds rules it cannot read (written with nft or a newer iptables), so kube-proxy and the CNI cannot list or save it",
        explanation: "iptables-nft keeps its rules in the nftables tables 'ip filter', 'ip nat' and so on. If a tool writes native nft rules into those tables, or a newer iptables writes expressions an older one does not understand, iptables refuses the whole table with \"table `nat' is incompatible, use 'nft' tool\". kube-proxy's and the CNI's save/restore cycle then fails and their chains are not updated. Verify with `nft list table ip nat` and look for rules that are not in iptables-save format.",
        fix: ["move the native nft rules into a table of their own (nft add table inet myfw) instead of ip nat / ip filter", "make every iptables on the node the same version and backend (host, kube-proxy image, CNI image)"],
    }
    IptablesExtensionsMissing {
        id: "iptables-extensions-missing",
        step: Rules,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The iptables binary that kube-proxy or the CNI runs lacks its extension libraries (libxt_*.so), so rules using matches like conntrack or comment cannot be written",
        explanation: "iptables loads each match and target from a shared library in /usr/lib/xtables (or /usr/lib/x86_64-linux-gnu/xtables). A minimal or broken install (distroless image, partial package, wrong XTABLES_LIBDIR) has the binary but not these libraries, and iptables answers \"Couldn't find match `conntrack'\". Unlike a missing kernel module, loading modules does not help. Verify with `ls $(dirname $(readlink -f $(which iptables)))/../lib*/xtables/libxt_conntrack.so` on the host or in the image.",
        fix: ["install the full iptables package (iptables and its extension libraries) on the host or in the image", "check XTABLES_LIBDIR is unset or points at the extension directory"],
    }
    ContainerLacksNetAdmin {
        id: "container-lacks-net-admin",
        step: Rules,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The CNI or kube-proxy container is not allowed to change the host's firewall (no CAP_NET_ADMIN / not privileged, or blocked by SELinux/seccomp)",
        explanation: "iptables needs CAP_NET_ADMIN in the host network namespace. If the DaemonSet lost its privileged flag or capabilities (a PodSecurity policy, a runtime default, an SELinux label) every iptables call fails with 'Permission denied (you must be root)' even though the process runs as uid 0, and no pod NAT or forwarding rules are installed. Verify with `kubectl -n kube-system get ds <cni> -o yaml | grep -A5 securityContext` and the runtime's audit log.",
        fix: ["restore securityContext.privileged: true (or capabilities.add: [NET_ADMIN, NET_RAW]) on the CNI / kube-proxy DaemonSet", "on SELinux hosts run the container with the spc_t type or fix the policy module"],
    }
    KubeProxyVersionBuggy {
        id: "kube-proxy-version-buggy",
        step: Rules,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "A kube-proxy release with a known bug that breaks its rules on this node",
        explanation: "Some kube-proxy releases mis-handle particular host iptables versions or kernels (for example passing '-w5' to iptables-restore 1.6.2, or marking VXLAN-encapsulated packets so the kernel corrupts their checksum). The node looks correctly configured but service traffic fails. Compare `kube-proxy --version` with the known-bug list and upgrade to a fixed patch release.",
        fix: ["upgrade kube-proxy (the DaemonSet image) to a patch release that contains the fix"],
    }
    KernelVersionBuggy {
        id: "kernel-version-buggy",
        step: Kernel,
        severity: Warning,
        needs: [Logs],
        after_reboot: false,
        title: "The node runs a kernel release with a known networking bug that affects pods",
        explanation: "Several kernel bugs break container networking without any configuration error: network-namespace reference leaks that hang pod teardown ('unregister_netdevice: waiting for eth0 to become free'), checksum handling bugs with VXLAN offload, conntrack races. The fix is a kernel update (or the distribution's backport); until then the usual workaround is to disable the affected offload or feature. Verify with `uname -r` against the known-bug list.",
        fix: ["update the kernel to the distribution's current release and reboot", "meanwhile apply the documented workaround (for checksum bugs: ethtool -K flannel.1 tx-checksum-ip-generic off)"],
    }
    ConntrackUdpInsertRace {
        id: "conntrack-udp-insert-race",
        step: Kernel,
        severity: Warning,
        needs: [Logs],
        after_reboot: false,
        title: "UDP packets are dropped by the conntrack insertion race: parallel DNS queries (A and AAAA) from one socket lose one answer, giving 5-second lookup delays",
        explanation: "glibc sends the A and AAAA queries from the same socket at the same moment. When both are NATed (to the DNS Service, or masqueraded) on different CPUs, the kernel creates two conntrack entries for the same tuple and drops the packet whose entry loses the insertion race; the client retries after its 5 s timeout. `conntrack -S` shows insert_failed growing. Kernels before 5.0 lack the clash resolution for the SNAT case, and the case where the two packets are DNATed to different DNS pods was fixed only in 2024.",
        fix: ["add 'options single-request-reopen' (or use-vc) to pod dnsConfig, or run NodeLocal DNSCache", "update the kernel to a release with the conntrack clash fixes", "check: conntrack -S | grep -o 'insert_failed=[0-9]*'"],
    }
    EtcdEndpointUnreachable {
        id: "etcd-endpoint-unreachable",
        step: App,
        severity: Critical,
        needs: [Logs],
        after_reboot: false,
        title: "The CNI cannot reach its etcd datastore: the configured etcd endpoint refuses or drops connections from this node",
        explanation: "flannel (etcd mode) and Calico (etcd datastore) read their network configuration and subnet leases from etcd. If the endpoint is wrong, etcd listens only on 127.0.0.1, or a firewall drops TCP 2379 from this node, the agent cannot start or renew its lease and the node gets no pod network. Verify with `etcdctl --endpoints=<url> endpoint health` (or `curl <url>/health`) from the node itself.",
        fix: ["open TCP 2379 from the nodes to the etcd members (firewall-cmd --add-port=2379/tcp --permanent; firewall-cmd --reload)", "make etcd listen on a routable address (--listen-client-urls / --advertise-client-urls) and pass that URL to the CNI"],
    }
}
