#!/bin/sh
# Fuzz every target for SECONDS seconds (default 600), one after the other, on one core, and
# minimise each grown corpus back into fuzz/corpus/<target>. Logs: fuzz/fuzz-<target>.log;
# a summary line per target in fuzz/fuzz-summary.log. Run from fuzz/.
set -u
SECONDS_EACH=${1:-600}
cargo +nightly fuzz build -O || exit 1
for t in $(cargo +nightly fuzz list); do
    mkdir -p corpus/$t grown/$t
    start=$(date +%s)
    nice -n 19 cargo +nightly fuzz run -O "$t" grown/$t corpus/$t -- \
        -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 > "fuzz-$t.log" 2>&1
    rc=$?
    end=$(date +%s)
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz-$t.log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "fuzz-$t.log" | tail -1 | grep -o '[0-9]*$')
    # A minimised corpus: the seeds plus what the run found, merged into min/<target>.
    mkdir -p min/$t
    nice -n 19 cargo +nightly fuzz run -O "$t" min/$t corpus/$t grown/$t -- -merge=1 \
        -max_len=65536 -timeout=10 > "fuzz-$t-merge.log" 2>&1 || true
    echo "$t exit=$rc seconds=$((end - start)) execs=${execs:-?} cov=${cov:-?} grown=$(ls grown/$t | wc -l)" >> fuzz-summary.log
done
echo finished >> fuzz-summary.log
