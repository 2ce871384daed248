# lib.sh: shared setup for ovp-down-root's integration tests (sourced, not run).
# ovp-refcore hosts the plugin as OpenVPN 2.6 does (UP, ROUTE_PREDOWN with --route,
# DOWN with signal, reload); a recorder script writes one line per run it is given.
set -u

: "${abs_top_builddir:=$(cd "${top_builddir:-../..}" && pwd)}"
: "${abs_builddir:=$(pwd)}"
PLUGIN="$abs_top_builddir/down-root/.libs/ovp-down-root.so"
REFCORE="$abs_top_builddir/tests/core/ovp-refcore"

. "${srcdir:-.}/../secret_scan.sh"
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
FAILED=0
# begin: a new part of a test; ok TEXT: says it passed when it added no failure.
begin() { F0=$FAILED; }
ok() { [ "$FAILED" -eq "$F0" ] && echo "ok: $*"; }
F0=0

[ -f "$PLUGIN" ] || { echo "FAIL: $PLUGIN not built"; exit 1; }
[ -x "$REFCORE" ] || { echo "FAIL: $REFCORE not built"; exit 1; }

# need_root WHY: the test is about running as root (CI runs as root).
need_root() {
    [ "$(id -u)" -eq 0 ] || skip "not root: $* (run as root; CI does)"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ovp-down-root-test.XXXXXX")
# The plugin through a short link in $WORK: a plugin line must stay under 256 characters
# (as in an OpenVPN config), however deep the build tree is (distcheck adds 22).
ln -s "$PLUGIN" "$WORK/ovp-down-root.so" && PLUGIN="$WORK/ovp-down-root.so"
chmod 755 "$WORK"
REFPID=""
# Long sleeps in test commands use this odd duration, so that cleanup can tell them.
NAP=31.4159
# The secret scan (tests/secret_scan.sh) at the end of every test: down-root is given no
# credentials, so only what a test declares with secret_add (or writes into a story) is
# looked for in every file under $WORK (recorder output, environments, logs).
secret_skip '*.story' "the clients' input: the passwords they type"
cleanup() {
    # only what this test started: the core, and (after a failure) processes of test
    # commands recorded in pid files that still run our naps or scripts
    [ -n "$REFPID" ] && kill -9 "$REFPID" 2>/dev/null
    for f in "$WORK"/*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f")
        if { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null | grep -q -e "sleep $NAP" -e "$WORK/"; then
            kill -9 "$p" 2>/dev/null
        fi
    done
    _scan=0
    secret_story "$WORK"/*.story
    secret_scan "$WORK" || _scan=1
    rm -rf "$WORK"
    [ $_scan -eq 0 ] || exit 1
}
trap cleanup EXIT

# Sanitizer reports of every process (the core, the root helper whose stderr is
# /dev/null, drivers) go to files here; any file there fails the test.
mkdir -p "$WORK/san"
ASAN_OPTIONS="log_path=$WORK/san/asan:${ASAN_OPTIONS:-}"
UBSAN_OPTIONS="log_path=$WORK/san/ubsan:print_stacktrace=1:${UBSAN_OPTIONS:-}"
export ASAN_OPTIONS UBSAN_OPTIONS

# The recorder: one line per run in $WORK/runs, plus its whole environment in
# $WORK/env.<script_type>. $PPID is the process that ran it: the root helper.
REC="$WORK/rec.sh"
cat > "$REC" <<EOF
#!/bin/sh
echo "type=\${script_type:-none} signal=\${signal:-none} uid=\$(id -u) helper=\$PPID argc=\$# args=\$*" >> "$WORK/runs"
env > "$WORK/env.\${script_type:-none}"
echo "recorder ran for \${script_type:-none} on stderr" >&2
EOF
chmod 755 "$REC"

# core OUT STORY-TEXT PLUGIN-WORDS... -- CORE-OPTIONS...: runs ovp-refcore with the
# plugin on a story (written to $WORK/story), in the foreground; all output to OUT.
core() {
    out=$1; story=$2; shift 2
    printf '%s\n' "$story" > "$WORK/story"
    "$REFCORE" --plugin "$PLUGIN" "$@" --scenario "$WORK/story" > "$out" 2>&1
    rc=$?
    return $rc
}

# core_bg OUT STORY-TEXT ARGS...: the same in the background ($REFPID).
core_bg() {
    out=$1; story=$2; shift 2
    printf '%s\n' "$story" > "$WORK/story"
    "$REFCORE" --plugin "$PLUGIN" "$@" --scenario "$WORK/story" > "$out" 2>&1 &
    REFPID=$!
}

# wait_for FILE TEXT [SECONDS]: until FILE has a line containing TEXT.
wait_for() {
    i=0
    while [ $i -lt $((${3:-10} * 20)) ]; do
        grep -q -F -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# has OUT TEXT WHAT: OUT holds TEXT, else a failure naming WHAT (and the log).
has() {
    if ! grep -q -F -- "$2" "$1" 2>/dev/null; then
        fail "$3: no \"$2\" in $(basename "$1")"
        [ -f "$1" ] && sed 's/^/    | /' "$1" | cut -c1-200 | tail -n 25
        return 1
    fi
    return 0
}

# hasnt OUT TEXT WHAT
hasnt() {
    if grep -q -F -- "$2" "$1" 2>/dev/null; then
        fail "$3: \"$2\" found: $(grep -F -- "$2" "$1" | head -n 1 | cut -c1-200)"
        return 1
    fi
    return 0
}

# gone PID: the process no longer exists (or is a zombie nobody reaped yet).
gone() {
    [ -r "/proc/$1/stat" ] || return 0
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -z "$state" ] || [ "$state" = Z ] || [ "$state" = X ]
}

# helper_pids OUT: the root helper pids the plugin announced, in order.
helper_pids() {
    sed -n 's/.*root helper pid \([0-9]*\) \(ready\|kept from the first open\).*/\1/p' "$1"
}

# wait_count FILE TEXT N [SECONDS]: until FILE has at least N lines containing TEXT.
wait_count() {
    i=0
    while [ $i -lt $((${4:-10} * 20)) ]; do
        [ "$(grep -c -F -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# parent_of PID: its parent's pid.
parent_of() {
    sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2
}

# core_wait: waits for the background core; its exit status in rc.
core_wait() {
    wait "$REFPID"
    rc=$?
    REFPID=""
}

finish() {
    if ls "$WORK"/san/* >/dev/null 2>&1; then
        fail "sanitizer report:"
        cat "$WORK"/san/*
    fi
    if [ "$FAILED" -ne 0 ]; then
        exit 1
    fi
    echo "PASS"
    exit 0
}
