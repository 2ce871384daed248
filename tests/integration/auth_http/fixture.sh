#!/bin/sh
# fixture.sh: the HTTP fixture service (tests/fixtures/http_service.py) does what the
# ovp-auth-http tests rely on, checked with plain Python clients (no plugin involved):
# every scripted action, the request log (odd usernames intact), reloads and the control
# server, HMAC and bearer checks, TLS with a hostname check, mTLS, and 1,000 requests at
# once. OVP_KEEP=1 keeps the work directory.
set -u
: "${srcdir:=.}"
FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
die() { echo "FAIL: $*"; exit 1; }
skip_or_fail() {
    [ "${CI:-}" = true ] && die "$1 (CI=true: this test must run in CI)"
    echo "SKIP: $1"
    exit 77
}
. "$srcdir/../fixtures/http_service.sh"
http_available || skip_or_fail "python3 or openssl missing (apt-get install python3 openssl)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ovp-http-fixture.XXXXXX")
DIRS=""
cleanup() {
    for d in $DIRS; do http_stop "$d"; done
    [ -n "${OVP_KEEP:-}" ] && { echo "kept $WORK"; return; }
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# req.py URL [JSON] [options]: one request; prints "STATUS BODY" (body cut at 200 bytes,
# plus " len=N"), or "ERROR <kind>: <text>" when no answer came.
cat > "$WORK/req.py" <<'PY'
import argparse, hashlib, hmac, http.client, json, socket, ssl, sys, time, urllib.parse
p = argparse.ArgumentParser()
p.add_argument("url")
p.add_argument("body", nargs="?", default='{"username": "alice", "password": "pw", "hook": "auth"}')
p.add_argument("--method", default="POST")
p.add_argument("--ca")
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--hmac")
p.add_argument("--ts")
p.add_argument("--bearer")
p.add_argument("--timeout", type=float, default=10)
a = p.parse_args()
u = urllib.parse.urlsplit(a.url)
body = a.body.encode("utf-8") if a.method != "GET" else None
headers = {"Content-Type": "application/json"}
if a.hmac is not None:
    ts = a.ts or str(int(time.time()))
    headers["X-OVP-Timestamp"] = ts
    headers["X-OVP-Signature"] = "sha256=" + hmac.new(a.hmac.encode(), ts.encode() + b"." + body,
                                                      hashlib.sha256).hexdigest()
if a.bearer is not None:
    headers["Authorization"] = "Bearer " + a.bearer
try:
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=a.ca)
        if a.cert:
            ctx.load_cert_chain(a.cert, a.key)
        c = http.client.HTTPSConnection(u.hostname, u.port, timeout=a.timeout, context=ctx)
    else:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=a.timeout)
    c.request(a.method, u.path or "/", body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    loc = r.getheader("Location")
    print("%d %s len=%d%s" % (r.status, data[:200].decode("utf-8", "replace"), len(data),
                              " location=" + loc if loc else ""))
except ssl.SSLError as e:
    print("ERROR ssl: %s" % e)
except (socket.timeout, TimeoutError) as e:
    print("ERROR timeout: %s" % e)
except (ConnectionError, http.client.HTTPException, OSError) as e:
    print("ERROR conn: %s: %s" % (type(e).__name__, e))
PY
R() { python3 "$WORK/req.py" "$@"; }
# expect WHAT GOT PATTERN: GOT must match the shell pattern
expect() {
    # shellcheck disable=SC2254
    case $2 in
        $3) echo "ok: $1" ;;
        *) fail "$1: got '$2', expected '$3'" ;;
    esac
}
# expect_prefix WHAT GOT PREFIX: GOT must start with PREFIX (literally)
expect_prefix() {
    if [ "${2#"$3"}" != "$2" ] || [ -z "$3" ]; then echo "ok: $1"; else fail "$1: got '$2', expected '$3...'"; fi
}
# expect_eq WHAT GOT WANT: literally equal
expect_eq() {
    if [ "$2" = "$3" ]; then echo "ok: $1"; else fail "$1: got '$2', expected '$3'"; fi
}

