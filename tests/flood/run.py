#!/usr/bin/python3
"""Flood test: 1M announces for distinct random info-hashes while a libtorrent swarm runs.

    /usr/bin/python3 tests/flood/run.py --swarmd build/check/swarmd [--hashes N]

Starts swarmd with a small memory budget (tracker.max_memory; eviction on, the default), a
libtorrent seeder (its own process) announcing over UDP, then floods UDP announces for
--hashes (1,000,000) distinct random info-hashes from another process as fast as it can, and
starts a libtorrent leecher in the middle of the flood. Passes when the leecher completes the
download within 60 s, swarmd's peak RSS (VmHWM) stays under the budget plus the stated fixed
overhead, the budget was reached and junk swarms were evicted for newcomers (the eviction
counter in /metrics and the daemon's rate-limited "cap:" log line), the seeder's swarm
survived, a new torrent announced after the flood is accepted, and swarmd still answers and
exits cleanly. Optimised build only (tests/run.sh).
Prints "ok - flood: NAME" / "not ok - flood: NAME" and the figures on stderr.
"""

import argparse
import importlib.util
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import harness  # noqa: E402
from harness import (V4, Daemon, Runner, TestFailure, UdpClient, check, eq,  # noqa: E402
                     free_port, http_request, http_scrape, proc_status, rand_hash,
                     scrape_counts)


