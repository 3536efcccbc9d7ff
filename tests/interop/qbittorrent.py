#!/usr/bin/python3
"""Interop (bonus): libtorrent seeder + qbittorrent-nox leecher over HTTP and UDP.

    /usr/bin/python3 tests/interop/qbittorrent.py --swarmd build/check/swarmd [--only ...]

qBittorrent uses libtorrent underneath, so this mainly proves the headless client's own
tracker settings. qbittorrent-nox runs from a fresh profile (legal notice accepted, DHT, LSD,
PeX, UPnP/NAT-PMP and uTP off, bound to 127.0.0.1, Web UI on a loopback port without
authentication for localhost) with the torrent given on its command line; the Web API
(/api/v2/torrents/info) reports its progress. The file must match (SHA-1) and swarmd must
count the download. If qbittorrent-nox is not installed the checks are skipped.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import common
from common import V4, Log, Procs, SeederProcess, sha1_file, wait_for
from harness import Daemon, Skip, TestFailure, check, http_scrape, scrape_counts

LIMIT = 60.0


def write_profile(profile, port, webui_port):
    conf_dir = os.path.join(profile, "qBittorrent", "config")
    os.makedirs(conf_dir)
    text = "\n".join([
        "[LegalNotice]", "Accepted=true", "",
        "[BitTorrent]",
        "Session\\DHTEnabled=false", "Session\\LSDEnabled=false", "Session\\PeXEnabled=false",
        "Session\\Port=%d" % port, "Session\\Interface=lo", "Session\\InterfaceName=lo",
        "Session\\InterfaceAddress=%s" % V4, "Session\\BTProtocol=TCP",
        "Session\\AnonymousModeEnabled=false", "Session\\QueueingSystemEnabled=false",
        "Session\\AddTrackersEnabled=false", "Session\\MultiConnectionsPerIp=true",
        "Session\\SSRFMitigation=false", "",
        "[Network]", "PortForwardingEnabled=false", "",
        "[Preferences]", "WebUI\\Enabled=true", "WebUI\\Address=%s" % V4,
        "WebUI\\Port=%d" % webui_port, "WebUI\\LocalHostAuth=false", "WebUI\\UseUPnP=false",
        "WebUI\\CSRFProtection=false", "WebUI\\HostHeaderValidation=false",
        "General\\StatusbarExternalIPDisplayed=false", ""])
    with open(os.path.join(conf_dir, "qBittorrent.conf"), "w") as f:
        f.write(text)


def api(webui_port, path):
    with urllib.request.urlopen("http://%s:%d%s" % (V4, webui_port, path), timeout=5) as r:
        return r.read()


def run(runner, swarmd, proto):
    pre = "libtorrent seeder + qbittorrent-nox leecher %s: " % proto
    if not shutil.which("qbittorrent-nox"):
        def skip():
            raise Skip("qbittorrent-nox is not installed (a bonus client)")
        runner.run(pre + "swarm completes", skip)
        return
    lt = common.import_libtorrent()
    d = Daemon(swarmd).start()
    log = Log()
    tmp = common.tmpdir("qbt-" + proto)
    seed_dir, leech_dir, profile = (os.path.join(tmp, n) for n in ("seed", "leech", "profile"))
    os.makedirs(seed_dir)
    os.makedirs(leech_dir)
    q_out = os.path.join(tmp, "qbittorrent.out")
    procs = Procs()
    st = {}

    def ctx():
        info = ""
        if "webui" in st:
            try:
                info = api(st["webui"], "/api/v2/torrents/info").decode("utf-8", "replace")
            except Exception as e:  # noqa: BLE001
                info = repr(e)
        return (d.context() + "\n  libtorrent seeder:\n" + log.tail(40) +
                "\n  qbittorrent-nox output:\n" + common.tail_file(q_out, 30) +
                "\n  qBittorrent log:\n" + common.tail_file(os.path.join(
                    profile, "qBittorrent", "data", "logs", "qbittorrent.log"), 30) +
                "\n  /api/v2/torrents/info: " + info[:2000])
    runner.context = ctx
    url = common.tracker_url(d, proto)

    def swarm():
        torrent = os.path.join(tmp, "payload.torrent")
        ti, digest = common.make_torrent(lt, seed_dir, url, torrent)
        ih = common.v1_hash_bytes(ti)
        sp, qp, wp = common.free_tcp_ports(3)
        st["webui"] = wp
        st["seeder"] = SeederProcess(torrent, seed_dir, V4, sp, log)
        if not st["seeder"].wait_ready(25):
            raise TestFailure("libtorrent seeder not seeding with a tracker reply after 25 s")
        write_profile(profile, qp, wp)
        t0 = time.time()
        with open(q_out, "wb") as out:
            procs.start(["qbittorrent-nox", "--profile=" + profile, "--webui-port=%d" % wp,
                         "--torrenting-port=%d" % qp, "--save-path=" + leech_dir,
                         "--skip-dialog=true", torrent], stdout=out, stderr=subprocess.STDOUT,
                        env=dict(os.environ, HOME=tmp))
        path = os.path.join(leech_dir, "payload.bin")

        def done():
            try:
                info = json.loads(api(wp, "/api/v2/torrents/info"))
            except Exception:  # noqa: BLE001
                return False
            return (len(info) == 1 and info[0].get("progress") == 1 and
                    os.path.exists(path) and sha1_file(path) == digest)
        check(wait_for(done, LIMIT, 0.3), "qBittorrent's copy not complete and equal to the "
              "original (SHA-1) after %.0f s" % LIMIT)
        sys.stderr.write("interop: %sdownload done in %.1f s\n" % (pre, time.time() - t0))
        prefs = json.loads(api(wp, "/api/v2/app/preferences"))
        for k in ("dht", "lsd", "pex", "upnp"):
            check(prefs.get(k) is False, "qBittorrent preference %s is %r, want false (peers "
                  "only from the tracker)" % (k, prefs.get(k)))
        check(wait_for(lambda: scrape_counts(http_scrape(d, [ih]), ih)[1] == 1, 15),
              "scrape %r: want downloaded 1" % (scrape_counts(http_scrape(d, [ih]), ih),))
    runner.run(pre + "swarm completes, SHA-1 matches, tracker counts it", swarm,
               timeout=LIMIT + 60)
    procs.stop_all(10)
    if "seeder" in st:
        st["seeder"].stop()
    runner.context = None
    d.stop_and_check(runner, pre + "swarmd exits 0 on SIGTERM")
    common.rmtree(tmp)


CHECKS = [("http", lambda r, s: run(r, s, "http")), ("udp", lambda r, s: run(r, s, "udp"))]

if __name__ == "__main__":
    sys.exit(common.main_for("qbittorrent", CHECKS, 250))
