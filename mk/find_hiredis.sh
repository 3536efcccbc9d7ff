#!/bin/sh
# mk/find_hiredis.sh - prints 1 when $CC can build and link against hiredis, else 0.
#
# hiredis is needed for cluster mode only (issue 9: "installed by make when missing, with a
# clear message if it cannot"). When it is missing and this runs as root on a system with
# apt-get, it installs Debian's libhiredis-dev first (saying so on stderr); otherwise, or if
# that fails, it prints 0 and the Makefile builds swarmd without cluster mode, saying why.
# HIREDIS_INSTALL=0 in the environment skips the install attempt.
CC=${CC:-cc}
probe() {
    printf '#include <hiredis/hiredis.h>\nint main(void){redisContext *c = redisConnectFd(0); return c == 0;}\n' |
        $CC -x c - -o /dev/null -lhiredis >/dev/null 2>&1
}
if probe; then
    echo 1
    exit 0
fi
if [ "${HIREDIS_INSTALL:-1}" != 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "make: hiredis not found; installing libhiredis-dev for cluster mode (HIREDIS=0 builds without it)" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -q libhiredis-dev || { apt-get update -q && apt-get install -y -q libhiredis-dev; }; } \
        </dev/null >/dev/null 2>&1
    if probe; then
        echo 1
        exit 0
    fi
    echo "make: could not install libhiredis-dev (no network or no package source?)" >&2
fi
echo 0
