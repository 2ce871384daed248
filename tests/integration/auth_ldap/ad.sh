#!/bin/sh
# ad.sh: ovp-auth-ldap against a real Active Directory: Samba's AD DC
# (tests/fixtures/samba_ad.sh), in a network namespace of its own, over LDAPS checked
# with the CA Samba generated (TLSVerify stays demand: the URL names dc1.ovp.test, the
# name in Samba's certificate). sAMAccountName and userPrincipalName logins, names with
# odd characters, AD's bind diagnostics (disabled, locked, must change, account expired,
# password expired, logon hours, workstation) as reasons, injection attempts, a UPN or
# DOMAIN\name as BindDN, anonymous searches and a BaseDN outside the domain (TEMP),
# nested groups through AD's in-chain matching rule (NestedGroups ad) and level by level,
# memberOf, the primary group that never matches, a plain ldap:// simple bind that AD
# refuses, StartTLS, a certificate that does not name the URL's host, and Samba stopped
# mid-run (TEMP) and started again. Takes about 15 s (provisioning about 10 s).
. "${srcdir:-.}/auth_ldap/lib.sh"
. "$srcdir/../fixtures/samba_ad.sh"

samba_ad_available || skip_or_fail "no Samba AD DC here: $AD_MISSING"
AD="$WORK/ad"
mkdir -p "$AD"
trap 'samba_ad_cleanup "$AD"; cleanup' EXIT
trap 'exit 143' HUP INT TERM # the EXIT trap then stops Samba and removes the namespace
t0=$(date +%s)
samba_ad_setup "$AD" || die "the Samba AD domain could not be provisioned"
t1=$(date +%s)
samba_ad_start "$AD" || die "Samba's AD DC did not start"
echo "Samba AD: provisioned in $((t1 - t0)) s, answering $(($(date +%s) - t1)) s later"

USERS="CN=Users,$AD_BASE"
GROUPS_BASE="OU=Groups,$AD_BASE"

