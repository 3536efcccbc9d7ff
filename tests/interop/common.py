"""Shared pieces of the interop suites (tests/interop/*.py), run with /usr/bin/python3.

- libtorrent sessions set up for loopback swarms that learn peers only from the tracker:
  DHT, LSD, UPnP, NAT-PMP and uTP off, no default plugins (so no ut_pex), several
  connections per IP allowed, ssrf_mitigation off (a loopback tracker may use any path).
- make_torrent(): a random payload and a v1 .torrent announcing to one URL.
- SeederProcess: a libtorrent seeder in its own process (libtorrent keeps one UDP
  connection-ID cache per process, keyed by tracker address, so a second session in the same
  process would announce with the first one's connection ID from another source port). It is
  rate-capped so the leecher's peer list can be sampled, and re-announces on request (for
  clients such as Transmission that never dial a loopback peer: the seeder dials them).
- Procs: subprocesses of a check, killed by pid at the end; Tmp: a temp dir removed at the end.
- main_for(): the command line and watchdog shared by every suite file.
"""

import argparse
import hashlib
import os
import random
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
from harness import V4, V6, Runner, free_port  # noqa: E402,F401

PAYLOAD_SIZE = 4 * 1024 * 1024
# The libtorrent seeder's upload limit: the 4 MiB take ~2 s, long enough to sample the
# leecher's peers (unlimited, the download ends between two samples over loopback).
SEED_RATE = 2 * 1024 * 1024


def import_libtorrent():
    try:
        import libtorrent as lt  # noqa: F401
        return lt
    except Exception as e:  # noqa: BLE001
        return e


def v6_missing(runner, host, name):
    """True (after reporting name as skipped) when host is ::1 and this machine has none."""
    if host != V6 or harness.HAVE_V6:
        return False

    def no_v6():
        raise harness.Skip("::1 not available on this machine")
    runner.run(name, no_v6)
    return True


def url_host(host):
    return "[%s]" % host if ":" in host else host


def tracker_url(d, proto, host=V4):
    if proto in ("http", "ws"):
        return "%s://%s:%d/announce" % (proto, url_host(host), d.http_port)
    return "udp://%s:%d/announce" % (url_host(host), d.udp_port)


# Client listening ports come from a range of their own per suite, below the kernel's
# ephemeral range (32768+ by default): suites run concurrently, and a port found free by
# binding port 0 can be taken a moment later as the source port of some outgoing connection.
SUITE_PORT_BASE = {"libtorrent": 20000, "aria2": 23000, "transmission": 26000,
                   "webtorrent": 29000, "qbittorrent": 17000}
_port_base = [None]


