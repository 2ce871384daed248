#!/bin/sh
# ccdefer.sh: client config from the directory when the auth answer did not come from it.
# An auth-gen-token session OpenVPN verified (TokenSkip) or a success from the cache
# (CacheTTL) stored no config: CLIENT_CONNECT_V2 then returns DEFERRED, the backend
# thread looks the user up (search and groups, no bind) and CLIENT_CONNECT_DEFER_V2
# hands the config over (or CLIENT_CONNECT_V2 itself, when the lookup was that quick:
# the stories check the lookup's line; the hung directory makes the deferral certain). The lookup reads the directory as it is now (an entry changed
# to an unsafe value refuses the client). A hung directory during client-connect gives
# ERROR with a clear line after Timeout, while OpenVPN's thread keeps serving others; a
# stopped one gives ERROR too, and a restarted one is used again.
. "${srcdir:-.}/auth_ldap/lib.sh"

start_slapd main
DIR="$WORK/main"
G='BaseDN "ou=Groups,dc=example,dc=org"'

# wait_for FILE TEXT: until FILE has TEXT (15 s at most).
wait_for() {
    for _ in $(seq 300); do
        grep -q -F -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "timed out waiting for \"$2\" in $1"
    return 1
}

# --- TokenSkip: a reconnect with the token gets its config through the deferred lookup
conf "$WORK/tok.conf" "$SLAPD_URL" -- "TokenSkip true" "PushAttribute description" \
    "IfconfigPushAttribute roomNumber" "<Group>" "$G" 'SearchFilter "(cn=vpn)"' \
    "MemberAttribute member" 'Push "route 10.60.0.0 255.255.0.0"' "</Group>"
cat > "$WORK/tok.story" <<EOS
client a user=alice pass=Alice-Pass-1
expect a ok
expect a push "route 10.50.0.0 255.255.0.0"
expect call "CLIENT_CONNECT_V2 -> SUCCESS"
mark
roam a
expect a ok
expect a push "route 10.50.0.0 255.255.0.0"
expect a push "dhcp-option DNS 10.50.0.53"
expect a push "route 10.60.0.0 255.255.0.0"
expect a addr 10.8.0.77
expect log "accepted without LDAP (TokenSkip)"
expect log "client config lookup: user"
expect log "client-connect allowed (4 config lines)"
expect file $WORK/go-tok go
mark
roam a
expect a fail ""
expect log "description value \"route \"10.51.0.0 255.255.0.0\" cannot be pushed"
expect log "client-connect refused: the directory's client configuration is invalid"
expect call "V2 -> ERROR"
EOS
"$REFCORE" --plugin "$PLUGIN" "$WORK/tok.conf" -- --verb 11 --poll fast \
    --auth-gen-token external-auth --scenario "$WORK/tok.story" > "$WORK/tok.out" 2>&1 &
core=$!
wait_for "$WORK/tok.out" "client-connect allowed (4 config lines)"
wait_for "$WORK/tok.out" "client config lookup: user"
# The directory changes under a connected client: the next lookup sees it.
printf 'dn: uid=alice,ou=People,dc=example,dc=org\nchangetype: modify\nadd: description\ndescription: route "10.51.0.0 255.255.0.0\n' \
    | slapd_tool "$DIR" ldapmodify -x -ZZ -H "$SLAPD_URL" -D "$SLAPD_ROOT" -w "$SLAPD_ROOTPW" \
        > "$WORK/modify.log" 2>&1 || fail "ldapmodify: $(cat "$WORK/modify.log")"
echo go > "$WORK/go-tok"
wait $core || { fail "story tok (exit $?)"; tail -n 30 "$WORK/tok.out" | sed 's/^/    /'; }
printf 'dn: uid=alice,ou=People,dc=example,dc=org\nchangetype: modify\ndelete: description\ndescription: route "10.51.0.0 255.255.0.0\n' \
    | slapd_tool "$DIR" ldapmodify -x -ZZ -H "$SLAPD_URL" -D "$SLAPD_ROOT" -w "$SLAPD_ROOTPW" \
        > "$WORK/modify.log" 2>&1 || fail "ldapmodify (undo): $(cat "$WORK/modify.log")"

# --- CacheTTL with client config (refused at open before deferral existed): a success
# from the cache gets its config through the lookup; a user the directory no longer
# holds in the RequireGroup group is refused at client-connect.
conf "$WORK/cache.conf" "$SLAPD_URL" -- "PushAttribute description" "CacheTTL 1m"
story cache "$WORK/cache.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
expect a push "route 10.50.0.0 255.255.0.0"
expect call "CLIENT_CONNECT_V2 -> SUCCESS"
mark
client b user=alice pass=Alice-Pass-1 cn=b
expect b ok
expect b push "route 10.50.0.0 255.255.0.0"
expect b push "dhcp-option DNS 10.50.0.53"
expect log "answered from the cache"
expect log "client config lookup: user"
EOS

