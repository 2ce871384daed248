dnl down_root.m4: --enable-down-root; needs nothing beyond libc.
AC_DEFUN([OVP_PLUGIN_DOWN_ROOT], [
    OVP_PLUGIN_ARG([down-root], [down_root], [ovp-down-root])
    OVP_PLUGIN_FINISH([down-root], [down_root], [down-root/down_root.c])
])
