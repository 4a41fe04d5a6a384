# Sourced by the anchor scripts: a throw-away Python virtualenv for one benchmark.
#   use_venv DIR PACKAGE…  sets $venv: $VENV when given (reused as it is), else a new venv in
#                          DIR with the packages installed from PyPI.
#   drop_venv DIR          removes DIR unless the venv was given or KEEP_VENV=1.
use_venv() {
  local dir=$1; shift
  if [ -n "${VENV:-}" ]; then
    venv=$VENV
  else
    venv=$dir/venv
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "$@"
  fi
}

drop_venv() {
  if [ -z "${VENV:-}" ] && [ "${KEEP_VENV:-0}" = 1 ]; then
    echo "venv kept at $venv" >&2
  else
    rm -rf "$1"
  fi
}
