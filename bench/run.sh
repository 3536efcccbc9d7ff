#!/bin/sh
# bench/run.sh - the side-by-side benchmark behind `make bench`.
#
# For each workload it runs the machine's ceiling (a trivial responder), Debian's opentracker
# and swarmd, each started afresh with the same prefill, alternating A B C A B C ... for
# ROUNDS rounds so that drift on this shared machine hits all three alike. Servers run pinned
# to CPU $SERVER_CPU, load generators to CPU $GEN_CPU. Prints, per workload and server, the
# median responses/s and the server's CPU time per response (utime+stime from /proc/PID/stat
# over the measured window, divided by the responses in it), their spread over the rounds,
# and the ratios swarmd/opentracker and swarmd/ceiling; then a memory run (RSS growth per peer
# for 100k torrents x 10 peers and 1M torrents x 1 peer loaded into each tracker).
#
# Environment: ROUNDS (3), DURATION (8 s measured per run), WARMUP (2 s), WORKLOADS (all of
# "udp-announce udp-scrape udp-skewed http-keepalive http-close"), MEMORY (1: do the memory
# run), MEM_BIG (1: also load 1M torrents x 10 peers into swarmd; 0: skip), SERVER_CPU (0),
# GEN_CPU (1), PORT_BASE (23100), KEEP (1: keep the work directory with logs), BUDGET (840 s:
# memory runs that would likely end past it are skipped, so make bench stays under 15 min even
# when other work slows this machine down).
# Installs opentracker and wrk with apt-get when missing (needs root). Binds 127.0.0.1 only.
# Flag lists ($FILL, $LOAD, ...) and "median min max" triples are split into words on purpose.
# shellcheck disable=SC2046,SC2086
set -u

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
WORKLOADS=${WORKLOADS-"udp-announce udp-scrape udp-skewed http-keepalive http-close"}
MEMORY=${MEMORY:-1}
MEM_BIG=${MEM_BIG:-1}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
PORT_BASE=${PORT_BASE:-23100}
KEEP=${KEEP:-0}
BUDGET=${BUDGET:-840}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SWARMD=${SWARMD:-$ROOT/build/release/swarmd}
BIN=$ROOT/build/bench
LUA=$ROOT/bench/announce.lua
WORK=$(mktemp -d /tmp/swarmd-bench.XXXXXX)
RESULTS=$WORK/results
MEMRESULTS=$WORK/memory
START=$(date +%s)
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
PORT_N=0
SPID=
CLK_TCK=$(getconf CLK_TCK)

say() { printf '%s\n' "$*" >&2; }

cleanup() {
    [ -n "$SPID" ] && stop_server
    if [ "$KEEP" = 1 ]; then say "bench: logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- prerequisites ----

install_missing() {
    missing=""
    command -v opentracker >/dev/null 2>&1 || missing="$missing opentracker"
    command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
    command -v taskset >/dev/null 2>&1 || missing="$missing util-linux"
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "bench: missing:$missing (install them as root with apt-get); those runs are skipped"
        return 0
    fi
    say "bench: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -q && apt-get install -y -q --no-install-recommends $missing; } \
        </dev/null >"$WORK/apt.log" 2>&1; then
        say "bench: apt-get failed:"
        tail -5 "$WORK/apt.log" >&2
    fi
}

install_missing
HAVE_OT=0; command -v opentracker >/dev/null 2>&1 && HAVE_OT=1
HAVE_WRK=0; command -v wrk >/dev/null 2>&1 && HAVE_WRK=1
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    PIN_S="taskset -c $SERVER_CPU"; PIN_G="taskset -c $GEN_CPU"
else
    PIN_S=""; PIN_G=""; say "bench: fewer than 2 CPUs or no taskset: nothing is pinned"
fi

make -C "$ROOT" -s bench-progs >&2 || { say "bench: building the bench programs failed"; exit 1; }
[ -x "$SWARMD" ] || make -C "$ROOT" -s VARIANT=release all >&2 || exit 1

# swarmd with opentracker's whitelist too (row "swarmd-wl"), when this swarmd has access
# lists (-w).
"$BIN/udpload" --print-hashes 1 > "$WORK/one-hash"
SWARMD_WL=0
"$SWARMD" -w "$WORK/one-hash" --check-config >/dev/null 2>&1 && SWARMD_WL=1

# ---- servers ----

hashes_file() { # N -> path of a file with the workload's first N info-hashes, in the chroot
    f=$WORK/ot/whitelist-$1
    [ -f "$f" ] || { mkdir -p "$WORK/ot"; "$BIN/udpload" --print-hashes "$1" > "$f"; }
    echo "$f"
}

# start_server KIND TORRENTS: starts KIND on a fresh port pinned to the server CPU; sets SPID,
# PORT. Fresh ports mean no TIME_WAIT or half-closed state of one run reaches the next.
start_server() {
    kind=$1; torrents=$2
    PORT_N=$((PORT_N + 1)); PORT=$((PORT_BASE + PORT_N))
    case $kind in
    trivial-udp) cmd="$BIN/trivial_udp -p $PORT" ;;
    trivial-http) cmd="$BIN/trivial_http -p $PORT" ;;
    swarmd) cmd="$SWARMD -i 127.0.0.1 -p $PORT -P $PORT -t 1 -q" ;;
    swarmd-wl)
        cmd="$SWARMD -i 127.0.0.1 -p $PORT -P $PORT -t 1 -q -w $(hashes_file "$torrents")" ;;
    opentracker)
        # Debian's build: IPv4 only, whitelist mode, chroots into tracker.rootdir (so the
        # whitelist path is relative to it) and drops root for "nobody". workers is set before
        # the listen lines, which is where opentracker reads it.
        hashes_file "$torrents" >/dev/null
        cat > "$WORK/opentracker.conf" <<EOF
