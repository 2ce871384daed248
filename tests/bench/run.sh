#!/bin/sh
# run.sh: runs the benchmarks (bench.py) against a build tree and writes the report.
#
#   tests/bench/run.sh [--quick | --smoke] [--build DIR] [--out DIR] [bench.py options]
#
# DIR defaults: the build is _build/bench (scripts/ovp-dev bench makes it: plain, -O2, no
# sanitizers); the report goes to doc/bench for a full run, and to BUILD/bench-report for
# --quick and --smoke (so that they never replace the committed full report). Builds the
# helpers bench.py needs in the build tree (tests/bench/pam_wait.la, stall_shim.la,
# la_burst). Root for the real PAM stack and the real-client section.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$top/_build/bench
out=""
small=""
args=""
while [ $# -gt 0 ]; do
    case $1 in
        --build) build=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --quick|--smoke) small=1; args="$args $1"; shift ;;
        *) args="$args $1"; shift ;;
    esac
done
if [ -z "$out" ]; then
    if [ -n "$small" ]; then out=$build/bench-report; else out=$top/doc/bench; fi
fi
echo "run.sh: report in $out" >&2
[ -x "$build/tests/core/ovp-refcore" ] || { echo "run.sh: $build is not a built tree" >&2; exit 2; }
make -s -C "$build/tests/bench" pam_wait.la stall_shim.la la_burst >/dev/null
# shellcheck disable=SC2086
exec python3 "$here/bench.py" --build "$build" --out "$out" $args