def load_interop():
    """The interop suites' shared libtorrent helpers (tests/interop/common.py)."""
    spec = importlib.util.spec_from_file_location(
        "interop_common", os.path.join(HERE, "..", "interop", "common.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


BUDGET_MIB = 32
# The fixed overhead README promises on top of tracker.max_memory (which bounds the table and
# the full-scrape cache): code, libc, thread stacks, per-worker UDP/HTTP buffers (about
# 5 MiB at start-up with 2 workers), plus allocator slack. No full scrape and a handful of
# HTTP connections here, so nothing else.
OVERHEAD_MIB = 8
DOWNLOAD_LIMIT = 60.0


def flood_child(port, count, seconds):
    """Child process: connect, then send `count` announces for distinct random info-hashes
    as fast as the socket takes them (re-connecting every 60 s); count the replies. Prints
    "FLOOD sent=N ok=N refused=N other=N secs=S"."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.connect((V4, port))
    s.settimeout(2)

    def get_conn_id():
        for _ in range(20):
            tid = random.getrandbits(32)
            s.send(struct.pack(">QII", 0x41727101980, 0, tid))
            try:
                while True:
                    r = s.recv(2048)
                    if len(r) == 16 and struct.unpack(">II", r[:8]) == (0, tid):
                        return r[8:16]
            except socket.timeout:
                continue
        raise SystemExit("flood: no connect reply")

    replies = {"ok": 0, "refused": 0, "other": 0}

    def drain():
        while True:
            try:
                r = s.recv(2048)
            except (BlockingIOError, socket.timeout):
                return
            a = struct.unpack(">I", r[:4])[0] if len(r) >= 4 else None
            if a == 1:
                replies["ok"] += 1
            elif a == 3:
                replies["refused"] += 1
            else:
                replies["other"] += 1

    cid = get_conn_id()
    s.setblocking(False)
    t0 = last_cid = time.time()
    # downloaded, left, uploaded, event=started, ip, key, num_want=0, port
    tail = struct.pack(">QQQIIIiH", 0, 1000, 0, 2, 0, 0, 0, 6881)
    sent = 0
    peer_id = b"-FL0001-" + os.urandom(12)
    while sent < count and time.time() - t0 < seconds:
        if time.time() - last_cid > 60:
            s.setblocking(True)
            s.settimeout(2)
            cid = get_conn_id()
            s.setblocking(False)
            last_cid = time.time()
        block = os.urandom(20 * 1000)
        head = cid + struct.pack(">I", 1)
        for i in range(1000):
            pkt = head + struct.pack(">I", sent) + block[20 * i:20 * i + 20] + peer_id + tail
            try:
                s.send(pkt)
            except BlockingIOError:
                time.sleep(0.0005)
                continue
            sent += 1
        drain()
    end = time.time() + 1
    while time.time() < end:
        drain()
        time.sleep(0.05)
    sys.stdout.write("FLOOD sent=%d ok=%d refused=%d other=%d secs=%.1f\n"
                     % (sent, replies["ok"], replies["refused"], replies["other"],
                        time.time() - t0))
    sys.stdout.flush()
    return 0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--flood-child":
        return flood_child(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--swarmd", required=True)
    ap.add_argument("--hashes", type=int, default=1000000)
    ap.add_argument("--flood-seconds", type=float, default=70.0)
    ap.add_argument("--deadline", type=int, default=130)
    args = ap.parse_args()
    swarmd = os.path.abspath(args.swarmd)
    runner = Runner("flood")
    it = load_interop()
    lt = it.import_libtorrent()
    if isinstance(lt, Exception):
        runner.fail("libtorrent imports", "import libtorrent failed: %s" % lt)
        return 1

    def fire():
        sys.stdout.write("not ok - flood: finished within %d s (watchdog fired)\n"
                         % args.deadline)
        sys.stdout.flush()
        for dm in harness.ALL_DAEMONS:
            dm.kill()
        os._exit(1)
    wd = threading.Timer(args.deadline, fire)
    wd.daemon = True
    wd.start()

    d = Daemon(swarmd, config_text="tracker.max_memory %d\n" % BUDGET_MIB).start()
    log = it.Log()
    runner.context = lambda: d.context() + "\n  libtorrent alerts:\n" + log.tail()
    base = proc_status(d.proc.pid)
    tmp = tempfile.mkdtemp(prefix="swarmd-flood-")
    seed_dir, leech_dir = os.path.join(tmp, "seed"), os.path.join(tmp, "leech")
    os.makedirs(seed_dir)
    os.makedirs(leech_dir)
    st = {"rss": []}
    url = "udp://127.0.0.1:%d/announce" % d.udp_port

    def swarm_under_flood():
        tpath = os.path.join(tmp, "payload.torrent")
        ti, digest = it.make_torrent(lt, seed_dir, url, tpath)
        ih = it.v1_hash_bytes(ti)
        ports = set()
        while len(ports) < 2:
            ports.add(free_port(socket.SOCK_STREAM, [V4]))
        sp, lp = sorted(ports)
        seeder = st["seeder"] = it.SeederProcess(tpath, seed_dir, V4, sp, log)
        end = time.time() + 25
        while time.time() < end and not seeder.ready.is_set():
            time.sleep(0.1)
        check(seeder.ready.is_set(), "seeder not seeding with a tracker reply after 25 s")

        flood = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--flood-child",
                                  str(d.udp_port), str(args.hashes), str(args.flood_seconds)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        st["flood"] = flood
        t0 = time.time()
        # Let the flood fill the store past the cap before the leecher joins.
        while time.time() - t0 < 8:
            st["rss"].append((time.time() - t0, proc_status(d.proc.pid).get("VmRSS", 0)))
            time.sleep(0.5)
        leech = st["leech"] = it.make_session(lt, V4, lp)
        atp = lt.add_torrent_params()
        atp.ti = ti
        atp.save_path = leech_dir
        lh = leech.add_torrent(atp)
        events = {}
        tl = time.time()
        while True:
            it.drain_alerts(leech, "leech", log, events)
            s = lh.status()
            if s.is_seeding or s.is_finished:
                st["download"] = time.time() - tl
                break
            if time.time() - tl > DOWNLOAD_LIMIT:
                raise TestFailure("leecher not complete after %.0f s under the flood: "
                                  "progress %.1f%%, peers %d" % (DOWNLOAD_LIMIT,
                                                                s.progress * 100, s.num_peers))
            st["rss"].append((time.time() - t0, proc_status(d.proc.pid).get("VmRSS", 0)))
            time.sleep(0.2)
        check(it.sha1_file(os.path.join(leech_dir, "payload.bin")) == digest,
              "downloaded file differs from the original")
        out, _ = flood.communicate(timeout=args.flood_seconds + 20)
        st["flood_secs"] = time.time() - t0
        m = re.search(r"FLOOD sent=(\d+) ok=(\d+) refused=(\d+) other=(\d+) secs=([\d.]+)",
                      out.decode())
        check(m, "flood child output: %r" % out[-500:])
        st["sent"], st["ok"], st["refused"] = int(m.group(1)), int(m.group(2)), int(m.group(3))
        st["flood_secs"] = float(m.group(5))
        c = scrape_counts(http_scrape(d, [ih]), ih)
        check(c[0] >= 1, "the seeder is no longer counted after the flood: %r" % (c,))
        leech.remove_torrent(lh)
    runner.run("libtorrent swarm completes during a 1M-info-hash UDP flood",
               swarm_under_flood, timeout=115)

    def figures():
        check("sent" in st, "no flood figures (see above)")
        check(st["sent"] == args.hashes, "flood sent %d of %d announces"
              % (st["sent"], args.hashes))
        hwm = proc_status(d.proc.pid).get("VmHWM", 0)
        limit = (BUDGET_MIB + OVERHEAD_MIB) << 20
        sys.stderr.write(
            "flood: %d announces for distinct info-hashes in %.1f s; replies: %d ok, %d "
            "refused (UDP error); swarmd RSS at start %.1f MiB, peak %.1f MiB (store budget "
            "%d MiB); leecher completed in %.1f s\n"
            % (st["sent"], st["flood_secs"], st["ok"], st["refused"],
               base.get("VmRSS", 0) / 1048576.0, hwm / 1048576.0, BUDGET_MIB,
               st.get("download", -1)))
        samples = st["rss"][::max(1, len(st["rss"]) // 8)]
        sys.stderr.write("flood: RSS over time: %s\n" % ", ".join(
            "%.0fs %.1f MiB" % (t, r / 1048576.0) for t, r in samples))
        check(hwm > 0 and hwm < limit, "peak RSS %.1f MiB over budget %d MiB + %d MiB overhead"
              % (hwm / 1048576.0, BUDGET_MIB, OVERHEAD_MIB))
        text = http_request(d, "/metrics").body.decode()
        ev = re.search(r"^swarmd_evicted_total (\d+)$", text, re.M)
        torrents = re.search(r"^swarmd_torrents (\d+)$", text, re.M)
        sys.stderr.write("flood: %s torrents in the table, %s evicted for newcomers\n"
                         % (torrents and torrents.group(1), ev and ev.group(1)))
        check(ev and int(ev.group(1)) > 0, "swarmd_evicted_total is 0 after the flood")
        m = re.findall(r"cap: tracker\.max_memory .*evicting .*\(evicted (\d+) so far\)",
                       d.stderr_text(200000))
        check(m and int(m[-1]) > 0, "no memory-cap eviction log line with a non-zero counter")
        # Still serving; the budget is still full of junk, yet a new real torrent is
        # accepted (it evicts a junk swarm) and a second peer of it gets the first.
        u = UdpClient(d)
        try:
            u.connect()
            check(u.scrape([rand_hash()]) == [(0, 0, 0)], "UDP scrape after the flood")
            fresh = rand_hash()
            r = u.announce(fresh, 7101, left=0)
            eq((r["seeders"], r["leechers"]), (1, 0), "counts of a new torrent after the flood")
            r = u.announce(fresh, 7102)
            eq(r["peers"], [(V4, 7101)], "second peer of the new torrent")
        finally:
            u.close()
    runner.run("peak RSS under budget + overhead, junk evicted, a new torrent accepted",
               figures)

    for k in ("leech",):
        st.pop(k, None)
    if "seeder" in st:
        st["seeder"].stop()
    if "flood" in st and st["flood"].poll() is None:
        st["flood"].kill()
        st["flood"].wait()
    runner.context = None
    d.stop_and_check(runner, "swarmd exits 0 on SIGTERM after the flood")
    shutil.rmtree(tmp, ignore_errors=True)
    wd.cancel()
    sys.stderr.write("flood: %d passed, %d failed\n" % (runner.passed, runner.failed))
    return 1 if runner.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        sys.exit(1)
