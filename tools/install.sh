#!/usr/bin/env bash
# Install mmbackbones and its stack into the current Python environment.
#
#   bash tools/install.sh               # compiles nothing
#   bash tools/install.sh --with-mmdet  # + full mmcv (built once, wheel cached) + mmdet 3.3.0
#   bash tools/install.sh --with-mmseg  # + full mmcv + mmsegmentation 1.2.2 (+ ftfy, regex)
#   bash tools/install.sh --with-mmaction  # + mmaction2 1.2.0 for its recognizers (mmcv-lite is
#                                          #   enough): the `mmaction` extra, no decord
#   bash tools/install.sh --with-openvino  # + OpenVINO and NNCF (the `openvino` extra)
#   bash tools/install.sh --with-tracking  # + the mmdet tier + scipy, motmetrics, trackeval
#   bash tools/install.sh --all         # every optional tier (what CI's second part runs)
#
#  * torch/torchvision: kept if both import; otherwise the matching pair torch==2.14.1 +
#    torchvision==0.29.1 (the registry's torchvision wheels need the matching torch build).
#  * mmcv: a full mmcv that is already installed (compiled ops, e.g. for mmdetection) is kept;
#    otherwise mmcv-lite (pure Python). --with-mmdet builds full mmcv with tools/build_mmcv.sh,
#    which reuses its cached wheel (~/.cache/mmbackbones/wheels) when there is one.
#  * mmbackbones itself, editable, with the extras for training and tests (the dependency lists
#    are in pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
PIP="$PY -m pip install --disable-pip-version-check"
WITH_MMDET=0
WITH_MMSEG=0
WITH_MMACTION=0
WITH_OPENVINO=0
WITH_TRACKING=0
EXTRAS=tests  # pyproject.toml [project.optional-dependencies]
for arg in "$@"; do
  case "$arg" in
    --with-mmdet) WITH_MMDET=1 ;;
    --with-mmseg) WITH_MMSEG=1 ;;
    --with-mmaction) WITH_MMACTION=1 ;;
    --with-openvino) WITH_OPENVINO=1 ;;
    --with-tracking) WITH_MMDET=1; WITH_TRACKING=1 ;;
    --all) WITH_MMDET=1; WITH_MMSEG=1; WITH_MMACTION=1; WITH_OPENVINO=1; WITH_TRACKING=1 ;;
    *) echo "usage: bash tools/install.sh [--with-mmdet] [--with-mmseg] [--with-mmaction]" \
            "[--with-openvino] [--with-tracking] [--all]" >&2
       exit 2 ;;
  esac
done

if ! $PY -c 'import torch, torchvision' >/dev/null 2>&1; then
  $PIP "torch==${TORCH_VERSION:-2.14.1}" "torchvision==${TORCHVISION_VERSION:-0.29.1}"
fi
has_dist() { $PY -c "import importlib.metadata as m; m.distribution('$1')" >/dev/null 2>&1; }
if [ "$WITH_MMDET" = 1 ] || [ "$WITH_MMSEG" = 1 ]; then
  PYTHON=$PY bash tools/build_mmcv.sh
  if [ "$WITH_MMDET" = 1 ]; then $PIP 'mmdet==3.3.0'; fi
  # mmsegmentation 1.2.2 imports ftfy and regex without declaring them.
  if [ "$WITH_MMSEG" = 1 ]; then $PIP 'mmsegmentation==1.2.2' ftfy regex; fi
elif has_dist mmcv; then
  echo "[install] keeping the installed full mmcv $($PY -c 'import mmcv; print(mmcv.__version__)')"
else
  EXTRAS="lite,$EXTRAS"  # mmcv-lite (pyproject.toml's `lite` extra)
fi
if [ "$WITH_MMACTION" = 1 ]; then EXTRAS="$EXTRAS,mmaction"; fi
if [ "$WITH_OPENVINO" = 1 ]; then EXTRAS="$EXTRAS,openvino"; fi
# Detect-and-Track on the digit videos (mmbackbones.demos.tracking): Hungarian matching and the MOT
# metrics libraries.
if [ "$WITH_TRACKING" = 1 ]; then EXTRAS="$EXTRAS,tracking"; fi
$PIP -e ".[$EXTRAS]"
if [ "$WITH_MMACTION" = 1 ]; then
  # mmaction2's wheel declares decord and opencv-contrib-python, which its recognizers, heads,
  # AccMetric and array pipelines do not import (only its video readers do): it is installed
  # without dependencies, plus what those modules do import (the `mmaction` extra). Its wheel
  # also lacks models/localizers/drn (open-mmlab/mmaction2#2714): mmbackbones.compat.mmaction
  # stands in.
  $PIP --no-deps 'mmaction2==1.2.0'
fi
$PY -c 'import mmbackbones, mmcv; print("[install] mmbackbones", mmbackbones.__version__, "with mmcv", mmcv.__version__)'