listen.udp.workers 1
listen.udp 127.0.0.1:$PORT
listen.tcp 127.0.0.1:$PORT
access.whitelist ./whitelist-$torrents
tracker.rootdir $WORK/ot
EOF
        cmd="opentracker -f $WORK/opentracker.conf" ;;
    esac
    rm -f "$WORK/pid"
    # exec keeps the PID: the one written is the server's own.
    sh -c "echo \$\$ > '$WORK/pid'; exec $PIN_S $cmd" >"$WORK/server.log" 2>&1 &
    i=0
    while [ ! -s "$WORK/pid" ] && [ $i -lt 100 ]; do sleep 0.02; i=$((i + 1)); done
    SPID=$(cat "$WORK/pid")
    case $kind in trivial-*)
        i=0
        while ! grep -q ready "$WORK/server.log" && [ $i -lt 100 ]; do
            sleep 0.02; i=$((i + 1))
        done ;;
    esac
}

alive() { [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; }

# How a server that died on its own ended, into HOW: "exit status N" or "killed by signal
# NAME". Not in a $(subshell): only this shell can wait for its child.
death() {
    wait "$SPID" 2>/dev/null
    rc=$?
    if [ $rc -gt 128 ]; then
        HOW="killed by signal $(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))"
    else
        HOW="exit status $rc"
    fi
}

elapsed() { echo $(($(date +%s) - START)); }

stop_server() {
    if alive; then
        kill -TERM "$SPID" 2>/dev/null
        i=0
        while alive && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
        alive && kill -KILL "$SPID" 2>/dev/null
    fi
    wait "$SPID" 2>/dev/null
    SPID=
}

cpu_seconds() { # utime+stime of SPID in seconds (fields 14 and 15 of /proc/PID/stat)
    sed 's/.*) //' "/proc/$SPID/stat" | awk -v t="$CLK_TCK" '{ printf "%.3f", ($12 + $13) / t }'
}

kv() { # kv LINE KEY -> value of KEY=value in LINE
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

# ---- workloads ----
# Each sets: FILL (udpload --fill args), TORRENTS, LOAD (udpload load args), HTTP (wrk mode or
# empty), and the servers it compares.

workload() {
    HTTP=""; SERVERS="trivial opentracker swarmd"
    GEN="-T 1 -s 4 -f 16"
    case $1 in
    udp-announce)
        DESC="UDP, 10k torrents x 10 peers, 80 % announce / 20 % scrape (1 hash), numwant 50"
        TORRENTS=10000; FILL="--fill 10000 10 --skew 0"
        LOAD="--torrents 10000 --peers 100000 --skew 0 --mix 80:20 --scrape-hashes 1"
        LOAD="$LOAD --numwant 50"
        # opentracker pays a whitelist lookup per announce: also swarmd with the same list
        # (only here, the issue's table, to keep make bench under 15 minutes).
        [ "$SWARMD_WL" = 1 ] && SERVERS="$SERVERS swarmd-wl" ;;
    udp-scrape)
        DESC="UDP, 10k torrents x 10 peers, scrape only (1 hash)"
        TORRENTS=10000; FILL="--fill 10000 10 --skew 0"
        LOAD="--torrents 10000 --peers 100000 --skew 0 --mix 0:1 --scrape-hashes 1" ;;
    udp-skewed)
        DESC="UDP, 100k torrents, 200k peers, power-law popularity (skew 1), 100:1,"
        DESC="$DESC numwant 30, 1 % events"
        TORRENTS=100000; FILL="--fill 100000 2 --skew 1"
        LOAD="--torrents 100000 --peers 200000 --skew 1 --mix 100:1 --numwant 30 --events 1" ;;
    http-keepalive)
        DESC="HTTP keep-alive announces (wrk, 64 connections), 10k torrents x 10 peers"
        TORRENTS=10000; FILL="--fill 10000 10 --skew 0"; HTTP=keepalive; LOAD="" ;;
    http-close)
        DESC="HTTP announces with Connection: close (wrk, 64 connections), 10k torrents x 10 peers"
        TORRENTS=10000; FILL="--fill 10000 10 --skew 0"; HTTP=close; LOAD="" ;;
    *) say "bench: unknown workload $1"; return 1 ;;
    esac
    if [ -n "$HTTP" ] && [ "$HAVE_WRK" = 0 ]; then say "bench: no wrk: $1 skipped"; return 1; fi
    [ "$HAVE_OT" = 0 ] && SERVERS=$(echo "$SERVERS" | sed 's/opentracker//')
    return 0
}

