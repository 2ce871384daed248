# lib.sh: shared setup for ovp-learn-address-db's integration tests through ovp-refcore (sourced).
# Each test runs the reference core with the plugin (and the test plugin for deferred
# auth), drives it with a story or a load, and checks the database with sqlite3(1) and
# ovp-addrdb. Stories wait for "go" files the test writes once the database shows what
# it expects, so a test can take timestamps and change the world between phases.
# OVP_KEEP=1 keeps the work directory (databases, stories, logs) for a look afterwards.
# shellcheck disable=SC2034 # the variables set here are read by the tests
set -u

: "${abs_top_builddir:=$(cd "${top_builddir:-../..}" && pwd)}"
REFCORE="$abs_top_builddir/tests/core/ovp-refcore"
LADB="$abs_top_builddir/learn-address-db/.libs/ovp-learn-address-db.so"
ADDRDB="$abs_top_builddir/learn-address-db/ovp-addrdb"
TPLUG="$abs_top_builddir/tests/plugin/.libs/ovp-test-plugin.so"

. "${srcdir:-.}/../secret_scan.sh"
skip() { echo "SKIP: $*"; exit 77; }
FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
die() {
    echo "FAIL: $*"
    for f in "${WORK:-/nonexistent}"/*.err; do
        [ -f "$f" ] && tail -n 20 "$f" | sed "s|^|    $(basename "$f"): |"
    done
    exit 1
}
note() { echo "$*"; }

for f in "$REFCORE" "$ADDRDB"; do
    [ -x "$f" ] || die "$f not built"
done
for f in "$LADB" "$TPLUG"; do
    [ -f "$f" ] || die "$f not built"
done
command -v sqlite3 >/dev/null 2>&1 ||
    skip "the sqlite3 command-line shell is needed to check the database (apt-get install sqlite3)"

# A test that sets LADB_MNTNS=1 before sourcing this file runs, when root, in a
# private mount namespace (unshare -m): its tmpfs mounts never reach the machine and
# vanish with it. IN_MNTNS says whether that worked; if not, MNTNS_WHY says why.
IN_MNTNS=${OVP_LADB_IN_MNTNS:-}
MNTNS_WHY=""
if [ -n "${LADB_MNTNS:-}" ] && [ -z "$IN_MNTNS" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        MNTNS_WHY="needs root for a private mount namespace with a tmpfs (unshare -m)"
    elif ! _err=$(unshare -m --propagation private true 2>&1); then
        MNTNS_WHY="cannot make a private mount namespace (unshare -m: $_err)"
    else
        OVP_LADB_IN_MNTNS=1 exec unshare -m --propagation private /bin/sh "$0" "$@"
    fi
fi

# skip_or_fail REASON: a test that cannot run here is skipped, but not in CI.
skip_or_fail() {
    if [ "${CI:-}" = true ]; then
        die "$1 (CI=true: this test must run in CI, as root)"
    fi
    skip "$1"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ovp-ladb-test.XXXXXX") || exit 99
# The plugin through a short link in $WORK: a plugin line must stay under 256 characters
# (as in an OpenVPN config), however deep the build tree is (distcheck adds 22).
ln -s "$LADB" "$WORK/ovp-learn-address-db.so" && LADB="$WORK/ovp-learn-address-db.so"
T=$WORK
export T
CORE_PID=""
EXTRA_PIDS=""
# The secret scan (tests/secret_scan.sh) at the end of every test: the clients'
# passwords (the test plugin's account, alice/secret, also as typed into stories) must
# reach no database row, log or file under $WORK but the stories themselves: the plugin
# records addresses and identities only.
secret_skip '*.story' "the clients' input: the passwords they type"
lib_cleanup() {
    for p in $CORE_PID $EXTRA_PIDS; do
        kill -9 "$p" 2>/dev/null
    done
    wait 2>/dev/null
    [ -n "${CLEANUP_HOOK:-}" ] && $CLEANUP_HOOK
    secret_story "$WORK"/*.story
    secret_scan "$WORK"
    _scan=$?
    if [ -n "${OVP_KEEP:-}" ]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    [ $_scan -eq 0 ] || exit 1
}
trap lib_cleanup EXIT
trap 'exit 1' INT TERM

# sq DB SQL: one query, its rows on stdout (waits out a writer's lock for up to 5 s).
sq() {
    sqlite3 -batch -bail -cmd '.timeout 5000' "$1" "$2"
}

# js FILE JSONPATH: one value out of a JSON file (ovp-addrdb --json output).
js() {
    sqlite3 -batch :memory: "SELECT json_extract(CAST(readfile('$1') AS TEXT), '$2')"
}

# jcount FILE: the number of elements of the JSON array in FILE.
jcount() {
    sqlite3 -batch :memory: "SELECT json_array_length(CAST(readfile('$1') AS TEXT))"
}

# now_ms: the wall clock in Unix milliseconds (what the plugin stores).
now_ms() { date +%s%3N; }

# at MS: an ovp-addrdb TIME for Unix milliseconds MS.
at() { printf '@%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# wait_sql SECONDS DB SQL WANT: polls until the query prints WANT; 1 on timeout.
wait_sql() {
    _deadline=$(($(date +%s) + $1))
    while :; do
        WAIT_GOT=$(sq "$2" "$3" 2>/dev/null)
        [ "$WAIT_GOT" = "$4" ] && return 0
        [ "$(date +%s)" -ge "$_deadline" ] && return 1
        if [ -n "$CORE_PID" ] && ! kill -0 "$CORE_PID" 2>/dev/null; then
            return 1
        fi
        sleep 0.1
    done
}

# wait_log SECONDS FILE TEXT: polls until a line of FILE contains TEXT; 1 on timeout.
wait_log() {
    _deadline=$(($(date +%s) + $1))
    until grep -F -q -- "$3" "$2" 2>/dev/null; do
        [ "$(date +%s)" -ge "$_deadline" ] && return 1
        sleep 0.1
    done
}

# start_core NAME ARGS...: ovp-refcore in the background; output in $WORK/NAME.out/.err.
start_core() {
    _name=$1; shift
    "$REFCORE" "$@" > "$WORK/$_name.out" 2> "$WORK/$_name.err" &
    CORE_PID=$!
}

# wait_core: waits for the background core; its exit status in CORE_RC.
wait_core() {
    wait "$CORE_PID"
    CORE_RC=$?
    CORE_PID=""
}

# core_ok NAME WHAT: the core exited 0 and no sanitizer complained; else shows its log.
core_ok() {
    if [ "$CORE_RC" -ne 0 ] || grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error:' \
        "$WORK/$1.err" "$WORK/$1.out"; then
        fail "$2 (ovp-refcore exit $CORE_RC)"
        tail -n 40 "$WORK/$1.err" | sed 's/^/    err: /'
        tail -n 5 "$WORK/$1.out" | sed 's/^/    out: /'
        return 1
    fi
    return 0
}

# check WHAT GOT WANT: one equality, reported by name.
check() {
    [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

# integrity DB: PRAGMA integrity_check says ok.
integrity() {
    check "integrity_check of $1" "$(sq "$1" 'PRAGMA integrity_check')" ok
}

finish() {
    if [ "$FAILED" -ne 0 ]; then
        exit 1
    fi
    echo "PASS"
    exit 0
}
