"""State file (tracker.statefile): restart keeps swarms and counts, damaged files are refused
and moved aside, a kill -9 at any moment of a snapshot leaves a loadable file."""

import glob
import os
import random
import shutil
import signal
import socket
import struct
import tempfile
import time
import zlib

from harness import (HAVE_V6, V4, V6, Daemon, TestFailure, check, eq, http_announce,
                     http_scrape, peers_of, rand_hash, scrape_counts)


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7f) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def make_file(torrents, saved_at=None, version=1):
    """A state file (docs/statefile.md) from [(hash, completed, idle, [(ip4 bytes, port, age,
    seeder)])]."""
    parts = []
    npeers = 0
    for h, completed, idle, peers in torrents:
        parts.append(h + varint(completed) + varint(idle) + varint(len(peers)) + varint(0))
        for ip, port, age, seeder in peers:
            parts.append(ip + struct.pack(">HH", port, 0)[:2] +
                         struct.pack("<H", age | (0x8000 if seeder else 0)))
        npeers += len(peers)
    saved = int(time.time()) if saved_at is None else saved_at
    data = (b"SWARMDSF" + struct.pack("<IIQ", version, 0, saved) + b"".join(parts) +
            struct.pack("<QQ", len(torrents), npeers))
    return data + struct.pack("<I", zlib.crc32(data))


def big_store(ntorrents, per):
    ts = []
    for t in range(ntorrents):
        h = struct.pack(">I", t) + b"\x5a" * 16
        ts.append((h, t % 5, 3, [(struct.pack(">I", 0x0a000000 + t * per + p), 6881 + p, 4,
                                  p == 0) for p in range(per)]))
    return make_file(ts)


