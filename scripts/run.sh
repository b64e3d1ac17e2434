#!/usr/bin/env bash
# Set up a virtual environment with the project, then run the default (classroom) scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/mlmsim run "$@"
cat <<'NEXT'

  mlmsim is installed in .venv/. In each new shell, in this folder, put it on the PATH with
      source .venv/bin/activate
  then try the commands of the README (or call .venv/bin/mlmsim without activating).
NEXT
