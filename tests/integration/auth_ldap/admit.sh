#!/bin/sh
# admit.sh: admission caps (MaxPerUser, MaxPerAddress, their defaults 8 and 32) under a
# flood of 300 clients at once from one address, the directory 200 ms away
# (tests/fixtures/delay_proxy.py): for one username, all but about 8 are refused at once
# with TEMP, without LDAP; for 300 usernames from that address, all but about 32. The
# refusals' log lines stay within their budget (10 per 10 s, then a summary), and 40
# other clients (each its own user and address) are answered in their normal time during
# each flood (figures printed). Without the caps the flood's 300 binds queue on
# BindConnections (16) ahead of everyone else. Then, with MaxPerUser 1, that every way a
# request ends gives its counts back.
. "${srcdir:-.}/auth_ldap/lib.sh"
. "$srcdir/admit_lib.sh"

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

admit_floods
kill "$CORE"
wait "$CORE"
admit_check "LDAP"

# Every path gives the counts back: with MaxPerUser 1 the next client of the same user
# (300 ms later: the counts go back when the request is freed, just after its answer)
# is admitted after an allow, a wrong password, a client gone mid-request; one held
# while the plugin is reloaded is freed at close (its table empty); so is one that
# found no server (TEMP).
conf "$WORK/p.conf" "ldap://127.0.0.1:$(cat "$WORK/proxy.port")" "MaxPerUser 1"
R='TEMP: too many authentications in progress for this user, try again later'
story paths "$WORK/p.conf" <<EOS
client a1 user=alice pass=Alice-Pass-1 addr=192.0.2.1:1
expect a1 ok
wait 300ms
client a2 user=alice pass=Alice-Pass-1 addr=192.0.2.2:1
expect a2 ok
wait 300ms
client d1 user=alice pass=Wrong-Pass-1 addr=192.0.2.3:1
expect d1 fail 'authentication failed'
wait 300ms
client d2 user=alice pass=Wrong-Pass-1 addr=192.0.2.4:1
expect d2 fail 'authentication failed'
wait 300ms
client g1 user=bob pass=Bob-Pass-2 addr=192.0.2.5:1
wait 50ms
client g2 user=BOB pass=Bob-Pass-2 addr=192.0.2.6:1
expect g2 fail "$R"
hangup g1
wait 2s
client g3 user=bob pass=Bob-Pass-2 addr=192.0.2.7:1
expect g3 ok
client h1 user=carol pass=Carol-Pass-3 addr=192.0.2.8:1
wait 50ms
reload
wait 500ms
client h2 user=carol pass=Carol-Pass-3 addr=192.0.2.9:1
expect h2 ok
expect log 'authentication refused without LDAP: 1 authentications in progress for user "BOB" (MaxPerUser 1)'
expect no-log 'still counted at close'
EOS
[ "$(grep -c 'authentication refused without LDAP' "$WORK/paths.out")" = 1 ] ||
    fail "not exactly one refusal on the paths: $(grep 'refused without' "$WORK/paths.out")"
kill "$PROXY"
wait "$PROXY" 2>/dev/null
conf "$WORK/down.conf" "ldap://127.0.0.1:$(slapd_free_port)" "MaxPerUser 1"
story down "$WORK/down.conf" <<'EOS'
client x1 user=alice pass=Alice-Pass-1 addr=192.0.2.10:1
expect x1 fail-contains TEMP
reload
wait 300ms
expect no-log 'still counted at close'
EOS
grep -q 'still counted at close' "$WORK/paths.out" "$WORK/down.out" && fail "admission counts leaked"

# A bad value is a config error naming the key.
conf "$WORK/bad.conf" "$SLAPD_URL" "MaxPerAddress -3"
"$REFCORE" --plugin "$PLUGIN" "$WORK/bad.conf" -- --clients 1 --username alice \
    --password Alice-Pass-1 > "$WORK/bad.out" 2>&1 && fail "MaxPerAddress -3 was accepted"
grep -q 'MaxPerAddress' "$WORK/bad.out" || fail "no error naming MaxPerAddress: $(tail -n 3 "$WORK/bad.out")"
finish
