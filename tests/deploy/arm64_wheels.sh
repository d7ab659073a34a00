#!/usr/bin/env bash
# Linux arm64 wheels, cross-compiled on this host, of the dependencies PyPI has no arm64 wheel
# for (vqf: a Cython/C++ extension). The arm64 image test feeds them to the build with
# pip --find-links (a read-only bind mount, PIP_FIND_LINKS build arg); compiling vqf under
# qemu instead costs ~15 CPU-minutes. The default build (users, the Pi) is unchanged: PyPI,
# compiling vqf there.
#
#   tests/deploy/arm64_wheels.sh [DIR]     prints DIR (default /var/tmp/winkwatch-wheels-arm64)
#
# Debian's own cross-building: g++-aarch64-linux-gnu, libpython3.11-dev:arm64 (multiarch, for
# the arm64 pyconfig.h) and Debian's python3.11 told to describe an arm64 interpreter
# (_PYTHON_SYSCONFIGDATA_NAME: compiler, flags, extension suffix; _PYTHON_HOST_PLATFORM: the
# wheel tag). numpy's C headers come from numpy's own arm64 wheel. Made once per machine, then
# reused. .ci/install-system-packages installs the packages.
set -euo pipefail

out=${1:-/var/tmp/winkwatch-wheels-arm64}
root=$(cd "$(dirname "$0")/../.." && pwd)
python=/usr/bin/python3.11
sysconfigdata=_sysconfigdata__aarch64-linux-gnu

for need in "$python" /usr/bin/aarch64-linux-gnu-g++ \
    "/usr/lib/python3.11/$sysconfigdata.py" /usr/include/aarch64-linux-gnu/python3.11/pyconfig.h; do
    if [ ! -e "$need" ]; then
        echo "arm64_wheels.sh: $need is missing (python3.11-venv, g++-aarch64-linux-gnu," \
            "libpython3.11-dev:arm64: see .ci/install-system-packages)" >&2
        exit 1
    fi
done

# The requirement as pyproject.toml states it, so the wheel is what the image's pip would pick.
requirement=$("$python" -c 'import sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
print(next(d for d in deps if d.split(">")[0].split("=")[0].strip() == "vqf"))' "$root/pyproject.toml")

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
if compgen -G "$out/vqf-*-cp311-cp311-linux_aarch64.whl" >/dev/null; then
    echo "$out"
    exit 0
fi

work=$(mktemp -d /var/tmp/winkwatch-cross-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip --quiet --disable-pip-version-check)
# The build tools run here (amd64); only the compiler's output is arm64.
"${pip[@]}" install Cython setuptools wheel numpy
numpy_version=$("$work/venv/bin/python" -c 'import numpy; print(numpy.__version__)')
"${pip[@]}" download --no-deps --only-binary=:all: --python-version 3.11 --implementation cp \
    --abi cp311 --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64 \
    "numpy==$numpy_version" -d "$work/numpy-arm64"
"$work/venv/bin/python" -m zipfile -e "$work"/numpy-arm64/numpy-*.whl "$work/numpy-arm64"
include=$(echo "$work"/numpy-arm64/numpy/_core/include)

# -g0: the wheel without debug information (Debian's arm64 CFLAGS carry -g).
_PYTHON_HOST_PLATFORM=linux-aarch64 _PYTHON_SYSCONFIGDATA_NAME=$sysconfigdata \
    CFLAGS="-I$include -g0" \
    "${pip[@]}" wheel --no-deps --no-build-isolation --no-cache-dir --no-binary vqf "$requirement" -w "$work/wheels"
wheel=$(echo "$work"/wheels/vqf-*-cp311-cp311-linux_aarch64.whl)
[ -f "$wheel" ] || { echo "arm64_wheels.sh: no linux_aarch64 wheel was made" >&2; exit 1; }
mv "$wheel" "$out/"
echo "$out"
