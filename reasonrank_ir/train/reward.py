"""ReasonRank's multi-view ranking reward for GRPO (REFERENCE.md section 4).

One rollout is scored against one training list:

* the output does not match ``<think>.*?</think>\\s*<answer>(.*?)</answer>`` (DOTALL): ``-1``;
* the answer's id count, or its distinct-id count, differs from the teacher list's: ``0``;
* an id outside ``1..len(list)`` (it names no passage): ``0`` (upstream silently drops such ids from
  NDCG/Recall and still compares them in RBO; a list with a made-up passage is not a ranking);
* a passage named twice, under any spelling (``[1] > [01]``): ``0``. Ids are compared as the
  integers they denote; upstream compares the strings for the counts, so ``[1] > [01] > [001]``
  passed as distinct ids while naming one relevant passage three times;
* an answer upstream's ``int()`` cannot read (``²``, ``①``, an id of over 4,300 digits): ``0``, the
  reward of a ranking that names no passage (the reranker keeps such a window's order);
* otherwise ``NDCG@10 + phi * Recall@10 + gamma * RBO(predicted, teacher, p)``, where NDCG@10 and
  Recall@10 use the relevant ids as binary qrels on the predicted order (trec_eval's definitions).

A list with no relevant id has no NDCG (upstream divides by zero): :func:`ranking_reward` refuses it,
and GRPO's dataset refuses such a list before training starts.

Everything here is a pure function; :class:`RankingReward` adapts it to trl's reward interface.
"""
from __future__ import annotations

import math
import re
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.rerank.parse import ANSWER_PATTERN, passage_number, unreadable

Completion = str | Sequence[Mapping[str, str]]
"""What trl hands a reward: text for text prompts, ``[{"role", "content"}]`` for chat prompts."""

_NON_DIGIT = re.compile(r"\D+")


def ids_in(text: str) -> list[str]:
    """The integers of ``text`` in order (every non-digit is a separator), as upstream reads answers."""
    return [t for t in _NON_DIGIT.split(text) if t]


def positions_in(text: str, n: int) -> list[int] | None:
    """The 1-based passage numbers ``text`` names, or None when one names no passage of ``1..n``
    or upstream could not read them (see :func:`reasonrank_ir.rerank.parse.unreadable`)."""
    if unreadable(text):
        return None
    numbers = [passage_number(t) for t in ids_in(text)]
    return numbers if all(1 <= i <= n for i in numbers) else None


def ndcg_at(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """Binary-gain nDCG@k as trec_eval's ``ndcg_cut.k`` (0 when nothing is relevant).

    A doc listed twice gains once, so the score never exceeds 1.
    """
    relevant = set(relevant)
    if not relevant:
        return 0.0
    first: dict[str, int] = {}
    for r, d in enumerate(ranked[:k]):
        first.setdefault(d, r)
    dcg = sum(1.0 / math.log2(r + 2) for d, r in first.items() if d in relevant)
    ideal = sum(1.0 / math.log2(r + 2) for r in range(min(len(relevant), k)))
    return dcg / ideal


def recall_at(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """Share of the relevant ids found in the top k (0 when nothing is relevant)."""
    relevant = set(relevant)
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def rbo(a: Sequence[Hashable], b: Sequence[Hashable], p: float = 1.0) -> float:
    """Rank-biased overlap of two rankings without duplicates, truncated at the shorter length k.

    With agreement ``A_d = |a[:d] & b[:d]| / d``: ``p == 1`` gives the average overlap
    ``mean(A_1..A_k)`` (what the released model was trained with, the ``rbo`` package's default);
    ``0 < p < 1`` gives Webber et al.'s truncated sum ``(1 - p) * sum_d p**(d-1) * A_d``
    (no extrapolation), the form the paper writes. Both match ``rbo.RankingSimilarity(a, b).rbo(p=p)``.
    """
    if not 0.0 < p <= 1.0:
        raise ReasonRankError(f"RBO needs 0 < p <= 1, got p={p}.")
    k = min(len(a), len(b))
    if k == 0:
        return 1.0 if not a and not b else 0.0
    seen_a: set[Hashable] = set()
    seen_b: set[Hashable] = set()
    overlap = 0
    total = 0.0
    for d in range(k):
        x, y = a[d], b[d]
        if x == y:
            overlap += 1
        else:
            overlap += (x in seen_b) + (y in seen_a)
        seen_a.add(x)
        seen_b.add(y)
        agreement = overlap / (d + 1)
        total += agreement if p == 1.0 else (1 - p) * p**d * agreement
    return total / k if p == 1.0 else total


@dataclass(frozen=True)
class RewardConfig:
    """The reward's weights; the defaults are the paper's (phi 0.2, gamma 0.1, RBO p 1.0, cut-off 10)."""

    phi: float = 0.2
    gamma: float = 0.1
    p: float = 1.0
    k: int = 10


def ranking_reward(
    completion: str,
    initial_list: Sequence[str],
    relevant: Collection[str],
    teacher_list: Sequence[str],
    config: RewardConfig = RewardConfig(),
) -> float:
    """The reward of one rollout ``completion`` for the passages ``initial_list`` (prompt order).

    ``relevant`` are the pointwise-relevant doc ids; ``teacher_list`` is the teacher's ranking of
    the same doc ids (the released data's ``final_list``).
    """
    if not relevant:
        raise ReasonRankError("the ranking reward needs at least one relevant id (NDCG@10 is undefined without)")
    match = ANSWER_PATTERN.search(completion)
    if match is None:
        return -1.0
    predicted = positions_in(match.group(1), len(initial_list))
    position = {doc_id: i + 1 for i, doc_id in enumerate(initial_list)}
    teacher = [position[d] for d in teacher_list if d in position]
    if (predicted is None or len(predicted) != len(teacher) or len(set(predicted)) != len(predicted)
            or len(set(predicted)) != len(set(teacher))):
        return 0.0
    ranked = [initial_list[i - 1] for i in predicted]
    return (
        ndcg_at(ranked, relevant, config.k)
        + config.phi * recall_at(ranked, relevant, config.k)
        + config.gamma * rbo(predicted, teacher, config.p)
    )


class RankingReward:
    """:func:`ranking_reward` as a trl reward function over dataset columns.

    trl calls it with the completions and, per completion, the dataset's ``initial_list``,
    ``relevant_docids`` and ``final_list`` columns (repeated for each of the group's rollouts).
    ``calls`` counts the completions scored, so tests and logs can see it ran on real generations.
    """

    __name__ = "ranking_reward"

    def __init__(self, config: RewardConfig = RewardConfig()):
        self.config = config
        self.calls = 0

    def __call__(self, completions: Sequence[Completion], initial_list: Sequence[Sequence[str]],
                 relevant_docids: Sequence[Sequence[str]], final_list: Sequence[Sequence[str]], **_: object
                 ) -> list[float]:
        self.calls += len(completions)
        return [
            ranking_reward(_text(c), init, rel, final, self.config)
            for c, init, rel, final in zip(completions, initial_list, relevant_docids, final_list, strict=True)
        ]


def _text(completion: Completion) -> str:
    """trl passes plain strings for text prompts and ``[{"role", "content"}]`` for chat prompts."""
    if isinstance(completion, str):
        return completion
    return "".join(m["content"] for m in completion)
