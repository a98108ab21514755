#!/bin/sh
# Fuzz every target for SECONDS seconds (default 600) on one core, and merge each grown corpus
# with the seeds into min/<target>. Several copies can run at once (one per core): each target
# is claimed by one of them (locks/<target>). Targets already in fuzz-summary.log are skipped.
# Logs: fuzz/fuzz-<target>.log; one summary line per target in fuzz/fuzz-summary.log. Run
# from fuzz/.
set -u
SECONDS_EACH=${1:-600}
mkdir -p locks
cargo +nightly fuzz build -O || exit 1
for t in $(cargo +nightly fuzz list); do
    grep -q "^$t " fuzz-summary.log 2>/dev/null && continue
    mkdir "locks/$t" 2>/dev/null || continue
    mkdir -p corpus/$t grown/$t min/$t
    start=$(date +%s)
    nice -n 19 cargo +nightly fuzz run -O "$t" grown/$t corpus/$t -- \
        -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 > "fuzz-$t.log" 2>&1
    rc=$?
    end=$(date +%s)
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz-$t.log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "fuzz-$t.log" | tail -1 | grep -o '[0-9]*$')
    nice -n 19 cargo +nightly fuzz run -O "$t" min/$t corpus/$t grown/$t -- -merge=1 \
        -max_len=65536 -timeout=10 > "fuzz-$t-merge.log" 2>&1 || true
    echo "$t exit=$rc seconds=$((end - start)) execs=${execs:-?} cov=${cov:-?} grown=$(ls grown/$t | wc -l)" >> fuzz-summary.log
done