# ---------------------------------------------------------------- plain HTTP, every action
D=$WORK/plain
DIRS="$DIRS $D"
cat > "$WORK/plain.json" <<'JSON'
{
  "default": {"action": "deny", "reason": "unknown user"},
  "users": {
    "alice": {"action": "allow", "reason": "welcome",
              "client_config": ["push \"route 10.1.0.0 255.255.0.0\"", "ifconfig-push 10.8.0.9 255.255.255.0"]},
    "a204": {"action": "allow204"},
    "bob": {"action": "deny", "status": 403, "reason": "account locked"},
    "e500": {"action": "status", "status": 500, "body": "boom"},
    "e503": {"action": "status", "status": 503, "body": {"reason": "maintenance"}},
    "slow": {"action": "allow", "delay_ms": 3000},
    "closer": {"action": "close"},
    "huge": {"action": "big", "bytes": 10485760},
    "chunky": {"action": "big", "bytes": 100000, "chunked": true},
    "garbage": {"action": "invalid_json"},
    "moved": {"action": "redirect", "location": "{base}/elsewhere"},
    "sso": {"action": "pending", "url": "{base}/sso/{ticket}", "timeout": 30,
            "final": {"action": "allow", "client_config": ["push \"route 10.2.0.0 255.255.0.0\""]}},
    "sso2": {"action": "pending", "url": "https://sso.example/{ticket}", "timeout": 5, "after_polls": 2},
    "never": {"action": "pending", "timeout": 3},
    "cr": {"action": "challenge", "text": "Enter your code", "echo": false, "answer": "246810"}
  },
  "rules": [
    {"username": "flaky", "times": 1, "action": {"action": "status", "status": 503}},
    {"username": "flaky", "action": {"action": "allow"}},
    {"hook": "client-connect", "action": {"action": "allow", "client_config": ["push \"dhcp-option DNS 10.1.0.53\""]}}
  ]
}
JSON
http_start "$D" "$WORK/plain.json" || die "the fixture did not start"
U=$HTTP_URL
B=$HTTP_BASE
u() { printf '{"username": "%s", "password": "pw", "hook": "auth"}' "$1"; }

expect_prefix "allow with client_config" "$(R "$U" "$(u alice)")" \
    '200 {"reason": "welcome", "client_config": ["push \"route 10.1.0.0 255.255.0.0\"", "ifconfig-push 10.8.0.9 255.255.255.0"]} len='
expect "allow204" "$(R "$U" "$(u a204)")" "204  len=0"
expect "deny 403 with reason" "$(R "$U" "$(u bob)")" '403 {"reason": "account locked"} len=*'
expect "default deny 401" "$(R "$U" "$(u nobody)")" '401 {"reason": "unknown user"} len=*'
expect "500" "$(R "$U" "$(u e500)")" "500 boom len=4"
expect "503 with a JSON body" "$(R "$U" "$(u e503)")" '503 {"reason": "maintenance"} len=*'
expect "slow beyond a 1 s timeout" "$(R "$U" "$(u slow)" --timeout 1)" "ERROR timeout*"
expect "close without answering" "$(R "$U" "$(u closer)")" "ERROR conn*"
expect "10 MiB body" "$(R "$U" "$(u huge)")" "200 xxx* len=10485760"
expect "chunked body" "$(R "$U" "$(u chunky)")" "200 xxx* len=100000"
expect "invalid JSON" "$(R "$U" "$(u garbage)")" '200 {"reason": "unterminated len=*'
expect "redirect (not followed)" "$(R "$U" "$(u moved)")" "302 * location=$B/elsewhere"
expect "rule with times: first 503" "$(R "$U" "$(u flaky)")" "503 *"
expect "rule with times: then allow" "$(R "$U" "$(u flaky)")" "200 *"
expect_prefix "rule by hook" "$(R "$U" '{"username": "x", "hook": "client-connect"}')" \
    '200 {"client_config": ["push \"dhcp-option DNS 10.1.0.53\""]} len='

# The log: the body exactly as sent, including odd usernames.
n0=$(http_log_count "$D")
ODD='{"username": "a\"b\\c\nd_e \u00fcml\u00e4ut \u2603 \ud83d\ude00, x", "password": "pw", "hook": "auth"}'
R "$U" "$ODD" >/dev/null
got=$(http_log_field "$D" -1 body.username | od -c | tr -s ' ' | tr -d '\n')
want=$(printf 'a"b\\c\nd_e ümläut ☃ 😀, x\n' | od -c | tr -s ' ' | tr -d '\n')
expect_eq "odd username logged intact" "$got" "$want"
expect "one log line per request" "$(http_log_count "$D")" "$((n0 + 1))"
expect "log: method, path, version" \
    "$(http_log_query "$D" '"%s %s %s %s" % (e["method"], e["path"], e["http_version"], e["headers"]["content-type"])' 'e["seq"] == '"$(http_log_field "$D" -1 seq)")" \
    "POST /vpn HTTP/1.1 application/json"
expect "log: answer recorded" "$(http_log_field "$D" -1 answer.status)" "401"
expect "log: no TLS" "$(http_log_field "$D" -1 tls)" "false"
expect "log: hmac/bearer not configured" "$(http_log_field "$D" -1 hmac)$(http_log_field "$D" -1 bearer)" ""

