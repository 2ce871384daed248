#!/bin/sh
# smoke.sh: the benchmark tooling works (tiny counts, about 15 s): every section runs and
# the report has its tables. No figure is asserted: performance is never a test.
set -u
: "${abs_top_builddir:=$(cd "${top_builddir:-../..}" && pwd)}"
here=$(cd "$(dirname "$0")" && pwd)
[ -n "${srcdir:-}" ] && here=$(cd "$srcdir" && pwd)
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 missing"; exit 77; }
out=$(mktemp -d "${TMPDIR:-/tmp}/ovp-bench-smoke.XXXXXX") || exit 99
trap 'rm -rf "$out"' EXIT
"$here/run.sh" --smoke --build "$abs_top_builddir" --out "$out" 2> "$out/log" || {
    echo "FAIL: run.sh --smoke exited $?"; tail -n 30 "$out/log"; exit 1; }
fail=0
for h in "## Targets" "## auth-ldap against slapd" "## learn-address-db" "## Memory"; do
    grep -q "^$h" "$out/report.md" || { echo "FAIL: no '$h' in the report"; fail=1; }
done
if grep -q ": failed:" "$out/report.md"; then
    echo "FAIL: a section failed:"; grep ": failed:" "$out/report.md"; fail=1
fi
[ $fail -eq 0 ] || { tail -n 30 "$out/log"; exit 1; }
echo "PASS: report with $(grep -c '^|' "$out/report.md") table lines"
