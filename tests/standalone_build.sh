#!/bin/sh
# tests/standalone_build.sh - swarmd still builds and serves without hiredis (issue 9: "a build
# without hiredis still builds standalone"), even on a machine that has it: HIREDIS=0 forces
# the standalone build into build/nohiredis. Prints ok / not ok lines for tests/run.sh.
set -u
cd "$(dirname "$0")/.."
out=build/nohiredis
if make -s VARIANT=check HIREDIS=0 O=$out -j2 all >"$out.log" 2>&1; then
    echo "ok - standalone: builds with HIREDIS=0 (-Werror)"
else
    echo "not ok - standalone: build with HIREDIS=0 failed:"
    tail -n 20 "$out.log"
    exit 1
fi
if nm "$out/swarmd" | grep -q redisConnect; then
    echo "not ok - standalone: the HIREDIS=0 binary links hiredis"
else
    echo "ok - standalone: the binary has no hiredis symbol"
fi
conf=$(mktemp)
printf 'cluster.engine redis://127.0.0.1:6379\n' >"$conf"
msg=$("$out/swarmd" --check-config -f "$conf" 2>&1)
rc=$?
rm -f "$conf"
case "$rc:$msg" in
    1:*cluster.engine*without\ hiredis*)
        echo "ok - standalone: cluster.engine is refused, naming the key and hiredis" ;;
    *) echo "not ok - standalone: cluster.engine gave exit $rc: $msg" ;;
esac
# And it serves: the UDP end-to-end suite against the standalone binary.
/usr/bin/python3 tests/e2e/run.py --swarmd "$out/swarmd" --only udp
