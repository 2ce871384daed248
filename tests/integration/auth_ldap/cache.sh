#!/bin/sh
# cache.sh: CacheTTL / NegativeCacheTTL: with the directory stopped, the same username
# and password are answered as before (a success and a refusal), anything else gets
# TEMP; without a cache the same client gets TEMP.
. "${srcdir:-.}/auth_ldap/lib.sh"

start_slapd main
conf "$WORK/cache.conf" "$SLAPD_URL" -- "CacheTTL 60s" "NegativeCacheTTL 60s"

wait_for() {
    for _ in $(seq 200); do
        grep -q -F -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "timed out waiting for \"$2\" in $1"
    return 1
}

cat > "$WORK/cache.story" <<EOS
timeout 15
client a user=alice pass=Alice-Pass-1
expect a ok
client w user=alice pass=Wrong-Pass-1 cn=w
expect w fail "authentication failed"
expect file $WORK/go1 go
client a2 user=alice pass=Alice-Pass-1 cn=a2
expect a2 ok
client w2 user=alice pass=Wrong-Pass-1 cn=w2
expect w2 fail "authentication failed"
client x user=alice pass=Other-Pass-2 cn=x
expect x fail-contains TEMP
client b user=bob pass=Bob-Pass-2 cn=b
expect b fail-contains TEMP
EOS
"$REFCORE" --plugin "$PLUGIN" "$WORK/cache.conf" -- --verb 11 --poll fast \
    --scenario "$WORK/cache.story" > "$WORK/cache.out" 2>&1 &
core=$!
wait_for "$WORK/cache.out" "SENT CONTROL [w]: 'AUTH_FAILED"
slapd_stop "$WORK/main"
echo go > "$WORK/go1"
wait $core || { fail "story cache (exit $?)"; tail -n 30 "$WORK/cache.out" | sed 's/^/    /'; }
n=$(grep -c 'answered from the cache' "$WORK/cache.out")
[ "$n" -eq 2 ] || fail "expected 2 answers from the cache, saw $n"
no_secrets "$WORK/cache.out" Alice-Pass-1 Wrong-Pass-1 Other-Pass-2 Svc-Pass-9
finish
