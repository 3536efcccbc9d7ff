#!/usr/bin/python3
"""Interop with a real BitTorrent client: Debian's python3-libtorrent (run with /usr/bin/python3).

    /usr/bin/python3 tests/interop/run.py --swarmd build/check/swarmd [--only http|udp]

For each tracker protocol (HTTP, then UDP): start swarmd on loopback, make a 4 MiB random file
and a v1 .torrent announcing to swarmd, start a seeder (its own process, as real clients are)
and, once the seeder has announced, a leecher session in this process (127.0.0.1, distinct
ports; DHT, LSD, UPnP, NAT-PMP, uTP off; no default plugins, so no ut_pex). The leecher must
complete within 60 s with its peer learned from the tracker, the file must match (SHA-1), the
tracker must count the completion, and the clients' stopped announces must empty the swarm.
Prints "ok - interop: NAME" / "not ok - interop: NAME", details on stderr; exits 1 if anything
failed.

--same-process runs the seeder as a second session of this process instead. libtorrent keeps
one UDP connection-ID cache per process, keyed by the tracker's address, so the leecher then
announces with the seeder's connection ID from another source port.
"""

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import harness  # noqa: E402
from harness import (V4, Daemon, Runner, TestFailure, check, eq, free_port,  # noqa: E402
                     http_scrape, scrape_counts)

PAYLOAD_SIZE = 4 * 1024 * 1024
DOWNLOAD_LIMIT = 60.0
# The seeder's upload limit: the 4 MiB take ~2 s, long enough to sample the leecher's peers
# (unlimited, the download ends between two samples over loopback).
SEED_RATE = 2 * 1024 * 1024


def import_libtorrent():
    try:
        import libtorrent as lt  # noqa: F401
        return lt
    except Exception as e:  # noqa: BLE001
        return e


class Log:
    """Alert log of both sessions, printed when a test fails."""

    def __init__(self):
        self.lines = []
        self.t0 = time.time()

    def add(self, who, text):
        self.lines.append("%6.2f %s: %s" % (time.time() - self.t0, who, text))

    def tail(self, n=80):
        return "\n".join("    " + ln for ln in self.lines[-n:])


def make_session(lt, port):
    settings = {
        "listen_interfaces": "127.0.0.1:%d" % port,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_tcp": True,
        "enable_incoming_tcp": True,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_tiers": True,
        "announce_to_all_trackers": True,
        "user_agent": "swarmd-interop",
        "alert_mask": int(lt.alert_category.all) if hasattr(lt, "alert_category") else 0x7fffffff,
        "stop_tracker_timeout": 3,
        "tracker_completion_timeout": 10,
        "tracker_receive_timeout": 5,
    }
    known = lt.default_settings() if hasattr(lt, "default_settings") else None
    if known is None or "ssrf_mitigation" in known:
        settings["ssrf_mitigation"] = False
    if known is not None:
        settings = {k: v for k, v in settings.items() if k in known}
    try:
        # flags=0: no default plugins (no ut_pex, ut_metadata, smart_ban).
        return lt.session(settings, 0)
    except TypeError:
        params = lt.session_params()
        params.settings = settings
        return lt.session(params)


LOGGED_ALERTS = frozenset([
    "tracker_reply_alert", "tracker_error_alert", "tracker_warning_alert",
    "tracker_announce_alert", "torrent_finished_alert", "peer_connect_alert",
    "peer_disconnected_alert", "peer_error_alert", "torrent_error_alert", "listen_failed_alert",
    "listen_succeeded_alert", "file_error_alert", "torrent_checked_alert", "scrape_reply_alert",
    "scrape_failed_alert", "incoming_connection_alert", "hash_failed_alert",
    "torrent_removed_alert"])


def drain_alerts(lt, ses, who, log, events):
    for a in ses.pop_alerts():
        name = type(a).__name__
        try:
            msg = a.message()
        except Exception:  # noqa: BLE001
            msg = ""
        if name in LOGGED_ALERTS:
            log.add(who, "%s: %s" % (name, msg))
        events.setdefault(name, 0)
        events[name] += 1


