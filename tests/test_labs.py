"""The lab notebooks under labs/ run top to bottom, offline, with nbclient: any cell error fails.

Each notebook runs in a fresh kernel (this interpreter's ipykernel) from a copy in a temporary
folder, so what it writes (``runs/``) stays out of the checkout; the caches are the session's
temporary ones (conftest), the GGUF and the Qwen2.5 tokenizer are pointed at by the two variables
the notebooks read. The stored outputs must come from a run of the notebook as it is (every code
cell executed, in order) and hold no path of the machine that stored them.
"""
from __future__ import annotations

import json
import os
import shutil

import pytest

from conftest import GGUF, QWEN_TOKENIZER, ROOT

LABS = sorted((ROOT / "labs").glob("*.ipynb"))
CELL_TIMEOUT = 600
"""Seconds one cell may take (the longest, Lab 2's llama.cpp rerank, takes about a minute)."""


def test_the_four_labs_are_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(LABS) == 4
    for notebook in LABS:
        assert f"labs/{notebook.name}" in readme


@pytest.mark.parametrize("notebook", LABS, ids=lambda p: p.stem)
def test_stored_outputs_are_a_clean_run(notebook):
    stored = notebook.read_text(encoding="utf-8")
    code = [cell for cell in json.loads(stored)["cells"] if cell["cell_type"] == "code"]
    assert [cell["execution_count"] for cell in code] == list(range(1, len(code) + 1))
    assert not [o for cell in code for o in cell["outputs"] if o["output_type"] == "error"]
    assert any("image/png" in o.get("data", {}) for cell in code for o in cell["outputs"])
    for local in ("/work/", "/tmp/", "/root/", "/home/", str(ROOT)):
        assert local not in stored, f"{notebook.name} shows a local path ({local})"


@pytest.mark.slow
@pytest.mark.parametrize("notebook", LABS, ids=lambda p: p.stem)
def test_lab_runs_offline_top_to_bottom(notebook, tmp_path, isolated_caches):
    import nbformat
    from nbclient import NotebookClient

    if not GGUF.is_file():
        pytest.fail(f"{GGUF} missing: run scripts/fetch_test_models.sh")
    copy = shutil.copy(notebook, tmp_path)
    nb = nbformat.read(copy, as_version=4)
    env = {"REASONRANK_LAB_GGUF": str(GGUF), "REASONRANK_LAB_TOKENIZER": str(QWEN_TOKENIZER),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
