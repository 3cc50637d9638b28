"""The tiktoken truncation path equals the tokenizer's own, token for token, on any text."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CRANFIELD_DATA, VASWANI_DATA
from reasonrank_ir.rerank.prompts import PassageFormatter
from reasonrank_ir.rerank.truncate import TiktokenTruncator


@pytest.fixture(scope="module")
def fast(qwen_tokenizer):
    truncator = TiktokenTruncator.for_tokenizer(qwen_tokenizer)
    assert truncator is not None  # Qwen2.5's tokenizer is a tiktoken vocabulary
    return truncator


def reference(tokenizer, text, length):
    """Upstream's expression."""
    return tokenizer.convert_tokens_to_string(tokenizer.tokenize(text)[:length])


PIECES = st.sampled_from([
    " ", "  ", "\n", "\r\n", "\t", "\n\n ", "'s", "'LL", "don't", "123", "4.5", "(12)", "[3]", "é", "e\u0301",
    "中文", "日本語", "한국어", "🤖", "👍🏽", "👨‍👩‍👧", "ﬁ", "½", "<|im_end|>", "<|endoftext|>", "<tool_call>",
    "&amp;", "http://a.b/c?d=e", "ÅÄÖ", "Ω", "\u200b", "\x00", "���", "def f(x):", "    ", "--", "...",
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=30), length=st.integers(1, 40))
def test_equals_the_tokenizer_on_arbitrary_text(fast, qwen_tokenizer, parts, length):
    text = "".join(parts)
    assert fast.truncate_many([text], length) == [reference(qwen_tokenizer, text, length)]
    assert fast.encode_many([text])[0] == qwen_tokenizer(text, add_special_tokens=False)["input_ids"]


@pytest.mark.slow
@pytest.mark.parametrize("length", [100, 512])
def test_equals_the_tokenizer_on_whole_collections(fast, qwen_tokenizer, length):
    cranfield = re.split(r"^\.I ", (CRANFIELD_DATA / "cran.all.1400").read_text(), flags=re.M)[1:]
    vaswani = re.findall(r"<DOC>(.*?)</DOC>", (VASWANI_DATA / "doc-text.trec").read_text(), flags=re.S)
    texts = cranfield + vaswani[:3000]
    # the long ones: documents glued together so that cuts fall everywhere in the text
    texts += [" ".join(cranfield[i:i + 5]) for i in range(0, 600, 5)]
    assert fast.truncate_many(texts, length) == [reference(qwen_tokenizer, t, length) for t in texts]


def test_formatter_uses_it_and_stays_exact(qwen_tokenizer):
    formatter = PassageFormatter(qwen_tokenizer, 7)
    docs = [{"title": "Ünïcode", "text": "中文 [12] passage with émoji 🤖 and more words than seven"}]
    assert formatter.format_many(docs) == [formatter.format(docs[0])]
    assert formatter._fast  # the fast path was chosen
    slow = PassageFormatter(qwen_tokenizer, 7)
    slow._fast = False  # force the tokenizer path
    assert slow.format_many(docs) == formatter.format_many(docs)


@pytest.mark.slow
def test_other_tokenizer_kinds_fall_back(tiny_qwen2, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    word_level = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    assert TiktokenTruncator.for_tokenizer(PreTrainedTokenizerFast(tokenizer_object=word_level)) is None
    assert TiktokenTruncator.for_tokenizer(object()) is None


@pytest.fixture(scope="module")
def nfc_tokenizer(qwen_tokenizer):
    """The Qwen2.5 tokenizer as the hub ships it, with its NFC normalizer (the shared copy has none)."""
    from tokenizers import Tokenizer, normalizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_str(qwen_tokenizer.backend_tokenizer.to_str())
    backend.normalizer = normalizers.NFC()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend)
    fast = TiktokenTruncator.for_tokenizer(tokenizer)
    assert fast is not None and fast.nfc
    return tokenizer, fast


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=30), length=st.integers(1, 40))
def test_equals_a_normalising_tokenizer(nfc_tokenizer, parts, length):
    nfc_tokenizer, fast = nfc_tokenizer
    text = "".join(parts)
    assert fast.truncate_many([text], length) == [reference(nfc_tokenizer, text, length)]