# run_one WORKLOAD SERVER ROUND: one fresh server, prefill, warm-up, measured window. Appends
# "workload server round rps cpu_us errors invalid lost status" to $RESULTS.
run_one() {
    wl=$1; srv=$2; round=$3
    kind=$srv
    if [ "$srv" = trivial ]; then
        if [ -n "$HTTP" ]; then kind=trivial-http; else kind=trivial-udp; fi
    fi
    start_server "$kind" "$TORRENTS"
    status=ok
    if [ "$srv" != trivial ]; then
        fill=$($PIN_G "$BIN/udpload" -p "$PORT" $FILL -s 8 -f 32 -q --wait-ready 30)
        if [ "$(kv "$fill" ok)" != "$(kv "$fill" peers)" ]; then
            status=fill_failed
            say "  fill: $fill"
        fi
    fi
    if [ -z "$HTTP" ]; then
        raw=""; [ "$srv" = trivial ] && raw=--raw
        line=$($PIN_G "$BIN/udpload" -p "$PORT" $GEN $LOAD $raw -d "$DURATION" -w "$WARMUP" \
            --server-pid "$SPID" -q)
        rps=$(kv "$line" rps); cpu=$(kv "$line" cpu_us_per_req)
        errs=$(kv "$line" errors); inv=$(kv "$line" invalid)
        to=$(kv "$line" timeouts); se=$(kv "$line" send_errors)
        lost=$((${to:-0} + ${se:-0}))
        self=$(kv "$line" self)
        [ -n "$line" ] || status=no-output
    else
        mode=""; [ "$HTTP" = close ] && mode=close
        # Warm-up run (not counted), then the measured one bracketed by CPU readings.
        $PIN_G wrk -t1 -c64 -d"${WARMUP}s" -s "$LUA" "http://127.0.0.1:$PORT" -- \
            "$(hashes_file "$TORRENTS")" "$TORRENTS" $mode >/dev/null 2>&1
        c0=$(cpu_seconds)
        out=$($PIN_G wrk -t1 -c64 -d"${DURATION}s" -s "$LUA" "http://127.0.0.1:$PORT" -- \
            "$(hashes_file "$TORRENTS")" "$TORRENTS" $mode 2>&1)
        c1=$(cpu_seconds)
        printf '%s\n' "$out" > "$WORK/wrk-$wl-$srv-$round.txt"
        n=$(printf '%s\n' "$out" | awk '/requests in/ { print $1 }')
        rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec/ { printf "%.0f", $2 }')
        errs=$(kv "$(printf '%s\n' "$out" | grep wrk_failures)" wrk_failures)
        # opentracker closes every connection, which wrk counts as a "read" error: only
        # connect errors and time-outs count as lost here.
        lost=$(printf '%s\n' "$out" | awk -F'[ ,]+' '/Socket errors/ { print $5 + $11 }')
        inv=0; self=0
        cpu=$(awk -v a="$c0" -v b="$c1" -v n="${n:-0}" \
            'BEGIN { if (n > 0) printf "%.3f", (b - a) * 1e6 / n; else print -1 }')
    fi
    if ! alive; then
        status=crashed
        death
        say "  $srv DIED during $wl round $round ($HOW); the end of its output:"
        tail -20 "$WORK/server.log" >&2
        echo "$wl round $round: $srv $HOW" >> "$WORK/crashes"
        cp "$WORK/server.log" "$WORK/crash-$wl-$srv-$round.log"
    fi
    stop_server
    rps=${rps:-0}; cpu=${cpu:--1}; errs=${errs:-0}; inv=${inv:-0}; lost=${lost:-0}
    echo "$wl $srv $round $rps $cpu $errs $inv $lost ${self:-0} $status" >> "$RESULTS"
    say "  round $round $(printf '%-12s %8s' "$srv" "$rps") resp/s  $cpu us CPU/resp " \
        " errors $errs invalid $inv lost $lost $status"
}

