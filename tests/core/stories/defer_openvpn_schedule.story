# defer_openvpn_schedule.story: OpenVPN's own polling: the control file is read about a
# second after the call, whatever the plugin does meanwhile; DEFER_V2 the same.
# args: --plugin ${TEST_PLUGIN} mode=defer delay_ms=100 connect_defer_ms=100
# args:     events=AUTH_USER_PASS_VERIFY,CLIENT_CONNECT_V2,CLIENT_CONNECT_DEFER_V2
# args:     -- --poll openvpn

client a user=alice pass=secret
# the plugin answered after 100 ms, but OpenVPN has not looked yet
wait 600ms
expect a waiting
timeout 1500ms
# auth is seen at the next poll, about a second after the call...
expect a line AUTH_OK
# ...and client-connect, deferred too, one poll after that
expect a waiting
timeout 3s
expect a ok
expect call "CLIENT_CONNECT_DEFER_V2 -> SUCCESS"
expect calls "CLIENT_CONNECT_DEFER_V2" 1
