# auth_pam_deferred.story: auth-pam defers when the env has deferred_auth_pam: the
# answer comes through the control file.
# needs: pam
# args: --plugin openvpn-plugin-auth-pam.so ovptest -- --poll fast --setenv deferred_auth_pam 1

client a user=alice pass=secret
expect a ok
expect call "AUTH_USER_PASS_VERIFY -> DEFERRED"
client b user=bob pass=wrong
expect b fail ""
expect stat deferred 2
