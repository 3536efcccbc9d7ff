"""/stats (opentracker's modes, compared with golden replies of Debian's opentracker),
/metrics (checked with promtool), /stats.json, and who may read them (access.stats, -A,
access.stats_path)."""

import os
import re
import shutil
import subprocess
import sys
import time

from harness import (V4, V6, Daemon, TestFailure, check, eq, http_announce, http_request,
                     rand_hash)

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "golden", "opentracker")
sys.path.insert(0, GOLDEN)
import capture  # noqa: E402

TEXT_MODES = ["peer", "torr", "conn", "scrp", "udp4", "tcp4", "fscr", "completed", "herr",
              "renew", "top10", "top100", "everything"]


def golden(name):
    with open(os.path.join(GOLDEN, name + ".txt"), "rb") as f:
        data = f.read()
    # These three were captured with their HTTP status on a first line of their own.
    if name in ("default", "unknown", "tpbs_noformat"):
        data = data.split(b"\n", 1)[1]
    return data


def shape(body):
    """The layout with numbers and the program name taken out (see README: Statistics)."""
    text = body.decode("utf-8", "replace").replace("swarmd", "opentracker")
    # The version block lists opentracker's source files; swarmd has one line there.
    text = re.sub(r"<version>\n.*?\n  </version>", "<version>VERSION</version>", text,
                  flags=re.S)
    return re.sub(r"\d+", "N", text)


def get(d, target, host=V4, headers=()):
    resp = http_request(d, target, host=host, headers=headers)
    return resp


