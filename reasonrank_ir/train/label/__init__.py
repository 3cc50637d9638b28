"""Teacher labels for mined lists, through the package's OpenAI-compatible backend.

For each list the teacher (DeepSeek-R1 or any OpenAI-compatible reasoning model):

1. judges every passage pointwise (shown the gold answer when the query was synthesised with one):
   the passages it calls relevant are ``relevant_docids``, the others are the list's hard negatives;
2. ranks the whole list with reasoning, without the gold answer, through the multi-turn RankGPT
   prompt ReasonRank used for R1 (one user turn per passage, each acknowledged by the assistant).

Labelled samples are appended to a JSONL file as each batch finishes, with token counts and cost;
a rerun skips the lists already there (:func:`label_file`, which ``python -m reasonrank_ir.train.label``
runs; with Ray options, on a pool of Ray actors).
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from reasonrank_ir.backends.base import Backend, Generation, Message, Prompt, Sampling
from reasonrank_ir.batching import batched
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io import check_output_file, numbered_lines
from reasonrank_ir.rerank.parse import parse_answer, split_think
from reasonrank_ir.rerank.prompts import PassageFormatter, clean_query, passage_text, replace_number
from reasonrank_ir.train.config import TeacherSettings, flag, teacher_backend
from reasonrank_ir.train.sample import Sample, append_samples, done_keys, read_samples

if TYPE_CHECKING:
    from reasonrank_ir.pipeline.ray_pool import RayOptions

RANKGPT_INTRO = (
    "You are an intelligent assistant that can rank passages based on their relevance to the query. "
    "I will provide you with {num} passages, each indicated by number identifier []. \n"
    "Rank the passages based on their relevance to query: {query}."
)
RANKGPT_POST = (
    "Search Query: {query}. \nRank the {num} passages above based on their relevance to the search query. "
    "The passages should be listed in descending order using identifiers. The most relevant passages should "
    "be listed first. The output format should be [] > [], e.g., [2] > [1]. Only response the ranking "
    "results, do not say any word or explain."
)
POINTWISE = (
    "Judge whether a passage is relevant to a query: relevant means it provides information that helps "
    "to answer the query, such as the concept, method, theorem, fact or evidence an answer relies on.\n\n"
    "Query: {query}\n{answer}Passage: {passage}\n\n"
    "Is the passage relevant to the query? Reply with Yes or No only."
)
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


@dataclass(frozen=True)
class LabelConfig:
    """Teacher decoding and prices (USD per million tokens; 0 reports no cost)."""

    listwise: Sampling = Sampling(max_tokens=16384, temperature=0.6)
    pointwise: Sampling = Sampling(max_tokens=4096, temperature=0.6)
    max_passage_tokens: int | None = None
    """Teacher-side truncation with ``tokenizer`` (None: whole passages)."""
    price_input: float = 0.0
    price_output: float = 0.0


@dataclass
class LabelStats:
    """What labelling cost and how often the teacher's replies needed repair."""

    samples: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    repaired: int = 0
    """Lists whose ranking missed or repeated ids and was completed in input order."""
    unparsed_judgments: int = 0
    per_dataset: dict[str, int] = field(default_factory=dict)

    def add(self, other: LabelStats) -> None:
        """Count ``other``'s work in these totals (a Ray actor's batch)."""
        for name in (f.name for f in dataclasses.fields(self) if f.name != "per_dataset"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for dataset, count in other.per_dataset.items():
            self.per_dataset[dataset] = self.per_dataset.get(dataset, 0) + count

    def summary(self) -> str:
        return (f"{self.samples} lists labelled, {self.requests} requests, {self.prompt_tokens} prompt + "
                f"{self.output_tokens} output tokens, cost {self.cost:.4f}; {self.repaired} rankings repaired, "
                f"{self.unparsed_judgments} judgments unreadable (counted irrelevant)")


def listwise_messages(sample: Sample, passages: Sequence[str]) -> tuple[Message, ...]:
    """The multi-turn RankGPT prompt of ReasonRank's R1 teacher (no system turn)."""
    query, num = clean_query(sample.query.text), len(passages)
    messages = [Message("user", RANKGPT_INTRO.format(num=num, query=query)),
                Message("assistant", "Okay, please provide the passages.")]
    for rank, passage in enumerate(passages, 1):
        messages += [Message("user", f"[{rank}] {passage}"), Message("assistant", f"Received passage [{rank}].")]
    messages.append(Message("user", RANKGPT_POST.format(num=num, query=query)))
    return tuple(messages)


def pointwise_message(sample: Sample, passage: str) -> Message:
    answer = f"Reference answer: {sample.answer}\n" if sample.answer else ""
    return Message("user", POINTWISE.format(query=sample.query.text, answer=answer, passage=passage))


def parse_ranking(reply: str, num: int) -> tuple[list[int], bool]:
    """(0-based permutation, repaired?): the reranker's own parsing and repair of an untagged answer."""
    parsed = parse_answer(reply, num, tagged=False)
    return list(parsed.order), parsed.status != "ok"


def parse_judgment(reply: str) -> bool | None:
    """True for yes, False for no, None when the reply says neither first."""
    match = _YES_NO.search(reply)
    return None if match is None else match.group(1).lower() == "yes"


def label_samples(samples: Iterable[Sample], backend: Backend, config: LabelConfig = LabelConfig(),
                  tokenizer: Any = None, batch_size: int = 8, stats: LabelStats | None = None,
                  progress: bool = False) -> Iterator[Sample]:
    """Labelled copies of ``samples``, a batch of lists (and all their requests) at a time."""
    stats = stats if stats is not None else LabelStats()
    formatter = _formatter(tokenizer, config)
    bar = tqdm(desc="label", unit="list", disable=not progress)
    for batch in batched(samples, batch_size):
        yield from _label_batch(batch, backend, config, formatter, stats)
        bar.update(len(batch))
    bar.close()


def _formatter(tokenizer: Any, config: LabelConfig) -> PassageFormatter | None:
    """Teacher-side truncation when both a tokenizer and a passage budget are given."""
    return PassageFormatter(tokenizer, config.max_passage_tokens) if tokenizer and config.max_passage_tokens else None


def _passages(sample: Sample, formatter: PassageFormatter | None) -> list[str]:
    """The list's passages as the teacher reads them (mined lists carry their text)."""
    docs = sample.documents()
    return formatter.format_many(docs) if formatter else [replace_number(passage_text(doc)) for doc in docs]


def _label_batch(batch: list[Sample], backend: Backend, config: LabelConfig, formatter: PassageFormatter | None,
                 stats: LabelStats) -> Iterator[Sample]:
    texts = [_passages(s, formatter) for s in batch]
    point_prompts = [Prompt((pointwise_message(s, p),)) for s, passages in zip(batch, texts) for p in passages]
    list_prompts = [Prompt(listwise_messages(s, passages)) for s, passages in zip(batch, texts)]
    judged = iter(backend.generate(point_prompts, config.pointwise))
    ranked = backend.generate(list_prompts, config.listwise)
    for sample, generation in zip(batch, ranked, strict=True):
        judgments = [next(judged) for _ in sample.candidates]
        relevant: list[str] = []
        for candidate, judgment in zip(sample.candidates, judgments):
            verdict = parse_judgment(split_think(judgment.text).reply)
            stats.unparsed_judgments += verdict is None
            if verdict:
                relevant.append(candidate.doc_id)
        reasoning, reply, _ = split_think(generation.text)
        order, repaired = parse_ranking(reply, len(sample.candidates))
        stats.repaired += repaired
        usage = _usage([*judgments, generation], config)
        usage["repaired"] = repaired
        stats.samples += 1
        stats.requests += len(judgments) + 1
        stats.prompt_tokens += usage["prompt_tokens"]
        stats.output_tokens += usage["output_tokens"]
        stats.cost += usage["cost"]
        stats.per_dataset[sample.dataset] = stats.per_dataset.get(sample.dataset, 0) + 1
        yield sample.with_labels(relevant, [sample.candidates[i].doc_id for i in order], reasoning, usage)


def _usage(generations: Sequence[Generation], config: LabelConfig) -> dict[str, Any]:
    prompt_tokens = sum(g.prompt_tokens for g in generations)
    output_tokens = sum(g.output_tokens for g in generations)
    cost = (prompt_tokens * config.price_input + output_tokens * config.price_output) / 1e6
    return {"prompt_tokens": prompt_tokens, "output_tokens": output_tokens, "cost": round(cost, 6),
            "truncated": sum(g.finish_reason == "length" for g in generations)}


class LabelWorker:
    """A teacher client (and tokenizer) on a Ray actor, labelling the batches of lists the driver sends."""

    def __init__(self, settings: LabelSettings, config: LabelConfig) -> None:
        self.backend, tokenizer = _teacher(settings)
        self.config = config
        self.formatter = _formatter(tokenizer, config)

    def ready(self) -> str:
        return self.backend.name

    def label(self, batch: list[Sample]) -> tuple[list[Sample], LabelStats]:
        stats = LabelStats()
        return list(_label_batch(batch, self.backend, self.config, self.formatter, stats)), stats


def label_on_ray(samples: Iterable[Sample], settings: LabelSettings, config: LabelConfig, ray: RayOptions,
                 stats: LabelStats, progress: bool = False) -> Iterator[Sample]:
    """``label_samples`` with a teacher client on each Ray actor: the same samples in the same order."""
    from reasonrank_ir.pipeline.ray_pool import ordered_map, start_actors

    workers, _ = start_actors(LabelWorker, (settings, config), ray)
    bar = tqdm(desc="label (ray)", unit="list", disable=not progress)
    for labelled, batch_stats in ordered_map(workers, "label", batched(samples, settings.batch_size)):
        stats.add(batch_stats)
        yield from labelled
        bar.update(len(labelled))
    bar.close()


def _teacher(settings: LabelSettings) -> tuple[Backend, Any]:
    backend = teacher_backend(settings)
    tokenizer = None
    if settings.tokenizer:
        from reasonrank_ir.rerank.prompts import load_tokenizer

        tokenizer = load_tokenizer(settings.tokenizer)
    return backend, tokenizer


class LabelSettings(TeacherSettings):
    """What :func:`label_file` reads, and the labelling command's flags."""

    input: str | None = flag("mined lists (JSONL from reasonrank_ir.train.mine)")
    output: str | None = flag("labelled JSONL, appended to; lists already there are skipped")
    batch_size: int = flag("lists labelled (and written) together", default=8, ge=1)
    pointwise_max_tokens: int = flag("teacher budget per pointwise judgment",
                                     default=LabelConfig.pointwise.max_tokens, ge=1)
    tokenizer: str | None = flag("tokenizer for teacher-side passage truncation")
    max_passage_tokens: int | None = flag("passage budget with --tokenizer", default=None, ge=1)
    price_input: float = flag("USD per million prompt tokens", default=LabelConfig.price_input)
    price_output: float = flag("USD per million output tokens", default=LabelConfig.price_output)

    def label_config(self) -> LabelConfig:
        """The teacher's decoding and prices these settings give."""
        return LabelConfig(
            listwise=Sampling(max_tokens=self.max_tokens, temperature=self.temperature),
            pointwise=Sampling(max_tokens=self.pointwise_max_tokens, temperature=self.temperature),
            max_passage_tokens=self.max_passage_tokens, price_input=self.price_input, price_output=self.price_output)


@dataclass(frozen=True)
class LabelOutcome:
    """What :func:`label_file` did: the labelling's totals, and the lists the output held before."""

    stats: LabelStats
    existing: int


def label_file(settings: LabelSettings | Mapping[str, Any], ray: RayOptions | None = None,
               progress: bool = False) -> LabelOutcome:
    """Label the lists of ``input`` that ``output`` lacks, appending each batch as it finishes (a rerun
    resumes); with ``ray``, on a pool of Ray actors holding a teacher client each (same output)."""
    settings = LabelSettings.parse(settings)
    if not settings.input or not settings.output:
        raise ReasonRankError("--input and --output are required (on the command line or in --config).")
    check_output_file(settings.output, "--output")
    if next(numbered_lines(settings.input), None) is None:
        raise ReasonRankError(f"{settings.input}: no mined lists in the file (the output of reasonrank_ir.train.mine)")
    config = settings.label_config()
    done = done_keys(settings.output)
    todo = (s for s in read_samples(settings.input) if (s.dataset, s.query_id) not in done)
    stats = LabelStats()
    if ray is None:
        backend, tokenizer = _teacher(settings)
        labelled = label_samples(todo, backend, config, tokenizer, settings.batch_size, stats, progress)
    else:
        labelled = label_on_ray(todo, settings, config, ray, stats, progress)
    append_samples(settings.output, labelled)
    return LabelOutcome(stats, len(done))
