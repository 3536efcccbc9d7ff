#!/usr/bin/python3
"""Interop: libtorrent seeder + aria2c leecher, over HTTP and UDP.

    /usr/bin/python3 tests/interop/aria2.py --swarmd build/check/swarmd [--only http|udp]

aria2c runs with DHT, LPD and PEX off and --seed-time=0.1 (minutes), so it exits 0 six
seconds after the file is complete. (With --seed-time=0 it halts at once and often sends only
event=stopped with left=0, never event=completed, so the tracker rightly counts no download.) aria2 1.36 sends UDP tracker packets only through its IPv4 DHT socket, so the UDP
run enables that socket with a fresh, empty DHT file and no entry point (no bootstrap node),
and the check asserts from aria2's debug log that it sent no DHT message: its only peer source
is the tracker. The received file must match (SHA-1) and swarmd must count the download.
"""

import os
import re
import subprocess
import sys
import time

import common
from common import V4, Log, Procs, SeederProcess, sha1_file
from harness import Daemon, TestFailure, check, http_scrape, scrape_counts

LIMIT = 60.0


def aria2_cmd(torrent, out_dir, port, log_path, dht_port=None, dht_file=None):
    cmd = ["aria2c", "--no-conf", "--dir=" + out_dir, "--listen-port=%d" % port,
           "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
           "--seed-time=0.1", "--file-allocation=none", "--summary-interval=0",
           "--console-log-level=warn", "--log=" + log_path, "--log-level=debug",
           "--disable-ipv6=true", "--bt-tracker-connect-timeout=10", "--bt-tracker-timeout=10",
           "--stop=%d" % int(LIMIT), "--auto-save-interval=0", "--rpc-save-upload-metadata=false",
           "--bt-save-metadata=false", "--follow-torrent=false"]
    if dht_port is None:
        cmd.append("--enable-dht=false")
    else:
        # The UDP tracker client shares the DHT socket; no entry point, empty routing table.
        cmd += ["--enable-dht=true", "--dht-listen-port=%d" % dht_port,
                "--dht-file-path=" + dht_file]
    return cmd + [torrent]


def dht_messages_sent(log_text):
    """aria2's dispatcher logs each DHT message it sends ("Message sent: ...") or fails to
    send; UDP tracker packets through the same socket are logged by the UDP tracker code. (A
    "PeerLookup" task with an empty routing table sends nothing.)"""
    return [ln for ln in log_text.splitlines()
            if re.search(r"Message sent|Failed to send|DHTMessageDispatcher.*[Ss]end", ln)]


def download(procs, cmd, tmp, leech_dir, digest, log_path, pre):
    """Run aria2c (cmd from aria2_cmd) to completion within LIMIT + 10 s, check its exit status
    and the SHA-1 of payload.bin in leech_dir; returns aria2's log text."""
    t0 = time.time()
    with open(os.path.join(tmp, "aria2.out"), "wb") as out:
        p = procs.start(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            rc = p.wait(LIMIT + 10)
        except subprocess.TimeoutExpired:
            raise TestFailure("aria2c still running after %.0f s" % (LIMIT + 10))
    check(rc == 0, "aria2c exited with %r (0 = download complete)" % rc)
    sys.stderr.write("interop: %saria2c finished in %.1f s\n" % (pre, time.time() - t0))
    got = sha1_file(os.path.join(leech_dir, "payload.bin"))
    check(got == digest, "received file SHA-1 %s, original %s" % (got, digest))
    with open(log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def run(runner, swarmd, proto):
    lt = common.import_libtorrent()
    pre = "libtorrent seeder + aria2c leecher %s: " % proto
    d = Daemon(swarmd).start()
    log = Log()
    tmp = common.tmpdir("aria2-" + proto)
    seed_dir = os.path.join(tmp, "seed")
    leech_dir = os.path.join(tmp, "leech")
    os.makedirs(seed_dir)
    os.makedirs(leech_dir)
    aria_log = os.path.join(tmp, "aria2.log")
    procs = Procs()
    st = {}
    runner.context = lambda: (d.context() + "\n  libtorrent seeder:\n" + log.tail(40) +
                              "\n  aria2c log (tail):\n" + common.tail_file(aria_log, 60) +
                              "\n  aria2c console:\n" + common.tail_file(
                                  os.path.join(tmp, "aria2.out"), 20))
    url = common.tracker_url(d, proto)

    def swarm():
        torrent = os.path.join(tmp, "payload.torrent")
        ti, digest = common.make_torrent(lt, seed_dir, url, torrent)
        ih = common.v1_hash_bytes(ti)
        sp, ap, dp = common.free_tcp_ports(3)
        st["seeder"] = SeederProcess(torrent, seed_dir, V4, sp, log)
        if not st["seeder"].wait_ready(25):
            raise TestFailure("libtorrent seeder not seeding with a tracker reply after 25 s")
        dht = None
        if proto == "udp":
            dht = os.path.join(tmp, "dht.dat")  # fresh: does not exist yet
        cmd = aria2_cmd(torrent, leech_dir, ap, aria_log, dp if dht else None, dht)
        text = download(procs, cmd, tmp, leech_dir, digest, aria_log, pre)
        want = "127.0.0.1:%d" % sp
        check(want in text, "aria2's log never mentions the seeder %s" % want)
        if proto == "udp":
            check("UDPT received ANNOUNCE reply" in text,
                  "aria2's log shows no UDP tracker announce reply")
            sent = dht_messages_sent(text)
            check(not sent, "aria2 sent DHT messages (peers must come only from the tracker):"
                  "\n    " + "\n    ".join(sent[:10]))
        # aria2 announces completed then stopped as it exits; the download was counted.
        c = None
        end = time.time() + 10
        while time.time() < end:
            c = scrape_counts(http_scrape(d, [ih]), ih)
            if c[1] == 1:
                break
            time.sleep(0.2)
        check(c is not None and c[1] == 1,
              "scrape (complete, downloaded, incomplete) %r: want downloaded 1" % (c,))
    runner.run(pre + "aria2c completes the 4 MiB download, SHA-1 matches, tracker counts it",
               swarm, timeout=LIMIT + 50)
    procs.stop_all()
    if "seeder" in st:
        st["seeder"].stop()
    runner.context = None
    d.stop_and_check(runner, pre + "swarmd exits 0 on SIGTERM")
    common.rmtree(tmp)


CHECKS = [("http", lambda r, s: run(r, s, "http")), ("udp", lambda r, s: run(r, s, "udp"))]

if __name__ == "__main__":
    sys.exit(common.main_for("aria2", CHECKS, 200))
