#!/usr/bin/env bash
# Plots colour-dial sweeps (the JSON of `vitrine eval retrieval --colour-weights … --json`)
# with matplotlib in a throw-away virtualenv (benches/venv.sh; VENV=DIR reuses one).
#   benches/plot_dial.sh OUT.png LABEL=SWEEP.json [LABEL=SWEEP.json …]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/venv.sh"
work=$(mktemp -d)
use_venv "$work" matplotlib
"$venv/bin/python" "$here/plot_dial.py" "$@"
drop_venv "$work"
