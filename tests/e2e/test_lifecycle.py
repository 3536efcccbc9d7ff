"""Command line, config file, signals, peer expiry and configured limits."""

import os
import re
import signal
import socket
import subprocess
import tempfile
import time

from harness import (HAVE_V6, V4, Daemon, HttpConn, TestFailure, UdpClient, check,
                     eq, http_announce, http_get_bytes, http_request, http_scrape, peers_of,
                     rand_hash, scrape_counts, udp_bulk_announce, free_port, bulk_announce)

GOOD_CONFIG = """# swarmd e2e: a config file using every basic key
tracker.interval 1800
tracker.min_interval 900

tracker.numwant 50
tracker.max_numwant 200
tracker.peer_timeout 2700
tracker.fullscrape on
tracker.workers 2
listen.udp.workers 2
listen.tcp 127.0.0.1:16969
listen.udp 127.0.0.1:16969
"""


def run_cli(swarmd, args, timeout=5.0):
    """(returncode, stdout+stderr text); a process still running after timeout is a failure."""
    try:
        p = subprocess.run([swarmd] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure("`swarmd %s` still running after %.0fs" % (" ".join(args), timeout))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8",
                                                                             "replace")


def write_tmp(text):
    fd, path = tempfile.mkstemp(prefix="swarmd-e2e-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def run(runner, swarmd):
    def T(name, fn, timeout=15):
        runner.run("lifecycle: " + name, fn, timeout)

    # ---- command line ------------------------------------------------------------------------
    def help_():
        for flag in ("--help", "-h"):
            rc, out, err = run_cli(swarmd, [flag])
            eq(rc, 0, "exit status of %s" % flag)
            text = out + err
            check("-p" in text, "%s output does not mention -p: %r" % (flag, text[:500]))
            check("--peer-timeout" in text, "%s does not mention --peer-timeout" % flag)
    T("--help and -h exit 0 and describe -p", help_)

    def version():
        rc, out, err = run_cli(swarmd, ["--version"])
        eq(rc, 0, "exit status")
        check((out + err).strip(), "--version printed nothing")
        check(re.search(r"\d+\.\d+", out + err), "--version has no version number: %r"
              % (out + err))
    T("--version exits 0", version)

    def unknown_flag():
        for flag in ("--no-such-flag", "-Z"):
            rc, out, err = run_cli(swarmd, [flag])
            check(rc != 0, "%s exited 0" % flag)
            check(flag in (out + err), "message does not name %s: %r" % (flag, (out + err)[:300]))
    T("an unknown flag exits non-zero naming it", unknown_flag)

    def bad_values():
        for args, name in ((["-p", "abc"], "-p"), (["-p", "70000"], "-p"),
                           (["-P", "x"], "-P"), (["--peer-timeout", "abc"], "--peer-timeout"),
                           (["-t", "-3"], "-t"), (["-i", "not-an-address"], "-i"),
                           (["-p"], "-p")):
            rc, out, err = run_cli(swarmd, args)
            check(rc != 0, "`swarmd %s` exited 0" % " ".join(args))
            check(name in (out + err) or args[-1] in (out + err),
                  "`swarmd %s`: message names neither flag nor value: %r"
                  % (" ".join(args), (out + err)[:300]))
    T("bad flag values exit non-zero with a message", bad_values)

    def check_config_good():
        path = write_tmp(GOOD_CONFIG)
        try:
            rc, out, err = run_cli(swarmd, ["--check-config", "-f", path])
            eq(rc, 0, "--check-config of a good file (output %r)" % (out + err)[:300])
            rc, out, err = run_cli(swarmd, ["-f", path, "--check-config"])
            eq(rc, 0, "--check-config after -f")
        finally:
            os.unlink(path)
    T("--check-config with a good file exits 0", check_config_good)

    bad_configs = [
        ("unknown key", "# comment\ntracker.interval 1800\nno.such.key 1\n", 3),
        ("bad value", "tracker.numwant 50\ntracker.interval abc\n", 2),
        ("negative number", "\n\n\n\ntracker.numwant -5\n", 5),
        ("bad on/off", "tracker.fullscrape maybe\n", 1),
        ("bad listen address", "# a\nlisten.tcp 999.1.1.1:80\n", 2),
    ]
    for name, text, line in bad_configs:
        def t(text=text, line=line):
            path = write_tmp(text)
            try:
                rc, out, err = run_cli(swarmd, ["--check-config", "-f", path])
                msg = out + err
                check(rc != 0, "--check-config exited 0 for %r" % text)
                check(re.search(r"(:%d\b|line %d\b)" % (line, line), msg),
                      "message does not give line %d: %r" % (line, msg[:300]))
                # Starting with it must fail too, never run with a half-read config.
                rc, out, err = run_cli(swarmd, [
                    "-i", V4, "-p", str(free_port(socket.SOCK_STREAM, [V4])),
                    "-P", str(free_port(socket.SOCK_DGRAM, [V4])), "-f", path])
                check(rc != 0, "swarmd started with a bad config")
            finally:
                os.unlink(path)
        T("--check-config with a bad file (%s) names line %d" % (name, line), t)

    def missing_config():
        path = "/nonexistent/swarmd-e2e.conf"
        rc, out, err = run_cli(swarmd, ["--check-config", "-f", path])
        check(rc != 0, "missing config file accepted")
        check(path in out + err, "message does not name the file: %r" % (out + err)[:300])
    T("a missing config file is an error naming it", missing_config)

    def port_in_use():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((V4, 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            rc, out, err = run_cli(swarmd, ["-i", V4, "-p", str(port), "-P",
                                            str(free_port(socket.SOCK_DGRAM, [V4]))], 5.0)
            check(rc != 0, "swarmd exited 0 although its HTTP port was taken")
            check((out + err).strip(), "no message when the port is taken")
        finally:
            s.close()
    T("a taken port stops start-up with an error", port_in_use)

    # ---- signals -----------------------------------------------------------------------------
    def signal_test(sig):
        def t():
            d = Daemon(swarmd).start()
            conns = []
            try:
                h = rand_hash()
                http_announce(d, h, 7001)
                u = UdpClient(d, V4)
                u.announce(h, 7002)
                u.close()
                http_request(d, "/scrape")  # (a full scrape in flight or cached)
                c1 = HttpConn(d)            # an idle keep-alive connection
                c1.send(http_get_bytes("/scrape?info_hash=" + "a" * 20))
                c1.read_response()
                c2 = HttpConn(d)            # a connection stuck mid-head
                c2.send(b"GET /announce?info")
                conns = [c1, c2]
                time.sleep(0.1)
                rc, elapsed = d.stop(sig, 2.5)
                if rc is None:
                    raise TestFailure("no exit within 2.5 s of %s" % sig.name)
                if rc != 0:
                    raise TestFailure("exit status %r after %s\n%s"
                                      % (rc, sig.name, d.stderr_text()))
            finally:
                for c in conns:
                    c.close()
                d.kill()
        return t
    T("SIGTERM with open connections: exit 0 within 2 s", signal_test(signal.SIGTERM))
    T("SIGINT with open connections: exit 0 within 2 s", signal_test(signal.SIGINT))

    # ---- expiry ------------------------------------------------------------------------------
    def expiry(d):
        h, k = rand_hash(), rand_hash()
        http_announce(d, h, 7101, left=10, event="started")
        http_announce(d, h, 7101, left=0, event="completed")
        u = UdpClient(d, V4)
        try:
            u.announce(h, 7102)
            t0 = time.time()
            http_announce(d, k, 7103)
            time.sleep(0.8)
            eq(scrape_counts(http_scrape(d, [h]), h)[::2], (1, 1), "counts before the timeout")
            # k keeps announcing; h's peers go quiet.
            gone_at = None
            while time.time() - t0 < 8:
                http_announce(d, k, 7103)
                c = scrape_counts(http_scrape(d, [h]), h)
                if c[0] == 0 and c[2] == 0:
                    gone_at = time.time() - t0
                    break
                time.sleep(0.5)
            check(gone_at is not None, "peers still present 8 s after their last announce "
                  "with --peer-timeout 2")
            check(gone_at >= 1.5, "peers expired after only %.1fs (timeout 2 s)" % gone_at)
            files = http_scrape(d, [h])
            eq(scrape_counts(files, h), (0, 1, 0),
               "a torrent with a completed download keeps its count after its peers expire")
            r = http_announce(d, h, 7104)
            eq((r[b"complete"], r[b"incomplete"], peers_of(r)), (0, 1, []),
               "a new announcer after expiry")
            r = u.announce(h, 7105)
            eq(r["peers"], [(V4, 7104)], "UDP announcer after expiry")
            r = http_announce(d, k, 7106)
            eq(peers_of(r), [(V4, 7103)], "a peer announcing every half second is kept")
        finally:
            u.close()

    try:
        de = Daemon(swarmd, args=["--peer-timeout", "2"]).start()
    except Exception as e:  # noqa: BLE001
        def fail_start(e=e):
            raise TestFailure("daemon with --peer-timeout 2 did not start: %s" % e)
        T("expiry: --peer-timeout 2 drops silent peers within a few seconds", fail_start)
    else:
        runner.context = de.context
        T("expiry: --peer-timeout 2 drops silent peers within a few seconds",
          lambda: expiry(de), timeout=30)
        de.stop_and_check(runner, "lifecycle: expiry daemon exits 0 on SIGTERM")
        runner.context = None

    # ---- a daemon with configured limits ---------------------------------------------------
    config = ("tracker.interval 600\ntracker.min_interval 300\ntracker.max_numwant 1000\n"
              "http.idle_timeout 2\ntracker.fullscrape off\nhttp.max_connections 50\n"
              "http.head_max 1024\n")
    try:
        d = Daemon(swarmd, args=["-t", "3"], config_text=config).start()
    except Exception as e:  # noqa: BLE001
        def fail(e=e):
            raise TestFailure("daemon with -f config did not start: %s" % e)
        T("daemon starts with a config file and -t 3", fail)
        return
    runner.context = d.context

    def cfg_intervals():
        r = http_announce(d, rand_hash(), 7201)
        eq(r[b"min interval"], 300, "min interval from tracker.min_interval")
        check(500 <= r[b"interval"] <= 700, "interval %d, want ~600" % r[b"interval"])
        u = UdpClient(d, V4)
        try:
            r = u.announce(rand_hash(), 7202)
            check(500 <= r["interval"] <= 700, "UDP interval %d, want ~600" % r["interval"])
        finally:
            u.close()
    T("config: tracker.interval / tracker.min_interval", cfg_intervals)

    def cfg_numwant():
        h = rand_hash()
        udp_bulk_announce(d, h, range(40000, 40300))
        u = UdpClient(d, V4)
        try:
            r = u.announce(h, 41000, num_want=1000)
            eq(len(r["peers"]), 242, "UDP v4 peers with num_want 1000 (packet cap 242)")
            eq(len(r["raw"]), 20 + 6 * 242, "UDP v4 reply size")
        finally:
            u.close()
        r = http_announce(d, h, 41001, numwant=1000)
        eq(len(peers_of(r)), 301, "HTTP peers with numwant=1000 and max_numwant 1000")
        r = http_announce(d, h, 41001, numwant=5000)
        eq(len(peers_of(r)), 301, "HTTP peers with numwant=5000")
        r = http_announce(d, h, 41001)
        eq(len(peers_of(r)), 50, "HTTP peers with the default numwant")
        if HAVE_V6:
            h6 = rand_hash()
            udp_bulk_announce(d, h6, range(42000, 42100), host="::1")
            w = UdpClient(d, "::1")
            try:
                r = w.announce(h6, 43000, num_want=1000)
                eq(len(r["peers"]), 67, "UDP v6 peers with num_want 1000")
            finally:
                w.close()
    T("config: max_numwant 1000 -> UDP capped at 242 (v4) / 67 (v6)", cfg_numwant, timeout=40)

    def cfg_idle():
        c1 = HttpConn(d)
        c2 = HttpConn(d)
        c3 = HttpConn(d)
        try:
            c2.send(b"GET /announce?info_hash=")
            c3.send(http_get_bytes("/scrape?info_hash=" + "b" * 20))
            c3.read_response()
            t0 = time.time()
            for name, c in (("idle", c1), ("mid-head", c2), ("keep-alive after a reply", c3)):
                left = max(0.1, 6.0 - (time.time() - t0))
                check(c.wait_closed(left), "%s connection open %.1fs after start with "
                      "http.idle_timeout 2" % (name, time.time() - t0))
            check(time.time() - t0 >= 1.0, "idle connections closed too early")
            bulk_announce(d, rand_hash(), [7301, 7302])
        finally:
            for c in (c1, c2, c3):
                c.close()
    T("config: http.idle_timeout 2 closes idle and stuck connections", cfg_idle)

    def cfg_fullscrape_off():
        http_announce(d, rand_hash(), 7401)
        resp = http_request(d, "/scrape")
        if resp.status == 200:
            check(resp.body.startswith(b"d14:failure reason"),
                  "full scrape with tracker.fullscrape off: %r" % resp.body[:200])
        else:
            check(400 <= resp.status < 500, "status %d" % resp.status)
        files = http_scrape(d, [rand_hash()])
        check(isinstance(files, dict), "single-hash scrape still works")
    T("config: tracker.fullscrape off refuses /scrape without info_hash", cfg_fullscrape_off)

    def cfg_head_max():
        c = HttpConn(d)
        try:
            c.send(http_get_bytes("/announce?info_hash=x", headers=["X-Pad: " + "p" * 1500]))
            resp = c.read_response()
            check(resp.status in (431, 400), "status %d for a 1.5 KiB head with "
                  "http.head_max 1024" % resp.status)
            check(c.wait_closed(2.0), "connection not closed")
        finally:
            c.close()
        http_announce(d, rand_hash(), 7501)
    T("config: http.head_max 1024 refuses a 1.5 KiB head", cfg_head_max)

    def cfg_max_conns():
        socks = []
        try:
            for _ in range(200):
                s = socket.create_connection((V4, d.http_port), timeout=5)
                socks.append(s)
            time.sleep(0.5)
            closed = 0
            for s in socks:
                s.settimeout(0.01)
                try:
                    if s.recv(1) == b"":
                        closed += 1
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    closed += 1
            check(closed > 0, "200 connections with http.max_connections 50: none closed")
            check(closed < 200, "every connection was closed")
        finally:
            for s in socks:
                s.close()
        time.sleep(0.2)
        http_announce(d, rand_hash(), 7502)
        bulk_announce(d, rand_hash(), range(7503, 7520))
    T("config: http.max_connections 50 closes extra connections, then serves again",
      cfg_max_conns)

    d.stop_and_check(runner, "lifecycle: configured daemon exits 0 on SIGTERM")
    runner.context = None
