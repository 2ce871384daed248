#!/bin/bash
# smoke.sh: the harness itself works: a real server and client, a tunnel, a ping across it.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_pki alice
e2e_server_conf "verify-client-cert require"
e2e_start_server
e2e_client c1 alice "" ""
e2e_wait_log c1.log "Initialization Sequence Completed" 20 || e2e_fail "client did not connect"
ip netns exec "$E2E_CLI" ping -c 2 -W 2 198.51.100.1 >/dev/null || e2e_fail "no ping across the tunnel"
e2e_log "ok: tunnel up, ping crosses it"
