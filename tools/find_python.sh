# Sourced by every launcher: pick the Python that has mmscrl's stack.
#   1. $PYTHON, if set (e.g. PYTHON=/opt/envs/mm/bin/python);
#   2. $MMSCRL_VENV/bin/python, if MMSCRL_VENV is set (the variable
#      tools/setup/install.sh uses to place the environment);
#   3. <repo>/.venv/bin/python, the environment tools/setup/install.sh creates;
#   4. `python` from PATH (an activated venv / conda env).
# Needs ROOT (the repository root) to be set by the caller.
if [ -z "${PYTHON:-}" ]; then
  if [ -n "${MMSCRL_VENV:-}" ]; then
    if [ ! -x "$MMSCRL_VENV/bin/python" ]; then
      echo "MMSCRL_VENV=$MMSCRL_VENV has no bin/python; run" \
        "MMSCRL_VENV=$MMSCRL_VENV bash tools/setup/install.sh or set PYTHON" >&2
      exit 2
    fi
    PYTHON="$MMSCRL_VENV/bin/python"
  elif [ -x "$ROOT/.venv/bin/python" ]; then
    PYTHON="$ROOT/.venv/bin/python"
  else
    PYTHON=python
  fi
fi
export PYTHON
