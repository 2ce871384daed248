# lib.sh: shared setup for ovp-auth-pam's integration tests (sourced, not run).
# Real libpam under pam_wrapper: service files in a private directory, users in
# pam_matrix passdb files or pam_ovptest accept files; no system account is touched.
set -u

: "${abs_top_builddir:=$(cd "${top_builddir:-../..}" && pwd)}"
: "${abs_builddir:=$(pwd)}"
PLUGIN="$abs_top_builddir/auth-pam/.libs/ovp-auth-pam.so"
DRIVER="$abs_builddir/auth_pam/ap_driver"
OVPTEST="$abs_builddir/auth_pam/.libs/pam_ovptest.so"
MATRIX=/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so

. "${srcdir:-.}/../secret_scan.sh"
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; FAILED=1; }
FAILED=0

WRAPPER=$(ls /usr/lib/*/libpam_wrapper.so /usr/lib/libpam_wrapper.so 2>/dev/null | head -n 1)
[ -n "$WRAPPER" ] || skip "libpam_wrapper.so not found (Debian: apt-get install libpam-wrapper)"
[ -f "$MATRIX" ] || MATRIX=$(ls /usr/lib/*/pam_wrapper/pam_matrix.so 2>/dev/null | head -n 1)
[ -f "$MATRIX" ] || skip "pam_matrix.so not found (libpam-wrapper)"
[ -x "$DRIVER" ] || { echo "FAIL: $DRIVER not built"; exit 1; }
[ -f "$PLUGIN" ] || { echo "FAIL: $PLUGIN not built"; exit 1; }
[ -f "$OVPTEST" ] || { echo "FAIL: $OVPTEST not built"; exit 1; }

# A /tmp of this test's own: pam_wrapper's service copies race across processes otherwise.
. "${srcdir:-.}/../private_tmp.sh"
ovp_private_tmp "$0" "$@"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ovp-auth-pam-test.XXXXXX")
# The plugin through a short link in $WORK: a plugin line must stay under 256 characters
# (as in an OpenVPN config), however deep the build tree is (distcheck adds 22).
ln -s "$PLUGIN" "$WORK/ovp-auth-pam.so" && PLUGIN="$WORK/ovp-auth-pam.so"
SERVICES="$WORK/pam.d"
mkdir -p "$SERVICES"
# The secret scan (tests/secret_scan.sh) at the end of every test: the password= words of
# client lines (tabs), and every no_secrets word, must appear in no file under $WORK but
# the inputs named below and the client files run_once is given.
secret_skip 'pam.d/*' "PAM service files (pam_ovptest arguments may carry test answers)"
secret_skip 'passdb*' "pam_matrix's password database: the backend's data"
secret_skip 'accept*' "pam_ovptest's accepted passwords and codes: the backend's data"
secret_skip '*story' "refcore stories: the clients' input"
cleanup() {
    secret_story "$WORK"/*story
    secret_scan "$WORK"
    _scan=$?
    if [ -n "${OVP_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
    [ $_scan -eq 0 ] || exit 1
}
trap cleanup EXIT

# A sanitized driver needs the ASan (or TSan) runtime ahead of pam_wrapper in LD_PRELOAD.
PRELOAD="$WRAPPER"
ASAN_RT=$(ldd "$DRIVER" 2>/dev/null | awk '/libasan|libtsan/ { print $3 }')
[ -n "$ASAN_RT" ] && PRELOAD="$ASAN_RT:$WRAPPER"

# service NAME LINES...: writes the PAM service file NAME.
service() {
    name=$1; shift
    : > "$SERVICES/$name"
    for l in "$@"; do printf '%s\n' "$l" >> "$SERVICES/$name"; done
}

# pam_wrapper (the test tool, not ovp) gives each process that starts PAM its own
# /tmp/pam.X copy of the services. When processes start PAM at the same moment
# (parallel transactions, or two tests under make -j) they can pick or clean up
# the same directory, and a transaction then fails with "Permission denied",
# "Critical error" or exit(1) before any question is asked. A scenario that
# fails with that signature in its log is run again (at most 3 runs in all).
pamwrap_broke() {
    grep -q -E 'pam_authenticate: Permission denied|pam_start\(.*\) failed|ended without an answer \(exit status 1\)' "$1"
}

# run_once LOG CLIENTS [driver options] -- [plugin words]: runs the host under
# pam_wrapper at verb 11 unless --verb is given; its report goes to $WORK/out.
run_once() {
    log=$1; clients=$2; shift 2
    secret_skip "${clients#"$WORK"/}" "the clients' input: the passwords they type"
    opts=""
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts="$opts $1"; shift; done
    [ $# -gt 0 ] && shift
    # shellcheck disable=SC2086
    LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SERVICES" \
        PAM_WRAPPER_DISABLE_DEEPBIND=1 \
        "$DRIVER" --verb 11 --log "$log" --tmp "$WORK" $opts "$clients" "$PLUGIN" "$@" \
        > "$WORK/out" 2> "$WORK/err"
    rc=$?
    grep -v -i 'no default config\|pam_wrapper\|PWRAP' "$WORK/err" >&2 || true
    cat "$WORK/out"
    return $rc
}

# run_driver LOG CLIENTS [options] -- [words]: run_once, again on pam_wrapper's race.
run_driver() {
    for attempt in 1 2 3; do
        : > "$1"
        run_once "$@" && return 0
        pamwrap_broke "$1" || return $rc
        echo "note: pam_wrapper race in run $attempt (see lib.sh); running the scenario again"
    done
    return $rc
}

# expect_ok WHAT: the last run_driver met every expectation.
expect_ok() {
    if [ "$rc" -ne 0 ]; then
        fail "$1 (driver exit $rc)"
        sed 's/^/    log: /' "$LOG" | tail -n 40
    fi
}

# helper_parked_then_gone: after close the root helper was kept (a reload may adopt it,
# see ovp_priv_park), and it ended by itself once the driver (OpenVPN) exited.
helper_parked_then_gone() {
    grep -q 'helper_after_close=alive' "$WORK/out" \
        || fail "the helper was not kept after close (a reload could not adopt it)"
    hp=$(sed -n 's/^open=ok helper_pid=//p' "$WORK/out" | head -n 1)
    for _ in $(seq 50); do
        [ -n "$hp" ] && kill -0 "$hp" 2>/dev/null || return 0
        sleep 0.1
    done
    fail "the helper (pid $hp) outlived the process that started it"
}

# no_secrets LOG SECRET...: no log line holds any of the secrets (checked now); the
# secrets are also declared for the scan of every file at the end (secret_scan).
no_secrets() {
    f=$1; shift
    secret_add "$@"
    for s in "$@"; do
        if grep -F -q -- "$s" "$f"; then
            fail "a secret appears in the log: $(grep -F -- "$s" "$f" | head -n 1)"
        fi
    done
}

# tabs: joins its arguments with TABs (one client line); a password= word of 6 characters
# or more is declared a secret (secret_scan).
tabs() {
    for _w in "$@"; do
        case $_w in password=??????*) secret_add "${_w#password=}" ;; esac
    done
    (IFS='	'; printf '%s\n' "$*")
}

finish() {
    if [ "$FAILED" -ne 0 ]; then
        exit 1
    fi
    echo "PASS"
    exit 0
}
