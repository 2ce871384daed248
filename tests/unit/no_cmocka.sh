#!/bin/sh
# no_cmocka.sh: fails make check when configure found no cmocka, saying how to fix it.
echo "cmocka was not found at configure time: install libcmocka-dev and re-run configure" >&2
exit 99
