"""Interop across a restart: a libtorrent seeder announces, swarmd is stopped (SIGTERM, state
file written) and started again on the same ports, and only then does a libtorrent leecher
announce. It must be handed the seeder from the restored state (the seeder does not announce
again), complete the download, and the completed count must carry over the restart.

Called from run.py (`--only restart`); `rt` is the run module, for its libtorrent helpers."""

import os
import shutil
import socket
import tempfile
import time

import harness
from harness import (V4, Daemon, TestFailure, check, eq, free_port, http_scrape,
                     scrape_counts)


def start_on(swarmd, args, http_port=None, udp_port=None):
    """A Daemon on the given ports (None: free ones); the restart must keep the URL valid."""
    d = Daemon(swarmd, args, v6=False)
    if http_port is None:
        return d.start()
    saved = harness.free_port
    ports = {socket.SOCK_STREAM: http_port, socket.SOCK_DGRAM: udp_port}
    harness.free_port = lambda kind, hosts: ports[kind]
    try:
        return d.start(attempts=20)
    finally:
        harness.free_port = saved


def run(runner, lt, swarmd, rt):
    pre = "restart: "
    tmp = tempfile.mkdtemp(prefix="swarmd-interop-restart-")
    state = os.path.join(tmp, "state")
    args = ["--tracker.statefile=" + state]
    seed_dir, leech_dir = os.path.join(tmp, "seed"), os.path.join(tmp, "leech")
    os.makedirs(seed_dir)
    os.makedirs(leech_dir)
    log = rt.Log()
    st = {}

    def T(name, fn, timeout=40):
        return runner.run(pre + name, fn, timeout)

    def context():
        d = st.get("d")
        return (d.context() if d else "") + "\n  libtorrent alerts:\n" + log.tail()
    runner.context = context

    def seed_then_restart():
        d = st["d"] = start_on(swarmd, args)
        url = "http://127.0.0.1:%d/announce" % d.http_port
        ti, digest, data = rt.make_torrent(lt, seed_dir, url)
        st["ti"], st["digest"], st["ih"] = ti, digest, rt.v1_hash_bytes(ti)
        path = os.path.join(tmp, "payload.torrent")
        with open(path, "wb") as f:
            f.write(data)
        ports = set()
        while len(ports) < 2:
            ports.add(free_port(socket.SOCK_STREAM, [V4]))
        st["sp"], st["lp"] = sorted(ports)
        st["seeder"] = rt.SeederProcess(path, seed_dir, st["sp"], log)
        if not st["seeder"].ready.wait(25):
            raise TestFailure("seeder not seeding with a tracker reply after 25 s")
        before = scrape_counts(http_scrape(d, [st["ih"]]), st["ih"])
        eq(before, (1, 0, 0), "scrape before the restart")
        hp, up = d.http_port, d.udp_port
        rc, _ = d.stop()
        eq(rc, 0, "exit status after SIGTERM")
        d = st["d"] = start_on(swarmd, args, hp, up)
        check("state restored" in d.stderr_text(), "state restored at start")
        eq(scrape_counts(http_scrape(d, [st["ih"]]), st["ih"]), before,
           "scrape after the restart")
    ok = T("seeder announces, swarmd restarts with its state", seed_then_restart, 60)

    def leech_after_restart():
        if not ok:
            raise TestFailure("no restored seeder (see above)")
        ses = st["leech"] = rt.make_session(lt, st["lp"])
        atp = lt.add_torrent_params()
        atp.ti = st["ti"]
        atp.save_path = leech_dir
        lh = st["lh"] = ses.add_torrent(atp)
        events, peers = {}, set()
        t0 = time.time()
        while time.time() - t0 < rt.DOWNLOAD_LIMIT:
            rt.drain_alerts(lt, ses, "leech", log, events)
            for p in lh.get_peer_info():
                peers.add((p.ip[0], p.ip[1], int(p.source)))
            s = lh.status()
            if s.is_seeding or s.is_finished:
                break
            time.sleep(0.05)
        else:
            raise TestFailure("leecher not complete after %.0f s" % rt.DOWNLOAD_LIMIT)
        tracker_flag = int(lt.peer_info.tracker)
        check(any(ip == V4 and port == st["sp"] and src & tracker_flag
                  for ip, port, src in peers),
              "leecher got the seeder from the restored tracker: peers %r" % peers)
        check(rt.sha1_file(os.path.join(leech_dir, "payload.bin")) == st["digest"],
              "downloaded file matches")
        end = time.time() + 10
        c = None
        while time.time() < end:
            rt.drain_alerts(lt, ses, "leech", log, events)
            c = scrape_counts(http_scrape(st["d"], [st["ih"]]), st["ih"])
            if c == (2, 1, 0):
                return
            time.sleep(0.2)
        raise TestFailure("scrape %r after the download, want (2, 1, 0)" % (c,))
    ok = T("leecher gets the restored seeder and completes", leech_after_restart, 80) and ok

    def counts_survive_second_restart():
        if not ok:
            raise TestFailure("download did not complete")
        d = st["d"]
        hp, up = d.http_port, d.udp_port
        before = scrape_counts(http_scrape(d, [st["ih"]]), st["ih"])
        rc, _ = d.stop()
        eq(rc, 0, "exit status after SIGTERM")
        d = st["d"] = start_on(swarmd, args, hp, up)
        eq(scrape_counts(http_scrape(d, [st["ih"]]), st["ih"]), before,
           "counts after a second restart")
    T("completed count equal across another restart", counts_survive_second_restart)

    if "lh" in st:
        st["leech"].remove_torrent(st["lh"])
    if "seeder" in st:
        st["seeder"].stop()
    st.pop("leech", None)
    runner.context = None
    if "d" in st:
        st["d"].stop_and_check(runner, pre + "swarmd exits 0 on SIGTERM")
    shutil.rmtree(tmp, ignore_errors=True)
