dnl learn_address_db.m4: --enable-learn-address-db; needs SQLite 3.
AC_DEFUN([OVP_PLUGIN_LEARN_ADDRESS_DB], [
    OVP_PLUGIN_ARG([learn-address-db], [learn_address_db], [ovp-learn-address-db])
    OVP_PLUGIN_DEP_PC([learn_address_db], [SQLITE], [sqlite3 >= 3.22], [libsqlite3-dev])
    OVP_PLUGIN_FINISH([learn-address-db], [learn_address_db], [learn-address-db/learn_address_db.c])
])