# Pending SSO: 202 with a ticket, polls wait, the user signs in (GET of the URL), then the
# final answer once; after that the ticket is unknown.
out=$(R "$U" "$(u sso)")
expect "pending: 202" "$out" '202 {"pending": {"url": "'"$B"'/sso/tk-*", "timeout": 30}, "ticket": "tk-*'
T=$(http_log_field "$D" -1 ticket)
poll() { R "$U" "{\"hook\": \"status\", \"ticket\": \"$1\"}"; }
expect "pending: poll before sign-in" "$(poll "$T")" '202 {"pending": *'
expect "pending: the user signs in" "$(R "$B/sso/$T" --method GET)" "200 signed in*"
expect_prefix "pending: poll after sign-in" "$(poll "$T")" '200 {"client_config": ["push \"route 10.2.0.0 255.255.0.0\""]} len='
expect "pending: ticket used once" "$(poll "$T")" '401 {"reason": "unknown ticket"} len=*'
# completed through the control server, with another final answer
R "$U" "$(u sso)" >/dev/null
T=$(http_log_field "$D" -1 ticket)
http_complete "$D" "$T" '{"action": "deny", "status": 403, "reason": "not in this group"}' >/dev/null
expect "pending: completed by control as deny" "$(poll "$T")" '403 {"reason": "not in this group"} len=*'
R "$U" "$(u sso)" >/dev/null
T=$(http_log_field "$D" -1 ticket)
http_complete_user "$D" sso >/dev/null
expect "pending: completed by username" "$(poll "$T")" '200 *'
# after_polls
R "$U" "$(u sso2)" >/dev/null
T=$(http_log_field "$D" -1 ticket)
expect "after_polls: first poll waits" "$(poll "$T")" "202 *"
expect "after_polls: second poll allows" "$(poll "$T")" "200  len=0"
# never completed
R "$U" "$(u never)" >/dev/null
T=$(http_log_field "$D" -1 ticket)
expect "never: still pending" "$(poll "$T")" '202 {"pending": {"url": "'"$B"'/sso/tk-*'
expect "unknown ticket" "$(poll tk-0-nope)" '401 {"reason": "unknown ticket"}*'

# Challenge: right answer, wrong answer, ticket once.
cr() { R "$U" "{\"hook\": \"crresponse\", \"ticket\": \"$1\", \"response\": \"$2\"}"; }
expect "challenge: 202" "$(R "$U" "$(u cr)")" '202 {"challenge": {"text": "Enter your code", "echo": false}, "ticket": "tk-*'
T=$(http_log_field "$D" -1 ticket)
expect "challenge: right answer" "$(cr "$T" 246810)" "200 *"
expect "challenge: ticket used once" "$(cr "$T" 246810)" '401 {"reason": "unknown ticket"}*'
R "$U" "$(u cr)" >/dev/null
T=$(http_log_field "$D" -1 ticket)
expect "challenge: wrong answer" "$(cr "$T" 111111)" '401 {"reason": "wrong code"}*'
expect "challenge: logged as wrong" "$(http_log_field "$D" -1 challenge)" "wrong"

# Outage at run time (control), then back; script file reload by mtime.
http_override "$D" '{"action": "status", "status": 503, "body": "down"}'
expect "override: outage" "$(R "$U" "$(u alice)")" "503 down*"
http_override "$D" null
expect "override: back" "$(R "$U" "$(u alice)")" "200 *"
sleep 0.01
printf '{"default": {"action": "allow", "reason": "new script"}}\n' > "$D/new.json"
mv "$D/new.json" "$WORK/plain.json"
expect "script file re-read" "$(R "$U" "$(u bob)")" '200 {"reason": "new script"}*'
http_script "$D" '{"default": {"action": "deny", "status": 403, "reason": "via control"}}'
expect "script via control" "$(R "$U" "$(u bob)")" '403 {"reason": "via control"}*'

# ---------------------------------------------------------------- 1,000 requests at once
http_script "$D" '{"default": {"action": "allow", "delay_ms": 100}}'
n0=$(http_log_count "$D")
t0=$(date +%s.%N)
out=$(python3 - "$HTTP_PORT" <<'PY'
import http.client, sys, threading
threading.stack_size(256 * 1024)
port = int(sys.argv[1])
res = []
lock = threading.Lock()
go = threading.Event()
def one(i):
    go.wait()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("POST", "/vpn", body='{"username": "u%d", "hook": "auth"}' % i,
                  headers={"Content-Type": "application/json"})
        s = c.getresponse().status
    except Exception as e:
        s = type(e).__name__
    with lock:
        res.append(s)
ts = [threading.Thread(target=one, args=(i,)) for i in range(1000)]
for t in ts: t.start()
go.set()
for t in ts: t.join()
print(sum(1 for s in res if s == 200), sorted(set(str(s) for s in res)))
PY
)
t1=$(date +%s.%N)
expect_eq "1,000 concurrent requests all answered 200" "$out" "1000 ['200']"
expect "1,000 requests logged" "$(http_log_count "$D")" "$((n0 + 1000))"
echo "info: 1,000 concurrent requests (each delayed 100 ms) took $(echo "$t1 - $t0" | bc 2>/dev/null || python3 -c "print(round($t1 - $t0, 2))") s"

