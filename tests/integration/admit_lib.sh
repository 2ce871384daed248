# admit_lib.sh: the floods and checks of auth_ldap/admit.sh and auth_http/admit.sh
# (sourced after the plugin's lib.sh, with a core serving the plugin, its caps at their
# defaults, on $WORK/core.sock and logging to $WORK/serve.out at verb 4).

# admit_fig NAME KEY: the figure after KEY in $WORK/NAME.txt (admit_flood.py's line).
admit_fig() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$WORK/$1.txt"; }

# admit_flood NAME [--distinct]: 300 flood clients from 203.0.113.9 with 40 others;
# the figures in $WORK/NAME.txt.
admit_flood() {
    python3 "$srcdir/admit_flood.py" "$WORK/core.sock" Other-Pass-1 40 slow Flood-Pass-2 300 \
        "$2" > "$WORK/$1.txt" 2>&1 || fail "$1: $(cat "$WORK/$1.txt")"
}

# admit_floods: for one username ("slow"), then, after a fresh log budget window, for
# 300 usernames (slow0..slow299).
admit_floods() {
    admit_flood user ""
    sleep 10.5
    admit_flood addr --distinct
}

# admit_check WHAT: once the core has stopped, the figures and the refusal lines
# ("authentication refused without WHAT: ...").
admit_check() {
    for f in user addr; do
        echo "$f flood: $(cat "$WORK/$f.txt")"
        base=$(admit_fig "$f" base_ms)
        during=$(admit_fig "$f" during_ms)
        echo "$f flood: 40 other clients answered in $base ms before the flood, $during ms during it"
        # "Normal time": within 3 times as long as before, plus 500 ms of slack for a
        # loaded machine.
        [ -n "$during" ] && [ "$during" -lt $((3 * base + 500)) ] ||
            fail "$f flood: other clients were slow during the flood: $during ms, $base ms before"
        [ "$(admit_fig "$f" temp_other)" = 0 ] && [ "$(admit_fig "$f" denied)" = 0 ] ||
            fail "$f flood: other answers than the caps' TEMP: $(cat "$WORK/$f.txt")"
    done
    # At most 8 (32) at once: a few more get through when the first ones end before
    # the last of the 300 arrive (as auth_pam/flood.sh allows); the rest are refused.
    ok=$(admit_fig user ok)
    [ "$ok" -ge 8 ] && [ "$ok" -le 50 ] && [ "$(admit_fig user temp_user)" = $((300 - ok)) ] ||
        fail "MaxPerUser 8 (default): not 8..50 admitted and the rest refused: $(cat "$WORK/user.txt")"
    ok=$(admit_fig addr ok)
    [ "$ok" -ge 32 ] && [ "$ok" -le 80 ] && [ "$(admit_fig addr temp_addr)" = $((300 - ok)) ] ||
        fail "MaxPerAddress 32 (default): not 32..80 admitted and the rest refused: $(cat "$WORK/addr.txt")"

    # One line per refusal within the budget (10 per 10 s), the rest summed up.
    lines=$(grep -c "authentication refused without $1" "$WORK/serve.out")
    echo "refusal log lines: $lines for 560 refusals;" \
        "$(grep 'admission refusals suppressed' "$WORK/serve.out" | head -n 2)"
    [ "$lines" -ge 2 ] && [ "$lines" -le 40 ] || fail "$lines refusal lines (expected 2..40)"
    grep -q "\[flood[0-9]*@203.0.113.9:[0-9]*\] authentication refused without $1: 8 authentications in progress for user \"slow\" (MaxPerUser 8)" "$WORK/serve.out" ||
        fail "no per-user refusal line naming the client, the user and the cap"
    grep -q "\[flood[0-9]*@203.0.113.9:[0-9]*\] authentication refused without $1: 32 authentications in progress from 203.0.113.9 (MaxPerAddress 32)" "$WORK/serve.out" ||
        fail "no per-address refusal line naming the client, the address and the cap"
    grep -q 'more admission refusals suppressed' "$WORK/serve.out" ||
        fail "no summary of the suppressed refusal lines"
    if grep -q 'still counted at close' "$WORK/serve.out"; then fail "admission counts leaked"; fi
    no_secrets "$WORK/serve.out" Other-Pass-1 Flood-Pass-2
}
