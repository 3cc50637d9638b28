"""Models named by hub ids: local folders and cached snapshots are used, an unreachable hub fails fast."""
import time

import pytest

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.hub import locate
from reasonrank_ir.rerank.prompts import load_tokenizer


@pytest.mark.slow
def test_local_folder_is_used_as_is(tiny_qwen2):
    assert locate(tiny_qwen2) == str(tiny_qwen2)


def test_missing_model_without_hub_is_one_fast_line(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty Hugging Face cache
    started = time.perf_counter()
    with pytest.raises(ReasonRankError, match=r"'liuwenhan/reasonrank-7B' is not on this machine.*huggingface-cli download"):
        load_tokenizer("liuwenhan/reasonrank-7B")
    assert time.perf_counter() - started < 10


def test_unreachable_hub_is_detected_without_offline_flag(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", "https://nonexistent.invalid")
    with pytest.raises(ReasonRankError, match="hub cannot be reached"):
        locate("liuwenhan/reasonrank-7B")