# --- another plugin defers client-connect: OpenVPN drops the lists of every round that
# ends DEFERRED and calls CLIENT_CONNECT_DEFER_V2 on every plugin that registered it, so
# ovp-auth-ldap must give its config again then (ccdefer re-delivers it), or the client
# would connect without the routes the directory gives it.
TEST_PLUGIN="$abs_top_builddir/tests/plugin/.libs/ovp-test-plugin.so"
[ -f "$TEST_PLUGIN" ] || die "$TEST_PLUGIN not built"
ln -s "$TEST_PLUGIN" "$WORK/tp.so"
conf "$WORK/two.conf" "$SLAPD_URL" -- "PushAttribute description"
cat > "$WORK/two.story" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
expect a push "route 10.50.0.0 255.255.0.0"
expect a push "dhcp-option DNS 10.50.0.53"
expect a push "route 10.99.0.0 255.255.0.0"
expect call "CLIENT_CONNECT_V2 -> DEFERRED"
expect call "CLIENT_CONNECT_DEFER_V2 -> SUCCESS"
EOS
"$REFCORE" --plugin "$PLUGIN" "$WORK/two.conf" --plugin "$WORK/tp.so" \
    events=CLIENT_CONNECT_V2,CLIENT_CONNECT_DEFER_V2 connect_defer_ms=300 \
    'ccfg=push "route 10.99.0.0 255.255.0.0"' -- --verb 11 --poll fast \
    --scenario "$WORK/two.story" > "$WORK/two.out" 2>&1 \
    || { fail "story two (exit $?)"; tail -n 30 "$WORK/two.out" | sed 's/^/    /'; }
[ "$(grep -c "client-connect allowed (2 config lines)" "$WORK/two.out")" -eq 1 ] \
    || fail "the re-delivered config was logged more than once (or never)"

# --- a hung directory (SIGSTOP) during a deferred client-connect: ERROR after Timeout
# (2 s) with a line naming the client, while OpenVPN's thread answers another client's
# renegotiation at once, and a client that hangs up meanwhile leaves its lookup to end
# on its own (the core runs under ASan: no use after free); then a stopped directory;
# then a restarted one serves again.
conf "$WORK/out.conf" "$SLAPD_URL" -- "TokenSkip true" "PushAttribute description"
cat > "$WORK/out.story" <<EOS
timeout 15
client a user=alice pass=Alice-Pass-1
expect a ok
client k user=bob pass=Bob-Pass-2 cn=k
expect k ok
client m user=alice pass=Alice-Pass-1 cn=m
expect m ok
client h user=alice pass=Alice-Pass-1 cn=h
expect h ok
expect file $WORK/go1 go
mark
roam a
roam h
wait 200ms
hangup h
timeout 800ms
reneg k
expect k reneg-ok
expect a waiting
timeout 15
expect a fail ""
expect call "CLIENT_CONNECT_V2 -> DEFERRED"
expect call "CLIENT_CONNECT_DEFER_V2 -> ERROR"
expect log "client-connect failed (backend unavailable): client config lookup: the directory server is unreachable"
expect file $WORK/go2 go
mark
roam k
expect k fail ""
expect log "[k@"
expect call "V2 -> ERROR"
expect file $WORK/go3 go
wait 3500ms
mark
roam m
expect m ok
expect m push "route 10.50.0.0 255.255.0.0"
expect log "client config lookup: user"
EOS
"$REFCORE" --plugin "$PLUGIN" "$WORK/out.conf" -- --verb 11 --poll fast \
    --auth-gen-token external-auth --scenario "$WORK/out.story" > "$WORK/out.out" 2>&1 &
core=$!
wait_for "$WORK/out.out" "MULTI: primary virtual IP for h"
PID=$(cat "$DIR/slapd.pid")
kill -STOP "$PID"
t0=$(date +%s%N)
echo go > "$WORK/go1"
wait_for "$WORK/out.out" "client-connect failed (backend unavailable)"
a_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kill -CONT "$PID"
slapd_stop "$DIR"
echo go > "$WORK/go2"
wait_for "$WORK/out.out" "SENT CONTROL [k]: 'AUTH_FAILED"
SLAPD_URL=$SLAPD_URL SLAPD_LDAPS_PORT=$SLAPD_LDAPS_PORT slapd_restart "$DIR" \
    || fail "slapd did not restart"
echo go > "$WORK/go3"
wait $core || { fail "story out (exit $?)"; tail -n 40 "$WORK/out.out" | sed 's/^/    /'; }
if [ "$a_ms" -lt 1500 ] || [ "$a_ms" -gt 8000 ]; then
    fail "the lookup against the hung directory was answered after $a_ms ms (Timeout is 2 s)"
fi
grep -q "LDAP server $SLAPD_URL: no answer within 2 s" "$WORK/out.out" \
    || fail "no line about the hung server"
grep -E -q "\\[k@[^]]*\\] client-connect (refused: the client configuration cannot be looked up, every LDAP server is down|failed \\(backend unavailable\\): client config lookup)" \
    "$WORK/out.out" || fail "no line for k's client-connect against the stopped directory"
echo "hung directory: client-connect ERROR after $a_ms ms; another client's renegotiation answered meanwhile"

no_secrets "$WORK/tok.out" Alice-Pass-1 Svc-Pass-9
no_secrets "$WORK/cache.out" Alice-Pass-1 Svc-Pass-9
no_secrets "$WORK/two.out" Alice-Pass-1 Svc-Pass-9
no_secrets "$WORK/out.out" Alice-Pass-1 Bob-Pass-2 Svc-Pass-9
finish
