#!/usr/bin/env bash
# Set up a virtual environment with the project, then run the default (classroom) scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/mlmsim run "$@"
