#!/usr/bin/env bash
# Install mmbackbones and its stack into the current Python environment, compiling nothing.
#
#  * torch/torchvision: kept if both import; otherwise the matching pair torch==2.14.1 +
#    torchvision==0.29.1 (the registry's torchvision wheels need the matching torch build).
#  * mmcv: a full mmcv that is already installed (compiled ops, e.g. for mmdetection) is kept;
#    otherwise mmcv-lite (pure Python) is installed. Full mmcv: tools/build_mmcv.sh.
#  * mmbackbones itself, editable, with the extras for training and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
PIP="$PY -m pip install --disable-pip-version-check"

if ! $PY -c 'import torch, torchvision' >/dev/null 2>&1; then
  $PIP "torch==${TORCH_VERSION:-2.14.1}" "torchvision==${TORCHVISION_VERSION:-0.29.1}"
fi
if $PY -c 'import importlib.metadata as m; m.distribution("mmcv")' >/dev/null 2>&1; then
  echo "[install] keeping the installed full mmcv $($PY -c 'import mmcv; print(mmcv.__version__)')"
else
  # A cached full-mmcv wheel built earlier by tools/build_mmcv.sh for this torch is reused.
  torch_v=$($PY -c 'import torch; print(torch.__version__.split("+")[0])')
  cached=$(ls "${MMBB_WHEEL_CACHE:-$HOME/.cache/mmbackbones/wheels}"/mmcv2.1.0-torch"$torch_v"/mmcv-*.whl 2>/dev/null | head -n 1 || true)
  if [ -n "$cached" ] && [ "${MMBB_USE_FULL_MMCV:-0}" = 1 ]; then
    $PIP --no-deps "$cached"
  else
    $PIP -r requirements/mminstall.txt
  fi
fi
$PIP -e ".[tests]"
$PY -c 'import mmbackbones, mmcv; print("[install] mmbackbones", mmbackbones.__version__, "with mmcv", mmcv.__version__)'
