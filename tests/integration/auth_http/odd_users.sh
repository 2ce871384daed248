#!/bin/sh
# odd_users.sh: usernames with quotes, backslashes, commas, braces, UTF-8, a newline as
# OpenVPN remaps it ('_') and a byte that is not UTF-8 reach the service intact and
# unambiguous (JSON-encoded by jansson; the bad byte as U+FFFD, logged), and odd
# passwords never show in the log.
. "${srcdir:-.}/auth_http/lib.sh"

service main '{"default": {"action": "allow"}}'
conf "$WORK/o.conf" "URL $HTTP_URL" "Fields username password common_name peer_info"
# Values with bytes a story line cannot spell come from the environment (${NAME}).
U_UTF8=$(printf 'j\303\274rgen \342\202\254 \360\237\224\221')
U_NL=$(printf 'new\nline')
U_BAD=$(printf 'bad\377byte')
export U_UTF8 U_NL U_BAD
printf '%s\n' \
    'client a "user=quo\"te" "pass=pa\"ss\\word" cn=a' 'expect a ok' \
    'client b "user=back\\slash\\" pass=Odd-Pass-2 cn=b' 'expect b ok' \
    'client c "user=${U_UTF8}" pass=Odd-Pass-3 cn=c' 'expect c ok' \
    'client d "user={\"json\": [1,2]}, x" pass=Odd-Pass-4 cn=d' 'expect d ok' \
    'client e "user=${U_NL}" pass=Odd-Pass-5 cn=e' 'expect e ok' \
    'client f "user=${U_BAD}" pass=Odd-Pass-6 cn=f iv=IV_SSO=openurl,crtext' 'expect f ok' \
    > "$WORK/odd.story"
"$REFCORE" --plugin "$PLUGIN" "$WORK/o.conf" -- --verb 11 --poll fast \
    --scenario "$WORK/odd.story" > "$WORK/odd.out" 2>&1 || fail "the odd story failed: $(tail -n 5 "$WORK/odd.out")"

# Each username, as the service parsed it, compared by Python on exact code points.
got() { # CN EXPECTED-PYTHON-LITERAL
    r=$(http_log_query "$WORK/main" "e['body']['username'] == $2" "e['body']['common_name'] == '$1'")
    [ "$r" = true ] || fail "client $1: the service got $(http_log_query "$WORK/main" "ascii(e['body']['username'])" "e['body']['common_name'] == '$1'")"
}
got a "'quo\"te'"
got b "'back\\\\slash\\\\'"
got c "'j\\u00fcrgen \\u20ac \\U0001f511'"
got d "'{\"json\": [1,2]}, x'"
got e "'new_line'"
got f "'bad\\ufffdbyte'"
[ "$(http_log_query "$WORK/main" "e['body']['password']" "e['body']['common_name'] == 'a'")" = 'pa"ss\word' ] \
    || fail "the password with a quote and a backslash was not sent intact"
[ "$(http_log_query "$WORK/main" "e['body']['peer_info']['IV_SSO']" "e['body']['common_name'] == 'f'")" = "openurl,crtext" ] \
    || fail "peer_info does not carry IV_SSO"
has "$WORK/odd.out" "[f@" "no line for client f"
has "$WORK/odd.out" "not valid UTF-8: each bad byte is sent as U+FFFD" "the U+FFFD replacement is not logged"
no_secrets "$WORK/odd.out" 'pa"ss' Odd-Pass-2 Odd-Pass-3 Odd-Pass-4 Odd-Pass-5 Odd-Pass-6
finish
