"""Reading a ranked list out of a model's response, repaired into a permutation of the window.

Follows upstream ReasonRank (lower-cased strict pattern, else the text after the last ``<answer>``,
digits only, first occurrence wins, out-of-range ids dropped, missing ids appended in input order),
except that a response with no answer keeps the window's order instead of ranking the digits of
its reasoning, and says so in ``status``. The corners (REFERENCE.md section 2):

* an answer holding a character ``str.isdigit`` accepts but ``\\d`` does not (``²``, ``①``), or an id
  of more than 4,300 digits, keeps the window's order (``no_answer``), as upstream's failing ``int()``
  does;
* the fallback finds ``<ANSWER>`` in any case (upstream's is lower case only and would then rank the
  digits of the reasoning: the strict pattern is already case-blind, so the fallback is too).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

ANSWER_PATTERN = re.compile(r"<think>.*?</think>\s*<answer>(.*?)</answer>", re.DOTALL)
"""The strict output format (applied to the lower-cased response); training's reward uses it too."""

STATUSES = ("ok", "repaired", "no_answer")
"""``ok``: strict format and an exact permutation; ``repaired``: an answer was found but needed
the fallback pattern or repair; ``no_answer``: nothing usable (no answer, or one upstream cannot
read), the window keeps its order."""

MAX_DIGITS = 4300
"""Python's int-string limit: upstream's ``int()`` raises on a longer id and keeps the window."""

_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_ANSWER_TAG = re.compile(r"<answer>", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")


class Thought(NamedTuple):
    """A reasoning model's output split at its think block (see :func:`split_think`)."""

    reasoning: str
    reply: str
    closed: bool
    """False when ``<think>`` was never closed: reasoning cut off by max_tokens, no reply."""


def split_think(text: str) -> Thought:
    """Split reasoning from the reply: the one reading of ``<think>`` tags (reranker, teacher labels, mining).

    Tags match in any case. The reply follows the last ``</think>`` and the reasoning is what precedes
    it, less its ``<think>`` tag (chat templates may put that tag in the prompt). Reasoning cut off by
    max_tokens is all reasoning with no reply: a 'yes' or a passage number in unfinished thoughts is
    not the model's answer. Text without tags is all reply.
    """
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        close = closes[-1]
        reasoning = _THINK_OPEN.sub("", text[:close.start()], count=1)
        return Thought(reasoning.strip(), text[close.end():].strip(), True)
    if _THINK_OPEN.search(text):
        return Thought(_THINK_OPEN.sub("", text, count=1).strip(), "", False)
    return Thought("", text.strip(), True)


@dataclass(frozen=True)
class ParsedAnswer:
    order: tuple[int, ...]
    """0-based permutation of ``range(num)``: the window's positions, best first."""
    status: str
    reasoning: str


def parse_answer(text: str, num: int, *, tagged: bool = True) -> ParsedAnswer:
    """Parse one response for a window of ``num`` passages.

    ``tagged=False`` is for prompts without ``<answer>`` tags (rankgpt): the whole text is the answer.
    """
    strict = False
    if tagged:
        lowered = text.lower()
        match = ANSWER_PATTERN.search(lowered)
        if match:
            answer, strict = match.group(1), True
        elif "<answer>" in lowered:
            answer = lowered.rsplit("<answer>", 1)[1]
        else:
            answer = None
        reasoning = _reasoning(text)
    else:
        answer, reasoning = text, ""
    ids, clean = ([], False) if answer is None or unreadable(answer) else _ids(answer, num)
    if not ids:
        return ParsedAnswer(tuple(range(num)), "no_answer", reasoning)
    seen = set(ids)
    order = tuple(ids + [i for i in range(num) if i not in seen])
    exact = clean and len(ids) == num and (strict or not tagged)
    return ParsedAnswer(order, "ok" if exact else "repaired", reasoning)


def unreadable(answer: str) -> bool:
    """True when upstream's ``int()`` fails on the answer: a non-decimal digit (``²``, ``①``: upstream
    keeps every ``str.isdigit`` character) or an id longer than :data:`MAX_DIGITS` digits."""
    return (any(c.isdigit() and not c.isdecimal() for c in answer)
            or any(len(token) > MAX_DIGITS for token in _NUMBER.findall(answer)))


def passage_number(token: str) -> int:
    """The number a run of digits denotes (``01`` is 1), or 0 (no passage) past 9 digits.

    ``int()`` refuses more than 4,300 digits; no window holds a billion passages.
    """
    digits = token.lstrip("0") or "0"
    return int(digits) if len(digits) <= 9 else 0


def _ids(answer: str, num: int) -> tuple[list[int], bool]:
    """Distinct in-range 0-based ids in order of first mention, and whether none was dropped."""
    ids: list[int] = []
    seen: set[int] = set()
    clean = True
    for token in _NUMBER.findall(answer):
        index = passage_number(token) - 1
        if 0 <= index < num and index not in seen:
            seen.add(index)
            ids.append(index)
        else:
            clean = False
    return ids, clean


def _reasoning(text: str) -> str:
    """The think block's text; else what precedes the answer (reasoning cut off, or no tags at all)."""
    reasoning, reply, closed = split_think(text)
    if closed and reasoning:
        return reasoning
    return _ANSWER_TAG.split(reasoning or reply, maxsplit=1)[0].strip()