def sha1_file(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_torrent(lt, seed_dir, url):
    path = os.path.join(seed_dir, "payload.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(PAYLOAD_SIZE))
    fs = lt.file_storage()
    lt.add_files(fs, path)
    flags = getattr(lt.create_torrent, "v1_only", 0)
    try:
        ct = lt.create_torrent(fs, 256 * 1024, flags=flags)
    except TypeError:
        ct = lt.create_torrent(fs, 256 * 1024)
    ct.add_tracker(url, 0)
    ct.set_creator("swarmd interop test")
    lt.set_piece_hashes(ct, seed_dir)
    data = lt.bencode(ct.generate())
    ti = lt.torrent_info(lt.bdecode(data))
    return ti, sha1_file(path), data


def v1_hash_bytes(ti):
    try:
        return ti.info_hashes().v1.to_bytes()
    except AttributeError:
        return ti.info_hash().to_bytes()


def seeder_child(torrent_path, save_path, port):
    """Child process: seed one torrent, report on stdout, stop when stdin closes."""
    lt = import_libtorrent()
    ses = make_session(lt, port)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent_path)
    atp.save_path = save_path
    h = ses.add_torrent(atp)
    h.set_upload_limit(SEED_RATE)  # slow enough to watch the leecher's peer list
    out = sys.stdout
    ready = False
    replied = False
    stdin_closed = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stdin_closed.set()
    threading.Thread(target=watch_stdin, daemon=True).start()

    def pump():
        nonlocal replied
        for a in ses.pop_alerts():
            name = type(a).__name__
            if name == "tracker_reply_alert":
                replied = True
            if name in LOGGED_ALERTS:
                out.write("ALERT %s: %s\n" % (name, a.message()))
        out.flush()

    while not stdin_closed.is_set():
        pump()
        if not ready and replied and h.status().is_seeding:
            ready = True
            out.write("READY\n")
            out.flush()
        time.sleep(0.1)
    ses.remove_torrent(h)  # sends event=stopped
    end = time.time() + 5
    while time.time() < end:
        pump()
        time.sleep(0.1)
    out.write("DONE\n")
    out.flush()
    return 0


class SeederProcess:
    """A seeder in its own process, as real clients are. (libtorrent keeps one UDP tracker
    connection-ID cache per process, keyed by tracker address: two sessions in one process
    share connection IDs across source ports; see --same-process.)"""

    def __init__(self, torrent_path, save_path, port, log):
        self.log = log
        self.ready = threading.Event()
        self.done = threading.Event()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--seeder-child", torrent_path,
             save_path, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if line == "READY":
                self.ready.set()
            elif line == "DONE":
                self.done.set()
            self.log.add("seed", line[6:] if line.startswith("ALERT ") else line)
        self.done.set()

    def stop(self, timeout=10):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.done.wait(timeout)
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class SeederInProcess:
    """The seeder as a second session in this process (--same-process)."""

    def __init__(self, lt, ti, save_path, port, log):
        self.lt, self.log = lt, log
        self.ready = threading.Event()
        self.done = threading.Event()
        self.events = {}
        self.ses = make_session(lt, port)
        atp = lt.add_torrent_params()
        atp.ti = ti
        atp.save_path = save_path
        self.h = self.ses.add_torrent(atp)
        self.h.set_upload_limit(SEED_RATE)

    def poll(self):
        drain_alerts(self.lt, self.ses, "seed", self.log, self.events)
        if self.events.get("tracker_reply_alert") and self.h.status().is_seeding:
            self.ready.set()

    def stop(self, timeout=5):
        self.ses.remove_torrent(self.h)
        end = time.time() + timeout
        while time.time() < end:
            drain_alerts(self.lt, self.ses, "seed", self.log, self.events)
            time.sleep(0.1)
        self.done.set()


def run_swarm(runner, lt, swarmd, proto, same_process=False):
    pre = proto + (" (seeder in the same process)" if same_process else "") + ": "

    def T(name, fn, timeout=30):
        return runner.run(pre + name, fn, timeout)

    try:
        d = Daemon(swarmd).start()
    except Exception as e:  # noqa: BLE001
        runner.fail(pre + "swarmd starts", str(e))
        return
    log = Log()

    def context():
        return d.context() + "\n  libtorrent alerts:\n" + log.tail()
    runner.context = context

    tmp = tempfile.mkdtemp(prefix="swarmd-interop-")
    seed_dir = os.path.join(tmp, "seed")
    leech_dir = os.path.join(tmp, "leech")
    os.makedirs(seed_dir)
    os.makedirs(leech_dir)
    if proto == "http":
        url = "http://127.0.0.1:%d/announce" % d.http_port
    else:
        url = "udp://127.0.0.1:%d/announce" % d.udp_port
    st = {"sources": set(), "peers": set(), "events_leech": {}}
    sessions = []

    def setup():
        ti, digest, data = make_torrent(lt, seed_dir, url)
        st["ti"], st["digest"] = ti, digest
        st["ih"] = v1_hash_bytes(ti)
        torrent_path = os.path.join(tmp, "payload.torrent")
        with open(torrent_path, "wb") as f:
            f.write(data)
        ports = set()
        while len(ports) < 2:
            ports.add(free_port(socket.SOCK_STREAM, [V4]))
        sp, lp = sorted(ports)
        st["seed_port"], st["leech_port"] = sp, lp
        if same_process:
            st["seeder"] = SeederInProcess(lt, ti, seed_dir, sp, log)
        else:
            st["seeder"] = SeederProcess(torrent_path, seed_dir, sp, log)
        st["leech"] = make_session(lt, lp)
        sessions.append(st["leech"])
        # Wait for the seeder to have checked its data and announced successfully.
        end = time.time() + 25
        while time.time() < end and not st["seeder"].ready.is_set():
            if same_process:
                st["seeder"].poll()
            time.sleep(0.1)
        if not st["seeder"].ready.is_set():
            raise TestFailure("seeder not seeding with a tracker reply after 25 s")
        files = http_scrape(d, [st["ih"]])
        c = scrape_counts(files, st["ih"])
        eq(c[0], 1, "tracker's seeder count after the seeder announced")
    ok = T("seeder session announces to swarmd", setup, timeout=40)

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
            drain_alerts(lt, st["leech"], "leech", log, st["events_leech"])
            if same_process:
                st["seeder"].poll()
            for p in lh.get_peer_info():
                st["sources"].add(int(p.source))
                st["peers"].add((p.ip[0], p.ip[1]))
            s = lh.status()
            if s.is_seeding or s.is_finished:
                st["elapsed"] = time.time() - t0
                sys.stderr.write("interop: %s: download took %.1f s (seeder capped at %d "
                                 "KiB/s)\n" % (proto, st["elapsed"], SEED_RATE // 1024))
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
        end = time.time() + 10
        got = None
        while time.time() < end:
            if os.path.exists(path) and os.path.getsize(path) == PAYLOAD_SIZE:
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
        check((V4, st["seed_port"]) in st["peers"],
              "leecher never connected to the seeder at %s:%d (peers %r)"
              % (V4, st["seed_port"], st["peers"]))
        pex = int(getattr(lt.peer_info, "pex", 0))
        dht = int(getattr(lt.peer_info, "dht", 0))
        lsd = int(getattr(lt.peer_info, "lsd", 0))
        check(not any(s & (pex | dht | lsd) for s in st["sources"]),
              "peers from PEX/DHT/LSD seen: %r" % st["sources"])
    T("leecher's peer came from the tracker", from_tracker)

    def counted():
        if not ok:
            raise TestFailure("download did not complete")
        end = time.time() + 10
        c = None
        while time.time() < end:
            drain_alerts(lt, st["leech"], "leech", log, st["events_leech"])
            c = scrape_counts(http_scrape(d, [st["ih"]]), st["ih"])
            if c == (2, 1, 0):
                return
            time.sleep(0.2)
        raise TestFailure("scrape (complete, downloaded, incomplete) = %r, want (2, 1, 0) "
                          "after the leecher's completed announce" % (c,))
    T("tracker counted the completed download", counted, timeout=20)

    def stopped():
        if "seeder" not in st:
            raise TestFailure("no torrents")
        if "lh" in st:
            st["leech"].remove_torrent(st["lh"])
        st["seeder"].stop()
        end = time.time() + 10
        c = None
        while time.time() < end:
            drain_alerts(lt, st["leech"], "leech", log, st["events_leech"])
            c = scrape_counts(http_scrape(d, [st["ih"]]), st["ih"])
            if c[0] == 0 and c[2] == 0:
                return
            time.sleep(0.2)
        raise TestFailure("scrape %r 10 s after both clients stopped the torrent" % (c,))
    T("stopped announces from libtorrent empty the swarm", stopped, timeout=20)

    # Sessions go away before the daemon stops (their destructors may announce).
    if "seeder" in st and not st["seeder"].done.is_set():
        st["seeder"].stop()
    st.clear()
    del sessions[:]
    runner.context = None
    d.stop_and_check(runner, pre + "swarmd exits 0 on SIGTERM")
    shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--seeder-child":
        return seeder_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--swarmd", required=True)
    ap.add_argument("--only", choices=["http", "udp", "restart"], action="append")
    ap.add_argument("--deadline", type=int, default=250)
    ap.add_argument("--same-process", action="store_true",
                    help="run seeder and leecher as two sessions of this process (libtorrent "
                    "then shares UDP connection IDs between their source ports)")
    args = ap.parse_args()
    swarmd = os.path.abspath(args.swarmd)
    runner = Runner("interop")
    if not (os.path.isfile(swarmd) and os.access(swarmd, os.X_OK)):
        runner.fail("swarmd binary exists", "no executable at %s" % swarmd)
        return 1
    lt = import_libtorrent()
    if isinstance(lt, Exception):
        runner.fail("libtorrent imports", "import libtorrent failed with %s (%s): install "
                    "Debian's python3-libtorrent and run with /usr/bin/python3"
                    % (lt, sys.executable))
        return 1

    def fire():
        sys.stdout.write("not ok - interop: suite finished within %d s (watchdog fired)\n"
                         % args.deadline)
        sys.stdout.flush()
        for dm in harness.ALL_DAEMONS:
            dm.kill()
        os._exit(1)
    wd = threading.Timer(args.deadline, fire)
    wd.daemon = True
    wd.start()
    sys.stderr.write("interop: libtorrent %s\n" % lt.__version__)
    t0 = time.time()
    for proto in ("http", "udp"):
        if args.only and proto not in args.only:
            continue
        try:
            run_swarm(runner, lt, swarmd, proto, args.same_process)
        except Exception:  # noqa: BLE001
            runner.fail(proto + ": suite ran to the end", traceback.format_exc())
        finally:
            for dm in harness.ALL_DAEMONS:
                dm.kill()
    if not args.only or "restart" in args.only:
        import restart  # restart.py: a swarm across a swarmd restart (state file)
        try:
            restart.run(runner, lt, swarmd, sys.modules[__name__])
        except Exception:  # noqa: BLE001
            runner.fail("restart: suite ran to the end", traceback.format_exc())
        finally:
            for dm in harness.ALL_DAEMONS:
                dm.kill()
    wd.cancel()
    sys.stderr.write("interop: %d passed, %d failed in %.1fs\n"
                     % (runner.passed, runner.failed, time.time() - t0))
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main())
