#!/bin/sh
# run.sh: runs the benchmarks (bench.py) against a build tree and writes the report.
#
#   tests/bench/run.sh [--quick | --smoke] [--build DIR] [--out DIR] [bench.py options]
#
# DIR defaults: the build is _build/bench (scripts/ovp-dev bench makes it: plain, -O2, no
# sanitizers), the report goes to doc/bench. Builds the two helpers bench.py needs in the
# build tree (tests/bench/pam_wait.la, stall_shim.la). Root for the real PAM stack.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$top/_build/bench
out=$top/doc/bench
args=""
while [ $# -gt 0 ]; do
    case $1 in
        --build) build=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) args="$args $1"; shift ;;
    esac
done
[ -x "$build/tests/core/ovp-refcore" ] || { echo "run.sh: $build is not a built tree" >&2; exit 2; }
make -s -C "$build/tests/bench" pam_wait.la stall_shim.la la_burst >/dev/null
# shellcheck disable=SC2086
exec python3 "$here/bench.py" --build "$build" --out "$out" $args
