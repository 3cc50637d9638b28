#!/usr/bin/env bash
# CI leg 2: Python 3.12 (pyenv) with Pyserini 2.x in a fresh venv, running the Pyserini-facing tests
# (`pytest -m pyserini`). Prints the leg's wall time, also when it fails.
#
# Pyserini 2.4 fetches its prebuilt-index tables from GitHub while `pyserini.search` is imported, so
# offline (as CI runs) nothing that opens a Lucene index can work there. The leg therefore runs the
# whole selection on the newest 2.x that carries its tables (2.3), then upgrades to the newest
# Pyserini and reruns the tests that need no network: BRIGHT names after import-bright in 2.4's cache
# layout, evaluation, the oracle, the Java set-up and the one-line offline error. Where CI has internet, set
# PYSERINI_OFFLINE=pyserini to run everything on the newest release instead.
# Usage: .ci/py312.sh   (VENV=... to choose the folder; default .venv-py312, recreated each run)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
trap 'echo "py312 leg: $((SECONDS - start)) s"' EXIT

PYENV_HOME=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
PYTHON312=$(ls -d "$PYENV_HOME"/versions/3.12.*/bin/python | sort -V | tail -n 1)
VENV="${VENV:-.venv-py312}"
OFFLINE_SPEC="${PYSERINI_OFFLINE:-pyserini>=2,<2.4}"
rm -rf "$VENV"
"$PYTHON312" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
# No CPU build of torch for 3.12 is on local disk: pip takes the registry's (CUDA) build here.
"$VENV/bin/pip" install --quiet "$OFFLINE_SPEC" -e . "pytest>=8" "hypothesis>=6.100"
"$VENV/bin/python" -c 'import importlib.metadata as m; print("Python 3.12, Pyserini", m.version("pyserini"))'
"$VENV/bin/python" -m pytest -q -m pyserini

"$VENV/bin/pip" install --quiet --upgrade pyserini
"$VENV/bin/python" -c 'import importlib.metadata as m; print("Python 3.12, Pyserini", m.version("pyserini"))'
"$VENV/bin/python" -m pytest -q -m pyserini tests/test_pyserini_compat.py tests/test_oracle.py \
  tests/test_evaluate.py tests/test_package.py tests/test_data.py::test_bright_names_resolve_offline_after_import \
  tests/test_data.py::test_bright_hub_aliases tests/test_data.py::test_bright_excluded_ids \
  tests/test_data.py::test_import_bright_cli tests/test_data.py::test_bright_original_query_text
