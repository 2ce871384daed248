#!/bin/sh
# referrals.sh: FollowReferrals. Server A holds a referral object (ou=Remote) pointing at
# server B's ou=People; BaseDN is that object. Off (the default): the referral is not
# chased, the client gets TEMP and a line naming FollowReferrals, and B is never asked.
# On: libldap chases it to B (anonymously), the user found there is bound at A as usual,
# and B's copy of the entry is the one used (its description is pushed, not A's).
. "${srcdir:-.}/auth_ldap/lib.sh"

start_slapd b
B_DIR="$WORK/b"
B_URL=$SLAPD_URL
start_slapd a
A_DIR="$WORK/a"
A_URL=$SLAPD_URL

# B's alice says where she came from.
printf 'dn: uid=alice,ou=People,dc=example,dc=org\nchangetype: modify\nreplace: description\ndescription: route 10.77.0.0 255.255.0.0\n' \
    | slapd_tool "$B_DIR" ldapmodify -x -ZZ -H "$B_URL" -D "$SLAPD_ROOT" -w "$SLAPD_ROOTPW" \
        > "$WORK/modify.log" 2>&1 || die "ldapmodify on b: $(cat "$WORK/modify.log")"
# A's referral object (ManageDsaIT: stored as an entry, not followed).
printf 'dn: ou=Remote,dc=example,dc=org\nobjectClass: referral\nobjectClass: extensibleObject\nou: Remote\nref: %s/ou=People,dc=example,dc=org\n' \
    "$B_URL" \
    | slapd_tool "$A_DIR" ldapadd -M -x -ZZ -H "$A_URL" -D "$SLAPD_ROOT" -w "$SLAPD_ROOTPW" \
        > "$WORK/add.log" 2>&1 || die "ldapadd on a: $(cat "$WORK/add.log")"
# The fixture does what the test says: a search at A under ou=Remote is a referral.
slapd_tool "$A_DIR" ldapsearch -x -H "$A_URL" -b "ou=Remote,dc=example,dc=org" "(uid=alice)" dn \
    > "$WORK/search.log" 2>&1
grep -q "^result: 10 Referral" "$WORK/search.log" \
    || die "the referral object does not refer: $(cat "$WORK/search.log")"

# conf_ref FILE [FollowReferrals line]: BaseDN at the referral object, client config on.
conf_ref() {
    f=$1; shift
    conf "$f" "$A_URL" "$@" -- "PushAttribute description"
    sed -i 's|BaseDN "dc=example,dc=org"|BaseDN "ou=Remote,dc=example,dc=org"|' "$f"
}

# Off by default: not chased (a chase would have found alice on B and connected her).
conf_ref "$WORK/off.conf"
story off "$WORK/off.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a fail-contains TEMP
expect log "answered with a referral, and FollowReferrals is off"
EOS
grep -q "referrals off" "$WORK/off.out" || fail "the setup line does not say referrals off"

conf_ref "$WORK/on.conf" "FollowReferrals yes"
story on "$WORK/on.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
expect a push "route 10.77.0.0 255.255.0.0"
expect a no-push "route 10.50.0.0"
client w user=alice pass=Wrong-Pass-1 cn=w
expect w fail "authentication failed"
client n user=nobody-here pass=X-Pass-1 cn=n
expect n fail "authentication failed"
EOS
grep -q "referrals followed" "$WORK/on.out" || fail "the setup line does not say referrals followed"

# On, with B down: the chase fails: TEMP, not a plain failure.
slapd_stop "$B_DIR"
story ondown "$WORK/on.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a fail-contains TEMP
expect log "answered with a referral, which could not be followed"
EOS

for f in "$WORK"/*.out; do no_secrets "$f" Alice-Pass-1 Wrong-Pass-1 Svc-Pass-9; done
finish
