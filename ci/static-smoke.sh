#!/usr/bin/env bash
# Smoke test of a release binary (the static musl build in CI): it must be statically linked and
# give the same answers as the debug build on real inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: ci/static-smoke.sh PATH-TO-NETDOCTOR}
ref=target/debug/netdoctor
[ -x "$ref" ] || cargo build --quiet -p netdoctor
if ! ldd "$bin" 2>&1 | grep -qE 'statically linked|not a dynamic executable'; then
  echo "static-smoke: $bin is dynamically linked:"; ldd "$bin"; exit 1
fi
"$bin" --version
same() {
  local a b
  a=$("$bin" "$@" 2>&1; echo "exit $?")
  b=$("$ref" "$@" 2>&1; echo "exit $?")
  if [ "$a" != "$b" ]; then
    echo "static-smoke: netdoctor $* differs from the debug build"; diff <(echo "$b") <(echo "$a") | head -40
    exit 1
  fi
}
same check --list -o json
n=0
for c in tests/cases/*/; do
  same check --from "$c" -o json
  n=$((n + 1))
done
same explain iptables tests/fixtures/realworld/iptables/kubeproxy_test_overall_v1.30.rules -o json
same explain nft crates/netfilter/tests/data/kp.nft --packet 'tcp 10.0.0.2 -> 172.30.0.44:80' --local 192.168.0.2 -o json
same fix --from tests/cases/nixpkgs118656_systemd_sysctl_restart_resets_forwarding --format shell
echo "static-smoke: ok ($n cases answered alike)"
