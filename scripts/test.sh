#!/usr/bin/env bash
# Sets up a virtual environment, the browser and the Jupyter kernel, then runs every test.
# This is the README's test command and what .ci/run executes.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements-dev.txt

# Debian's Chromium drives the editor's page test (a test tool's own browser download fails offline);
# gifsicle is the GIF optimiser gif_editor uses when it is installed (its tests skip without it).
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v gifsicle >/dev/null 2>&1 || missing="$missing gifsicle"
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing >/dev/null
fi

# papermill needs a named kernel that runs this venv's Python.
.venv/bin/python -m ipykernel install --user --name vdiff --display-name "vdiff (venv)" >/dev/null

# tests/test_colab_replica.py builds build/colab_replica once (a venv pinned like Colab's Jupyter stack,
# torch hard-linked from .venv) and reuses it; its notebooks' setup cells pip-install from PyPI.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$rc"
