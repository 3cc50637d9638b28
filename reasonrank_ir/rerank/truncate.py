"""Exact passage truncation, fast: tiktoken's BPE for byte-level BPE tokenizers such as Qwen2.5's.

ReasonRank cuts each passage to its first ``max_length`` tokens of the model's tokenizer
(``convert_tokens_to_string(tokenize(text)[:max_length])``). Tokenizing is most of what the reranker
costs besides the LLM. The tokenizers of Qwen2/2.5/3 are tiktoken vocabularies (byte-level
BPE whose merge order is the rank order), so tiktoken computes the same token ids 3-4x faster. It is
used only when the tokenizer's definition is exactly of that kind (checked field by field below)
and both agree on a probe text covering scripts, digits, whitespace runs and special tokens;
otherwise the tokenizer itself is used. Tests compare both on arbitrary text and whole collections.
"""
from __future__ import annotations

import json
import unicodedata
import weakref
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tiktoken
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerBase

_SPLIT = {"type": "Split", "behavior": "Isolated", "invert": False}
_BUILT: weakref.WeakKeyDictionary[PreTrainedTokenizerBase, TiktokenTruncator | None] = weakref.WeakKeyDictionary()
"""One truncator per tokenizer object: building it reads the whole vocabulary (~0.5 s)."""
_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's printable stand-ins for bytes, reversed (how byte-level vocabularies spell bytes)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    stand_ins = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            stand_ins.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, stand_ins)}


class TiktokenTruncator:
    """``truncate_many(texts, n)`` equal to the tokenizer's ``convert_tokens_to_string(tokenize(t)[:n])``."""

    def __init__(self, encoding: tiktoken.Encoding, nfc: bool) -> None:
        self.encoding = encoding
        self.nfc = nfc

    @classmethod
    def for_tokenizer(cls, tokenizer: PreTrainedTokenizerBase) -> TiktokenTruncator | None:
        """The fast path for ``tokenizer``, or None when its definition is not plain byte-level BPE."""
        try:
            return _BUILT[tokenizer]
        except (KeyError, TypeError):  # TypeError: an object that takes no weak reference
            pass
        built = cls._build(tokenizer)
        try:
            _BUILT[tokenizer] = built
        except TypeError:
            pass
        return built

    @classmethod
    def _build(cls, tokenizer: PreTrainedTokenizerBase) -> TiktokenTruncator | None:
        backend: Tokenizer | None = getattr(tokenizer, "backend_tokenizer", None)  # fast (Rust) tokenizers only
        if backend is None:
            return None
        try:
            import tiktoken
        except ImportError:
            return None
        spec = json.loads(backend.to_str())
        pattern = _plain_byte_level_pattern(spec)
        if pattern is None:
            return None
        model = spec["model"]
        vocab: dict[str, int] = model["vocab"]
        decode = _byte_decoder()
        try:
            ranks = {bytes(decode[c] for c in token): rank for token, rank in vocab.items()}
        except KeyError:  # a vocabulary entry that is not byte-level spelled
            return None
        if len(ranks) != len(vocab) or not _merges_follow_ranks(model["merges"], vocab):
            return None
        added = spec.get("added_tokens") or []
        if any(t.get("normalized") or t.get("lstrip") or t.get("rstrip") or t.get("single_word") for t in added):
            return None
        special = {t["content"]: t["id"] for t in added}
        try:
            encoding = tiktoken.Encoding("reasonrank-truncation", pat_str=pattern, mergeable_ranks=ranks,
                                         special_tokens=special)
        except ValueError:
            return None
        fast = cls(encoding, nfc=spec.get("normalizer") is not None)
        probe = _PROBE + "".join(special)
        expected = backend.encode(probe, add_special_tokens=False).ids
        return fast if fast.encode_many([probe])[0] == expected else None

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        if self.nfc:
            texts = [unicodedata.normalize("NFC", text) for text in texts]
        return self.encoding.encode_batch(list(texts), allowed_special="all")

    def truncate_many(self, texts: Sequence[str], max_length: int) -> list[str]:
        # Byte-level decoding as the tokenizer's decoder does it: bytes, then UTF-8 with U+FFFD.
        return [self.encoding.decode_bytes(row[:max_length]).decode("utf-8", errors="replace")
                for row in self.encode_many(texts)]


_PROBE = (
    "It's the cat's 3.14159 (12) [34] résumé — naïve café; don't we'll I'd they've\n\n\t  multiple   spaces \r\n"
    "Ünïcödé ÅÄÖ ß Ω π ∑ ∞ ≤ ≥ → 中文测试文本 日本語のテキスト 한국어 текст на русском العربية हिन्दी "
    "emoji 🤖🔥👍🏽 👨‍👩‍👧 e\u0301 A\u030a ﬁ ﬀ ½ ² ⅷ 1234567890 ０１２ def f(x):\n    return x**2  # comment\n"
    "<html><body>&amp; &lt;tag&gt;</body></html> http://example.com/a?b=c&d=e   trailing   \n\n\n"
)


def _plain_byte_level_pattern(spec: dict[str, Any]) -> str | None:
    """The split regex of a tokenizer that is exactly: (NFC or no normalizer) -> regex split ->
    byte-level -> BPE with no dropout, affixes or byte fallback -> byte-level decoder."""
    normalizer = spec.get("normalizer")
    if normalizer is not None and normalizer != {"type": "NFC"}:
        return None
    model = spec.get("model") or {}
    if (model.get("type") != "BPE" or model.get("dropout") or model.get("continuing_subword_prefix")
            or model.get("end_of_word_suffix") or model.get("byte_fallback") or model.get("ignore_merges")):
        return None
    if (spec.get("decoder") or {}).get("type") != "ByteLevel":
        return None
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers") if pre.get("type") == "Sequence" else None
    if not steps or len(steps) != 2:
        return None
    split, byte_level = steps
    if any(split.get(k) != v for k, v in _SPLIT.items()) or "Regex" not in (split.get("pattern") or {}):
        return None
    if any(byte_level.get(k) != v for k, v in _BYTE_LEVEL.items()):
        return None
    pattern: str = split["pattern"]["Regex"]
    return pattern


def _merges_follow_ranks(merges: list[str | list[str]], vocab: dict[str, int]) -> bool:
    """tiktoken merges the lowest-ranked pair; BPE merges in list order: equal only if ranks follow it."""
    previous = -1
    for merge in merges:
        left, right = merge.split(" ") if isinstance(merge, str) else merge
        rank = vocab.get(left + right)
        if rank is None or rank <= previous:
            return False
        previous = rank
    return True
