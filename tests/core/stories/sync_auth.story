# sync_auth.story: a plugin that answers in the call: what it is given, what clients get.
# args: --plugin ${TEST_PLUGIN} user=alice password=secret "reason=bad password"
# args:     events=all record=${T}/rec -- --poll fast

# a good password: connected, with an address from the pool
client a user=alice pass=secret addr=198.51.100.7:40001 iv=IV_SSO=crtext
expect a ok
expect a addr 10.8.0.2 fd00:8::1000
expect a push "ifconfig 10.8.0.2 255.255.0.0"

# the chain is verified CA first, then the client's certificate
expect file-order ${T}/rec "TLS_VERIFY argv=[1,CN=ovp-refcore_CA]" "TLS_VERIFY argv=[0,CN=alice]"
expect call "TLS_VERIFY 1 CN=ovp-refcore CA -> SUCCESS"
# auth gets the credentials, the claimed address, peer info and the three files
expect file ${T}/rec "username=alice common_name=alice untrusted_ip=198.51.100.7 untrusted_port=40001 IV_SSO=crtext"
expect file ${T}/rec "password=set files=acf,apf,afr"
# ...and the password is gone from the env right after
expect file-order ${T}/rec "AUTH_USER_PASS_VERIFY argv=[]" "TLS_FINAL argv=[] "
expect no-file ${T}/rec "TLS_FINAL argv=[] envc=0"
expect file ${T}/rec "trusted_ip=198.51.100.7 trusted_port=40001 IV_SSO=crtext IV_PLAT=linux IV_PROTO=990 ifconfig_pool_remote_ip=10.8.0.2 ifconfig_pool_netmask=255.255.0.0 ifconfig_pool_remote_ip6=fd00:8::1000"
expect file-order ${T}/rec "CLIENT_CONNECT argv=[" "CLIENT_CONNECT_V2 argv=[]"
expect file ${T}/rec "LEARN_ADDRESS argv=[add,10.8.0.2,alice]"
expect file ${T}/rec "LEARN_ADDRESS argv=[add,fd00:8::1000,alice]"

# a wrong password: AUTH_FAILED with the plugin's reason file text
client b user=alice pass=wrong cn=bob
expect b fail "bad password"
expect log "TLS Auth Error: Auth Username/Password verification failed for peer"

# an empty password reaches the plugin (a real client sends it with its NUL: length 1)
mark
client c user=alice pass= cn=carol
expect c fail
expect calls "AUTH_USER_PASS_VERIFY" 1
expect file ${T}/rec "password="

# an empty username: AUTH_FAILED without any plugin call (set_verify_user_pass_env)
mark
client c2 user= pass=secret cn=carol
expect c2 fail
expect no-call "AUTH_USER_PASS_VERIFY"
expect log "TLS Auth Error: peer provided a blank username"

# no credentials at all (no auth-user-pass): the handshake fails
mark
client c3 cn=carol
expect c3 tls-error
expect no-call "AUTH_USER_PASS_VERIFY"

# too long a username: refused before any plugin call, with OpenVPN's reason
client d user=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa pass=x cn=dave
expect d fail "Username or password is too long. Maximum length is 128 bytes"
expect no-call "AUTH_USER_PASS_VERIFY"

# bytes moved, then a goodbye: client-disconnect counts them
bytes a 1000 2000
bye a
expect file ${T}/rec "CLIENT_DISCONNECT argv=[]"
expect file ${T}/rec "bytes_received=1000 bytes_sent=2000 time_duration="
# learn-address delete: an empty env and the server's own context (client 0)
expect file ${T}/rec "LEARN_ADDRESS argv=[delete,10.8.0.2] envc=0 client=0"
expect stat authenticated 1
expect stat failed 5
