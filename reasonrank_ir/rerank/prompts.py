"""ReasonRank's prompts, byte for byte: passage text, token truncation, chat messages, rendering.

The one prompt implementation of the project: the reranker and the training formats both import it.
Strings follow the released ReasonRank code (``listwise_prompt_r1.toml`` and ``utils.py``).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from reasonrank_ir.backends.base import Message, Prompt, chat_text
from reasonrank_ir.errors import ReasonRankError, unknown

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from reasonrank_ir.rerank.truncate import TiktokenTruncator

PROMPT_STYLES = ("reasonrank", "rankgpt", "qwen3")
"""``reasonrank``: reasoning mode of ReasonRank-7B/32B; ``rankgpt``: the non-reasoning RankGPT prompt;
``qwen3``: the non-reasoning system message with the answer in ``<answer>`` tags (ReasonRank-8B)."""

TEXT_FIELDS = ("text", "segment", "contents", "body", "passage")
"""Stored fields that may hold the passage, in the order upstream looks for them."""

RANKGPT_SYSTEM = (
    "You are RankLLM, an intelligent assistant that can rank passages based on their relevance to the query."
)
REASONING_SYSTEM = (
    RANKGPT_SYSTEM + " Given a query and a passage list, you first thinks about the reasoning process in the "
    "mind and then provides the answer (i.e., the reranked passage list). The reasoning process and answer "
    "are enclosed within <think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "
    "process here </think> <answer> answer here </answer>."
)
PREFIX = (
    "I will provide you with {num} passages, each indicated by a numerical identifier []. "
    "Rank the passages based on their relevance to the search query: {query}.\n"
)
_POST = (
    "Search Query: {query}.\nRank the {num} passages above based on their relevance to the search query. "
    "All the passages should be included and listed using identifiers, in descending order of relevance. "
)
_ONLY_RANKING = " Only respond with the ranking results, do not say any word or explain."
_SYSTEMS = {"reasonrank": REASONING_SYSTEM, "rankgpt": RANKGPT_SYSTEM, "qwen3": RANKGPT_SYSTEM}
_POSTS = {
    "reasonrank": _POST + "The format of the answer should be [] > [], e.g., [2] > [1].",
    "rankgpt": _POST + "The output format should be [] > [], e.g., [2] > [1]." + _ONLY_RANKING,
    "qwen3": _POST + "The final ranked list should be enclosed within <answer> </answer> tags, i.e., "
    "<answer> ranked list here </answer>. The format of ranked list should be [] > [], e.g., [2] > [1]."
    + _ONLY_RANKING,
}

_BRACKETED_NUMBER = re.compile(r"\[(\d+)\]")


def replace_number(text: str) -> str:
    """``[12]`` becomes ``(12)``, so passages and queries cannot be mistaken for identifiers."""
    return _BRACKETED_NUMBER.sub(r"(\1)", text)


def clean_query(text: str) -> str:
    return replace_number(text).strip()


def check_style(style: str) -> str:
    if style not in PROMPT_STYLES:
        raise ReasonRankError(
            unknown("prompt style", style, PROMPT_STYLES)
        )
    return style


def passage_text(doc: Mapping[str, Any]) -> str:
    """The passage before truncation: first present text field, ``Title: .. Content: ..``, strip, ftfy."""
    for name in TEXT_FIELDS:
        if name in doc:
            content = doc[name] or ""
            break
    else:
        found = ", ".join(map(str, doc)) or "none"
        raise ReasonRankError(
            f"a passage has none of the fields {', '.join(TEXT_FIELDS)} (found: {found}); "
            "index the raw documents (Pyserini -storeRaw) or pass them in the candidates' 'doc'."
        )
    title = doc.get("title")
    if title:
        content = f"Title: {title} Content: {content}"
    return fix_text(str(content).strip())


class PassageFormatter:
    """Passages as the model sees them: cut to ``max_length`` tokens of the model's own tokenizer.

    ``format_many`` tokenizes a whole list in one call (with tiktoken where the tokenizer is a
    tiktoken vocabulary, see :mod:`reasonrank_ir.rerank.truncate`; else batched in the tokenizer's
    Rust code) and each distinct text once: the same document retrieved for several queries is
    truncated only the first time (up to ``cache_size`` texts are remembered). The result equals
    upstream's ``convert_tokens_to_string(tokenize(text)[:max_length])`` (:meth:`truncate`).
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int, cache_size: int = 16384) -> None:
        if max_length < 1:
            raise ReasonRankError(f"max passage length must be at least 1 token, found {max_length}")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.cache_size = cache_size
        self._cache: dict[str, str] = {}
        self._fast: TiktokenTruncator | Literal[False] | None = None  # decided on first use (False: not applicable)

    def truncate(self, text: str) -> str:
        """Upstream's expression, the reference every faster path must equal."""
        return self.tokenizer.convert_tokens_to_string(self.tokenizer.tokenize(text)[: self.max_length])

    def format(self, doc: Mapping[str, Any]) -> str:
        return self.format_many([doc])[0]

    def format_many(self, docs: Iterable[Mapping[str, Any]]) -> list[str]:
        texts = [passage_text(doc) for doc in docs]
        new = [text for text in dict.fromkeys(texts) if text not in self._cache]
        cuts = self._truncate_many(new) if new else []
        formatted = {text: replace_number(cut) for text, cut in zip(new, cuts)}
        out = [formatted[text] if text in formatted else self._cache[text] for text in texts]
        self._remember(formatted)
        return out

    def _remember(self, formatted: dict[str, str]) -> None:
        self._cache.update(formatted)
        for text in list(self._cache)[: max(len(self._cache) - self.cache_size, 0)]:  # oldest first
            del self._cache[text]

    def _truncate_many(self, texts: list[str]) -> list[str]:
        if self._fast is None:
            from reasonrank_ir.rerank.truncate import TiktokenTruncator

            self._fast = TiktokenTruncator.for_tokenizer(self.tokenizer) or False
        if self._fast:
            return self._fast.truncate_many(texts, self.max_length)
        convert = self.tokenizer.convert_tokens_to_string
        if self.tokenizer.is_fast:
            encoding = self.tokenizer(texts, add_special_tokens=False)
            return [convert(encoding.tokens(i)[: self.max_length]) for i in range(len(texts))]
        return [self.truncate(text) for text in texts]


