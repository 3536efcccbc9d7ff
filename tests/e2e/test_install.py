"""make install: the binary, man page, sample config and systemd unit land where README says,
with the unit's paths following PREFIX and SYSCONFDIR, and what was installed works (the man
page renders, the installed binary accepts the installed config). It installs the binary
under test (SWARMD_BIN=...) into temporary DESTDIRs, so nothing is rebuilt meanwhile."""

import os
import shlex
import shutil
import subprocess
import tempfile

from harness import Skip, TestFailure, check, eq

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_install(swarmd, destdir, *args):
    p = subprocess.run(["make", "-C", TOP, "--no-print-directory", "install",
                        "SWARMD_BIN=" + swarmd, "DESTDIR=" + destdir] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise TestFailure("make install %s failed (%d):\n%s" % (
            " ".join(args), p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")))


def files_under(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            path = os.path.join(d, n)
            out["/" + os.path.relpath(path, root)] = os.stat(path).st_mode & 0o7777
    return out


def unit_exec_start(text):
    lines = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")]
    eq(len(lines), 1, "ExecStart lines in the unit")
    return shlex.split(lines[0][len("ExecStart="):])


def run(runner, swarmd):
    def T(name, fn, timeout=60):
        runner.run("install: " + name, fn, timeout)

    if not shutil.which("make"):
        def missing():
            raise Skip("make not installed")
        T("make install", missing)
        return
    tmp = tempfile.mkdtemp(prefix="swarmd-e2e-install-")
    try:
        _run(T, swarmd, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(T, swarmd, tmp):
    dest = os.path.join(tmp, "usr")
    layout = {"/usr/bin/swarmd": 0o755, "/usr/share/man/man8/swarmd.8": 0o644,
              "/etc/swarmd.conf": 0o644, "/usr/lib/systemd/system/swarmd.service": 0o644}

    def files():
        make_install(swarmd, dest, "PREFIX=/usr")
        eq(files_under(dest), layout, "installed files and modes (PREFIX=/usr)")
        with open(swarmd, "rb") as a, open(dest + "/usr/bin/swarmd", "rb") as b:
            check(a.read() == b.read(), "installed binary differs from %s" % swarmd)
        with open(os.path.join(TOP, "docs", "swarmd.8"), "rb") as a, \
                open(dest + "/usr/share/man/man8/swarmd.8", "rb") as b:
            check(a.read() == b.read(), "installed man page differs from docs/swarmd.8")
    T("PREFIX=/usr DESTDIR=...: bin/swarmd, share/man/man8/swarmd.8, /etc/swarmd.conf, "
      "lib/systemd/system/swarmd.service, nothing else", files)

    def man_renders():
        if not shutil.which("man"):
            raise Skip("man not installed")
        p = subprocess.run(["man", "--warnings", "-l", dest + "/usr/share/man/man8/swarmd.8"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20,
                           env=dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80"))
        eq(p.returncode, 0, "man -l exit status")
        eq(p.stderr.strip(), b"", "man/groff warnings")
        check(b"swarmd" in p.stdout and b"SIGTERM" in p.stdout,
              "rendered page lacks its content: %r" % p.stdout[:300])
    T("the installed man page renders with man -l, no warnings", man_renders)

    def config_checks():
        binary = dest + "/usr/bin/swarmd"
        conf = dest + "/etc/swarmd.conf"
        p = subprocess.run([binary, "--check-config", "-f", conf], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10)
        eq((p.returncode, p.stdout.strip()), (0, b"configuration ok"),
           "installed swarmd --check-config -f installed swarmd.conf (%r)" % p.stderr[:300])
        with open(conf) as f:
            text = f.read()
        check("/usr/local" not in text, "the installed config still names /usr/local")
        check("swarmd -f /etc/swarmd.conf" in text, "the config's own path is not /etc")
    T("the installed sample config passes the installed swarmd's --check-config -f",
      config_checks)

    def unit_paths():
        with open(dest + "/usr/lib/systemd/system/swarmd.service") as f:
            text = f.read()
        argv = unit_exec_start(text)
        eq(argv, ["/usr/bin/swarmd", "-f", "/etc/swarmd.conf"], "ExecStart")
        for path in (argv[0], argv[2]):
            check(os.path.isfile(dest + path), "ExecStart names %s, not installed" % path)
        check("/usr/local" not in text, "the unit still names /usr/local")
        for line in ("DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID"):
            check(line in text.splitlines(), "unit lacks %r" % line)
    T("the unit's ExecStart names the installed binary and config", unit_paths)

    def other_prefixes():
        for args, bindir, conf, unitdir in (
                ([], "/usr/local/bin", "/usr/local/etc/swarmd.conf",
                 "/usr/local/lib/systemd/system"),
                (["PREFIX=/opt/swarmd"], "/opt/swarmd/bin", "/opt/swarmd/etc/swarmd.conf",
                 "/opt/swarmd/lib/systemd/system"),
                (["PREFIX=/opt/swarmd", "SYSCONFDIR=/etc/swarmd"], "/opt/swarmd/bin",
                 "/etc/swarmd/swarmd.conf", "/opt/swarmd/lib/systemd/system")):
            d = tempfile.mkdtemp(dir=tmp)
            make_install(swarmd, d, *args)
            what = " ".join(args) or "default PREFIX"
            with open(d + unitdir + "/swarmd.service") as f:
                eq(unit_exec_start(f.read()), [bindir + "/swarmd", "-f", conf],
                   "ExecStart with " + what)
            check(os.path.isfile(d + bindir + "/swarmd"), "no %s/swarmd (%s)" % (bindir, what))
            with open(d + conf) as f:
                check("swarmd -f %s\n" % conf in f.read(),
                      "config does not name its own path %s (%s)" % (conf, what))
    T("default PREFIX (/usr/local), PREFIX=/opt/swarmd, SYSCONFDIR=/etc/swarmd: the unit "
      "and the config follow", other_prefixes)

    def keeps_config():
        conf = dest + "/etc/swarmd.conf"
        with open(conf, "a") as f:
            f.write("tracker.interval 1234  # the operator's edit\n")
        os.unlink(dest + "/usr/bin/swarmd")
        make_install(swarmd, dest, "PREFIX=/usr")
        with open(conf) as f:
            check("tracker.interval 1234" in f.read(), "make install overwrote swarmd.conf")
        check(os.path.isfile(dest + "/usr/bin/swarmd"), "binary not reinstalled")
    T("a second make install keeps an edited swarmd.conf", keeps_config)
