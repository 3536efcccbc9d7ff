"""Logging: a cap hit is logged once per minute however often it happens; -q keeps only
warnings; -v adds debugging detail (each periodic state-file save); log.syslog on starts
(lines still go to stderr)."""

import os
import shutil
import socket
import tempfile
import time

from harness import V4, Daemon, check, eq


def run(runner, swarmd):
    def T(name, fn, timeout=20):
        runner.run("logging: " + name, fn, timeout)

    d = Daemon(swarmd, args=["-t", "1", "-q", "-o", "http.max_connections=1",
                             "-o", "log.syslog=on"]).start()
    runner.context = d.context

    def cap_once():
        # The start-up probe's connection may still count for a moment: wait it out.
        time.sleep(0.3)
        keep = socket.create_connection((V4, d.http_port), timeout=2)
        time.sleep(0.3)
        refused = 0
        for _ in range(20):
            s = socket.create_connection((V4, d.http_port), timeout=2)
            s.settimeout(1)
            try:
                refused += s.recv(1) == b""
            except ConnectionResetError:
                refused += 1
            except socket.timeout:
                pass
            s.close()
        keep.close()
        check(refused >= 15, "only %d of 20 connections over the cap were closed" % refused)
        time.sleep(0.2)
        lines = [ln for ln in d.stderr_text().splitlines() if "connection cap reached" in ln]
        eq(len(lines), 1, "cap lines in stderr (%r)" % lines)
    T("20 refused connections give one log line", cap_once)

    def quiet():
        text = d.stderr_text()
        check("starting" not in text and "listening on" not in text,
              "-q still logs start-up information:\n" + text)
    T("-q leaves out start-up information", quiet)

    d.stop_and_check(runner, "logging: daemon exits 0 on SIGTERM")
    runner.context = None

    # -v: debug lines, e.g. "state saved" after each periodic snapshot; without it, none.
    tmp = tempfile.mkdtemp(prefix="swarmd-logging-")
    try:
        for verbose in (True, False):
            conf = ("tracker.statefile %s\ntracker.snapshot_interval 1\n"
                    % os.path.join(tmp, "state-%d" % verbose))
            v = Daemon(swarmd, ["-t", "1"] + (["-v"] if verbose else []),
                       config_text=conf).start()
            runner.context = v.context

            def saves(v=v, verbose=verbose):
                time.sleep(2.5)  # two periodic snapshots
                n = v.stderr_text().count("state saved:")
                if verbose:
                    check(n >= 1, "-v logged no 'state saved' line:\n" + v.stderr_text())
                else:
                    eq(n, 0, "'state saved' lines without -v")
            T("-v logs debugging detail (state saves)" if verbose else
              "without -v no debugging detail", saves)
            v.stop_and_check(runner, "logging: %s daemon exits 0"
                             % ("-v" if verbose else "default"))
            runner.context = None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
