#!/bin/sh
# refcore.sh: ovp-auth-pam hosted by ovp-refcore (the reference OpenVPN core) in its
# load mode: many clients through the whole control path, logs at verb 11.
. "${srcdir:-.}/auth_pam/lib.sh"

REFCORE="$abs_top_builddir/tests/core/ovp-refcore"
[ -x "$REFCORE" ] || { echo "FAIL: $REFCORE not built"; exit 1; }

printf 'alice:Ref-Secret-1:refm\n' > "$WORK/passdb"
service refm "auth required $MATRIX passdb=$WORK/passdb" "account required $MATRIX passdb=$WORK/passdb"

# refcore OUT EXPECT CLIENTS PASSWORD: one load run (again on pam_wrapper's race,
# see lib.sh); prints its JSON summary line. Every client is alice from one address,
# far beyond the per_user/per_address defaults (admission.sh): raised here.
refcore() {
    out=$1; expect=$2; n=$3; pw=$4
    for attempt in 1 2 3; do
        LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SERVICES" \
            PAM_WRAPPER_DISABLE_DEEPBIND=1 \
            "$REFCORE" --plugin "$PLUGIN" workers=1 per_user=100 per_address=100 refm -- \
            --clients "$n" --username alice \
            --password "$pw" --expect "$expect" --poll fast --verb 11 --tmp-dir "$WORK" \
            > "$out" 2> "$out.err"
        rc=$?
        cat "$out.err" >> "$out"
        grep "^{" "$out" || true
        [ $rc -eq 0 ] && return 0
        pamwrap_broke "$out" || return $rc
        echo "note: pam_wrapper race in run $attempt (see lib.sh); running it again"
    done
    return $rc
}

refcore "$WORK/ok.out" ok 30 Ref-Secret-1 || fail "30 clients with the right password (exit $rc)"
grep -q '"authenticated":30' "$WORK/ok.out" || fail "not all 30 clients authenticated"
grep -q '"deferred":30' "$WORK/ok.out" || fail "the plugin did not defer every call"
grep -q 'authentication succeeded' "$WORK/ok.out" || fail "no success line at verb 11"

refcore "$WORK/bad.out" fail 10 Wr0ng-Secret-2 || fail "10 clients with a wrong password (exit $rc)"
grep -q '"failed":10' "$WORK/bad.out" || fail "not all 10 wrong passwords failed"

no_secrets "$WORK/ok.out" Ref-Secret-1
no_secrets "$WORK/bad.out" Wr0ng-Secret-2

finish
