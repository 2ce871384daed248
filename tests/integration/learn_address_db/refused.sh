#!/bin/sh
# refused.sh: clients refused at client-connect through ovp-refcore, which (like
# OpenVPN 2.6) calls CLIENT_DISCONNECT after every client-connect failure. A client that
# a handler after ovp-learn-address-db refused is recorded as 'refused' without the
# virtual address it never got; one refused before the plugin's client-connect (a v1
# plugin) leaves no row and ends no other session.
. "${srcdir:-.}/learn_address_db/lib.sh"

DB="$WORK/addresses.sqlite"
mkdir -p "$WORK/auth"

# 1. The plugin records the connect, the next plugin refuses: OpenVPN then calls
#    CLIENT_DISCONNECT; the address was offered in the env but never learned.
cat > "$WORK/later.story" <<'STORY'
client a user=alice pass=secret addr=192.0.2.10:4000
expect a fail
expect stat clients 0
expect stat routes 0
STORY
start_core later --plugin "$LADB" "database=$DB" instance=ref flushinterval=20ms \
    --plugin "$TPLUG" events=AUTH_USER_PASS_VERIFY,CLIENT_CONNECT_V2 fail_on=CLIENT_CONNECT_V2 \
    -- --poll fast --tmp-dir "$WORK/auth" --scenario "$WORK/later.story"
wait_core
core_ok later "a client refused after the plugin's client-connect" || finish
check "the refused client's session" \
    "$(sq "$DB" "SELECT count(*) || ' ' || coalesce(end_reason, '-') || ' ' ||
                 coalesce(vaddr4, '-') || ' ' || coalesce(vaddr6, '-') FROM session")" \
    "1 refused - -"
check "address events of the refused client" \
    "$(sq "$DB" "SELECT count(*) FROM address_event WHERE op IN ('add', 'update')")" 0
"$ADDRDB" --db "$DB" who 10.8.0.2 > /dev/null 2>&1
check "who 10.8.0.2 (never held): exit status" $? 1

# 2. A v1 plugin refuses first: the plugin never sees the connect, only the disconnect.
cat > "$WORK/first.story" <<'STORY'
client b user=alice pass=secret cn=bob addr=192.0.2.11:4001
expect b fail
expect stat clients 0
STORY
start_core first --plugin "$TPLUG" events=AUTH_USER_PASS_VERIFY,CLIENT_CONNECT \
    fail_on=CLIENT_CONNECT --plugin "$LADB" "database=$DB" instance=ref flushinterval=20ms \
    -- --poll fast --tmp-dir "$WORK/auth" --scenario "$WORK/first.story"
wait_core
core_ok first "a client refused before the plugin's client-connect" || finish
check "sessions after a client refused before the plugin saw it" \
    "$(sq "$DB" "SELECT count(*) FROM session")" 1
integrity "$DB"
finish
