#!/bin/sh
# ccfg.sh: client config from the directory through CLIENT_CONNECT_V2: a user
# attribute's values pushed (PushAttribute), ifconfig-push from another
# (IfconfigPushAttribute), a <Group>'s Push lines for its members; a value that is not
# a safe option refuses the client (fail closed). Sessions whose auth skipped the
# directory (TokenSkip, CacheTTL) get theirs through a deferred lookup: ccdefer.sh.
. "${srcdir:-.}/auth_ldap/lib.sh"

start_slapd main
G='BaseDN "ou=Groups,dc=example,dc=org"'
conf "$WORK/cc.conf" "$SLAPD_URL" -- "PushAttribute description" \
    "IfconfigPushAttribute roomNumber" "<Group>" "$G" 'SearchFilter "(cn=vpn)"' \
    "MemberAttribute member" 'Push "route 10.60.0.0 255.255.0.0"' "</Group>"
story cc "$WORK/cc.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
expect a push "route 10.50.0.0 255.255.0.0"
expect a push "dhcp-option DNS 10.50.0.53"
expect a push "route 10.60.0.0 255.255.0.0"
expect a addr 10.8.0.77
client s "user=smith, john" pass=Comma-Pass-5 cn=s
expect s ok
expect s push "route 10.60.0.0 255.255.0.0"
expect s no-push "route 10.50.0.0"
client c user=carol pass=Carol-Pass-3 cn=c
expect c fail "authentication failed: the directory's client configuration is invalid"
client b user=bob pass=Bob-Pass-2 cn=b
expect b fail "authentication failed: the directory's client configuration is invalid"
EOS
grep -q 'description value "route "10.9.0.0 255.255.0.0" cannot be pushed' "$WORK/cc.out" || fail "no line naming carol's bad value"
grep -q 'roomNumber value "10.8.0.88" is not "IPv4-address netmask"' "$WORK/cc.out" \
    || fail "no line naming bob's bad value"

no_secrets "$WORK/cc.out" Alice-Pass-1 Comma-Pass-5 Carol-Pass-3 Bob-Pass-2 Svc-Pass-9
finish