# ---- summary ----

# stats WORKLOAD SERVER COLUMN -> "median min max" of that column over the rounds
stats() {
    awk -v w="$1" -v s="$2" -v c="$3" '$1 == w && $2 == s { print $c }' "$RESULTS" | sort -g |
        awk '{ v[NR] = $1 } END {
            if (!NR) { print "- - -"; exit }
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            print m, v[1], v[NR] }'
}

sum_col() {
    awk -v w="$1" -v s="$2" -v c="$3" '$1 == w && $2 == s { t += $c } END { print t + 0 }' \
        "$RESULTS"
}

ratio() {
    awk -v a="$1" -v b="$2" \
        'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'
}

print_table() {
    [ -s "$RESULTS" ] || return 0
    echo
    echo "## Throughput and server CPU per response" \
        "($ROUNDS alternated rounds, ${DURATION} s each, medians)"
    echo
    echo "| workload | server | responses/s | min–max | spread | server CPU µs/resp | min–max" \
        "| errors / invalid / lost |"
    echo "|---|---|---:|---:|---:|---:|---:|---|"
    for wl in $WORKLOADS; do
        workload "$wl" >/dev/null 2>&1 || continue
        for srv in $SERVERS; do
            grep -q "^$wl $srv " "$RESULTS" || continue
            set -- $(stats "$wl" "$srv" 4); rm=$1; rlo=$2; rhi=$3
            set -- $(stats "$wl" "$srv" 5); cm=$1; clo=$2; chi=$3
            spread=$(awk -v lo="$rlo" -v hi="$rhi" -v m="$rm" \
                'BEGIN { if (m + 0 > 0) printf "%.0f %%", (hi - lo) * 100 / m; else print "-" }')
            bad="$(sum_col "$wl" "$srv" 6) / $(sum_col "$wl" "$srv" 7) / $(sum_col "$wl" "$srv" 8)"
            crashed=$(awk -v w="$wl" -v s="$srv" '$1 == w && $2 == s && $10 != "ok" {
                    n++; what = what (what == "" ? "" : ", ") "round " $3 " " $10 }
                END { if (n) printf " (%s)", what }' "$RESULTS")
            name=$srv; [ "$srv" = trivial ] && name="trivial (ceiling)"
            printf '| %s | %s | %.0f | %.0f–%.0f | %s | %.2f | %.2f–%.2f | %s%s |\n' \
                "$wl" "$name" "$rm" "$rlo" "$rhi" "$spread" "$cm" "$clo" "$chi" "$bad" "$crashed"
        done
    done
    echo
    echo "## Ratios (medians; CPU ratio < 1 means swarmd spends less CPU per response)"
    echo
    echo "| workload | swarmd/opentracker responses/s | swarmd/opentracker CPU per resp" \
        "| swarmd/ceiling responses/s | swarmd/ceiling CPU per resp |"
    echo "|---|---:|---:|---:|---:|"
    for wl in $WORKLOADS; do
        workload "$wl" >/dev/null 2>&1 || continue
        set -- $(stats "$wl" opentracker 4); orr=$1
        set -- $(stats "$wl" opentracker 5); oc=$1
        set -- $(stats "$wl" trivial 4); tr=$1
        set -- $(stats "$wl" trivial 5); tc=$1
        for sw in $SERVERS; do
            case $sw in swarmd*) ;; *) continue ;; esac
            grep -q "^$wl $sw " "$RESULTS" || continue
            set -- $(stats "$wl" "$sw" 4); sr=$1
            set -- $(stats "$wl" "$sw" 5); sc=$1
            name=$wl; [ "$sw" = swarmd ] || name="$wl ($sw)"
            echo "| $name | $(ratio "$sr" "$orr") | $(ratio "$sc" "$oc") | $(ratio "$sr" "$tr")" \
                "| $(ratio "$sc" "$tc") |"
        done
    done
    echo
    for wl in $WORKLOADS; do
        workload "$wl" >/dev/null 2>&1 && echo "- $wl: $DESC"
    done
    ot_self=$(awk '$2 == "opentracker" { t += $9 } END { print t + 0 }' "$RESULTS")
    sw_self=$(awk '$2 ~ /^swarmd/ { t += $9 } END { print t + 0 }' "$RESULTS")
    echo "- UDP announce replies listing the announcing peer itself: opentracker $ot_self," \
        "swarmd $sw_self (swarmd never should)"
}

