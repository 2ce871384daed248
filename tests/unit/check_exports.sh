#!/bin/sh
# check_exports.sh: every built plugin exports exactly its fence (common/plugin.exports).
set -u
top_srcdir=${top_srcdir:-../..}
top_builddir=${top_builddir:-../..}
fence="$top_srcdir/common/plugin.exports"
command -v nm >/dev/null 2>&1 || { echo "SKIP: nm not found (install binutils)"; exit 77; }

sos=$(find "$top_builddir" -path '*/.libs/ovp-*.so' -type f 2>/dev/null | sort)
[ -n "$sos" ] || { echo "FAIL: no plugin .so found under $top_builddir (build first)"; exit 1; }

want=$(sort "$fence")
rc=0
for so in $sos; do
    got=$(nm -D --defined-only "$so" | awk 'NF == 3 && $2 ~ /^[TDBRVWi]$/ { print $3 }' \
          | grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' | sort)
    if [ "$got" = "$want" ]; then
        echo "ok: $so exports exactly the fence"
    else
        echo "FAIL: $so exports differ from $fence:"
        printf '%s\n' "$want" > fence.tmp.$$
        printf '%s\n' "$got" | diff fence.tmp.$$ - | sed 's/^/    /'
        rm -f fence.tmp.$$
        rc=1
    fi
done
exit $rc
