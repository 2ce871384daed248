#!/bin/sh
# compare.sh: the same config files, the same directory, the same clients through
# openvpn-auth-ldap (Debian's package, the plugin users run today) and ovp-auth-ldap:
# the same allow/deny answers, except where openvpn-auth-ldap is unsafe: it accepts
# one of two entries matching a username, ovp refuses (fail closed).
. "${srcdir:-.}/auth_ldap/lib.sh"

THEIRS=/usr/lib/openvpn/openvpn-auth-ldap.so
[ -f "$THEIRS" ] || skip_or_fail "$THEIRS missing (apt-get install openvpn-auth-ldap)"

start_slapd main
conf "$WORK/plain.conf" "$SLAPD_URL"
conf "$WORK/group.conf" "$SLAPD_URL" -- "RequireGroup true" "<Group>" \
    'BaseDN "ou=Groups,dc=example,dc=org"' 'SearchFilter "(|(cn=vpn)(cn=vpnuniq))"' \
    "MemberAttribute member" "</Group>"

# decide PLUGIN CONF USER PASS: ACCEPTED or REJECTED (or what went wrong).
decide() {
    # openvpn-auth-ldap leaks at exit; that is not what is compared here.
    printf '%s\n%s\n' "$3" "$4" | ASAN_OPTIONS=detect_leaks=0 "$REFCORE" --plugin "$1" "$2" \
        -- --poll fast --try 2>&1 | sed -n 's/^decision: //p' | head -n 1
}

# cases, TAB-separated: conf user password exception (ovp's answer where it differs on
# purpose)
TAB=$(printf '\t')
while IFS=$TAB read -r cf user pass except; do
    [ -n "$cf" ] || continue
    theirs=$(decide "$THEIRS" "$WORK/$cf.conf" "$user" "$pass")
    ours=$(decide "$PLUGIN" "$WORK/$cf.conf" "$user" "$pass")
    want=${except:-$theirs}
    case "$theirs" in ACCEPTED|REJECTED) ;; *) fail "$cf/$user: openvpn-auth-ldap gave '$theirs'"; continue ;; esac
    if [ "$ours" = "$want" ]; then
        echo "same: $cf $user: openvpn-auth-ldap $theirs, ovp $ours${except:+ (on purpose)}"
    else
        fail "$cf $user: openvpn-auth-ldap $theirs, ovp $ours (expected $want)"
    fi
done <<'EOC'
plain	alice	Alice-Pass-1	
plain	alice	Wrong-Pass-1	
plain	mallory	Alice-Pass-1	
plain	*	Alice-Pass-1	
plain	*)(uid=*	Alice-Pass-1	
plain	admin)(|(uid=*	Admin-Pass-0	
plain	a*b(c)\d	Star-Pass-4	
plain	smith, john	Comma-Pass-5	
plain	jürgen	Umlaut-Pass-6	
plain	twin	Twin-Pass-8	REJECTED
group	alice	Alice-Pass-1	
group	alice	Wrong-Pass-1	
group	carol	Carol-Pass-3	
group	bob	Bob-Pass-2	
group	smith, john	Comma-Pass-5	
EOC
finish