mem_run() { # mem_run SERVER TORRENTS PEERS_EACH
    start_server "$1" "$2"
    line=$($PIN_G "$BIN/udpload" -p "$PORT" --fill "$2" "$3" --skew 0 -s 8 -f 32 \
        --server-pid "$SPID" --wait-ready 60 -q)
    if ! alive; then
        death
        say "  $1 DIED during the memory fill ($HOW)"
        echo "memory $2 x $3: $1 $HOW" >> "$WORK/crashes"
    fi
    stop_server
    b=$(kv "$line" rss_before); a=$(kv "$line" rss_after)
    echo "$1 $2 $3 ${b:--1} ${a:--1} $(kv "$line" bytes_per_peer) $(kv "$line" ok)" \
        "$(kv "$line" seconds)" >> "$MEMRESULTS"
    say "  $1 $2 x $3: $(kv "$line" bytes_per_peer) bytes/peer (ok $(kv "$line" ok))"
}

print_memory() {
    [ -s "$MEMRESULTS" ] || return 0
    echo
    echo "## Memory: RSS growth per peer (VmRSS before and after a UDP fill, IPv4 peers)"
    echo
    echo "| tracker | torrents × peers | RSS before | RSS after | bytes per peer | peers stored" \
        "| fill time |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    awk '{ printf "| %s | %s × %s | %.1f MiB | %.1f MiB | %.1f | %s | %.1f s |\n",
        $1, $2, $3, $4 / 1048576, $5 / 1048576, $6, $7, $8 }' "$MEMRESULTS"
}

# ---- main ----

: > "$RESULTS"
say "bench: $(nproc) CPUs; servers on CPU $SERVER_CPU, generators on CPU $GEN_CPU;" \
    "$ROUNDS rounds x ${DURATION} s (+${WARMUP} s warm-up); work dir $WORK"
[ "$HAVE_OT" = 0 ] && say "bench: no opentracker: its runs are skipped"
for wl in $WORKLOADS; do
    workload "$wl" || continue
    say "bench: $wl: $DESC"
    r=1
    while [ $r -le "$ROUNDS" ]; do
        for srv in $SERVERS; do run_one "$wl" "$srv" "$r"; done
        r=$((r + 1))
    done
done

if [ "$MEMORY" = 1 ]; then
    : > "$MEMRESULTS"
    say "bench: memory"
    for srv in swarmd opentracker; do
        [ "$srv" = opentracker ] && [ "$HAVE_OT" = 0 ] && continue
        for cfg in "100000 10" "1000000 1"; do
            # Each of these fills takes 5-10 s on a quiet machine, minutes on a busy one.
            if [ "$(elapsed)" -lt $((BUDGET - 60)) ]; then mem_run "$srv" $cfg
            else say "  $srv $cfg skipped: past the time budget (BUDGET=$BUDGET s)"; fi
        done
    done
    if [ "$MEM_BIG" = 1 ]; then
        # 10M announces: about 50 s on a quiet machine.
        if [ "$(elapsed)" -lt $((BUDGET - 240)) ]; then mem_run swarmd 1000000 10
        else say "  swarmd 1000000 x 10 skipped: past the time budget (BUDGET=$BUDGET s)"; fi
    fi
fi

{
    print_table
    print_memory
    if [ -s "$WORK/crashes" ]; then
        echo
        echo "Servers that died during a run:"
        sed 's/^/- /' "$WORK/crashes"
    fi
    echo
    cpu_model=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
    echo "Machine: $(nproc) CPUs ($cpu_model), $(uname -sr);" \
        "$(dpkg-query -W -f='opentracker ${Version}' opentracker 2>/dev/null);" \
        "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2). Took $(($(date +%s) - START)) s;" \
        "load average $LOAD_START at the start, $(cut -d' ' -f1 /proc/loadavg) at the end" \
        "(anything much above 2 means other work shared the CPUs)."
} | tee "$WORK/table.md"
