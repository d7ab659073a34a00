#!/usr/bin/env bash
# Install WinkWatch for a gateway (Raspberry Pi OS / Debian, or the Docker image).
# The Dockerfile RUNs this script and CI runs it too (tests/deploy), so the image's steps are
# tested without a Docker engine.
#
#   docker/install.sh [--prefix DIR] [--data-dir DIR] [--user NAME] [--uid UID] [--bluetooth-gid GID] [--no-system] SOURCE
#
# SOURCE        the WinkWatch source tree (with pyproject.toml) or a built wheel
# --prefix      virtual environment to create (default /opt/winkwatch; `winkwatch` lands in DIR/bin)
# --data-dir    database and sensor assignments (default /var/lib/winkwatch), owned by --user
# --user        service account to create (default winkwatch); BlueZ lets it in through the
#               `bluetooth` group, created with --bluetooth-gid so it matches the host's group
# --uid         the service account's uid (in a container: the uid of a host account in the
#               host's `bluetooth` group, since the host's D-Bus daemon looks the uid up in
#               the host's user database and refuses uids it does not know)
# --no-system   only build the virtual environment (no apt-get, no user, no data directory):
#               what CI and unprivileged installs use
set -euo pipefail

prefix=/opt/winkwatch
data_dir=/var/lib/winkwatch
user=winkwatch
bluetooth_gid=""
uid=""
system=1
source=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --data-dir) data_dir="$2"; shift 2 ;;
        --user) user="$2"; shift 2 ;;
        --bluetooth-gid) bluetooth_gid="$2"; shift 2 ;;
        --uid) uid="$2"; shift 2 ;;
        --no-system) system=0; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        -*) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) source="$1"; shift ;;
    esac
done
if [ -z "$source" ] || [ ! -e "$source" ]; then
    echo "install.sh: give the WinkWatch source directory or wheel to install (got '${source}')" >&2
    exit 2
fi
python=${PYTHON:-python3}

apt_install() {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    # No package lists or downloaded .debs left behind (an image layer keeps them forever).
    apt-get clean
    rm -rf /var/lib/apt/lists/*
}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "install.sh: WinkWatch needs Python >= 3.11; $("$python" --version 2>&1) found" >&2
    exit 2
fi

if [ "$system" = 1 ]; then
    # Runtime packages only when missing: venv support on Raspberry Pi OS; nothing else is
    # needed in the container (BlueZ runs on the host and is reached over its D-Bus socket).
    needed=()
    "$python" -c 'import ensurepip, venv' 2>/dev/null || needed+=(python3-venv)
    if [ ${#needed[@]} -gt 0 ]; then
        apt_install "${needed[@]}"
    fi
    if [ -n "$bluetooth_gid" ] && ! getent group bluetooth >/dev/null; then
        groupadd --system --gid "$bluetooth_gid" bluetooth
    fi
    getent group bluetooth >/dev/null || groupadd --system bluetooth
    if ! id -u "$user" >/dev/null 2>&1; then
        useradd --system --user-group --groups bluetooth --home-dir "$data_dir" --no-create-home \
            ${uid:+--uid "$uid"} \
            --shell /usr/sbin/nologin "$user"
    fi
    install -d -o "$user" -g "$user" -m 0750 "$data_dir"
fi

"$python" -m venv "$prefix"
pip=("$prefix/bin/python" -m pip)
"${pip[@]}" install --quiet --upgrade pip
# PyPI has wheels of every dependency for amd64, and of all but vqf for Linux arm64 (the Pi):
# try wheels only first; where one is missing, build it with a C++ compiler that is installed
# for the build and removed after it (so the image and the Pi keep no compiler).
if ! "${pip[@]}" install --quiet --only-binary=:all: "$source" 2>"$prefix/.wheel-only.log"; then
    grep -m 3 -i "no matching distribution" "$prefix/.wheel-only.log" >&2 || true
    echo "install.sh: some dependencies have no wheel for $(uname -m); compiling them" >&2
    build_tools=()
    if [ "$system" = 1 ]; then
        command -v g++ >/dev/null || build_tools+=(g++)
        "$prefix/bin/python" -c 'import os, sys, sysconfig
sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
            || build_tools+=(python3-dev)
        [ ${#build_tools[@]} -eq 0 ] || apt_install "${build_tools[@]}"
    fi
    "${pip[@]}" install --quiet "$source"
    if [ ${#build_tools[@]} -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq --auto-remove "${build_tools[@]}" >/dev/null
    fi
fi
rm -f "$prefix/.wheel-only.log"
# Fail the build here, not on the Pi: the command runs and the dashboard is in the package.
"$prefix/bin/winkwatch" version
"$prefix/bin/python" - <<'PY'
from api.dashboard import STATIC_DIR
missing = [n for n in ("index.html", "app.js", "charts.js", "style.css") if not (STATIC_DIR / n).is_file()]
if missing:
    raise SystemExit(f"install.sh: dashboard files missing from the installed package: {missing}")
PY
echo "WinkWatch installed in $prefix"
