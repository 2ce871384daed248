#!/bin/sh
# run.sh: runs each libFuzzer harness (HARNESSES) for FUZZ_TIME seconds, starting from
# its committed seeds (corpus/NAME, read only) and what earlier runs found
# (fuzz-out/NAME/corpus). A crash stops that harness; its input is kept as
# fuzz-out/NAME/crash-* and the run fails: copy it into corpus/NAME/ (it becomes a
# regression input that make check replays) and fix the bug.
# Prints one summary line per harness: executions, coverage (edges) and corpus size.
set -u
srcdir=${srcdir:-.}
FUZZ_TIME=${FUZZ_TIME:-30}
rc=0
for h in $HARNESSES; do
    out="fuzz-out/$h"
    mkdir -p "$out/corpus"
    # Why -rss_limit and -max_len: keep a 2-core CI machine responsive; the parsers'
    # own limits are far below 64 KiB.
    if ./"$h" -max_total_time="$FUZZ_TIME" -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" "$srcdir/corpus/$h" \
        > "$out/log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -n 1)
        cov=$(grep -o 'cov: [0-9]*' "$out/log" | tail -n 1 | cut -d' ' -f2)
        corp=$(ls "$out/corpus" | wc -l)
        printf '%-20s %10s execs  %6s edges  %5s corpus  in %ss\n' "$h" "${execs:-?}" \
            "${cov:-?}" "$corp" "$FUZZ_TIME"
    else
        echo "FAIL: $h crashed; input kept in $out/:"
        ls "$out" | grep -E '^(crash|leak|timeout|oom)-' | sed 's/^/    /'
        grep -E 'ERROR: |SUMMARY: |#[0-9]+ 0x' "$out/log" | head -n 20
        rc=1
    fi
done
exit $rc
