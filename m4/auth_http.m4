dnl auth_http.m4: --enable-auth-http; needs libcurl, jansson and libcrypto (HMAC).
AC_DEFUN([OVP_PLUGIN_AUTH_HTTP], [
    OVP_PLUGIN_ARG([auth-http], [auth_http], [ovp-auth-http])
    OVP_PLUGIN_DEP_PC([auth_http], [CURL], [libcurl >= 7.68], [libcurl4-openssl-dev])
    OVP_PLUGIN_DEP_PC([auth_http], [JANSSON], [jansson >= 2.12], [libjansson-dev])
    OVP_PLUGIN_DEP_PC([auth_http], [CRYPTO], [libcrypto >= 1.1], [libssl-dev])
    OVP_PLUGIN_FINISH([auth-http], [auth_http], [auth-http/auth_http.c])
])
