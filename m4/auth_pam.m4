dnl auth_pam.m4: --enable-auth-pam; needs libpam.
AC_DEFUN([OVP_PLUGIN_AUTH_PAM], [
    OVP_PLUGIN_ARG([auth-pam], [auth_pam], [ovp-auth-pam])
    OVP_PLUGIN_DEP_LIB([auth_pam], [PAM], [security/pam_appl.h], [pam], [pam_start], [libpam0g-dev])
    OVP_PLUGIN_FINISH([auth-pam], [auth_pam], [auth-pam/auth_pam.c])
])
