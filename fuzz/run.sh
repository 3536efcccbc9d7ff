#!/bin/sh
# fuzz/run.sh SECONDS [HARNESS...] - long libFuzzer runs (make fuzz).
#
# Builds each fuzz/fuzz_*.c harness with clang -fsanitize=fuzzer,address,undefined against the
# library sources and runs it for SECONDS, exploring from a scratch copy of its corpus (the
# committed corpus stays small). Crashes are left in build/fuzz/<name>/ as crash-*; add each
# one to fuzz/corpus/<name>/ once fixed, so make test replays it from then on.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
CLANG=${CLANG:-clang}
command -v "$CLANG" >/dev/null || { echo "fuzz/run.sh: needs clang" >&2; exit 1; }
lib=$(ls src/*.c src/*/*.c | grep -v -e '^src/main.c$' -e 'src/net/loop_')
lib="$lib src/net/loop_epoll.c"
names=${*:-$(ls fuzz/fuzz_*.c | sed 's|fuzz/fuzz_\(.*\)\.c|\1|')}
for name in $names; do
    out=build/fuzz/$name
    mkdir -p "$out/corpus"
    cp -n fuzz/corpus/"$name"/* "$out/corpus/" 2>/dev/null || true
    echo "=== fuzz $name for ${secs}s"
    $CLANG -std=gnu11 -g -O1 -D_GNU_SOURCE -Isrc -pthread \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        fuzz/fuzz_"$name".c $lib -lz -o "$out/fuzzer"
    (cd "$out" && ./fuzzer -max_total_time="$secs" -print_final_stats=1 corpus \
        2>&1 | tail -n 25)
done
