#!/usr/bin/python3
"""Interop: libtorrent seeder + libtorrent leecher, then libtorrent's scrape_tracker.

    /usr/bin/python3 tests/interop/lt_swarm.py --swarmd build/check/swarmd [--only http ...]

Checks http, udp, http6, udp6 (the last two: tracker, seeder and leecher all on ::1). For each:
swarmd on loopback, a 4 MiB random file and a v1 .torrent announcing to swarmd, a seeder in
its own process and, once it has announced, a leecher session in this process. The leecher
must complete within 60 s with its peer learned from the tracker (peer_info.source), the file
must match (SHA-1), the tracker must count the completion; then the leecher's scrape_tracker()
must report complete >= 1 and downloaded >= 1 over the same protocol and family, and the
clients' stopped announces must empty the swarm. http-noncompact: a BEP 3 announce with
compact=0 is given the libtorrent seeder as a dict (ip, port). restart: restart.py, a swarm
across a swarmd restart with a state file.
"""

import os
import socket
import sys
import time

import common
from common import V4, V6, Log, SeederProcess, drain_alerts, sha1_file
from harness import (Daemon, TestFailure, announce_target, check, decode_ok,
                     eq, http_request, http_scrape, scrape_counts)

DOWNLOAD_LIMIT = 60.0


def scrape_downloaded(h):
    """The downloaded count libtorrent keeps from its last scrape (-1 if none)."""
    best = -1
    for t in h.trackers():
        for ep in t.get("endpoints", []):
            for ih in ep.get("info_hashes", []):
                best = max(best, ih.get("scrape_downloaded", -1))
        best = max(best, t.get("scrape_downloaded", -1))
    return best