def build_messages(query: str, passages: Sequence[str], style: str = "reasonrank") -> tuple[Message, ...]:
    """System and user messages for one window; ``passages`` already formatted, ``query`` raw."""
    check_style(style)
    query = clean_query(query)
    num = len(passages)
    body = "".join(f"[{rank}] {passage}\n" for rank, passage in enumerate(passages, 1))
    user = PREFIX.format(num=num, query=query) + "\n" + body + _POSTS[style].format(num=num, query=query)
    return Message("system", _SYSTEMS[style]), Message("user", user)


def render(messages: Sequence[Message], tokenizer: PreTrainedTokenizerBase) -> Prompt:
    """The chat-template rendering (generation prompt added, no prefill) passed through ftfy."""
    return Prompt(tuple(messages), fix_text(chat_text(messages, tokenizer)))


def answer_format(order_1based: Iterable[int]) -> str:
    """``[3] > [1] > [2]``: the ranked-list format the prompts ask for."""
    return " > ".join(f"[{i}]" for i in order_1based)


def load_tokenizer(name_or_path: str | os.PathLike[str]) -> PreTrainedTokenizerBase:
    """The model's own tokenizer (local path, cached hub id, or the one inside a .gguf file);
    truncation and chat templates need it."""
    from transformers import AutoTokenizer

    from reasonrank_ir.hub import locate

    path = Path(name_or_path)
    if path.suffix == ".gguf" and path.is_file():
        import importlib.util

        if importlib.util.find_spec("gguf") is None:
            raise ReasonRankError("reading the tokenizer inside a .gguf file needs the gguf package: "
                                  "pip install 'reasonrank-ir[llamacpp]' (or pass --tokenizer)")
        import struct

        try:
            return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        except struct.error:  # the header's lengths point past the end of the file
            raise ReasonRankError(f"cannot read a tokenizer from {path}: the file is cut short (an interrupted "
                                  "download?); fetch it again, or pass --tokenizer") from None
        except (OSError, ValueError) as error:
            raise ReasonRankError(f"cannot read a tokenizer from {path} ({type(error).__name__}); "
                                  "pass --tokenizer with the model's tokenizer folder") from error

    try:
        return AutoTokenizer.from_pretrained(locate(name_or_path, "tokenizer"))
    except (OSError, ValueError) as error:
        raise ReasonRankError(
            f"tokenizer of {str(name_or_path)!r} is not available offline ({type(error).__name__}); "
            "pass --tokenizer (tokenizer=...) with a local tokenizer or model directory."
        ) from error


# ftfy, exactly, without its cost on plain lines. ftfy.fix_text fixes a text one line at a time and
# stops unescaping HTML from the first line containing '<'; a line of printable ASCII (plus tab) is
# left unchanged by every fixer, except for HTML entities while unescaping is still on. Rendered
# prompts are ~50k characters, mostly such lines: ftfy on them would cost ~20 ms per window.
_PLAIN = re.compile(r"[\t\n -~]*")
_MAX_DECODE_LENGTH = 1_000_000  # ftfy's default segment bound; longer texts take ftfy's own path


def fix_text(text: str) -> str:
    """``ftfy.fix_text(text)``, byte for byte, calling ftfy only on lines it might change."""
    if _PLAIN.fullmatch(text) and not _may_unescape(text):
        return text
    if len(text) > _MAX_DECODE_LENGTH:
        import ftfy

        return ftfy.fix_text(text)
    out = []
    unescape_html: str | bool = "auto"
    pos = 0
    while pos < len(text):
        end = text.find("\n", pos) + 1 or len(text)
        line = text[pos:end]
        if unescape_html == "auto" and "<" in line:
            unescape_html = False
        if not (_PLAIN.fullmatch(line) and (unescape_html is False or "&" not in line)):
            line = _fix_line(line, unescape_html)
        out.append(line)
        pos = end
    return "".join(out)


def _may_unescape(text: str) -> bool:
    """Whether an '&' comes before the line where ftfy turns HTML unescaping off."""
    amp = text.find("&")
    if amp < 0:
        return False
    lt = text.find("<")
    return lt < 0 or amp < text.rfind("\n", 0, lt) + 1


@lru_cache(maxsize=8192)
def _fix_line(line: str, unescape_html: str | bool) -> str:
    import ftfy

    return ftfy.fix_text(line, unescape_html=unescape_html)
