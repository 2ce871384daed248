dnl ovp_cstd.m4: insist on gnu11.
AC_DEFUN([AX_OVP_CSTD], [
    ovp_save_CFLAGS="$CFLAGS"; CFLAGS="$CFLAGS -std=gnu11"
    AC_MSG_CHECKING([whether $CC accepts -std=gnu11])
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
        [AC_MSG_RESULT([yes])],
        [AC_MSG_RESULT([no]); AC_MSG_ERROR([a C compiler with -std=gnu11 is required])])
])
