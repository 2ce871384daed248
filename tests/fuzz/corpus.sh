#!/bin/sh
# corpus.sh: replays every harness's seed corpus and past crashes (corpus/NAME/*),
# each input once. In a gcc build the harnesses carry standalone.c; in a libFuzzer
# build the same file arguments make libFuzzer run each input once.
set -u
srcdir=${srcdir:-.}
rc=0
for h in $HARNESSES; do
    dir="$srcdir/corpus/$h"
    if [ ! -d "$dir" ] || [ -z "$(ls "$dir")" ]; then
        echo "FAIL: $h has no seed corpus in $dir"
        rc=1
        continue
    fi
    # libFuzzer: -runs=0 is harmless; standalone.c ignores what is not a file
    if ./"$h" "$dir"/* > "$h.corpus.log" 2>&1; then
        echo "ok: $h: $(ls "$dir" | wc -l) inputs"
    else
        echo "FAIL: $h on its corpus:"
        tail -n 40 "$h.corpus.log"
        rc=1
    fi
done
exit $rc
