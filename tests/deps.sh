#!/bin/sh
# tests/deps.sh - install what the test suites need, when it is missing (Debian/Ubuntu).
#
# Needs root for apt-get; without root it only says what is missing. Never reads stdin.
set -u
PKGS="gcc make zlib1g-dev python3 python3-libtorrent"
# issue 5: promtool checks /metrics; headless chromium loads the dashboard.
PKGS="$PKGS prometheus chromium"
# Interop clients (tests/interop/): Transmission, aria2, node + npm for WebTorrent's client.
PKGS="$PKGS transmission-cli aria2"
PKGS="$PKGS qbittorrent-nox"
# issue 9: cluster mode links hiredis; tests/cluster/ runs Redis, nft rules and ip in a netns.
PKGS="$PKGS redis-server libhiredis-dev nftables iproute2"
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

# The pinned npm packages of tests/interop/webtorrent and tests/interop/browser (no install
# scripts: see webtorrent.py and browser.py).
npm_one() {
    [ -f "$1/$2" ] && return 0
    command -v npm >/dev/null 2>&1 || return 0
    echo "tests/deps.sh: npm ci in $1"
    (cd "$1" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null)
}
npm_deps() {
    npm_one tests/interop/webtorrent node_modules/bittorrent-tracker/package.json
    npm_one tests/interop/browser node_modules/webtorrent/dist/webtorrent.min.js
}
cd "$(dirname "$0")/.." || exit 1

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
if [ -z "$missing" ]; then
    npm_deps
    exit
fi

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
    apt-get install -y -q --no-install-recommends $missing </dev/null &&
    npm_deps
