#!/bin/sh
# h2.sh: HTTP/2 where the service offers it: nghttpd (HTTP/2 only, TLS with the test CA,
# echoing each body back, a JSON object, so 200: allow) serves 50 clients at once, and
# its log shows they shared one connection (streams multiplexed), not 50.
. "${srcdir:-.}/auth_http/lib.sh"
command -v nghttpd >/dev/null 2>&1 || skip_or_fail "nghttpd missing (apt-get install nghttp2-server)"
http_pki "$WORK" >/dev/null 2>&1 || die "cannot make the test PKI"
P=$WORK/pki
mkdir -p "$WORK/htdocs"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nghttpd -v --address=127.0.0.1 --echo-upload -d "$WORK/htdocs" "$PORT" "$P/server.key" \
    "$P/server.pem" > "$WORK/nghttpd.log" 2>&1 &
H2=$!
trap 'kill $H2 2>/dev/null; cleanup' EXIT
for _ in $(seq 50); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
        "$PORT" 2>/dev/null && break
    sleep 0.1
done
conf "$WORK/h.conf" "URL https://127.0.0.1:$PORT/vpn" "CACertFile $P/ca.pem" "MaxInFlight 100" \
    "MaxPerAddress 1000000" "MaxPerUser 1000000" # one user, one address: caps aside
"$REFCORE" --plugin "$PLUGIN" "$WORK/h.conf" -- --verb 4 --poll fast --clients 50 \
    --username h2 --password H2-Pass-1 > "$WORK/h2.json" 2> "$WORK/h2.err" \
    || fail "not every client was allowed over HTTP/2: $(cat "$WORK/h2.json") $(grep -m3 'ovp-auth-http' "$WORK/h2.err")"
kill $H2 2>/dev/null
streams=$(grep -c "recv HEADERS frame" "$WORK/nghttpd.log")
sessions=$(grep -o '^\[id=[0-9]*\]' "$WORK/nghttpd.log" | sort -u | wc -l)
echo "HTTP/2: $streams requests over $sessions connection(s)"
[ "$streams" -ge 50 ] || fail "nghttpd saw $streams requests, not 50"
[ "$sessions" -ge 1 ] && [ "$sessions" -le 2 ] || fail "$sessions connections for 50 requests: not multiplexed"
no_secrets "$WORK/h2.err" H2-Pass-1
finish
