# learn_address.story: add on connect, update when a roaming client takes its address
# back, delete (empty env, no client) when the route is reaped.
# args: --plugin ${TEST_PLUGIN} events=AUTH_USER_PASS_VERIFY,LEARN_ADDRESS,CLIENT_DISCONNECT
# args:     record=${T}/rec -- --poll fast --no-ipv6

client a user=alice pass=secret addr=198.51.100.1:1000
expect a ok
expect a addr 10.8.0.2
expect file ${T}/rec "LEARN_ADDRESS argv=[add,10.8.0.2,alice]"

# the same certificate connects from elsewhere: the old session is dropped and the
# new one takes the address over
roam a addr=203.0.113.9:5000
expect a ok
expect a addr 10.8.0.2
expect file ${T}/rec "LEARN_ADDRESS argv=[update,10.8.0.2,alice] envc="
expect file ${T}/rec "trusted_ip=203.0.113.9"
expect file ${T}/rec "CLIENT_DISCONNECT argv=[]"
expect log "will cause previous active sessions by this client to be dropped"

bye a
expect file ${T}/rec "LEARN_ADDRESS argv=[delete,10.8.0.2] envc=0 client=0"
expect stat routes 0
