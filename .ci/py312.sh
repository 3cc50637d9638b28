#!/usr/bin/env bash
# CI leg: Python 3.12 (pyenv) with Pyserini 2.x in a fresh venv, running the Pyserini-facing tests
# (`pytest -m pyserini`). Prints the leg's wall time, also when it fails. `.ci/py313.sh` runs this
# script on Python 3.13, with the train and openai extras and the quick tests too (`-m "pyserini or
# not slow"`).
#
# Pyserini 2.4 fetches its prebuilt-index tables from GitHub while `pyserini.search` is imported, so
# offline (as CI runs) nothing that opens a Lucene index can work there. The leg therefore runs the
# whole selection on the newest 2.x that carries its tables (2.3), then upgrades to the newest
# Pyserini and reruns the tests that need no network: BRIGHT names after import-bright in 2.4's cache
# layout, evaluation, the oracle, the Java set-up and the one-line offline error. Where CI has internet, set
# PYSERINI_OFFLINE=pyserini to run everything on the newest release instead.
# Usage: .ci/py312.sh   (PYVER=3.13 for another Python; VENV=... to choose the folder, default
# .venv-py312, .venv-py313 ..., recreated each run; EXTRAS=train,openai to install extras; SELECT=...
# the first pytest -m selection, default pyserini; PHASE=install or PHASE=test for one half, as .ci/run
# installs this leg in the background while the 3.11 suite runs)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
PYVER="${PYVER:-3.12}"
PHASE="${PHASE:-all}"
trap 'echo "py${PYVER/./} leg ($PHASE): $((SECONDS - start)) s"' EXIT

PYENV_HOME=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
PYTHON=$(ls -d "$PYENV_HOME"/versions/"$PYVER".*/bin/python | sort -V | tail -n 1)
VENV="${VENV:-.venv-py${PYVER/./}}"
SELECT="${SELECT:-pyserini}"
EXTRAS="${EXTRAS:+[$EXTRAS]}"
OFFLINE_SPEC="${PYSERINI_OFFLINE:-pyserini>=2,<2.4}"
if [ "$PHASE" != test ]; then
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
# No CPU build of torch for 3.12/3.13 is on local disk: pip takes the registry's (CUDA) build here.
"$VENV/bin/pip" install --quiet "$OFFLINE_SPEC" "pytest>=8" "hypothesis>=6.100"
# The package itself is built in the checkout (its egg-info): .ci/run serialises such builds with a lock.
${CI_BUILD_LOCK:+flock "$CI_BUILD_LOCK"} "$VENV/bin/pip" install --quiet "$OFFLINE_SPEC" -e ".$EXTRAS"
# The reward tests' RBO reference declares numpy<2 (see scripts/fetch_test_models.sh): no deps.
"$VENV/bin/pip" install --quiet --no-deps "rbo==0.1.3"
fi
[ "$PHASE" = install ] && exit 0
"$VENV/bin/python" -c 'import importlib.metadata as m, platform; print("Python", platform.python_version(), "Pyserini", m.version("pyserini"))'
"$VENV/bin/python" -m pytest -q -m "$SELECT"

"$VENV/bin/pip" install --quiet --upgrade pyserini
"$VENV/bin/python" -c 'import importlib.metadata as m, platform; print("Python", platform.python_version(), "Pyserini", m.version("pyserini"))'
"$VENV/bin/python" -m pytest -q -m pyserini tests/test_pyserini_compat.py tests/test_oracle.py \
  tests/test_evaluate.py tests/test_package.py tests/test_data.py::test_bright_names_resolve_offline_after_import \
  tests/test_data.py::test_bright_hub_aliases tests/test_data.py::test_bright_excluded_ids \
  tests/test_data.py::test_import_bright_cli tests/test_data.py::test_bright_original_query_text
