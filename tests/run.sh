#!/bin/sh
# tests/run.sh - run every suite against the builds make test prepared, print a tally.
#
# Suites print one line per test, "ok - ..." or "not ok - ..."; this script counts them and
# ends with "N passed, N failed". A suite that exits non-zero without reporting a failure
# (a crash, a sanitizer abort) counts as one failure. Unit and end-to-end suites run on the
# optimised (-Werror) build and again on the ASan+UBSan build; fuzz corpora are replayed on the
# ASan build; interop, flood and cluster run on the optimised build only. The cluster suite
# needs root (it makes a private network namespace), redis-server, nftables and a swarmd built
# with hiredis; without them it fails rather than skips (tests/deps.sh installs them).
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
tally=$(mktemp)
trap 'rm -f "$tally"' EXIT INT TERM

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

suite() {
    name=$1
    shift
    printf '=== %s\n' "$name"
    log=$(mktemp)
    { "$@"; echo "suite-exit:$?"; } 2>&1 | tee "$log" | grep -v '^suite-exit:'
    rc=$(sed -n 's/^suite-exit://p' "$log" | tail -n 1)
    grep -E '^(ok|not ok) - ' "$log" >> "$tally"
    if [ "$rc" != 0 ] && ! grep -q '^not ok - ' "$log"; then
        echo "not ok - $name: exited with status $rc" | tee -a "$tally"
    fi
    rm -f "$log"
}

replay() {
    bin=$1
    corpus=fuzz/corpus/${bin##*/replay_}
    if "$bin" "$corpus"; then
        echo "ok - fuzz replay: ${bin##*/replay_} ($corpus)"
    else
        echo "not ok - fuzz replay: ${bin##*/replay_} ($corpus)"
    fi
}

for variant in check asan; do
    for t in build/$variant/tests/test_*; do
        [ -x "$t" ] && suite "unit ($variant) ${t##*/}" "$t"
    done
    suite "e2e ($variant)" $PY tests/e2e/run.py --swarmd build/$variant/swarmd
done
for r in build/asan/fuzz/replay_*; do
    [ -x "$r" ] && suite "fuzz replay ${r##*/}" replay "$r"
done
suite "standalone build (HIREDIS=0)" sh tests/standalone_build.sh
suite "interop (check)" $PY tests/interop/run.py --swarmd build/check/swarmd
suite "flood (check)" $PY tests/flood/run.py --swarmd build/check/swarmd
suite "cluster (check)" $PY tests/cluster/run.py --swarmd build/check/swarmd

passed=$(grep -c '^ok - ' "$tally")
failed=$(grep -c '^not ok - ' "$tally")
if [ "$failed" -gt 0 ]; then
    echo
    echo "Failed:"
    grep '^not ok - ' "$tally"
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
