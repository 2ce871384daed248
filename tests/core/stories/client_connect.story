# client_connect.story: client-config directives from CLIENT_CONNECT_V2: push,
# ifconfig-push, ifconfig-ipv6-push and iroute, learned as routes. (No auth plugin: the
# plugin line must stay under OpenVPN's 256 characters.)
# args: --plugin ${TEST_PLUGIN} events=CLIENT_CONNECT_V2,LEARN_ADDRESS
# args:     "ccfg=push \"route 10.20.0.0 255.255.0.0\"" "ccfg=ifconfig-push 10.8.5.5 255.255.0.0"
# args:     "ccfg=ifconfig-ipv6-push fd00:8::abcd/64" "ccfg=iroute 192.168.77.0 255.255.255.0"
# args:     -- --poll fast --push "dhcp-option DNS 10.8.0.1"

client a user=alice pass=secret
expect a ok
expect a push "dhcp-option DNS 10.8.0.1,route 10.20.0.0 255.255.0.0"
expect a addr 10.8.5.5 fd00:8::abcd
expect call "LEARN_ADDRESS add 10.8.5.5 alice -> SUCCESS"
expect call "LEARN_ADDRESS add fd00:8::abcd alice -> SUCCESS"
expect call "LEARN_ADDRESS add 192.168.77.0/24 alice -> SUCCESS"
expect stat routes 3
