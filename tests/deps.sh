#!/bin/sh
# tests/deps.sh - install what the test suites need, when it is missing (Debian/Ubuntu).
#
# Needs root for apt-get; without root it only says what is missing. Never reads stdin.
set -u
PKGS="gcc make zlib1g-dev python3 python3-libtorrent"
# issue 5: promtool checks /metrics; headless chromium loads the dashboard.
PKGS="$PKGS prometheus chromium"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "tests/deps.sh: please install:$missing (no apt-get here)" >&2
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "tests/deps.sh: missing packages:$missing; run as root or install them" >&2
    exit 1
fi
echo "tests/deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null &&
    apt-get install -y -q --no-install-recommends $missing </dev/null
