#!/bin/sh
# Seed fuzz/corpus/<target>/ from the repository's own evidence (real pastes and the cases).
# The pasted-command targets take a first byte that picks the command; seeds get byte 0.
# Run from the repository root: sh fuzz/seed-corpora.sh
set -eu
C=fuzz/corpus
P=crates/bundle/tests/pastes
seed() { # target file [prefix-byte]
    mkdir -p "$C/$1"
    name=$(printf '%s' "$2" | md5sum | cut -c1-16)
    if [ "${3:-}" = pick ]; then
        { printf '\000'; head -c 65536 "$2"; } > "$C/$1/$name"
    else
        head -c 65536 "$2" > "$C/$1/$name"
    fi
}
for f in tests/cases/*/sysctl.txt; do seed sysctl "$f"; done
for f in tests/cases/*/ip-addr.txt; do seed ip_addr "$f"; done
for f in tests/cases/*/ip-link.txt; do seed ip_link "$f"; done
for f in tests/cases/*/ip-route.txt; do seed ip_route "$f"; done
for f in tests/cases/*/route-n.txt; do seed route_n "$f"; done
for f in tests/cases/*/ifconfig.txt; do seed ifconfig "$f"; done
for f in tests/cases/*/journal.txt tests/cases/*/*.log tests/cases/*/dmesg.txt; do seed log "$f"; done
for f in tests/cases/*/session.txt tests/cases/*/setup.txt; do seed sections "$f" pick; done
for f in tests/cases/*/iptables-save.txt; do seed iptables_save "$f"; done
for f in tests/cases/*/iptables-list.txt; do seed iptables_list "$f" pick; done
for f in tests/cases/*/cluster.json; do seed cluster_json "$f"; done
for f in tests/cases/*/nft.txt $P/nft-ruleset/*.txt; do seed nft "$f"; done
for f in $P/ipvsadm/*.txt; do seed ipvsadm "$f" pick; done
for f in $P/ipset/*.txt; do seed ipset "$f" pick; done
for f in $P/ip-tunnel/*.txt; do seed ip_tunnel "$f" pick; done
for f in $P/brctl/*.txt; do seed bridge_ports "$f" pick; done
for f in $P/ethtool-k/*.txt; do seed ethtool "$f" pick; done
for f in $P/ip-s-link/*.txt; do seed link_stats "$f" pick; done
for f in $P/kubectl-get-wide/*.txt $P/kubectl-yaml/*.txt $P/kubectl-events/*.txt; do seed kubectl_get "$f" pick; done
for f in $P/kubectl-describe/*.txt; do seed kubectl_describe "$f" pick; done
for f in $P/calicoctl/*.txt $P/flannel-files/*.txt; do seed calicoctl "$f" pick; done
for f in $P/versions/*.txt $P/probes/*.txt; do seed facts "$f" pick; done
for f in tests/cases/*/root/etc/sysctl.d/* tests/cases/*/root/etc/sysctl.conf tests/cases/*/sysctl-d-file-excerpt.txt; do
    [ -f "$f" ] && seed boot_sysctl "$f"
done
for f in $P/kubectl-yaml/*.txt; do seed kube_objects "$f" pick; done
for f in tests/cases/*/kube/*; do [ -f "$f" ] && seed kube_objects "$f" pick; done
# Targets with no real seed get a minimal one.
for t in ip_rule ip_neigh bridge_fdb lsmod snapshot kube_objects boot_sysctl; do
    mkdir -p "$C/$t"
done
printf '0:\tfrom all lookup local\n32766:\tfrom all lookup main\n' > "$C/ip_rule/min"
printf '10.0.0.1 dev eth0 lladdr 52:54:00:12:34:56 REACHABLE\n' > "$C/ip_neigh/min"
printf '8a:2b:3c:4d:5e:6f dev flannel.1 dst 192.168.1.12 self permanent\n' > "$C/bridge_fdb/min"
printf 'Module                  Size  Used by\nbr_netfilter           32768  0\n' > "$C/lsmod/min"
printf '{"schema":"netdoctor.snapshot/v1","node":"n1","sysctls":{}}' > "$C/snapshot/min"
printf '\001apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\nspec:\n  podCIDR: 10.244.1.0/24\n' > "$C/kube_objects/min"
printf 'net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables=0\n' > "$C/boot_sysctl/min"
echo "seeded: $(find $C -type f | wc -l) files in $(ls $C | wc -l) targets"