def run_swarm(runner, lt, swarmd, proto, host):
    name = proto + ("6" if host == V6 else "")
    pre = "libtorrent swarm %s: " % name

    def T(tname, fn, timeout=30):
        return runner.run(pre + tname, fn, timeout)

    if common.v6_missing(runner, host, pre + "seeder and leecher over ::1"):
        return
    d = Daemon(swarmd).start()
    log = Log()
    runner.context = lambda: d.context() + "\n  libtorrent alerts:\n" + log.tail()
    tmp = common.tmpdir("lt-" + name)
    seed_dir = os.path.join(tmp, "seed")
    leech_dir = os.path.join(tmp, "leech")
    os.makedirs(seed_dir)
    os.makedirs(leech_dir)
    url = common.tracker_url(d, proto, host)
    st = {"sources": set(), "peers": set(), "events": {}}

    def setup():
        torrent_path = os.path.join(tmp, "payload.torrent")
        st["ti"], st["digest"] = common.make_torrent(lt, seed_dir, url, torrent_path)
        st["ih"] = common.v1_hash_bytes(st["ti"])
        sp, lp = common.free_tcp_ports(2, host)
        st["seed_port"], st["leech_port"] = sp, lp
        st["seeder"] = SeederProcess(torrent_path, seed_dir, host, sp, log)
        st["leech"] = common.make_session(lt, host, lp)
        if not st["seeder"].wait_ready(25):
            raise TestFailure("seeder not seeding with a tracker reply after 25 s")
        c = scrape_counts(http_scrape(d, [st["ih"]]), st["ih"])
        check(c[0] == 1, "tracker's seeder count after the seeder announced: %r" % (c,))
    ok = T("seeder announces to swarmd (%s)" % url, setup, timeout=40)

    def download():
        if not ok:
            raise TestFailure("no seeder (see above)")
        atp = lt.add_torrent_params()
        atp.ti = st["ti"]
        atp.save_path = leech_dir
        t0 = time.time()
        lh = st["leech"].add_torrent(atp)
        st["lh"] = lh
        while time.time() - t0 < DOWNLOAD_LIMIT:
            drain_alerts(st["leech"], "lt-leech", log, st["events"])
            for p in lh.get_peer_info():
                st["sources"].add(int(p.source))
                st["peers"].add((p.ip[0], p.ip[1]))
            s = lh.status()
            if s.is_seeding or s.is_finished:
                sys.stderr.write("interop: %s download took %.1f s\n" % (pre, time.time() - t0))
                return
            time.sleep(0.05)
        s = lh.status()
        raise TestFailure("leecher not complete after %.0f s: state %s, progress %.1f%%, "
                          "peers %d, sources %r" % (DOWNLOAD_LIMIT, s.state, s.progress * 100,
                                                    s.num_peers, st["sources"]))
    ok = T("leecher completes the 4 MiB download within 60 s", download, timeout=75) and ok

    def same_file():
        if not ok:
            raise TestFailure("download did not complete")
        path = os.path.join(leech_dir, "payload.bin")
        got = None
        end = time.time() + 10
        while time.time() < end:
            if os.path.exists(path) and os.path.getsize(path) == common.PAYLOAD_SIZE:
                got = sha1_file(path)
                if got == st["digest"]:
                    return
            time.sleep(0.2)
        raise TestFailure("received file SHA-1 %s, original %s" % (got, st["digest"]))
    T("received file equals the original (SHA-1)", same_file)

    def from_tracker():
        if not ok:
            raise TestFailure("download did not complete")
        tracker_flag = int(lt.peer_info.tracker)
        check(any(s & tracker_flag for s in st["sources"]),
              "no leecher peer had the tracker source flag (sources %r, peers %r)"
              % (st["sources"], st["peers"]))
        check((host, st["seed_port"]) in st["peers"],
              "leecher never connected to the seeder at %s port %d (peers %r)"
              % (host, st["seed_port"], st["peers"]))
        others = 0
        for flag in ("pex", "dht", "lsd"):
            others |= int(getattr(lt.peer_info, flag, 0))
        check(not any(s & others for s in st["sources"]),
              "peers from PEX/DHT/LSD seen: %r" % st["sources"])
    T("leecher's peer came from the tracker", from_tracker)

    def counted():
        if not ok:
            raise TestFailure("download did not complete")
        c = None
        end = time.time() + 10
        while time.time() < end:
            drain_alerts(st["leech"], "lt-leech", log, st["events"])
            c = scrape_counts(http_scrape(d, [st["ih"]]), st["ih"])
            if c == (2, 1, 0):
                return
            time.sleep(0.2)
        raise TestFailure("scrape (complete, downloaded, incomplete) = %r, want (2, 1, 0) "
                          "after the leecher's completed announce" % (c,))
    T("tracker counted the completed download", counted, timeout=20)

    def lt_scrape():
        if "lh" not in st:
            raise TestFailure("no leecher torrent")
        keep = {"scrape_reply_alert": [], "scrape_failed_alert": []}
        st["lh"].scrape_tracker(0)
        end = time.time() + 15
        while time.time() < end:
            drain_alerts(st["leech"], "lt-leech", log, st["events"], keep)
            if keep["scrape_failed_alert"]:
                raise TestFailure("scrape_failed_alert: %s" % keep["scrape_failed_alert"][0]
                                  .message())
            if keep["scrape_reply_alert"]:
                a = keep["scrape_reply_alert"][0]
                dl = scrape_downloaded(st["lh"])
                check(a.complete >= 1 and dl >= 1,
                      "libtorrent's scrape says complete %d, incomplete %d, downloaded %d; "
                      "want complete >= 1 and downloaded >= 1" % (a.complete, a.incomplete, dl))
                sys.stderr.write("interop: %sscrape_tracker: complete %d incomplete %d "
                                 "downloaded %d\n" % (pre, a.complete, a.incomplete, dl))
                return
            time.sleep(0.1)
        raise TestFailure("no scrape_reply_alert within 15 s")
    T("libtorrent scrape_tracker: complete >= 1, downloaded >= 1", lt_scrape, timeout=25)

    def stopped():
        if "seeder" not in st:
            raise TestFailure("no torrents")
        if "lh" in st:
            st["leech"].remove_torrent(st["lh"])
        st["seeder"].stop()
        c = None
        end = time.time() + 10
        while time.time() < end:
            drain_alerts(st["leech"], "lt-leech", log, st["events"])
            c = scrape_counts(http_scrape(d, [st["ih"]]), st["ih"])
            if c[0] == 0 and c[2] == 0:
                return
            time.sleep(0.2)
        raise TestFailure("scrape %r 10 s after both clients stopped the torrent" % (c,))
    T("stopped announces from libtorrent empty the swarm", stopped, timeout=20)

    if "seeder" in st and not st["seeder"].done.is_set():
        st["seeder"].stop()
    st.clear()  # the leecher session goes away before the daemon stops
    runner.context = None
    d.stop_and_check(runner, pre + "swarmd exits 0 on SIGTERM")
    common.rmtree(tmp)


