dnl auth_ldap.m4: --enable-auth-ldap; needs OpenLDAP libldap.
AC_DEFUN([OVP_PLUGIN_AUTH_LDAP], [
    OVP_PLUGIN_ARG([auth-ldap], [auth_ldap], [ovp-auth-ldap])
    OVP_PLUGIN_DEP_PC([auth_ldap], [LDAP], [ldap >= 2.4], [libldap2-dev])
    OVP_PLUGIN_FINISH([auth-ldap], [auth_ldap], [auth-ldap/auth_ldap.c])
])
