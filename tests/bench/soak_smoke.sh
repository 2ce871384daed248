#!/bin/sh
# soak_smoke.sh (make check): tests/bench/soak.sh in miniature: 300 auth cycles through
# each auth plugin (6 batches of 50, a reload after the third) in one served core, every
# answer counted, any sanitizer report failing. The real soak is 100,000 cycles a plugin
# (`scripts/ovp-dev soak`).
: "${abs_top_builddir:=$(cd "${top_builddir:-../..}" && pwd)}"
: "${srcdir:=.}"
exec bash "$srcdir/soak.sh" --build "$abs_top_builddir" --cycles 300 --batch 50
