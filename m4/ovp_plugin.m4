dnl ovp_plugin.m4: the shared shape of every --enable-<plugin> switch.
dnl
dnl OVP_PLUGIN_ARG(name, VAR, help-name)
dnl   Declares --enable-NAME=auto|yes|no and sets enable_VAR.
AC_DEFUN([OVP_PLUGIN_ARG], [
    AC_ARG_ENABLE([$1],
        [AS_HELP_STRING([--enable-$1@<:@=auto|yes|no@:>@],
            [build the $3 plugin @<:@auto@:>@])],
        [AS_CASE([$enableval], [yes|no|auto], [],
            [AC_MSG_ERROR([--enable-$1 takes auto, yes or no, not '$enableval'])])],
        [enableval=auto])
    ovp_want_$2="$enableval"
    ovp_build_$2=no
    ovp_why_$2=""
])

dnl OVP_PLUGIN_DEP_PC(VAR, PKGVAR, module, what-to-install)
dnl   pkg-config check for one dependency of plugin VAR; records why it is missing.
AC_DEFUN([OVP_PLUGIN_DEP_PC], [
    AS_IF([test "x$ovp_want_$1" != xno && test -z "$ovp_why_$1"], [
        PKG_CHECK_MODULES([$2], [$3], [],
            [ovp_why_$1="$3 not found (install $4)"])
    ])
])

dnl OVP_PLUGIN_DEP_LIB(VAR, PKGVAR, header, lib, function, what-to-install)
dnl   header + library check for a dependency without a .pc file; honours
dnl   PKGVAR_CFLAGS / PKGVAR_LIBS given by the user.
AC_DEFUN([OVP_PLUGIN_DEP_LIB], [
    AC_ARG_VAR([$2_CFLAGS], [C compiler flags for $4, overriding the default])
    AC_ARG_VAR([$2_LIBS], [linker flags for $4, overriding -l$4])
    AS_IF([test "x$ovp_want_$1" != xno && test -z "$ovp_why_$1"], [
        ovp_save_CPPFLAGS="$CPPFLAGS"; ovp_save_LIBS="$LIBS"
        AS_IF([test -z "$$2_LIBS"], [$2_LIBS="-l$4"])
        CPPFLAGS="$CPPFLAGS $$2_CFLAGS"; LIBS="$$2_LIBS $LIBS"
        AC_CHECK_HEADER([$3], [], [ovp_why_$1="$3 not found (install $6)"])
        AS_IF([test -z "$ovp_why_$1"], [
            AC_MSG_CHECKING([for $5 in $$2_LIBS])
            AC_LINK_IFELSE([AC_LANG_CALL([], [$5])],
                [AC_MSG_RESULT([yes])],
                [AC_MSG_RESULT([no]); ovp_why_$1="lib$4 not usable (install $6)"])
        ])
        CPPFLAGS="$ovp_save_CPPFLAGS"; LIBS="$ovp_save_LIBS"
    ])
])

dnl OVP_PLUGIN_FINISH(name, VAR, source-file)
dnl   Decides whether plugin VAR is built, fails under =yes, and adds its row to
dnl   the summary. A plugin whose source is not in this tree yet is reported so.
AC_DEFUN([OVP_PLUGIN_FINISH], [
    AS_IF([test "x$ovp_want_$2" = xno], [ovp_why_$2="disabled with --disable-$1"],
          [test ! -f "$srcdir/$3"], [ovp_why_$2="${ovp_why_$2:+$ovp_why_$2; }not in this source tree yet"])
    AS_IF([test "x$ovp_want_$2" != xno && test -z "$ovp_why_$2"], [ovp_build_$2=yes],
          [test "x$ovp_want_$2" = xyes],
          [AC_MSG_ERROR([--enable-$1=yes but it cannot be built: $ovp_why_$2])])
    AM_CONDITIONAL([BUILD_]m4_toupper([$2]), [test "x$ovp_build_$2" = xyes])
    OVP_SUMMARY="$OVP_SUMMARY`printf '  %-20s %-6s %s' "$1" "$ovp_build_$2" "$ovp_why_$2"`\n"
])
