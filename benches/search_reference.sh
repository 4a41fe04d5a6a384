#!/usr/bin/env bash
# The numpy and FAISS anchors for `vitrine bench search`, run on this machine with THREADS
# threads (OpenBLAS / OpenMP). Installs numpy and faiss-cpu from PyPI into a throw-away
# virtualenv (VENV=DIR reuses one).
# usage: benches/search_reference.sh [THREADS] [SIZES]   (default: all cores, 100000,1000000)
set -euo pipefail
threads=${1:-$(nproc)}
sizes=${2:-100000,1000000}
here=$(dirname "$0")
. "$here/venv.sh"
work=$(mktemp -d)
use_venv "$work" numpy faiss-cpu
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
"$venv/bin/python" "$here/search_reference.py" "$threads" "$sizes"
drop_venv "$work"
