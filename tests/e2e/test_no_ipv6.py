"""A host without IPv6 (issue 2: "A host without IPv6 still starts"): swarmd with its default
listen addresses (0.0.0.0 and ::, no -i) under tests/e2e/shim/no_ipv6.c, an LD_PRELOAD shim
that fails every AF_INET6 socket with EAFNOSUPPORT (as a kernel booted with ipv6.disable=1
does) and narrows the IPv4 wildcard to 127.0.0.1 (tests bind loopback only). It must start,
say once that it serves IPv4 only, and answer over HTTP and UDP."""

import os
import shutil
import socket
import subprocess
import tempfile

import harness
from harness import (V4, Daemon, Skip, UdpClient, check, eq, free_port, http_announce,
                     peers_of, rand_hash)


def run(runner, swarmd):
    tmp = tempfile.mkdtemp(prefix="swarmd-noipv6-")
    shim = os.path.join(tmp, "no_ipv6.so")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim", "no_ipv6.c")
    built = subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-o", shim,
                            src, "-ldl"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    d = Daemon(swarmd, v6=False)

    def start():
        check(built.returncode == 0, "shim did not build: %s" % built.stdout.decode()[-500:])
        env = dict(os.environ, LD_PRELOAD=shim)
        # The sanitizer runtime wants to be first in the library list; here it need not be.
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
        for _ in range(5):
            port = free_port(socket.SOCK_STREAM, [V4])
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((V4, port))
                s.close()
            except OSError:
                continue
            d.http_port = d.udp_port = port
            d.cmd = [swarmd, "-p", str(port), "-P", str(port)]
            d.errfile = tempfile.TemporaryFile(prefix="swarmd-e2e-err-")
            d.proc = subprocess.Popen(d.cmd, stdin=subprocess.DEVNULL, stdout=d.errfile,
                                      stderr=d.errfile, env=env)
            harness.ALL_DAEMONS.append(d)
            if d._wait_ready(15.0):
                break
            if d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()
        check(d.alive(), "swarmd did not start without IPv6: %s" % d.stderr_text())
        text = d.stderr_text()
        eq(text.count("IPv6 unavailable, serving IPv4 only"), 1,
           "one line saying IPv6 is unavailable in %r" % text)
        check("listening on udp" in text and "listening on http" in text,
              "IPv4 listeners logged: %r" % text)
    runner.context = d.context
    runner.run("no IPv6: starts with the default addresses, one line says IPv4 only", start, 30)

    def serves():
        if not d.alive():
            raise Skip("not started")
        h = rand_hash()
        http_announce(d, h, 5001)
        eq(peers_of(http_announce(d, h, 5002)), [(V4, 5001)], "HTTP announce")
        u = UdpClient(d, V4)
        try:
            u.connect()
            r = u.announce(h, 5003)
            eq(sorted(r["peers"]), [(V4, 5001), (V4, 5002)], "UDP announce peers")
        finally:
            u.close()
    runner.run("no IPv6: answers announces over HTTP and UDP on IPv4", serves)

    if d.proc is not None:
        d.stop_and_check(runner, "no IPv6: exits 0 on SIGTERM")
    runner.context = None
    shutil.rmtree(tmp, ignore_errors=True)
