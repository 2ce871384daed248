#!/bin/sh
# realpam.sh: ovp-auth-pam's threads under a concurrent load with reloads in the middle,
# on the real libpam (no pam_wrapper): what `scripts/ovp-dev tsan` runs for auth-pam,
# since ThreadSanitizer refuses pam_wrapper's RTLD_DEEPBIND (and Debian 12's pam_wrapper
# cannot turn it off). The PAM stack is a throwaway service /etc/pam.d/ovptsan-PID that
# runs this suite's own pam_ovptest module by its path (answers from a file, some users
# slow), so no system account is touched; the file is removed at exit, also on failure
# or a signal. Root only (skipped otherwise). Not in make check's list (it writes to
# /etc/pam.d); any build can run it:
#   make -C _build/X/tests/integration check TESTS=auth_pam/realpam.sh
#
# One served core (ovp-refcore --serve) with the plugin (workers=8); clients from
# several drivers at once: right and wrong passwords, and slow users whose transactions
# (1.5 s) are in flight when the core reloads (SIGHUP: the plugin closed with requests
# queued, running and answered at that moment, the helper parked and adopted by the
# reopen). Then the same load again with every answer checked; ROUNDS times (3). Then a
# last reload with slow users in flight, and SIGTERM with some still running.
set -u
: "${abs_top_builddir:=$(cd "${top_builddir:-../..}" && pwd)}"
: "${abs_builddir:=$(pwd)}"
REFCORE="$abs_top_builddir/tests/core/ovp-refcore"
PLUGIN="$abs_top_builddir/auth-pam/.libs/ovp-auth-pam.so"
OVPTEST="$abs_builddir/auth_pam/.libs/pam_ovptest.so"
FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (a throwaway /etc/pam.d service)"; exit 77; }
[ -d /etc/pam.d ] || { echo "SKIP: no /etc/pam.d"; exit 77; }
[ -f "$PLUGIN" ] || { echo "SKIP: auth-pam is not built"; exit 77; }
for f in "$REFCORE" "$OVPTEST"; do
    [ -f "$f" ] || { echo "FAIL: $f not built"; exit 1; }
done

# A service file a killed run left behind (its process gone) goes first.
for f in /etc/pam.d/ovptsan-*; do
    [ -f "$f" ] || continue
    kill -0 "${f##*-}" 2>/dev/null && continue
    grep -q 'pam_ovptest\.so' "$f" && rm -f "$f"
done
SVC=ovptsan-$$
PAMFILE=/etc/pam.d/$SVC
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ovp-realpam.XXXXXX") || exit 1
CORE=""
cleanup() {
    rm -f "$PAMFILE"
    [ -n "$CORE" ] && kill "$CORE" 2>/dev/null && wait "$CORE"
    if [ -n "${OVP_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
# a plugin line must stay under 256 characters
ln -s "$PLUGIN" "$WORK/ovp-auth-pam.so"

printf 'fast\tReal-Pam-1\nslow\tReal-Pam-2\n' > "$WORK/accept"
chmod 644 "$WORK/accept"
printf 'auth required %s sleep=1500 sleepfor=slow accept=%s\naccount required %s\n' \
    "$OVPTEST" "$WORK/accept" "$OVPTEST" > "$PAMFILE"

# Every client comes from 127.0.0.1 and most are one user: the admission caps out of the way.
"$REFCORE" --plugin "$WORK/ovp-auth-pam.so" workers=8 per_user=100000 per_address=100000 \
    "$SVC" -- --serve --poll fast --verb 1 --listen "unix:$WORK/core.sock" \
    --tmp-dir "$WORK" > "$WORK/core.out" 2> "$WORK/core.err" &
CORE=$!
for _ in $(seq 100); do
    grep -q '^listening on' "$WORK/core.out" 2>/dev/null && break
    sleep 0.1
done
grep -q '^listening on' "$WORK/core.out" || { echo "FAIL: the core did not start"; tail -n 20 "$WORK/core.err"; exit 1; }

# drive NAME N USER PASSWORD EXPECT: N clients at once, in the background.
drive() {
    "$REFCORE" --drive "unix:$WORK/core.sock" --clients "$2" --username "$3" \
        --password "$4" --expect "$5" --timeout 60 > "$WORK/$1.out" 2>&1 &
    eval "PID_$1=\$!"
}
# finished NAME: 0 when driver NAME exited 0 (every client answered as expected).
finished() {
    eval "wait \$PID_$1"
}
opens() { grep -c '^PLUGIN ovp-auth-pam: PAM service' "$WORK/core.err"; }

# 1. ROUNDS times (default 3): load with slow transactions in flight and a reload in the
#    middle of it; then the same load after the reload, every answer as expected
rounds=${ROUNDS:-3}
for r in $(seq "$rounds"); do
    drive a1 200 fast Real-Pam-1 ok
    drive b1 60 bad Wrong-Pam-9 fail
    drive s1 16 slow Real-Pam-2 ok
    sleep 0.7
    kill -HUP "$CORE"
    for d in a1 b1 s1; do finished $d; done # answered or RESTART: either is right here
    sleep 0.5
    kill -0 "$CORE" 2>/dev/null || { fail "the core died at reload $r"; break; }
    [ "$(opens)" = $((r + 1)) ] || fail "after $r reloads the plugin was opened $(opens) times"
    drive a2 200 fast Real-Pam-1 ok
    drive b2 60 bad Wrong-Pam-9 fail
    drive s2 16 slow Real-Pam-2 ok
    for d in a2 b2 s2; do
        finished $d || fail "after reload $r, driver $d: $(tail -n 2 "$WORK/$d.out")"
    done
done

# 2. one more reload with slow users in flight; then SIGTERM with others running
drive s3 16 slow Real-Pam-2 ok
drive a3 100 fast Real-Pam-1 ok
sleep 0.5
kill -HUP "$CORE"
finished s3
finished a3
drive a4 100 fast Real-Pam-1 ok
finished a4 || fail "after the last reload: $(tail -n 2 "$WORK/a4.out")"
drive s4 16 slow Real-Pam-2 ok
sleep 0.5
kill -TERM "$CORE"
wait "$CORE"
rc=$?
CORE=""
finished s4
[ $rc -eq 0 ] || fail "the core exited $rc at SIGTERM"
[ "$(opens)" = $((rounds + 2)) ] || fail "the plugin was opened $(opens) times, not $((rounds + 2))"
ok=$(grep -c 'authentication succeeded' "$WORK/core.err")
refused=$(grep -c 'authentication failed' "$WORK/core.err")
echo "the plugin answered: $ok successes, $refused refusals, over $((rounds + 1)) reloads"
[ "$ok" -ge $((rounds * 216 + 100)) ] && [ "$refused" -ge $((rounds * 60)) ] || fail "too few answers"
# what else the core and the plugin said (at a reload: TEMP for what was in flight, and
# its answer file already gone with the client), for the log
grep -E -v '^(peer info|Initialization Sequence Completed|sighup received|sigterm received)|authentication (succeeded|failed)|PAM service|kept the PAM helper|pam_authenticate: Authentication failure' \
    "$WORK/core.err" | sed 's/\[[^]]*\]/[client]/; s/openvpn_acf_[0-9a-f]*/openvpn_acf_X/; s/([0-9]* ms)/(N ms)/' \
    | sort | uniq -c | sort -rn | head -n 20
if grep -q -E 'ThreadSanitizer|AddressSanitizer|runtime error' "$WORK/core.err"; then
    fail "a sanitizer report in the core's output"
fi
[ $FAILED -eq 0 ] && echo PASS
exit $FAILED
