"""Shared fixtures: paths to ../shared/data and a tiny randomly initialised Qwen2 model.

The tiny model uses the real Qwen2.5 tokenizer, so prompts, truncation and chat templates are the
real ones; only the weights are random (no weights can be downloaded here).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reasonrank_ir.backends.llamacpp import default_n_batch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()
QWEN_TOKENIZER = SHARED_DATA / "tokenizers" / "qwen2.5"
BRIGHT_DATA = SHARED_DATA / "bright"
BRIGHT_FIRST_STAGE = SHARED_DATA / "bright-first-stage"
CRANFIELD_DATA = SHARED_DATA / "collections" / "cranfield"
VASWANI_DATA = SHARED_DATA / "collections" / "vaswani"
GGUF = ROOT / "tests" / ".fixtures" / "smollm2.gguf"
"""SmolLM2-135M-Instruct (Q4_1), fetched by scripts/fetch_test_models.sh as part of the install."""
N_BATCH = default_n_batch()
"""The llama.cpp server's prompt batch: the backend's own default (1 on CPUs reporting AMX)."""


@pytest.fixture(scope="session")
def qwen_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(QWEN_TOKENIZER))


def build_tiny_qwen2(directory: Path, seed: int = 0, hidden_size: int = 32) -> Path:
    """Save a ~5M-parameter random Qwen2 model with the shared tokenizer into ``directory``.

    4 attention heads: ``hidden_size`` 128 gives the head size of 32 that vLLM's CPU attention needs.
    """
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(QWEN_TOKENIZER))
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768,
        tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory) -> Path:
    """Path of a tiny random Qwen2 checkpoint loadable with ``from_pretrained``."""
    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2"))


@pytest.fixture(scope="session")
def tiny_qwen2_vllm(tmp_path_factory) -> Path:
    """A tiny random Qwen2 that vLLM's CPU build can run (head size 32)."""
    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2-vllm"), hidden_size=128)


def require_vllm() -> None:
    """Skip the calling test module where vLLM cannot generate (the main venv has no vLLM); the vLLM
    CI leg sets REASONRANK_REQUIRE_VLLM=1 so that a broken install fails instead of skipping.

    Sets the engine's environment for tests: in-process engine core (starts in seconds instead of
    spawning a process) and 1 GiB of KV cache on CPU (vLLM's CPU build would take most of the RAM).
    """
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from reasonrank_ir.backends import resolve_backend_name

    if resolve_backend_name("auto") != "vllm":
        if os.environ.get("REASONRANK_REQUIRE_VLLM") == "1":
            pytest.fail("REASONRANK_REQUIRE_VLLM=1 but vLLM is not installed or has no device here",
                        pytrace=False)
        pytest.skip("vLLM is not installed or has no device here (scripts/install_vllm_cpu.sh, .ci/vllm.sh)",
                    allow_module_level=True)


@pytest.fixture(autouse=True, scope="session")
def _offline_hub():
    """Nothing in a test may reach a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    yield


@pytest.fixture(scope="session", autouse=True)
def isolated_caches(tmp_path_factory):
    """Pyserini, ir_datasets and our indexes write under a temporary home, never ~/.cache."""
    home = tmp_path_factory.mktemp("caches")
    saved = {k: os.environ.get(k) for k in ("PYSERINI_CACHE", "IR_DATASETS_HOME", "REASONRANK_HOME")}
    os.environ["PYSERINI_CACHE"] = str(home / "pyserini")
    os.environ["IR_DATASETS_HOME"] = str(home / "ir_datasets")
    os.environ["REASONRANK_HOME"] = str(home / "reasonrank")
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def bright_imported(isolated_caches):
    """BRIGHT topics and qrels imported into the (temporary) Pyserini cache, as a user would."""
    from reasonrank_ir.data import import_bright

    import_bright(BRIGHT_DATA)
    return isolated_caches


@pytest.fixture(scope="session")
def cranfield(isolated_caches):
    """The Cranfield dataset imported offline and indexed once with Pyserini (shared JVM)."""
    from reasonrank_ir.data import import_irds, load

    import_irds("cranfield", CRANFIELD_DATA)
    dataset = load("cranfield")
    dataset.index_path()
    return dataset


def pyserini_cli(module: str, *args: str) -> subprocess.CompletedProcess:
    """Run one of Pyserini's own CLIs (e.g. ``pyserini.search.lucene``) in a fresh process.

    Importing reasonrank_ir first applies the Java 21 set-up Pyserini needs on this runtime.
    """
    from reasonrank_ir.java import find_java_home

    code = ("import sys, runpy, reasonrank_ir; "
            f"sys.argv = [{module!r}] + sys.argv[1:]; runpy.run_module({module!r}, run_name='__main__')")
    env = dict(os.environ, JAVA_HOME=find_java_home(), OPENAI_API_KEY="placeholder")
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          timeout=600)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """Base URL of a llama.cpp OpenAI-compatible server serving SmolLM2 as model 'smollm2'."""
    if not GGUF.is_file():
        pytest.skip(f"{GGUF} missing: run scripts/fetch_test_models.sh")
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(GGUF),
             "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
             "--n_ctx", "1024", "--n_threads", "1", "--n_batch", str(N_BATCH),
             "--n_ubatch", str(N_BATCH)],
            stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server not ready in 60 s: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
