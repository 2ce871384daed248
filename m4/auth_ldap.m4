dnl auth_ldap.m4: --enable-auth-ldap; needs OpenLDAP libldap (pkg-config "ldap", else -lldap).
AC_DEFUN([OVP_PLUGIN_AUTH_LDAP], [
    OVP_PLUGIN_ARG([auth-ldap], [auth_ldap], [ovp-auth-ldap])
    AS_IF([test "x$ovp_want_auth_ldap" != xno], [
        PKG_CHECK_MODULES([LDAP], [ldap >= 2.4], [],
            [dnl Older OpenLDAP packages ship no ldap.pc: look for the library itself.
             OVP_PLUGIN_DEP_LIB([auth_ldap], [LDAP], [ldap.h], [ldap], [ldap_sasl_bind],
                                [libldap2-dev])
             AS_IF([test -z "$ovp_why_auth_ldap"], [LDAP_LIBS="${LDAP_LIBS:--lldap} -llber"])])
    ])
    OVP_PLUGIN_FINISH([auth-ldap], [auth_ldap], [auth-ldap/auth_ldap.c])
])
