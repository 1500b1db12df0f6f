#!/usr/bin/env bash
# Build full mmcv (with its compiled CPU ops) once and keep the wheel for reuse.
#
# mmcv ships its compiled ops only as a source distribution on PyPI. This script builds a wheel
# against the torch that is installed now and caches it under $MMBB_WHEEL_CACHE (default
# ~/.cache/mmbackbones/wheels/<mmcv>-torch<torch>/). A second run finds the cached wheel and only
# installs it. The wheel is tied to the torch version it was built against.
#
# Two snags of mmcv 2.1.0 on today's toolchain are handled here:
#  * its setup.py imports pkg_resources, removed from setuptools>=70: we build inside a throw-away
#    venv (with the system site-packages, so it sees torch) that pins setuptools<70, so the
#    environment's own setuptools is never touched;
#  * it compiles with -std=c++17 while torch>=2.10 headers need C++20: we patch the flag.
# It compiles without debug information (CFLAGS=-g0 after the interpreter's -g): that halves the
# compile time (roi_align.cpp: 31 s -> 14 s of CPU) and changes nothing in the code (still -O3).
set -euo pipefail
MMCV_VERSION=${MMCV_VERSION:-2.1.0}
PY=${PYTHON:-python}
TORCH_VERSION=$($PY -c 'import torch; print(torch.__version__.split("+")[0])')
CACHE=${MMBB_WHEEL_CACHE:-$HOME/.cache/mmbackbones/wheels}/mmcv${MMCV_VERSION}-torch${TORCH_VERSION}
if $PY -c "import importlib.metadata as m, mmcv.ops; assert m.version('mmcv') == '$MMCV_VERSION'" \
    >/dev/null 2>&1 && ! $PY -c 'import importlib.metadata as m; m.distribution("mmcv-lite")' \
    >/dev/null 2>&1; then
  echo "[build_mmcv] mmcv $MMCV_VERSION with compiled ops is already installed"
  exit 0
fi
mkdir -p "$CACHE"
wheel=$(ls "$CACHE"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "[build_mmcv] building mmcv==$MMCV_VERSION against torch $TORCH_VERSION (11-20 min on 2 cores)"
  $PY -m venv --system-site-packages "$work/venv"
  # The build venv sees the caller's packages (torch) even when the caller is itself a venv:
  # --system-site-packages only reaches the base interpreter's, so add the caller's site dir
  # after the build venv's own (whose setuptools<70 therefore wins).
  caller_site=$($PY -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  build_site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$caller_site" > "$build_site/zz_caller_site.pth"
  "$work/venv/bin/python" -m pip install -q 'setuptools<70' wheel
  # --no-build-isolation: even `pip download` of an sdist runs its setup.py, which needs the
  # venv's old setuptools (pkg_resources).
  "$work/venv/bin/python" -m pip download --no-deps --no-binary :all: --no-build-isolation \
     "mmcv==$MMCV_VERSION" -d "$work/src" -q
  tar -xzf "$work"/src/mmcv-"$MMCV_VERSION".tar.gz -C "$work"
  sed -i 's/-std=c++17/-std=c++20/g' "$work/mmcv-$MMCV_VERSION/setup.py"
  (cd "$work/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-2} \
     CFLAGS="${CFLAGS:-} -g0" \
     "$work/venv/bin/python" -m pip wheel --no-build-isolation --no-deps -w "$work/dist" .)
  # Move into the cache atomically so an interrupted build never leaves a half-written wheel.
  built=$(ls "$work"/dist/mmcv-*.whl)
  cp "$built" "$CACHE/.partial.whl"
  mv "$CACHE/.partial.whl" "$CACHE/$(basename "$built")"
  wheel="$CACHE/$(basename "$built")"
fi
echo "[build_mmcv] installing $wheel"
# mmcv-lite and mmcv install the same files under mmcv/: remove the lite distribution first, or
# uninstalling it later would delete files the full mmcv needs.
if $PY -c 'import importlib.metadata as m; m.distribution("mmcv-lite")' >/dev/null 2>&1; then
  $PY -m pip uninstall -y mmcv-lite
fi
# --force-reinstall --no-deps replaces whatever mmcv files are there without touching torch; the
# second call then installs the wheel's own requirements (mmengine, opencv-python, yapf, ...;
# none of them pulls torch) where they are missing, as on a fresh machine.
$PY -m pip install --no-deps --force-reinstall "$wheel"
$PY -m pip install "$wheel"
$PY -c 'import mmcv.ops; print("[build_mmcv] mmcv", __import__("mmcv").__version__, "with compiled ops")'