def run(runner, swarmd):
    # tpbs format=ben is the full scrape, cached: a short cache lets it see the whole traffic.
    d = Daemon(swarmd, args=["-o", "tracker.fullscrape_cache=1"]).start()
    runner.context = d.context

    def T(name, fn, timeout=20):
        runner.run("stats: " + name, fn, timeout)

    def traffic():
        capture.traffic(V4, d.http_port, d.udp_port)
    T("replay the golden files' traffic", traffic)

    for mode in TEXT_MODES:
        def one(mode=mode):
            resp = get(d, "/stats?mode=" + mode)
            eq(resp.status, 200, "status of mode=" + mode)
            eq(shape(resp.body), shape(golden(mode)), "layout of mode=" + mode)
        T("mode=%s has opentracker's layout" % mode, one)

    def default_mode():
        eq(shape(get(d, "/stats").body), shape(golden("default")), "layout without mode")
        eq(get(d, "/stats").body, get(d, "/stats?mode=peer").body, "no mode is mode=peer")
    T("no mode is the peer mode", default_mode)

    def counts():
        # Same traffic, same swarms: the numbers that do not depend on timing agree too.
        for mode in ["peer", "torr", "top10", "top100"]:
            eq(get(d, "/stats?mode=" + mode).body.replace(b"swarmd", b"opentracker"),
               golden(mode), "mode=%s equals opentracker's" % mode)
    T("peer, torr, top10, top100 equal opentracker's for the same traffic", counts)

    def version():
        body = get(d, "/stats?mode=version").body
        check(re.fullmatch(rb"swarmd \d+\.\d+\.\d+\n", body), "version: %r" % body)
    T("mode=version names swarmd's version", version)

    for fmt in ["bin", "url", "txt", "txtp", "ben"]:
        def tpbs(fmt=fmt):
            if fmt == "ben":
                time.sleep(1.1)  # the traffic's own full scrape is cached for 1 s
            resp = get(d, "/stats?mode=tpbs&format=" + fmt)
            eq(resp.status, 200, "status")
            eq(resp.body, golden("tpbs_" + fmt), "tpbs format=%s equals opentracker's" % fmt)
        T("mode=tpbs&format=%s equals opentracker's (gunzipped)" % fmt, tpbs)

    def tpbs_gzip():
        time.sleep(1.1)
        import gzip
        resp = get(d, "/stats?mode=tpbs&format=ben", headers=["Accept-Encoding: gzip"])
        eq(resp.header("content-encoding"), "gzip", "Content-Encoding")
        eq(gzip.decompress(resp.body), golden("tpbs_ben"), "gunzipped body")
    T("mode=tpbs&format=ben is gzip when the client accepts it", tpbs_gzip)

    def bad_requests():
        t0 = time.time()
        for target in ["/stats?mode=tpbs", "/stats?mode=nosuch", "/stats?mode=tpbs&format=x"]:
            resp = get(d, target)
            eq(resp.status, 400, "status of " + target)
            check(0 < len(resp.body) < 200, "short message for %s: %r" % (target, resp.body))
        check(time.time() - t0 < 3, "400s took %.1f s" % (time.time() - t0))
    T("tpbs without format and unknown modes get 400 at once", bad_requests)

    def metrics_promtool():
        resp = get(d, "/metrics")
        eq(resp.status, 200, "status")
        check((resp.header("content-type") or "").startswith("text/plain; version=0.0.4"),
              "Content-Type %r" % resp.header("content-type"))
        promtool = shutil.which("promtool")
        if not promtool:
            raise TestFailure("promtool not installed (Debian package prometheus; "
                              "tests/deps.sh installs it)")
        p = subprocess.run([promtool, "check", "metrics"], input=resp.body,
                           capture_output=True, timeout=20)
        eq(p.returncode, 0, "promtool check metrics exit status (%s)"
           % (p.stdout + p.stderr).decode("utf-8", "replace").strip())
    T("/metrics passes promtool check metrics", metrics_promtool, timeout=30)

    def metrics_values():
        text = get(d, "/metrics").body.decode()
        vals = dict(re.findall(r"^(\S+) (\d+)$", text, re.M))
        eq(vals.get("swarmd_torrents"), "3", "swarmd_torrents")
        eq(vals.get('swarmd_peers{family="ipv4"}'), "7", "IPv4 peers")
        eq(vals.get('swarmd_swarm_peers{role="seeder"}'), "5", "seeders")
        eq(vals.get("swarmd_completed_total"), "1", "completed")
        eq(vals.get('swarmd_requests_total{proto="udp",kind="announce"}'), "1", "UDP announces")
        eq(vals.get('swarmd_requests_total{proto="http",kind="announce"}'), "7",
           "HTTP announces")
        check(int(vals.get("swarmd_http_connections_open", "0")) >= 1, "open connections")
        per_worker = sum(int(v) for k, v in vals.items()
                         if k.startswith("swarmd_worker_events_total{")
                         and 'counter="http_announce"' in k)
        eq(per_worker, 7, "per-worker http_announce summed")
    T("/metrics values match the traffic", metrics_values)

    def json_values():
        import json
        j = json.loads(get(d, "/stats.json").body)
        for k, v in [("torrents", 3), ("peers", 7), ("seeders", 5), ("leechers", 2),
                     ("completed", 1), ("peers_ipv6", 0)]:
            eq(j[k], v, "stats.json " + k)
        eq(j["top"][0]["hash"], capture.hashes()[2].hex(), "largest swarm first")
    T("/stats.json values match the traffic", json_values)

    def denied_other_paths():
        for target in ["/stats", "/metrics", "/stats.json", "/dashboard"]:
            eq(get(d, target).status, 200, "loopback may read " + target)
    T("loopback may read every statistics page by default", denied_other_paths)

    d.stop_and_check(runner, "stats: daemon exits 0 on SIGTERM")

    # The full scrape's build count: one build serves every request within the cache time.
    d5 = Daemon(swarmd, args=["-o", "tracker.fullscrape_cache=3"]).start()
    runner.context = d5.context

    def builds():
        text = get(d5, "/metrics").body.decode()
        m = re.search(r"^swarmd_fullscrape_builds_total (\d+)$", text, re.M)
        check(m, "no swarmd_fullscrape_builds_total sample in /metrics")
        check("# TYPE swarmd_fullscrape_builds_total counter" in text, "TYPE line")
        return int(m.group(1))

    def fullscrape_builds():
        eq(builds(), 0, "builds before any full scrape")
        http_announce(d5, rand_hash(), 6881)
        t0 = time.time()
        for _ in range(3):
            eq(http_request(d5, "/scrape").status, 200, "full scrape status")
        check(time.time() - t0 < 1.5, "three full scrapes took %.1f s" % (time.time() - t0))
        eq(builds(), 1, "builds after three full scrapes within the 3 s cache time")
        time.sleep(3.2)
        eq(http_request(d5, "/scrape").status, 200, "full scrape status")
        eq(builds(), 2, "builds after the cache expired")
        resp = get(d5, "/metrics")
        p = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"],
                           input=resp.body, capture_output=True, timeout=20)
        eq(p.returncode, 0, "promtool check metrics exit status (%s)"
           % (p.stdout + p.stderr).decode("utf-8", "replace").strip())
    T("/metrics swarmd_fullscrape_builds_total counts builds, not cached replies",
      fullscrape_builds)
    d5.stop_and_check(runner, "stats: daemon with tracker.fullscrape_cache 3 exits 0")

    # Access: another network only, then a changed path.
    d2 = Daemon(swarmd, args=["-A", "10.0.0.0/8", "-o", "access.stats_path=/st"]).start()
    runner.context = d2.context

    def denied():
        for target in ["/st", "/metrics", "/stats.json", "/dashboard"]:
            eq(get(d2, target).status, 403, "loopback outside -A 10.0.0.0/8: " + target)
        eq(get(d2, "/stats").status, 404, "/stats after access.stats_path=/st")
    T("-A replaces the loopback default; others get 403", denied)
    d2.stop_and_check(runner, "stats: daemon with -A exits 0")

    # Behind a trusted proxy on loopback, the client the proxy names is judged, not loopback.
    d4 = Daemon(swarmd, args=["-o", "access.proxy=127.0.0.1"]).start()
    runner.context = d4.context

    def via_proxy():
        eq(http_request(d4, "/stats", headers=["X-Forwarded-For: 192.0.2.7"]).status, 403,
           "outside client through the proxy")
        eq(http_request(d4, "/stats", headers=["X-Forwarded-For: 127.0.0.1"]).status, 200,
           "loopback client through the proxy")
        eq(http_request(d4, "/stats").status, 403, "the proxy naming no client")
    T("through access.proxy the forwarded client is judged", via_proxy)
    d4.stop_and_check(runner, "stats: daemon with access.proxy exits 0")

    if d.v6:
        d3 = Daemon(swarmd, config_text="access.stats ::1\naccess.stats 192.0.2.0/24\n").start()
        runner.context = d3.context

        def by_family():
            eq(get(d3, "/stats", host=V6).status, 200, "::1 listed")
            eq(get(d3, "/stats", host=V4).status, 403, "127.0.0.1 not listed")
        T("access.stats lines in the config file", by_family)
        d3.stop_and_check(runner, "stats: daemon with access.stats exits 0")
    runner.context = None
