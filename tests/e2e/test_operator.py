"""Running it for real: access lists and SIGHUP reload, trusted proxies, privilege drop."""

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from harness import (V4, Daemon, Skip, TestFailure, UdpClient, UdpError, check, eq,
                     failure_of, http_announce, http_request, http_scrape, announce_target,
                     peers_of, rand_hash, wait_for)

E2E_USER = "swarmd-e2e"


def write_list(path, hashes, extra=""):
    with open(path, "w") as f:
        f.write("# e2e access list\n" + extra)
        for h in hashes:
            f.write(h.hex() + "\n")


def run(runner, swarmd):
    tmp = tempfile.mkdtemp(prefix="swarmd-e2e-op-")

    def T(name, fn, timeout=20):
        runner.run("operator: " + name, fn, timeout)

    # ---- whitelist ---------------------------------------------------------------------------
    allowed, other = rand_hash(), rand_hash()
    v2 = os.urandom(32)
    wl = os.path.join(tmp, "whitelist")
    write_list(wl, [allowed], extra="this line is bad\n%s\n" % v2.hex())
    d = Daemon(swarmd, ["-w", wl]).start()
    runner.context = d.context

    def wl_http():
        r = http_announce(d, allowed, 6001)
        eq(r[b"incomplete"], 1, "allowed torrent announce")
        http_announce(d, v2[:20], 6002)  # a v2 hash matches its 20-byte truncation
        resp = http_request(d, announce_target(other, 6003))
        eq(failure_of(resp), "torrent not allowed", "failure reason")
        check("whitelist:2: not a hex info-hash" in d.stderr_text(),
              "bad line 2 not reported with its number: %r" % d.stderr_text()[-500:])
    T("whitelist: listed torrent served, other refused over HTTP", wl_http)

    def wl_scrape():
        files = http_scrape(d, [allowed, other])
        eq(list(files.keys()), [allowed], "HTTP scrape keeps only the allowed hash")
        u = UdpClient(d, V4)
        try:
            res = u.scrape([other, allowed])
            eq(res[0], (0, 0, 0), "UDP scrape of a refused hash")
            eq(res[1][2], 1, "UDP scrape leechers of the allowed hash")
            try:
                u.announce(other, 6004)
                raise TestFailure("UDP announce of a refused torrent succeeded")
            except UdpError as e:
                check("not allowed" in str(e), "UDP error text %r" % str(e))
            eq(u.announce(allowed, 6005)["leechers"], 2, "UDP announce of an allowed torrent")
        finally:
            u.close()
    T("whitelist: scrape omits (HTTP) or zeroes (UDP) refused hashes; UDP error", wl_scrape)

    def wl_reload():
        before = http_announce(d, allowed, 6006)
        n_before = before[b"incomplete"]
        write_list(wl, [other])
        os.kill(d.proc.pid, signal.SIGHUP)

        def flipped():
            resp = http_request(d, announce_target(other, 6007))
            return b"failure reason" not in resp.body
        wait_for(flipped, "the reloaded whitelist to allow the new hash")
        resp = http_request(d, announce_target(allowed, 6008))
        eq(failure_of(resp), "torrent not allowed", "old hash after reload")
        # back again: the swarm of `allowed` was never dropped
        write_list(wl, [allowed, other])
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_for(lambda: b"failure reason" not in
                 http_request(d, announce_target(allowed, 6009)).body, "second reload")
        r = http_announce(d, allowed, 6010)
        check(r[b"incomplete"] >= n_before + 1, "swarm lost peers over reloads: %r" % r)
    T("SIGHUP reloads the list without dropping swarms", wl_reload)

    def wl_reload_missing():
        os.rename(wl, wl + ".away")
        try:
            os.kill(d.proc.pid, signal.SIGHUP)
            wait_for(lambda: "keeping the current access list" in d.stderr_text(),
                     "the failed reload to be logged")
            http_announce(d, allowed, 6011)
            check(d.alive(), "daemon died on a failed reload")
        finally:
            os.rename(wl + ".away", wl)
    T("a list that cannot be opened on reload keeps the old one", wl_reload_missing)

    def wl_reload_under_load():
        h = allowed
        errors, done = [], [0]
        stop = threading.Event()

        def load(port):
            while not stop.is_set():
                try:
                    http_announce(d, h, port)
                    done[0] += 1
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))
                port += 1
        threads = [threading.Thread(target=load, args=(p,)) for p in (20000, 40000)]
        for t in threads:
            t.start()
        try:
            for _ in range(10):
                os.kill(d.proc.pid, signal.SIGHUP)
                time.sleep(0.1)
        finally:
            stop.set()
            for t in threads:
                t.join()
        eq(errors[:3], [], "requests failed during reloads")
        check(done[0] > 10, "too few requests during the reloads: %d" % done[0])
        u = UdpClient(d, V4)
        try:
            got = u.scrape([h])[0][2]
        finally:
            u.close()
        check(got >= done[0], "leechers %d < announces %d: peers lost" % (got, done[0]))
    T("reload under load loses no request and no peer", wl_reload_under_load, 30)

    d.stop_and_check(runner, "operator: whitelist daemon exits 0 on SIGTERM")

    # ---- blacklist, and both --------------------------------------------------------------
    bl = os.path.join(tmp, "blacklist")
    write_list(bl, [other])
    d = Daemon(swarmd, ["-o", "access.blacklist=" + bl]).start()
    runner.context = d.context

    def bl_test():
        http_announce(d, allowed, 6101)
        eq(failure_of(http_request(d, announce_target(other, 6102))), "torrent not allowed",
           "blacklisted")
    T("blacklist: listed torrent refused, others served", bl_test)
    d.stop_and_check(runner, "operator: blacklist daemon exits 0 on SIGINT", signal.SIGINT)

    def both():
        p = subprocess.run([swarmd, "-w", wl, "-b", bl, "-p", "0", "-P", "0"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=5)
        eq(p.returncode, 2, "exit status with both lists")
        check(b"both" in p.stderr, "message: %r" % p.stderr)
        p = subprocess.run([swarmd, "-w", os.path.join(tmp, "nope"), "-i", "127.0.0.1",
                            "-p", "0", "-P", "0"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=5)
        eq(p.returncode, 1, "exit status with a missing whitelist")
        check(b"nope" in p.stderr, "message names the file: %r" % p.stderr)
    T("whitelist and blacklist together, or a missing list, stop start-up", both)

    # ---- trusted proxies -------------------------------------------------------------------
    d = Daemon(swarmd, config_text="access.proxy 127.0.0.1\naccess.proxy 10.0.0.0/8\n").start()
    runner.context = d.context

    def xff(headers, port, extra=()):
        h = rand_hash()
        resp = http_request(d, announce_target(h, port, extra=extra), headers=headers)
        check(b"failure" not in resp.body, "announce failed: %r" % resp.body)
        return peers_of(http_announce(d, h, port + 1))

    def proxy_trusted():
        eq(xff(["X-Forwarded-For: 192.0.2.9, 10.1.2.3"], 6201), [("192.0.2.9", 6201)],
           "right-most untrusted hop")
        eq(xff(["X-Forwarded-For: 198.51.100.1", "X-Forwarded-For: 192.0.2.7, 10.0.0.1"],
               6203), [("192.0.2.7", 6203)], "several headers are one list")
        eq(xff(["X-Forwarded-For: 203.0.113.5, 192.0.2.8"], 6205), [("192.0.2.8", 6205)],
           "a spoofed left entry is ignored")
        eq(xff(["X-Real-IP: 192.0.2.10"], 6207), [("192.0.2.10", 6207)], "X-Real-IP")
        eq(xff([], 6209, extra=[("ip", "192.0.2.11")]), [("192.0.2.11", 6209)],
           "ip= from a trusted proxy")
        eq(xff(["X-Forwarded-For: garbage"], 6211), [(V4, 6211)],
           "an unusable header falls back to the connection address")
    T("from an access.proxy network: X-Forwarded-For, X-Real-IP and ip= count", proxy_trusted)
    d.stop_and_check(runner, "operator: proxy daemon exits 0")

    d = Daemon(swarmd, config_text="access.proxy 10.0.0.0/8\n").start()
    runner.context = d.context

    def proxy_untrusted():
        eq(xff(["X-Forwarded-For: 192.0.2.9"], 6301), [(V4, 6301)], "X-Forwarded-For")
        eq(xff(["X-Real-IP: 192.0.2.10"], 6303), [(V4, 6303)], "X-Real-IP")
        eq(xff([], 6305, extra=[("ip", "192.0.2.11")]), [(V4, 6305)], "ip=")
    T("from other networks: forwarding headers and ip= are ignored", proxy_untrusted)
    d.stop_and_check(runner, "operator: untrusted-proxy daemon exits 0")

    d = Daemon(swarmd, ["-o", "access.trust_ip_param=on"]).start()
    runner.context = d.context

    def trust_switch():
        eq(xff([], 6401, extra=[("ip", "192.0.2.12")]), [("192.0.2.12", 6401)], "ip=")
        eq(xff(["X-Forwarded-For: 192.0.2.9"], 6403), [(V4, 6403)],
           "X-Forwarded-For still needs access.proxy")
    T("access.trust_ip_param honours ip= from anyone", trust_switch)
    d.stop_and_check(runner, "operator: trust_ip_param daemon exits 0")

    # ---- privilege drop and chroot ----------------------------------------------------------
    def ensure_user():
        if os.geteuid() != 0:
            raise Skip("not root")
        try:
            return pwd.getpwnam(E2E_USER)
        except KeyError:
            pass
        if not shutil.which("useradd"):
            raise Skip("no useradd")
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", E2E_USER], check=True, timeout=10)
        return pwd.getpwnam(E2E_USER)

    def status_ids(pid):
        ids = {}
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Uid", "Gid", "Groups"):
                    ids[k] = v.split()
        return ids

    def privdrop():
        pw = ensure_user()
        root = tempfile.mkdtemp(prefix="swarmd-e2e-root-")
        os.chmod(root, 0o755)
        write_list(os.path.join(root, "wl"), [allowed])
        os.chmod(os.path.join(root, "wl"), 0o644)
        # LeakSanitizer cannot inspect a process that chrooted away from /proc and dropped
        # its privileges (it reports exit 86 at the end); leaks are checked everywhere else.
        saved = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = (saved + ":" if saved else "") + "detect_leaks=0"
        try:
            dd = Daemon(swarmd, ["-u", E2E_USER, "-d", root, "-w", "/wl"]).start()
        finally:
            if saved is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = saved
        saved_ctx, runner.context = runner.context, dd.context
        try:
            ids = status_ids(dd.proc.pid)
            eq(ids["Uid"], [str(pw.pw_uid)] * 4, "real/effective/saved/fs uid")
            eq(ids["Gid"], [str(pw.pw_gid)] * 4, "real/effective/saved/fs gid")
            eq(ids["Groups"], [str(pw.pw_gid)], "supplementary groups")
            eq(os.readlink("/proc/%d/root" % dd.proc.pid), root, "process root (chroot)")
            http_announce(dd, allowed, 6501)  # the list was read inside the chroot
            os.kill(dd.proc.pid, signal.SIGHUP)
            time.sleep(0.3)
            check("reloaded" in dd.stderr_text(), "reload inside the chroot as the user: %r"
                  % dd.stderr_text()[-400:])
            rc, _ = dd.stop()
            eq(rc, 0, "exit status")
        finally:
            runner.context = saved_ctx
            dd.kill()
            shutil.rmtree(root, ignore_errors=True)
    T("-u and -d: running as the user, chrooted (/proc/PID/status)", privdrop)

    def privdrop_refused():
        if os.geteuid() == 0:
            p = subprocess.run([swarmd, "-u", "no-such-user-e2e", "-i", "127.0.0.1", "-p", "0",
                                "-P", "0"], stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=5)
            eq(p.returncode, 1, "exit status for an unknown user")
            check(b"no-such-user-e2e" in p.stderr, "message: %r" % p.stderr)
            return
        p = subprocess.run([swarmd, "-u", "root", "-i", "127.0.0.1", "-p", "0", "-P", "0"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=5)
        eq(p.returncode, 1, "exit status")
    T("a user switch that cannot happen stops start-up", privdrop_refused)

    # ---- shipped files -------------------------------------------------------------------
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def sample_config():
        with open(os.path.join(top, "contrib", "swarmd.conf")) as f:
            text = f.read()
        p = subprocess.run([swarmd, "--check-config", "-f", os.path.join(top, "contrib",
                                                                          "swarmd.conf")],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=5)
        eq((p.returncode, p.stdout.strip()), (0, b"configuration ok"), "--check-config")
        dd = Daemon(swarmd, config_text=text).start()
        try:
            http_announce(dd, rand_hash(), 6601)
            rc, elapsed = dd.stop()
            eq(rc, 0, "exit status")
            check(elapsed < 1.0, "SIGTERM took %.2f s" % elapsed)
        finally:
            dd.kill()
    T("contrib/swarmd.conf starts swarmd unchanged; SIGTERM exits 0 within 1 s",
      sample_config)

    def help_keys():
        """(key, default or None) for every config key `swarmd --help` lists."""
        p = subprocess.run([swarmd, "--help"], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=5)
        eq(p.returncode, 0, "--help exit status")
        lines = p.stdout.decode().splitlines()
        start = [i for i, l in enumerate(lines) if l.startswith("Config file keys")]
        eq(len(start), 1, "one 'Config file keys' heading in --help")
        keys = []
        for line in lines[start[0] + 1:]:
            if not line.strip():
                break  # the section ends at the first blank line
            m = re.match(r"  ([a-z_]+(?:\.[a-z_]+)+)(?: |$)", line)
            check(m is not None, "unparsed --help key line %r" % line)
            d = re.search(r"\[([^\];]*)(?:;[^\]]*)?\]\s*$", line)
            keys.append((m.group(1), d.group(1) if d else None))
        check(len(keys) >= 40, "only %d keys parsed from --help" % len(keys))
        return keys

    def sample_documents_every_key():
        with open(os.path.join(top, "contrib", "swarmd.conf")) as f:
            sample = f.read()
        # "key value" or "#key value": the value of each key's first line, and if commented.
        seen = {}
        for m in re.finditer(r"^(#?)([a-z_]+(?:\.[a-z_]+)+)(?:[ \t]+(\S+))?", sample, re.M):
            seen.setdefault(m.group(2), (m.group(1) == "#", m.group(3)))
        keys = help_keys()
        missing = [k for k, _ in keys if k not in seen]
        eq(missing, [], "keys of --help absent from contrib/swarmd.conf")
        # An active line must repeat the default, or the sample would change behaviour.
        for k, default in keys:
            commented, value = seen[k]
            if not commented:
                check(default is not None, "%s is set in the sample but has no default" % k)
                eq(value, default, "active sample value of %s vs --help default" % k)
        known = {k for k, _ in keys}
        unknown = [k for k in seen if k not in known]
        eq(unknown, [], "keys in contrib/swarmd.conf that --help does not list")
    T("contrib/swarmd.conf documents every key --help lists (active lines = defaults)",
      sample_documents_every_key)

    def unit_low_port_and_state_dir():
        with open(os.path.join(top, "contrib", "swarmd.service")) as f:
            unit = f.read()
        lines = unit.splitlines()
        for line in ("StateDirectory=swarmd", "DynamicUser=yes", "CapabilityBoundingSet=",
                     "#CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                     "#AmbientCapabilities=CAP_NET_BIND_SERVICE"):
            check(line in lines, "unit lacks the line %r" % line)
        check("tracker.statefile /var/lib/swarmd/" in unit, "unit does not show the state file")
        if not shutil.which("systemd-analyze"):
            raise Skip("no systemd-analyze")
        # The low-port variant: what an operator gets by uncommenting the two lines, with
        # ExecStart pointing at a binary that exists so `verify` judges the unit itself.
        low = re.sub(r"^#(CapabilityBoundingSet=CAP_NET_BIND_SERVICE|"
                     r"AmbientCapabilities=CAP_NET_BIND_SERVICE)$", r"\1", unit, flags=re.M)
        low = re.sub(r"^ExecStart=\S+", "ExecStart=" + swarmd, low, flags=re.M)
        d = tempfile.mkdtemp(prefix="swarmd-e2e-unit-", dir=tmp)
        variants = {"default": unit, "lowport": low}
        marks = {}
        for name, text in variants.items():
            os.mkdir(os.path.join(d, name))
            path = os.path.join(d, name, "swarmd.service")
            with open(path, "w") as f:
                f.write(text)
            p = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                                path], stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=10)
            out = p.stdout.decode("utf-8", "replace")
            m = {}
            for key in ("CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE", "AmbientCapabilities="):
                hit = [l for l in out.splitlines() if key in l]
                eq(len(hit), 1, "%s: lines about %s in systemd-analyze security" % (name, key))
                m[key] = hit[0].lstrip()[:1]
            marks[name] = m
        eq(set(marks["default"].values()), {"\u2713"},
           "default unit: no bind capability in bounding or ambient set")
        eq(set(marks["lowport"].values()), {"\u2717"},
           "low-port unit: CAP_NET_BIND_SERVICE in both the bounding and the ambient set")
        p = subprocess.run(["systemd-analyze", "verify", os.path.join(d, "lowport",
                                                                      "swarmd.service")],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        # Only the uninstalled man page (Documentation=man:swarmd(8)) may be reported.
        other = [l for l in p.stderr.decode("utf-8", "replace").splitlines()
                 if l.strip() and "man swarmd(8)" not in l]
        eq(other, [], "systemd-analyze verify complaints")
    T("contrib/swarmd.service: low ports need both capability lines; StateDirectory",
      unit_low_port_and_state_dir)

    def man_page():
        if not shutil.which("man"):
            raise Skip("no man")
        p = subprocess.run(["man", "--warnings", "-l", os.path.join(top, "docs", "swarmd.8")],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=10,
                           env=dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80"))
        eq(p.returncode, 0, "man exit status")
        eq(p.stderr.strip(), b"", "groff warnings")
        for word in (b"access.whitelist", b"access.proxy", b"tracker.rootdir", b"SIGHUP"):
            check(word in p.stdout, "man page lacks %r" % word)
    T("docs/swarmd.8 renders with man -l without warnings", man_page)

    shutil.rmtree(tmp, ignore_errors=True)
