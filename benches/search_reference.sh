#!/usr/bin/env bash
# The numpy and FAISS anchors for `vitrine bench search`, run on this machine with THREADS
# threads (OpenBLAS / OpenMP). Installs numpy and faiss-cpu from PyPI into a throw-away
# virtualenv (VENV=DIR reuses one).
# usage: benches/search_reference.sh [THREADS] [SIZES]   (default: all cores, 100000,1000000)
set -euo pipefail
threads=${1:-$(nproc)}
sizes=${2:-100000,1000000}
here=$(dirname "$0")
if [ -n "${VENV:-}" ]; then
  venv=$VENV
else
  venv=$(mktemp -d)/venv
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy faiss-cpu
fi
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
"$venv/bin/python" "$here/search_reference.py" "$threads" "$sizes"
[ -n "${VENV:-}" ] || rm -rf "$(dirname "$venv")"
