#!/bin/sh
# Builds kq's C library and installs it with its header and pkg-config file.
#
# Usage: reactor/capi/install.sh [PREFIX]        (default PREFIX: /usr/local)
#
# Installs
#   PREFIX/lib/libkq.so, PREFIX/lib/libkq.a        the library (cdylib, staticlib)
#   PREFIX/lib/kq/libkqueue.so.0 -> ../libkq.so    the drop-in for libkqueue
#   PREFIX/include/kq/sys/event.h                  the header (<sys/event.h>)
#   PREFIX/lib/pkgconfig/kq.pc                     pkg-config: `pkg-config --cflags --libs kq`
#
# The header goes under include/kq so that it never shadows a system or libkqueue
# <sys/event.h>; kq.pc adds -I PREFIX/include/kq.
#
# Environment: KQ_LIB_DIR=DIR takes libkq.so and libkq.a from DIR instead of running
# `cargo build --release -p kq-capi` (CARGO_TARGET_DIR is honoured when building).
set -eu
PREFIX=${1:-/usr/local}
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${KQ_LIB_DIR:-}" ]; then
    cargo build --release -p kq-capi --manifest-path "$here/Cargo.toml"
    KQ_LIB_DIR=${CARGO_TARGET_DIR:-$here/../../target}/release
fi
install -d "$PREFIX/lib/kq" "$PREFIX/lib/pkgconfig" "$PREFIX/include/kq/sys"
install -m 0755 "$KQ_LIB_DIR/libkq.so" "$PREFIX/lib/libkq.so"
install -m 0644 "$KQ_LIB_DIR/libkq.a" "$PREFIX/lib/libkq.a"
ln -sf ../libkq.so "$PREFIX/lib/kq/libkqueue.so.0"
install -m 0644 "$here/include/sys/event.h" "$PREFIX/include/kq/sys/event.h"
sed "s|@PREFIX@|$PREFIX|" "$here/kq.pc.in" > "$PREFIX/lib/pkgconfig/kq.pc"
echo "installed kq's C library in $PREFIX"
