# auth_pam.story: OpenVPN's own auth-pam plugin (nobody here wrote it) against PAM served
# by pam_wrapper + pam_matrix: it answers in the call.
# needs: pam
# args: --plugin openvpn-plugin-auth-pam.so ovptest -- --poll fast

client a user=alice pass=secret
expect a ok
client b user=alice pass=wrong cn=bob
expect b fail ""
client c user=bob pass=hunter2
expect c ok
expect call "AUTH_USER_PASS_VERIFY -> SUCCESS"
expect call "AUTH_USER_PASS_VERIFY -> ERROR"
expect log "PLUGIN AUTH-PAM: initialization succeeded (fg)"
