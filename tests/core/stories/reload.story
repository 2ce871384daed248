# reload.story: OpenVPN's SIGHUP: clients dropped (disconnect, routes deleted), down,
# plugins closed and opened again, up again.
# args: --plugin ${TEST_PLUGIN} events=all record=${T}/rec
# args:     -- --poll fast --route 10.99.0.0 255.255.0.0

expect file ${T}/rec "ROUTE_UP argv=[]"
client a user=alice pass=secret
expect a ok
reload
expect a restart
expect a closed
expect file-order ${T}/rec "CLIENT_DISCONNECT" "LEARN_ADDRESS argv=[delete,10.8.0.2] envc=0"
expect file-order ${T}/rec "LEARN_ADDRESS argv=[delete" "ROUTE_PREDOWN argv=[tun0,1500,0,10.8.0.1,255.255.0.0,init]"
expect file ${T}/rec "DOWN argv=[tun0,1500,0,10.8.0.1,255.255.0.0,init] envc="
expect file ${T}/rec "signal=sighup script_context=init dev=tun0"
expect file-order ${T}/rec "DOWN argv" "CLOSE"
expect file-order ${T}/rec "CLOSE" "OPEN argv"
expect file-order ${T}/rec "CLOSE" "UP argv=[tun0,1500,0,10.8.0.1,255.255.0.0,init]"

# the reopened plugins serve new clients
client b user=alice pass=secret cn=bob
expect b ok