# adconf FILE URL FILTER [extra <LDAP> lines] [-- extra <Authorization> lines]
# BINDDN (environment): the service account as BindDN (default its DN; none: no BindDN).
# BASEDN (environment): the user search's base (default the domain's root).
adconf() {
    f=$1; url=$2; filter=$3; shift 3
    {
        printf '<LDAP>\n    URL "%s"\n' "$url"
        [ "${BINDDN:-}" = none ] \
            || printf '    BindDN "%s"\n    Password Svc-Pass-9\n' "${BINDDN:-CN=svc,$USERS}"
        printf '    Timeout 3\n    TLSCACertFile "%s"\n' "$AD_CA"
        while [ $# -gt 0 ] && [ "$1" != "--" ]; do printf '    %s\n' "$1"; shift; done
        [ $# -gt 0 ] && shift
        # The domain's root: AD also answers with continuation references (Configuration,
        # DomainDnsZones, ...), which must not count as a referral or an error.
        printf '</LDAP>\n<Authorization>\n    BaseDN "%s"\n' "${BASEDN:-$AD_BASE}"
        printf '    SearchFilter "%s"\n' "$filter"
        for l in "$@"; do printf '    %s\n' "$l"; done
        printf '</Authorization>\n'
    } > "$f"
    chmod 600 "$f"
}

# adstory NAME CONF: story() with the core inside the domain's namespace.
adstory() {
    name=$1; cf=$2; shift 2
    cat > "$WORK/$name.story"
    "$AD_WRAP" "$REFCORE" --plugin "$PLUGIN" "$cf" -- --verb 7 --poll fast \
        --scenario "$WORK/$name.story" > "$WORK/$name.out" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        fail "story $name (exit $rc)"
        tail -n 30 "$WORK/$name.out" | sed 's/^/    /'
    fi
    return $rc
}

# log_has NAME TEXT WHY: the story's output has a line with TEXT.
log_has() {
    grep -F -q -- "$2" "$WORK/$1.out" || fail "$3: no line with \"$2\" in $1.out"
}

URL="ldaps://$AD_HOST"

# --- sAMAccountName: logins, wrong passwords, AD's reasons, injection attempts (each
# client named by its cn, for the log lines)
# AD tells why only when the password is right, except for a locked account: that one
# is reported whatever the password (as Windows does).
adconf "$WORK/sam.conf" "$URL" "(sAMAccountName=%u)"
adstory sam "$WORK/sam.conf" <<'EOS'
timeout 15
client a user=alice pass=Alice-Pass-1 cn=a
expect a ok
client j user=jürgen pass=Umlaut-Pass-6 cn=j
expect j ok
client o "user=o'brien (ext)" pass=Quote-Pass-7 cn=o
expect o ok
client w user=bob pass=Wrong-Pass-2 cn=w
expect w fail "authentication failed"
client u user=nobody pass=Nobody-Pass-1 cn=u
expect u fail "authentication failed"
client p user=alice@ovp.test pass=Alice-Pass-1 cn=p
expect p fail "authentication failed"
client dis user=disabled pass=Disabled-Pass-1 cn=dis
expect dis fail "authentication failed: account disabled"
client loc user=locked pass=Locked-Pass-1 cn=loc
expect loc fail "authentication failed: account locked"
client mc user=mustchange pass=Change-Pass-1 cn=mc
expect mc fail "authentication failed: password must be changed"
client exp user=expired pass=Expired-Pass-1 cn=exp
expect exp fail "authentication failed: account expired"
client pw user=pwold pass=Pwold-Pass-1 cn=pw
expect pw fail "authentication failed: password expired"
client hr user=hours pass=Hours-Pass-1 cn=hr
expect hr fail "authentication failed: not permitted to log on at this time"
client wk user=wks pass=Wks-Pass-1 cn=wk
expect wk fail "authentication failed: not permitted to log on from this workstation"
client dw user=disabled pass=Wrong-Pass-3 cn=dw
expect dw fail "authentication failed"
client lw user=locked pass=Wrong-Pass-3 cn=lw
expect lw fail "authentication failed: account locked"
client ew user=expired pass=Wrong-Pass-3 cn=ew
expect ew fail "authentication failed"
client i1 user=* pass=Alice-Pass-1 cn=i1
expect i1 fail "authentication failed"
client i2 "user=*)(sAMAccountName=*" pass=Alice-Pass-1 cn=i2
expect i2 fail "authentication failed"
client i3 "user=admin)(|(sAMAccountName=*" pass=Alice-Pass-1 cn=i3
expect i3 fail "authentication failed"
client i4 user=ali* pass=Alice-Pass-1 cn=i4
expect i4 fail "authentication failed"
client i5 "user=alice)(objectClass=*" pass=Alice-Pass-1 cn=i5
expect i5 fail "authentication failed"
EOS
# Each refusal's log line names the client and carries AD's diagnostic code.
for c in w:52e dw:52e lw:775 ew:52e dis:533 loc:775 mc:773 exp:701 pw:532 hr:530 wk:531; do
    grep "\[${c%%:*}@" "$WORK/sam.out" | grep -q "refused: Invalid credentials (.*data ${c#*:}," \
        || fail "no log line for client ${c%%:*} with AD's code ${c#*:}"
done
for c in u p i1 i2 i3 i4 i5; do
    grep "\[$c@" "$WORK/sam.out" | grep -q 'not found in the directory' \
        || fail "no \"not found\" log line for client $c: $(grep "\[$c@" "$WORK/sam.out" | tail -n 1)"
done
no_secrets "$WORK/sam.out" Alice-Pass-1 Svc-Pass-9 Umlaut-Pass-6 Quote-Pass-7 Wrong-Pass-2 \
    Disabled-Pass-1 Locked-Pass-1 Change-Pass-1 Expired-Pass-1 Pwold-Pass-1

# --- userPrincipalName (AD compares it without regard to case)
adconf "$WORK/upn.conf" "$URL" "(userPrincipalName=%u)"
adstory upn "$WORK/upn.conf" <<'EOS'
client a user=alice@ovp.test pass=Alice-Pass-1
expect a ok
client A user=ALICE@OVP.TEST pass=Alice-Pass-1
expect A ok
client o "user=o'brien (ext)@ovp.test" pass=Quote-Pass-7
expect o ok
client s user=alice pass=Alice-Pass-1
expect s fail "authentication failed"
client w user=bob@ovp.test pass=Bob-Pass-0
expect w fail "authentication failed"
client d user=disabled@ovp.test pass=Disabled-Pass-1
expect d fail "authentication failed: account disabled"
client i "user=*@ovp.test" pass=Alice-Pass-1
expect i fail "authentication failed"
EOS

# --- AD also takes the service account's userPrincipalName or DOMAIN\name as BindDN.
(BINDDN=svc@ovp.test; adconf "$WORK/bindupn.conf" "$URL" "(sAMAccountName=%u)")
(BINDDN='OVP\\svc'; adconf "$WORK/bindnt.conf" "$URL" "(sAMAccountName=%u)")
for b in bindupn bindnt; do
    adstory $b "$WORK/$b.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
EOS
done

# --- AD refuses anonymous searches ("Operations error"), and Samba answers a base
# outside its naming contexts with "No such object" (Windows: a referral): both are
# the directory (or its configuration) failing, TEMP, never "authentication failed".
(BINDDN=none; adconf "$WORK/anon.conf" "$URL" "(sAMAccountName=%u)")
(BASEDN="DC=example,DC=org"; adconf "$WORK/badbase.conf" "$URL" "(sAMAccountName=%u)")
for b in anon badbase; do
    adstory $b "$WORK/$b.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a fail-contains TEMP
EOS
done
log_has anon "Operation unavailable without authentication" "an anonymous search refused by AD"
log_has badbase "No such object" "a BaseDN outside the domain"

# --- groups: vpn holds jürgen and vpn-inner; vpn-inner holds alice and o'brien (whose
# DN, CN=O'Brien\, Pat (ext),..., must be escaped in the in-chain filter).
G="BaseDN \"$GROUPS_BASE\""
adconf "$WORK/nested.conf" "$URL" "(sAMAccountName=%u)" -- "RequireGroup true" "<Group>" "$G" \
    'SearchFilter "(cn=vpn)"' "MemberAttribute member" "NestedGroups ad" "</Group>"
adstory nested "$WORK/nested.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
client o "user=o'brien (ext)" pass=Quote-Pass-7
expect o ok
client j user=jürgen pass=Umlaut-Pass-6
expect j ok
client b user=bob pass=Bob-Pass-2
expect b fail "authentication failed: not in a required group"
EOS
adconf "$WORK/flat.conf" "$URL" "(sAMAccountName=%u)" -- "RequireGroup true" "<Group>" "$G" \
    'SearchFilter "(cn=vpn)"' "MemberAttribute member" "</Group>"
adstory flat "$WORK/flat.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a fail "authentication failed: not in a required group"
client j user=jürgen pass=Umlaut-Pass-6
expect j ok
EOS
# NestedGroups search (level by level, as elsewhere) gives the same answers on AD.
adconf "$WORK/nestsearch.conf" "$URL" "(sAMAccountName=%u)" -- "RequireGroup true" \
    "<Group>" "$G" 'SearchFilter "(cn=vpn)"' "MemberAttribute member" \
    "NestedGroups search" "</Group>"
adstory nestsearch "$WORK/nestsearch.conf" <<'EOS'
client o "user=o'brien (ext)" pass=Quote-Pass-7
expect o ok
client b user=bob pass=Bob-Pass-2
expect b fail "authentication failed: not in a required group"
EOS
# A user's primary group (Domain Users) is in neither member nor memberOf: it never
# matches, even with the in-chain rule (the man page says so).
adconf "$WORK/primary.conf" "$URL" "(sAMAccountName=%u)" -- "RequireGroup true" \
    "<Group>" "BaseDN \"$USERS\"" 'SearchFilter "(cn=Domain Users)"' "MemberAttribute member" \
    "NestedGroups ad" "</Group>"
adstory primary "$WORK/primary.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a fail "authentication failed: not in a required group"
EOS
# memberOf on the user (AD keeps it; direct groups only).
adconf "$WORK/memberof.conf" "$URL" "(sAMAccountName=%u)" -- "RequireGroup true" \
    "<Group>" "$G" 'SearchFilter "(cn=vpn-inner)"' "MemberAttribute memberOf" "</Group>"
adstory memberof "$WORK/memberof.conf" <<'EOS'
client o "user=o'brien (ext)" pass=Quote-Pass-7
expect o ok
client b user=bob pass=Bob-Pass-2
expect b fail "authentication failed: not in a required group"
EOS

# --- transport: StartTLS works; a plain ldap:// simple bind is refused by AD (TEMP,
# the log says why); a URL naming a host the certificate does not is refused too.
adconf "$WORK/starttls.conf" "ldap://$AD_HOST" "(sAMAccountName=%u)" "TLSEnable true"
adstory starttls "$WORK/starttls.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
EOS
adconf "$WORK/plain.conf" "ldap://$AD_HOST" "(sAMAccountName=%u)"
adstory plain "$WORK/plain.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a fail-contains TEMP
EOS
log_has plain "Strong(er) authentication required" "a plain simple bind refused by AD"
adconf "$WORK/ipurl.conf" "ldaps://127.0.0.1" "(sAMAccountName=%u)"
adstory ipurl "$WORK/ipurl.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a fail-contains TEMP
EOS
log_has ipurl "does it name the host of the URL" "a certificate not naming 127.0.0.1"
# ... and it is the name check that refuses it: without checks the same URL works.
adconf "$WORK/noverify.conf" "ldaps://127.0.0.1" "(sAMAccountName=%u)" "TLSVerify never"
adstory noverify "$WORK/noverify.conf" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
EOS

# --- Samba stopped mid-run: TEMP; started again: answers again.
wait_for() {
    for _ in $(seq 300); do
        grep -q -F -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "timed out waiting for \"$2\" in $1"
    return 1
}
adconf "$WORK/outage.conf" "$URL" "(sAMAccountName=%u)" "RetryMax 1"
cat > "$WORK/outage.story" <<EOS
timeout 20
client a user=alice pass=Alice-Pass-1
expect a ok
expect file $WORK/go1 go
client b user=alice pass=Alice-Pass-1 cn=b
expect b fail-contains TEMP
expect file $WORK/go2 go
wait 1500ms
client c user=alice pass=Alice-Pass-1 cn=c
expect c ok
client d user=bob pass=Wrong-Pass-2 cn=d
expect d fail "authentication failed"
EOS
"$AD_WRAP" "$REFCORE" --plugin "$PLUGIN" "$WORK/outage.conf" -- --verb 7 --poll fast \
    --scenario "$WORK/outage.story" > "$WORK/outage.out" 2>&1 &
core=$!
wait_for "$WORK/outage.out" "MULTI: primary virtual IP for alice"
samba_ad_stop "$AD"
echo go > "$WORK/go1"
wait_for "$WORK/outage.out" "SENT CONTROL [b]: 'AUTH_FAILED"
samba_ad_restart "$AD" || fail "Samba did not start again"
echo go > "$WORK/go2"
wait $core || { fail "story outage (exit $?)"; tail -n 30 "$WORK/outage.out" | sed 's/^/    /'; }

finish
