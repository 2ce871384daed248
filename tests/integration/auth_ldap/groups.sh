#!/bin/sh
# groups.sh: RequireGroup with groupOfNames/member, groupOfUniqueNames/uniqueMember,
# posixGroup/memberUid (RFC 2307) and memberOf on the user; a member DN full of DN
# escapes is itself escaped in the group filter; nested groups, a cycle among them.
. "${srcdir:-.}/auth_ldap/lib.sh"

start_slapd main
G='BaseDN "ou=Groups,dc=example,dc=org"'

# groupOfNames: alice and "smith, john" (DN uid=smith\2C john,...) are members of vpn.
conf "$WORK/member.conf" "$SLAPD_URL" -- "RequireGroup true" "<Group>" "$G" \
    'SearchFilter "(cn=vpn)"' "MemberAttribute member" "</Group>"
story member "$WORK/member.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
client s "user=smith, john" pass=Comma-Pass-5
expect s ok
client b user=bob pass=Bob-Pass-2
expect b fail "authentication failed: not in a required group"
client w user=alice pass=Wrong-Pass-1
expect w fail "authentication failed"
EOS
grep -q 'is in none of the <Group> blocks and RequireGroup is true' "$WORK/member.out" \
    || fail "no log line for a user outside every group"

# uniqueMember (carol in vpnuniq) and memberUid (bob in vpnposix, RFC2307bis false).
conf "$WORK/multi.conf" "$SLAPD_URL" -- "RequireGroup true" \
    "<Group>" "$G" 'SearchFilter "(cn=vpnuniq)"' "MemberAttribute uniqueMember" "</Group>" \
    "<Group>" "$G" 'SearchFilter "(&(objectClass=posixGroup)(cn=vpnposix))"' \
    "MemberAttribute memberUid" "RFC2307bis false" "UseCompareOperation false" "</Group>"
story multi "$WORK/multi.conf" <<'EOS'
client c user=carol pass=Carol-Pass-3
expect c ok
client b user=bob pass=Bob-Pass-2
expect b ok
client a user=alice pass=Alice-Pass-1
expect a fail "authentication failed: not in a required group"
EOS

# memberOf on the user entry (slapd's memberof overlay fills it for groupOfNames).
conf "$WORK/memberof.conf" "$SLAPD_URL" -- "RequireGroup true" "<Group>" "$G" \
    'SearchFilter "(cn=vpn)"' "MemberAttribute memberOf" "</Group>"
story memberof "$WORK/memberof.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
client b user=bob pass=Bob-Pass-2
expect b fail "authentication failed: not in a required group"
EOS

# Nested groups (NestedGroups search): dave is in inner, inner in outer; erin is in
# cyc1, and cyc1 and cyc2 hold each other (the search ends all the same).
conf "$WORK/nested.conf" "$SLAPD_URL" -- "RequireGroup true" "<Group>" "$G" \
    'SearchFilter "(cn=outer)"' "MemberAttribute member" "NestedGroups search" \
    "NestedDepth 3" "</Group>"
story nested "$WORK/nested.conf" <<'EOS'
client d user=dave pass=Dave-Pass-10
expect d ok
client e user=erin pass=Erin-Pass-11
expect e fail "authentication failed: not in a required group"
client a user=alice pass=Alice-Pass-1
expect a fail "authentication failed: not in a required group"
EOS
conf "$WORK/flat.conf" "$SLAPD_URL" -- "RequireGroup true" "<Group>" "$G" \
    'SearchFilter "(cn=outer)"' "MemberAttribute member" "</Group>"
story flat "$WORK/flat.conf" <<'EOS'
client d user=dave pass=Dave-Pass-10
expect d fail "authentication failed: not in a required group"
EOS

# RequireGroup false: groups are not asked (openvpn-auth-ldap used them only for pf).
conf "$WORK/nogroup.conf" "$SLAPD_URL" -- "RequireGroup false" "<Group>" "$G" \
    'SearchFilter "(cn=vpn)"' "MemberAttribute member" "</Group>"
story nogroup "$WORK/nogroup.conf" <<'EOS'
client b user=bob pass=Bob-Pass-2
expect b ok
EOS

finish