http_stop "$D"
expect "stopped: connection refused" "$(R "$U" "$(u alice)")" "ERROR conn*Refused*"

# ---------------------------------------------------------------- HMAC and bearer
D=$WORK/signed
DIRS="$DIRS $D"
mkdir -p "$D"
printf 'hmac-key-1\n' > "$D/hmac.key"
printf 'tok-123\n' > "$D/token"
http_start "$D" '{"default": {"action": "allow"}}' --hmac-key-file "$D/hmac.key" \
    --bearer-token-file "$D/token" || die "the signed fixture did not start"
U=$HTTP_URL
expect "hmac+bearer right" "$(R "$U" --hmac hmac-key-1 --bearer tok-123)" "200 *"
expect "log: hmac ok, bearer ok, token not logged" \
    "$(http_log_field "$D" -1 hmac) $(http_log_field "$D" -1 bearer) $(http_log_field "$D" -1 headers.authorization)" \
    "ok ok <redacted>"
grep -q tok-123 "$D/requests.jsonl" && fail "the bearer token reached the log"
expect "hmac wrong key" "$(R "$U" --hmac other-key --bearer tok-123)" '401 {"reason": "bad signature"}*'
expect "log: hmac bad" "$(http_log_field "$D" -1 hmac)" "bad"
expect "hmac missing" "$(R "$U" --bearer tok-123)" '401 {"reason": "bad signature"}*'
expect "log: hmac missing" "$(http_log_field "$D" -1 hmac)" "missing"
expect "hmac stale timestamp" "$(R "$U" --hmac hmac-key-1 --ts 1000000000 --bearer tok-123)" '401 {"reason": "bad signature"}*'
expect "log: hmac stale" "$(http_log_field "$D" -1 hmac)" "stale"
expect "bearer wrong" "$(R "$U" --hmac hmac-key-1 --bearer tok-124)" '401 {"reason": "bad token"}*'
expect "bearer missing" "$(R "$U" --hmac hmac-key-1)" '401 {"reason": "bad token"}*'
expect "log: bearer missing" "$(http_log_field "$D" -1 bearer)" "missing"
http_stop "$D"

# ---------------------------------------------------------------- TLS and mTLS
P=$WORK/tls
http_pki "$P" || die "http_pki failed"
K=$P/pki
D=$WORK/https
DIRS="$DIRS $D"
http_start "$D" '{"default": {"action": "allow"}}' --tls "$K/server.pem" "$K/server.key" \
    || die "the TLS fixture did not start"
expect "https URL" "$HTTP_URL" "https://127.0.0.1:*/vpn"
expect "https with the test CA" "$(R "$HTTP_URL" --ca "$K/ca.pem")" "200 *"
expect "log: tls" "$(http_log_field "$D" -1 tls) $(http_log_field "$D" -1 client_subject)" "true "
expect "https by name localhost" "$(R "https://localhost:$HTTP_PORT/vpn" --ca "$K/ca.pem")" "200 *"
expect "https without the CA" "$(R "$HTTP_URL")" "ERROR ssl*CERTIFICATE_VERIFY_FAILED*"
http_stop "$D"
http_start "$D" '{"default": {"action": "allow"}}' --tls "$K/wrong.pem" "$K/wrong.key" \
    || die "the wrong-name fixture did not start"
expect "wrong hostname refused" "$(R "$HTTP_URL" --ca "$K/ca.pem")" "ERROR ssl*mismatch*"
http_stop "$D"
http_start "$D" '{"default": {"action": "allow"}}' --tls "$K/server.pem" "$K/server.key" \
    --client-ca "$K/ca.pem" || die "the mTLS fixture did not start"
expect "mTLS with the client cert" "$(R "$HTTP_URL" --ca "$K/ca.pem" --cert "$K/client.pem" --key "$K/client.key")" "200 *"
expect "log: client subject" "$(http_log_field "$D" -1 client_subject)" "commonName=ovp-http-client"
n0=$(http_log_count "$D")
expect "mTLS without a client cert" "$(R "$HTTP_URL" --ca "$K/ca.pem")" "ERROR *"
expect "mTLS with a rogue client cert" "$(R "$HTTP_URL" --ca "$K/ca.pem" --cert "$K/rogue.pem" --key "$K/rogue.key")" "ERROR *"
expect "refused handshakes are not requests" "$(http_log_count "$D")" "$n0"
grep -q "TLS handshake" "$D/http.err" || fail "no line about the refused handshake in http.err"
http_stop "$D"

[ $FAILED = 0 ] || exit 1
echo "PASS: the HTTP fixture does what the tests rely on"
