#!/bin/sh
# admit.sh: admission caps (MaxPerUser, MaxPerAddress, their defaults 8 and 32) under a
# flood of 300 clients at once from one address, the directory 200 ms away
# (tests/fixtures/delay_proxy.py): for one username, all but 8 are refused at once with
# TEMP, without LDAP; for 300 usernames from that address, all but 32. The refusals' log
# lines stay within their budget (10 per 10 s, then a summary), and 40 other clients
# (each its own user and address) are answered in their normal time during each flood
# (figures printed). Without the caps the flood's 300 binds queue on BindConnections (16)
# ahead of everyone else.
. "${srcdir:-.}/auth_ldap/lib.sh"

start_slapd main
# 40 other users and 301 flood users, added online.
{
    for u in $(seq 40 | sed 's/^/user/') slow $(seq 0 299 | sed 's/^/slow/'); do
        case $u in user*) pw=Other-Pass-1 ;; *) pw=Flood-Pass-2 ;; esac
        printf 'dn: uid=%s,ou=People,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: t\nuserPassword: %s\n\n' \
            "$u" "$SLAPD_BASE" "$u" "$u" "$pw"
    done
} > "$WORK/main/flood.ldif"
slapd_tool "$WORK/main" ldapmodify -a -x -ZZ -H "$SLAPD_URL" -D "$SLAPD_ROOT" -w "$SLAPD_ROOTPW" \
    -f "$WORK/main/flood.ldif" > "$WORK/ldapadd.log" 2>&1 || die "adding users: $(tail -n 3 "$WORK/ldapadd.log")"

python3 "$srcdir/../fixtures/delay_proxy.py" --target "127.0.0.1:$SLAPD_PORT" --delay-ms 200 \
    --port-file "$WORK/proxy.port" > "$WORK/proxy.out" 2>&1 &
PROXY=$!
for _ in $(seq 50); do [ -s "$WORK/proxy.port" ] && break; sleep 0.1; done
[ -s "$WORK/proxy.port" ] || die "delay_proxy did not start: $(cat "$WORK/proxy.out")"

conf "$WORK/a.conf" "ldap://127.0.0.1:$(cat "$WORK/proxy.port")"
"$REFCORE" --plugin "$PLUGIN" "$WORK/a.conf" -- --verb 4 --poll fast \
    --listen "unix:$WORK/core.sock" --serve > "$WORK/serve.out" 2>&1 &
CORE=$!
for _ in $(seq 50); do [ -S "$WORK/core.sock" ] && break; sleep 0.1; done
[ -S "$WORK/core.sock" ] || die "the core did not start: $(tail -n 5 "$WORK/serve.out")"

# flood NAME [--distinct]: the figures in $WORK/NAME.txt (see admit_flood.py).
flood() {
    python3 "$srcdir/admit_flood.py" "$WORK/core.sock" Other-Pass-1 40 slow Flood-Pass-2 300 \
        "$@" > "$WORK/$1.txt" 2>&1 || fail "$1: $(cat "$WORK/$1.txt")"
}
# fig NAME KEY: the figure after KEY in $WORK/NAME.txt.
fig() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$WORK/$1.txt"; }
flood user
sleep 10 # a fresh log budget window
flood addr --distinct
kill "$CORE"
wait "$CORE"
kill "$PROXY"
wait "$PROXY" 2>/dev/null

for f in user addr; do
    echo "$f flood: $(cat "$WORK/$f.txt")"
    base=$(fig "$f" base_ms)
    during=$(fig "$f" during_ms)
    echo "$f flood: 40 other clients answered in $base ms before the flood, $during ms during it"
    [ -n "$during" ] && [ "$during" -lt $((3 * base + 500)) ] ||
        fail "$f flood: other clients were slow during the flood: $during ms, $base ms before"
    [ "$(fig "$f" temp_other)" = 0 ] && [ "$(fig "$f" denied)" = 0 ] ||
        fail "$f flood: other answers than the caps' TEMP: $(cat "$WORK/$f.txt")"
done
[ "$(fig user ok)" = 8 ] && [ "$(fig user temp_user)" = 292 ] ||
    fail "MaxPerUser 8 (default): not 8 admitted and 292 refused: $(cat "$WORK/user.txt")"
[ "$(fig addr ok)" = 32 ] && [ "$(fig addr temp_addr)" = 268 ] ||
    fail "MaxPerAddress 32 (default): not 32 admitted and 268 refused: $(cat "$WORK/addr.txt")"

# One line per refusal within the budget (10 per 10 s), the rest summed up.
lines=$(grep -c 'authentication refused without LDAP' "$WORK/serve.out")
echo "refusal log lines: $lines for 560 refusals; $(grep 'admission refusals suppressed' "$WORK/serve.out" | head -n 2)"
[ "$lines" -ge 2 ] && [ "$lines" -le 40 ] || fail "$lines refusal lines (expected 2..40)"
grep -q '\[flood[0-9]*@203.0.113.9:[0-9]*\] authentication refused without LDAP: 8 authentications in progress for user "slow" (MaxPerUser 8)' "$WORK/serve.out" ||
    fail "no per-user refusal line naming the client, the user and the cap"
grep -q '\[flood[0-9]*@203.0.113.9:[0-9]*\] authentication refused without LDAP: 32 authentications in progress from 203.0.113.9 (MaxPerAddress 32)' "$WORK/serve.out" ||
    fail "no per-address refusal line naming the client, the address and the cap"
grep -q 'more admission refusals suppressed' "$WORK/serve.out" ||
    fail "no summary of the suppressed refusal lines"
grep -q 'still counted at close' "$WORK/serve.out" && fail "admission counts leaked"

# A bad value is a config error naming the key.
conf "$WORK/bad.conf" "$SLAPD_URL" "MaxPerAddress -3"
"$REFCORE" --plugin "$PLUGIN" "$WORK/bad.conf" -- --clients 1 --username alice \
    --password Alice-Pass-1 > "$WORK/bad.out" 2>&1 && fail "MaxPerAddress -3 was accepted"
grep -q 'MaxPerAddress' "$WORK/bad.out" || fail "no error naming MaxPerAddress: $(tail -n 3 "$WORK/bad.out")"
no_secrets "$WORK/serve.out" Other-Pass-1 Flood-Pass-2
finish