def run(runner, swarmd):
    tmp = tempfile.mkdtemp(prefix="swarmd-e2e-state-")
    path = os.path.join(tmp, "state")

    def T(name, fn, timeout=30):
        runner.run("statefile: " + name, fn, timeout)

    def clean():
        for f in glob.glob(os.path.join(tmp, "*")):
            os.unlink(f)

    def start(*extra):
        d = Daemon(swarmd, ["--tracker.statefile=" + path] + list(extra))
        d.start()
        runner.context = d.context
        return d

    def stop(d, sig=signal.SIGTERM):
        rc, _ = d.stop(sig, 10.0)
        if sig == signal.SIGTERM:
            eq(rc, 0, "exit status after SIGTERM")

    def restart_keeps_swarms():
        clean()
        d = start()
        h1, h2 = rand_hash(), rand_hash()
        http_announce(d, h1, 7001, left=0, event="completed", numwant=0)
        http_announce(d, h1, 7002, left=0, event="completed", numwant=0)
        http_announce(d, h1, 7003, left=500, event="started", numwant=0)
        http_announce(d, h2, 7004, left=0, event="completed", numwant=0)
        http_announce(d, h2, 7004, event="stopped", numwant=0)  # completed 1, no peers
        if HAVE_V6:
            http_announce(d, h1, 7005, host=V6, left=0, numwant=0)
        before = http_scrape(d, [h1, h2])
        stop(d)
        check(os.path.getsize(path) > 44, "state file written at SIGTERM")
        d = start()
        after = http_scrape(d, [h1, h2])
        for h in (h1, h2):
            eq(scrape_counts(after, h), scrape_counts(before, h), "counts after restart")
        # A new leecher is handed the seeders saved before the restart.
        got = set(peers_of(http_announce(d, h1, 7100, left=100, numwant=50)))
        for port in (7001, 7002, 7003):
            check(("127.0.0.1", port) in got, "peer %d returned after restart: %r"
                  % (port, sorted(got)))
        # The leecher that was there before the restart gets the seeders from its next
        # announce, and is still one peer.
        got = set(peers_of(http_announce(d, h1, 7003, left=400, numwant=50)))
        for port in (7001, 7002):
            check(("127.0.0.1", port) in got, "seeder %d for the old leecher: %r"
                  % (port, sorted(got)))
        eq(scrape_counts(http_scrape(d, [h1]), h1)[2], scrape_counts(before, h1)[2] + 1,
           "leechers after the old leecher re-announced (itself and the new one)")
        check("state restored" in d.stderr_text(), "restore logged")
        stop(d)
        # Restart again: nothing doubles.
        d = start()
        again = http_scrape(d, [h1, h2])
        c = scrape_counts(again, h1)
        eq((c[0], c[1]), (scrape_counts(before, h1)[0], scrape_counts(before, h1)[1]),
           "seeders and completed after a second restart")
        eq(c[2], scrape_counts(before, h1)[2] + 1, "leechers after a second restart")
        stop(d)
    T("restart keeps counts and peers", restart_keeps_swarms)

    def periodic_then_kill9():
        clean()
        d = start("--tracker.snapshot_interval=1")
        h = rand_hash()
        http_announce(d, h, 7201, left=0, event="completed", numwant=0)
        http_announce(d, h, 7202, left=5, numwant=0)
        end = time.time() + 5
        while time.time() < end:
            if os.path.exists(path) and os.path.getsize(path) > 44:
                break
            time.sleep(0.1)
        time.sleep(0.2)
        stop(d, signal.SIGKILL)
        d = start()
        eq(scrape_counts(http_scrape(d, [h]), h), (1, 1, 1), "counts from a periodic snapshot")
        stop(d)
    T("periodic snapshot survives kill -9", periodic_then_kill9)

    def expired_dropped():
        clean()
        ha, hb = b"\x01" * 20, b"\x02" * 20
        ip = socket.inet_aton("10.9.9.9")
        # Saved 100 s ago: the peer aged 10 s then has been silent 110 s (> 60 s timeout).
        with open(path, "wb") as f:
            f.write(make_file([(ha, 4, 10, [(ip, 1, 10, True)]),
                               (hb, 0, 10, [(ip, 2, 10, False), (ip, 3, 20, False)])],
                              saved_at=int(time.time()) - 100))
        d = start("--peer-timeout=115")
        files = http_scrape(d, [ha, hb])
        eq(scrape_counts(files, ha), (1, 4, 0), "peer aged 110 s of 115 kept")
        eq(scrape_counts(files, hb), (0, 0, 1), "peer aged 120 s dropped, 110 s kept")
        stop(d)
        with open(path, "wb") as f:
            f.write(make_file([(ha, 4, 10, [(ip, 1, 10, True)])],
                              saved_at=int(time.time()) - 100))
        d = start("--peer-timeout=60")
        eq(scrape_counts(http_scrape(d, [ha]), ha), (0, 4, 0),
           "expired during downtime: peer gone, completed kept")
        stop(d)
    T("peers that expired while down are dropped", expired_dropped)

    good = make_file([(b"\x07" * 20, 3, 1, [(socket.inet_aton("10.1.1.1"), 80, 1, True)])])
    bad_files = [
        ("zero-byte", b""),
        ("empty", b"\n"),
        ("text", b"hello, this is not a state file\n"),
        ("truncated", good[:len(good) - 9]),
        ("header only", good[:24]),
        ("corrupt", good[:30] + bytes([good[30] ^ 0xff]) + good[31:]),
        ("wrong version", make_file([], version=99)),
    ]

    def refused(label, data):
        def t():
            clean()
            with open(path, "wb") as f:
                f.write(data)
            d = start()
            text = d.stderr_text()
            check("refused" in text, "refusal logged: %r" % text[-500:])
            aside = glob.glob(path + ".corrupt-*")
            eq(len(aside), 1, "files moved aside")
            with open(aside[0], "rb") as f:
                eq(f.read(), data, "moved-aside content")
            check(not os.path.exists(path), "state file moved away")
            eq(scrape_counts(http_scrape(d, [b"\x07" * 20]), b"\x07" * 20), (0, 0, 0),
               "starts empty")
            h = rand_hash()
            http_announce(d, h, 7301, left=0, event="completed", numwant=0)
            stop(d)
            d = start()
            eq(scrape_counts(http_scrape(d, [h]), h), (1, 1, 0), "new state after refusal")
            stop(d)
        T("%s file refused and moved aside" % label, t)

    for label, data in bad_files:
        refused(label, data)

    def kill_during_snapshot():
        clean()
        ntorrents, per = 20000, 10
        with open(path, "wb") as f:
            f.write(big_store(ntorrents, per))
        tmpfile = path + ".tmp"
        rnd = random.Random(7)
        hits = 0
        for attempt in range(6):
            d = start("--tracker.snapshot_interval=1")
            text = d.stderr_text()
            check("state restored" in text and "%d torrents" % ntorrents in text,
                  "attempt %d: previous file loaded: %r" % (attempt, text[-400:]))
            # Wait for a snapshot write to begin, then kill at a random moment of it.
            end = time.time() + 4
            while time.time() < end and not os.path.exists(tmpfile):
                time.sleep(0.0005)
            if os.path.exists(tmpfile):
                hits += 1
            time.sleep(rnd.random() * 0.02)
            stop(d, signal.SIGKILL)
            check(not glob.glob(path + ".corrupt-*"), "no refused file")
        d = start()
        check("%d torrents, %d live peers" % (ntorrents, ntorrents * per) in d.stderr_text(),
              "final restore complete: %r" % d.stderr_text()[-400:])
        stop(d)
        check(hits >= 3, "kills landed during a snapshot write only %d times" % hits)
    T("kill -9 during snapshot writes leaves a loadable file", kill_during_snapshot, 90)

    shutil.rmtree(tmp, ignore_errors=True)