def noncompact(runner, swarmd):
    """A BEP 3 client asking compact=0 gets the peers as a list of dicts (ip, port): here the
    libtorrent seeder's entry, as libtorrent itself announced it."""
    lt = common.import_libtorrent()
    pre = "http-noncompact: "
    d = Daemon(swarmd).start()
    log = Log()
    tmp = common.tmpdir("lt-noncompact")
    st = {}
    runner.context = lambda: d.context() + "\n  libtorrent alerts:\n" + log.tail()

    def t():
        torrent = os.path.join(tmp, "payload.torrent")
        ti, _ = common.make_torrent(lt, tmp, common.tracker_url(d, "http"), torrent)
        ih = common.v1_hash_bytes(ti)
        sp, me = common.free_tcp_ports(2)
        st["seeder"] = SeederProcess(torrent, tmp, V4, sp, log)
        if not st["seeder"].wait_ready(25):
            raise TestFailure("seeder not seeding with a tracker reply after 25 s")
        reply = decode_ok(http_request(d, announce_target(ih, me, compact=0)), "announce")
        peers = reply.get(b"peers")
        check(isinstance(peers, list), "compact=0 reply's peers is %r, want a list" % (peers,))
        check(len(peers) == 1 and isinstance(peers[0], dict),
              "want one dict peer (the seeder), got %r" % (peers,))
        eq(peers[0].get(b"ip"), V4.encode(), "peer's ip")
        eq(peers[0].get(b"port"), sp, "peer's port")
    runner.run(pre + "a BEP 3 announce with compact=0 gets the libtorrent seeder as a dict",
               t, timeout=40)
    if "seeder" in st:
        st["seeder"].stop()
    runner.context = None
    d.stop_and_check(runner, pre + "swarmd exits 0 on SIGTERM")
    common.rmtree(tmp)


class RestartApi:
    """The helpers restart.py (issue 7's swarm across a swarmd restart) takes from its `rt`
    argument, mapped onto common.py (IPv4 sessions)."""
    Log = Log
    SeederProcess = None
    DOWNLOAD_LIMIT = DOWNLOAD_LIMIT
    v1_hash_bytes = staticmethod(common.v1_hash_bytes)
    sha1_file = staticmethod(sha1_file)

    @staticmethod
    def make_torrent(lt, seed_dir, url):
        path = os.path.join(seed_dir, ".restart.torrent")
        ti, digest = common.make_torrent(lt, seed_dir, url, path)
        with open(path, "rb") as f:
            data = f.read()
        os.unlink(path)
        return ti, digest, data

    @staticmethod
    def make_session(lt, port):
        return common.make_session(lt, V4, port)

    @staticmethod
    def drain_alerts(lt, ses, who, log, events):
        drain_alerts(ses, who, log, events)


RestartApi.SeederProcess = staticmethod(
    lambda path, save, port, log: SeederProcess(path, save, V4, port, log))


def restart_check(runner, swarmd):
    lt = common.import_libtorrent()
    import restart  # restart.py: a swarm across a swarmd restart (state file)
    restart.run(runner, lt, swarmd, RestartApi)


def make_check(proto, host):
    def fn(runner, swarmd):
        lt = common.import_libtorrent()
        if isinstance(lt, Exception):
            runner.fail("libtorrent imports", "import libtorrent failed with %s (%s): install "
                        "Debian's python3-libtorrent, run with /usr/bin/python3"
                        % (lt, sys.executable))
            return
        run_swarm(runner, lt, swarmd, proto, host)
    return fn


CHECKS = [("http", make_check("http", V4)), ("udp", make_check("udp", V4)),
          ("http6", make_check("http", V6)), ("udp6", make_check("udp", V6)),
          ("http-noncompact", noncompact), ("restart", restart_check)]

if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    sys.exit(common.main_for("libtorrent", CHECKS, 200))
