#!/usr/bin/env bash
# Budget check: on a node with ~100k iptables rules, a live collection must cost at most
# 1.3x `iptables-save` alone. Both are timed in one run, in a private network namespace that
# holds a kube-proxy-shaped iptables-nft ruleset.
#
# Usage (as root): benches/collect_vs_iptables_save.sh
#   SERVICES=10000   services to generate (10 rules each: about 100k rules)
#   RUNS=7           timed runs of each command (medians are compared)
#   BUDGET=1.3       allowed ratio; the script exits 1 above it
#   NETDOCTOR_BIN    the collector: a `netdoctor` binary (run as `netdoctor collect -o
#                    /dev/null`) or any program that collects to stdout. Default: the
#                    `collect` example of netdoctor-collect, built in release mode.
set -euo pipefail

SERVICES=${SERVICES:-10000}
RUNS=${RUNS:-7}
BUDGET=${BUDGET:-1.3}
repo=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" != 0 ]; then
    echo "needs root (network namespaces, iptables)" >&2
    exit 2
fi
for t in ip iptables-nft-restore iptables-save awk sort; do
    command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 2; }
done

if [ -z "${NETDOCTOR_BIN:-}" ]; then
    (cd "$repo" && cargo build --quiet --release -p netdoctor-collect --example collect)
    NETDOCTOR_BIN="$repo/target/release/examples/collect"
fi
collect_args=()
if [ "$(basename "$NETDOCTOR_BIN")" = netdoctor ]; then
    collect_args=(collect -o /dev/null)
fi

ns="ndbench$$"
work=$(mktemp -d)
cleanup() {
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up

# kube-proxy's nat table: per service a KUBE-SERVICES jump, a KUBE-SVC chain spreading over
# three endpoints with statistic, and per endpoint a KUBE-SEP chain that marks hairpin
# traffic and DNATs.
awk -v n="$SERVICES" 'BEGIN {
    print "*nat"
    print ":PREROUTING ACCEPT [0:0]"
    print ":INPUT ACCEPT [0:0]"
    print ":OUTPUT ACCEPT [0:0]"
    print ":POSTROUTING ACCEPT [0:0]"
    print ":KUBE-SERVICES - [0:0]"
    print ":KUBE-MARK-MASQ - [0:0]"
    print ":KUBE-POSTROUTING - [0:0]"
    for (s = 0; s < n; s++) {
        printf ":KUBE-SVC-%016X - [0:0]\n", s
        for (e = 0; e < 3; e++) printf ":KUBE-SEP-%014X%02X - [0:0]\n", s, e
    }
    print "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
    print "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
    print "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"
    print "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"
    print "-A KUBE-POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE"
    for (s = 0; s < n; s++) {
        svc = sprintf("10.96.%d.%d", int(s / 250), s % 250 + 1)
        name = sprintf("ns%d/svc%d:http", s % 50, s)
        printf "-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment \"%s cluster IP\" -m tcp --dport 80 -j KUBE-SVC-%016X\n", svc, name, s
        for (e = 0; e < 3; e++) {
            ep = sprintf("10.%d.%d.%d", 128 + int(s / 16384), int(s / 64) % 256, (s % 64) * 3 + e + 1)
            prob = (e == 0) ? "0.33333333349" : (e == 1 ? "0.50000000000" : "1.00000000000")
            printf "-A KUBE-SVC-%016X -m comment --comment \"%s -> %s:8080\" -m statistic --mode random --probability %s -j KUBE-SEP-%014X%02X\n", s, name, ep, prob, s, e
            printf "-A KUBE-SEP-%014X%02X -s %s/32 -m comment --comment \"%s\" -j KUBE-MARK-MASQ\n", s, e, ep, name
            printf "-A KUBE-SEP-%014X%02X -p tcp -m comment --comment \"%s\" -m tcp -j DNAT --to-destination %s:8080\n", s, e, name, ep
        }
    }
    print "COMMIT"
}' >"$work/rules.txt"

echo "loading $(grep -c '^-A' "$work/rules.txt") rules into namespace $ns ..."
ip netns exec "$ns" iptables-nft-restore <"$work/rules.txt"
loaded=$(ip netns exec "$ns" iptables-save | grep -c '^-A' || true)
echo "iptables-save in $ns shows $loaded rules"

# One line per run: wall, user and system seconds (bash's `time`, children included).
time_one() {
    local TIMEFORMAT='%R %U %S'
    { time "$@" >/dev/null 2>"$work/stderr"; } 2>&1
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
wall() { awk '{ print $1 }' "$1" | median; }
cpu() { awk '{ print $2 + $3 }' "$1" | median; }

# One warm-up of each, then interleaved runs so that drift and other load hit both alike.
ip netns exec "$ns" iptables-save >/dev/null
ip netns exec "$ns" "$NETDOCTOR_BIN" "${collect_args[@]}" >"$work/snapshot.json"
bytes=$(wc -c <"$work/snapshot.json")
: >"$work/save.t"
: >"$work/collect.t"
for _ in $(seq "$RUNS"); do
    time_one ip netns exec "$ns" iptables-save >>"$work/save.t"
    time_one ip netns exec "$ns" "$NETDOCTOR_BIN" "${collect_args[@]}" >>"$work/collect.t"
done
save_wall=$(wall "$work/save.t")
save_cpu=$(cpu "$work/save.t")
collect_wall=$(wall "$work/collect.t")
collect_cpu=$(cpu "$work/collect.t")
ratio=$(awk -v c="$collect_wall" -v s="$save_wall" 'BEGIN { printf "%.2f", c / s }')
cpu_ratio=$(awk -v c="$collect_cpu" -v s="$save_cpu" 'BEGIN { printf "%.2f", c / s }')

echo "runs:                   $RUNS of each, interleaved (wall user sys, seconds)"
echo "  iptables-save:        $(tr '\n' '|' <"$work/save.t")"
echo "  collect:              $(tr '\n' '|' <"$work/collect.t")"
echo "iptables-save median:   wall ${save_wall}s, cpu ${save_cpu}s"
echo "collect median:         wall ${collect_wall}s, cpu ${collect_cpu}s"
echo "snapshot size:          $bytes bytes"
echo "load average now:       $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ratio collect/save:     wall $ratio, cpu $cpu_ratio (budget $BUDGET, judged on wall)"
if awk -v r="$ratio" -v b="$BUDGET" 'BEGIN { exit !(r > b) }'; then
    echo "OVER BUDGET"
    exit 1
fi
echo "within budget"