def _bindable(host, port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(harness.family_of(host), kind)
        try:
            s.bind((host, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_tcp_ports(n, host=V4):
    """n distinct ports free for TCP and UDP on host, from this suite's range if it has one."""
    ports = set()
    base = _port_base[0]
    tries = 0
    while len(ports) < n:
        tries += 1
        if base is not None and tries < 2000:
            p = base + random.randrange(3000)
        else:
            p = free_port(socket.SOCK_STREAM, [host])
        if p not in ports and _bindable(host, p):
            ports.add(p)
    return sorted(ports)


class Log:
    """Time-stamped lines from every client of a check, printed when a test fails."""

    def __init__(self):
        self.lines = []
        self.t0 = time.time()
        self.lock = threading.Lock()

    def add(self, who, text):
        with self.lock:
            self.lines.append("%6.2f %s: %s" % (time.time() - self.t0, who, text))

    def tail(self, n=80):
        with self.lock:
            return "\n".join("    " + ln for ln in self.lines[-n:])


def make_session(lt, host, port):
    settings = {
        "listen_interfaces": "%s:%d" % (url_host(host), port),
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


def drain_alerts(ses, who, log, events, keep=None):
    for a in ses.pop_alerts():
        name = type(a).__name__
        try:
            msg = a.message()
        except Exception:  # noqa: BLE001
            msg = ""
        if name in LOGGED_ALERTS:
            log.add(who, "%s: %s" % (name, msg))
        events[name] = events.get(name, 0) + 1
        if keep is not None and name in keep:
            keep[name].append(a)


def sha1_file(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_payload(path, size=PAYLOAD_SIZE):
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return sha1_file(path)


def make_torrent(lt, seed_dir, url, torrent_path):
    """Random 4 MiB payload.bin in seed_dir and a v1 torrent for it; (torrent_info, SHA-1)."""
    path = os.path.join(seed_dir, "payload.bin")
    digest = write_payload(path)
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
    with open(torrent_path, "wb") as f:
        f.write(data)
    return lt.torrent_info(lt.bdecode(data)), digest


def v1_hash_bytes(ti):
    try:
        return ti.info_hashes().v1.to_bytes()
    except AttributeError:
        return ti.info_hash().to_bytes()


def info_hash_of(torrent_path):
    """v1 info hash of a .torrent file, without libtorrent (bencode from the e2e harness)."""
    with open(torrent_path, "rb") as f:
        data = f.read()
    # The info dict's exact bytes: find "4:info" at the top level and decode from there.
    i = data.index(b"4:infod") + 6
    _, end = harness._bdec(data, i)
    return hashlib.sha1(data[i:end]).digest()


def seeder_child(torrent_path, save_path, host, port):
    """Child process: seed one torrent; stdin lines: "reannounce"; EOF stops (event=stopped)."""
    lt = import_libtorrent()
    ses = make_session(lt, host, port)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent_path)
    atp.save_path = save_path
    h = ses.add_torrent(atp)
    h.set_upload_limit(SEED_RATE)  # slow enough to watch the leecher's peer list
    out = sys.stdout
    lock = threading.Lock()
    ready = False
    replies = 0
    commands = []
    stdin_closed = threading.Event()

    def watch_stdin():
        for line in sys.stdin:
            with lock:
                commands.append(line.strip())
        stdin_closed.set()
    threading.Thread(target=watch_stdin, daemon=True).start()

    def pump():
        nonlocal replies
        for a in ses.pop_alerts():
            name = type(a).__name__
            if name == "tracker_reply_alert":
                replies += 1
                out.write("REPLY %d\n" % replies)
            if name in LOGGED_ALERTS:
                out.write("ALERT %s: %s\n" % (name, a.message()))
        out.flush()

    while not stdin_closed.is_set():
        pump()
        with lock:
            todo, commands[:] = list(commands), []
        for c in todo:
            if c == "reannounce":
                # swarmd's "min interval" is 15 minutes; a test may re-announce sooner.
                h.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
                out.write("INFO force_reannounce\n")
        if not ready and replies and h.status().is_seeding:
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
    """A libtorrent seeder in its own process (see seeder_child)."""

    def __init__(self, torrent_path, save_path, host, port, log):
        self.log = log
        self.ready = threading.Event()
        self.done = threading.Event()
        self.replies = 0
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "common.py"), "--seeder-child", torrent_path,
             save_path, host, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if line == "READY":
                self.ready.set()
            elif line == "DONE":
                self.done.set()
            elif line.startswith("REPLY "):
                self.replies = int(line[6:])
                continue
            self.log.add("lt-seed", line[6:] if line.startswith("ALERT ") else line)
        self.done.set()

    def wait_ready(self, limit):
        return self.ready.wait(limit)

    def reannounce(self):
        """Ask for a fresh announce; returns the reply count to wait past."""
        n = self.replies
        try:
            self.proc.stdin.write(b"reannounce\n")
            self.proc.stdin.flush()
        except OSError:
            pass
        return n

    def wait_reply_after(self, n, limit):
        end = time.time() + limit
        while time.time() < end:
            if self.replies > n:
                return True
            time.sleep(0.05)
        return False

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


class Procs:
    """Subprocesses started by one check; stop_all() kills each by its own pid."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(cmd, **kw)
        self.procs.append(p)
        return p

    def stop_all(self, grace=5.0):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        end = time.time() + grace
        for p in self.procs:
            try:
                p.wait(max(0.1, end - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def tail_file(path, n=40):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return "    (%s)" % e
    return "\n".join("    " + ln for ln in lines[-n:])


def wait_for(cond, limit, step=0.1):
    end = time.time() + limit
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


def main_for(suite, checks, default_deadline):
    """Command line shared by the suite files:
        /usr/bin/python3 tests/interop/SUITE.py --swarmd PATH [--only CHECK ...] [--deadline S]
    `checks` is a list of (name, fn(runner, swarmd)); each runs in turn. A watchdog ends the
    process (killing every daemon it started) if the suite outlives the deadline."""
    if len(sys.argv) >= 2 and sys.argv[1] == "--seeder-child":
        return seeder_child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    ap = argparse.ArgumentParser(description="swarmd interop: " + suite)
    ap.add_argument("--swarmd", required=True)
    ap.add_argument("--only", action="append", choices=[n for n, _ in checks])
    ap.add_argument("--deadline", type=int, default=default_deadline)
    args = ap.parse_args()
    swarmd = os.path.abspath(args.swarmd)
    _port_base[0] = SUITE_PORT_BASE.get(suite)
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            if int(f.read().split()[0]) < 32000:
                _port_base[0] = None  # the ranges would overlap the ephemeral ports
    except (OSError, ValueError, IndexError):
        pass
    runner = Runner("interop")
    if not (os.path.isfile(swarmd) and os.access(swarmd, os.X_OK)):
        runner.fail(suite + ": swarmd binary exists", "no executable at %s" % swarmd)
        return 1

    def fire():
        sys.stdout.write("not ok - interop: %s: suite finished within %d s (watchdog fired)\n"
                         % (suite, args.deadline))
        sys.stdout.flush()
        for dm in harness.ALL_DAEMONS:
            dm.kill()
        os._exit(1)
    wd = threading.Timer(args.deadline, fire)
    wd.daemon = True
    wd.start()
    t0 = time.time()
    for name, fn in checks:
        if args.only and name not in args.only:
            continue
        t1 = time.time()
        try:
            fn(runner, swarmd)
        except Exception:  # noqa: BLE001
            runner.fail(name + ": check ran to the end", traceback.format_exc())
        finally:
            for dm in harness.ALL_DAEMONS:
                dm.kill()
        sys.stderr.write("interop: %s: %s took %.1f s\n" % (suite, name, time.time() - t1))
    wd.cancel()
    sys.stderr.write("interop: %s: %d passed, %d failed in %.1f s\n"
                     % (suite, runner.passed, runner.failed, time.time() - t0))
    return 1 if runner.failed else 0


_npm_done = {}


def npm_ci(folder, marker, timeout=240):
    """`npm ci --ignore-scripts` in folder (pinned by its package-lock.json) unless the file
    marker already exists; once per process. Returns None or an error text. Install scripts
    are skipped: the suites use pure JavaScript or prebuilt bundles, never native builds."""
    if folder in _npm_done:
        return _npm_done[folder]
    res = None
    if os.path.isfile(marker):
        pass
    elif not shutil.which("node") or not shutil.which("npm"):
        res = "node and npm are needed (tests/deps.sh installs them)"
    else:
        try:
            r = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund",
                                "--loglevel=error"], cwd=folder, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
            if r.returncode != 0:
                res = "npm ci in %s failed (%d):\n%s" % (folder, r.returncode,
                                                          r.stdout.decode("utf-8", "replace"))
            elif not os.path.isfile(marker):
                res = "npm ci in %s did not install %s" % (folder, marker)
        except subprocess.TimeoutExpired:
            res = "npm ci in %s did not finish within %d s" % (folder, timeout)
    _npm_done[folder] = res
    return res


def tmpdir(tag):
    return tempfile.mkdtemp(prefix="swarmd-interop-%s-" % tag)


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--seeder-child":
        sys.exit(seeder_child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
    sys.exit("common.py is a library; run tests/interop/run.py")
