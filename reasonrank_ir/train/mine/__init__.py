"""Mine candidate lists for training from any index the package can open.

Queries are the dataset's own topics (positives from its qrels) or are synthesised: passages are
sampled from the index and a teacher LLM writes a reasoning-intensive question each one answers
(that passage is the positive). Candidates are BM25 hits from the same index: each list holds the
positives (up to ``max_positives``) and the highest-ranked other hits; the teacher's pointwise
labels (``reasonrank_ir.train.label``) later tell hard negatives (high-ranked, judged irrelevant)
from further positives. Every random choice is seeded per query, so a list does not depend on
which other queries were mined, or on a resume. :func:`mine_file` is the whole job (the command
``python -m reasonrank_ir.train.mine`` runs it): lists appended to a JSONL file, resumable.
"""
from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from itertools import islice
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import model_validator
from tqdm.auto import tqdm

from reasonrank_ir.backends.base import Backend, Message, Prompt, Sampling
from reasonrank_ir.data import Dataset
from reasonrank_ir.declare import Declared, Setting, declared
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io import check_output_file
from reasonrank_ir.rerank.parse import split_think
from reasonrank_ir.settings import checked
from reasonrank_ir.train.config import TeacherSettings, flag, teacher_backend
from reasonrank_ir.train.sample import Sample, append_samples, done_keys
from reasonrank_ir.types import Candidate, Qrels, Query

Order = Literal["retrieval", "shuffle"]
ORDERS: tuple[str, ...] = get_args(Order)
T = TypeVar("T")

SYNTHESIS_PROMPT = (
    "Here is a passage from a document collection.\n\n"
    "Passage: {passage}\n\n"
    "Write one reasoning-intensive question that this passage helps to answer. Answering it must take "
    "reasoning beyond keyword matching, e.g. applying the concept, method, theorem or mechanism the "
    "passage describes to a new situation. Do not copy the passage's wording and do not mention the "
    "passage. Then give the answer.\n\n"
    "Reply in exactly this format:\nQuestion: <the question>\nAnswer: <the answer>"
)
# Labels may come in markdown ("**Question:**", "### Answer:"), as reasoning models often write them.
_QUESTION = re.compile(r"question[*_]*\s*:[*_]*\s*(.+?)\s*(?:\n[\s*_#]*answer[*_]*\s*:[*_]*\s*(.*))?$",
                       re.IGNORECASE | re.DOTALL)
SYNTHESISED = "syn-"
"""Prefix of a synthesised query's id; the rest is the id of the passage it was written from."""


class MiningSettings:
    """How lists are built, declared once: ``MiningConfig``'s fields and checks, the mining command's
    flags and YAML keys (``MineSettings`` inherits them). The defaults give ReasonRank-sized lists of
    20 in BM25 order."""

    list_size: Annotated[int, Setting("passages per list", minimum=2)] = 20
    depth: Annotated[int, Setting("BM25 hits a list is filled from", minimum=1)] = 100
    max_positives: Annotated[int, Setting("positives per list at most", minimum=1)] = 5
    order: Annotated[Order, Setting("BM25 order or shuffled", choices=ORDERS, what="list order")] = "retrieval"
    """'retrieval': BM25 order, a positive BM25 missed goes to a random slot; 'shuffle': random order."""
    seed: Annotated[int, Setting("seed of every random choice, and of the teacher")] = 0


MINING_SETTINGS: dict[str, Declared] = declared(MiningSettings)


@dataclass(frozen=True)
class MiningConfig:
    """How lists are built (the settings: ``MiningSettings``), for the library's functions."""

    list_size: int = MiningSettings.list_size
    depth: int = MiningSettings.depth
    """BM25 hits retrieved per query; the list is filled from these."""
    max_positives: int = MiningSettings.max_positives
    order: str = MiningSettings.order
    seed: int = MiningSettings.seed

    def __post_init__(self) -> None:
        for name, item in MINING_SETTINGS.items():
            item.check_flag(getattr(self, name))
        if self.depth < self.list_size:
            raise ReasonRankError(f"--depth {self.depth} is smaller than --list-size {self.list_size}: a list is "
                                  "filled from the depth's BM25 hits")


def query_rng(seed: int, dataset: str, query_id: str) -> random.Random:
    """A generator seeded by (seed, dataset, query) only, so lists are reproducible one by one."""
    return random.Random(f"{seed}:{dataset}:{query_id}")


def build_list(query: Query, hits: Iterable[str], positives: Iterable[str], config: MiningConfig,
               dataset: str) -> tuple[list[str], list[str]] | None:
    """(list of doc ids, positives in it), or None when the hits cannot fill a list.

    The list holds up to ``max_positives`` positives (seeded choice) and the best-ranked other hits.
    """
    rng = query_rng(config.seed, dataset, query.query_id)
    hits = list(dict.fromkeys(hits))
    positives = list(dict.fromkeys(positives))
    if len(positives) > config.max_positives:
        positives = sorted(rng.sample(positives, config.max_positives), key=positives.index)
    chosen = set(positives)
    negatives = [d for d in hits if d not in chosen][: config.list_size - len(positives)]
    if len(positives) + len(negatives) < config.list_size or not positives:
        return None
    members = chosen | set(negatives)
    if config.order == "shuffle":
        ids = positives + negatives
        rng.shuffle(ids)
    else:
        ids = [d for d in hits if d in members]
        for doc_id in positives:
            if doc_id not in ids:
                ids.insert(rng.randrange(len(ids) + 1), doc_id)
    return ids, positives


def mine_topics(dataset: Dataset, config: MiningConfig = MiningConfig(), num_queries: int | None = None,
                skip: AbstractSet[tuple[str, str]] = frozenset(), progress: bool = False) -> Iterator[Sample]:
    """Lists for the dataset's own topics that have judged-relevant documents."""
    qrels: Qrels = dataset.qrels() or {}
    topics = [q for q in dataset.topics().values() if any(g > 0 for g in qrels.get(q.query_id, {}).values())]
    if not topics:
        raise ReasonRankError(f"{dataset.name} has no topics with relevance judgments; use --queries synthesise.")
    topics = _pick(topics, num_queries, config.seed)
    todo = [q for q in topics if (dataset.name, q.query_id) not in skip]
    positives = {q.query_id: [d for d, g in qrels[q.query_id].items() if g > 0] for q in todo}
    yield from _lists(dataset, todo, positives, {}, config, progress)


def synthesise_queries(dataset: Dataset, backend: Backend, num_queries: int, config: MiningConfig = MiningConfig(),
                       sampling: Sampling = Sampling(max_tokens=4096, temperature=0.6),
                       min_words: int = 30, skip: AbstractSet[tuple[str, str]] = frozenset(),
                       progress: bool = False, batch_size: int = 16) -> Iterator[Sample]:
    """Lists for questions the teacher writes from passages sampled (seeded) from the index.

    A reply with no readable question (:func:`parse_question`) drops its passage: the next sampled
    passage takes its place, and a later resume asks for it again.
    """
    made = sum(1 for d, q in skip if d == dataset.name and q.startswith(SYNTHESISED))
    passages = _source_passages(dataset, config.seed, min_words, skip)
    bar = tqdm(total=num_queries, initial=made, desc="synthesise", unit="query", disable=not progress)
    while made < num_queries:
        # Ask no more passages than lists still wanted: teacher calls cost, and a resumed run then
        # asks the same passages an uninterrupted one would have.
        sources = list(islice(passages, min(batch_size, num_queries - made)))
        if not sources:
            break
        prompts = [Prompt((Message("user", SYNTHESIS_PROMPT.format(passage=text)),)) for _, text in sources]
        generations = backend.generate(prompts, sampling)
        queries: list[Query] = []
        answers: dict[str, str] = {}
        positives: dict[str, list[str]] = {}
        for (doc_id, _), generation in zip(sources, generations, strict=True):
            parsed = parse_question(generation.text)
            if parsed is None:
                continue
            query = Query(SYNTHESISED + doc_id, parsed[0])
            queries.append(query)
            answers[query.query_id] = parsed[1]
            positives[query.query_id] = [doc_id]
        for sample in _lists(dataset, queries, positives, answers, config, False):
            if made == num_queries:
                break
            made += 1
            bar.update()
            yield sample
    bar.close()


def _source_passages(dataset: Dataset, seed: int, min_words: int,
                     skip: AbstractSet[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """(doc id, text) of the index's passages in a seeded order: those long enough to ask about,
    and not already asked about in ``skip``."""
    from reasonrank_ir.rerank.prompts import passage_text

    index = dataset.index()
    order = list(range(index.num_docs))
    random.Random(f"{seed}:{dataset.name}:sample").shuffle(order)
    for position in order:
        doc_id = index.doc_id_at(position)
        doc = index.doc(doc_id)
        text = passage_text(doc) if doc else ""
        if (dataset.name, SYNTHESISED + doc_id) not in skip and len(text.split()) >= min_words:
            yield doc_id, text


def parse_question(text: str) -> tuple[str, str] | None:
    """(question, answer) from the teacher's reply (its reasoning, if inline, is skipped), or None.

    None when no question follows a ``Question:`` label, or the reasoning never ended (cut off by
    max_tokens): a draft inside the reasoning is not the teacher's question.
    """
    _, reply, closed = split_think(text)
    if not closed:
        return None
    match = _QUESTION.search(reply)
    if not match or not match.group(1).strip():
        return None
    return match.group(1).strip(), (match.group(2) or "").strip()


def _lists(dataset: Dataset, queries: list[Query], positives: Mapping[str, list[str]], answers: Mapping[str, str],
           config: MiningConfig, progress: bool) -> Iterator[Sample]:
    from reasonrank_ir.retrieval.bm25 import BM25

    if not queries:
        return
    run = BM25(dataset.index()).retrieve(queries, k=config.depth, excluded=dataset.excluded_ids(),
                                         progress=progress)
    for query in queries:
        hits = [c.doc_id for c in run[query.query_id].candidates] if query.query_id in run else []
        built = build_list(query, hits, positives[query.query_id], config, dataset.name)
        if built is None:
            continue
        ids, kept = built
        docs = dataset.documents(ids)
        if len(docs) < len(ids):
            continue  # a judged document missing from the index: no passage to show
        candidates = tuple(Candidate(d, float(len(ids) - r), docs[d]) for r, d in enumerate(ids))
        yield Sample(dataset.name, query, candidates, positives=tuple(kept),
                     answer=answers.get(query.query_id, ""))


def _pick(items: list[T], n: int | None, seed: int) -> list[T]:
    if n is None or n >= len(items):
        return items
    return sorted(random.Random(f"{seed}:queries").sample(items, n), key=items.index)


class MineSettings(MiningSettings, TeacherSettings):
    """What :func:`mine_file` reads, and the mining command's flags (the teacher's only for ``queries:
    synthesise``); the list settings are ``MiningSettings``'s."""

    index: str | None = flag("dataset or index name (cranfield, bright-biology, a folder)")
    topics: str | None = flag("topics file or name replacing the dataset's own")
    qrels: str | None = flag("qrels file or name replacing the dataset's own")
    output: str | None = flag("JSONL written incrementally; an existing file is resumed")
    queries: Literal["topics", "synthesise"] = flag("the dataset's topics, or questions the teacher writes",
                                                    default="topics")
    num_queries: int | None = flag("how many lists (default: all topics)", default=None, ge=1)

    @model_validator(mode="after")
    def _lists(self) -> MineSettings:
        """The lists' checks across settings (depth and list size), before any dataset loads."""
        checked(self.mining_config)
        return self

    def mining_config(self) -> MiningConfig:
        return MiningConfig(**{name: getattr(self, name) for name in MINING_SETTINGS})


@dataclass(frozen=True)
class MineOutcome:
    """What :func:`mine_file` did: lists appended, and lists the output held before (a resumed run)."""

    written: int
    existing: int


def mine_file(settings: MineSettings | Mapping[str, Any], progress: bool = False) -> MineOutcome:
    """Mine as ``settings`` say, appending each list to ``output`` as it is built.

    Lists already in ``output`` are skipped, so a rerun resumes where an interrupted one stopped.
    """
    settings = MineSettings.parse(settings)
    if not settings.index or not settings.output:
        raise ReasonRankError("--index and --output are required (on the command line or in --config).")
    if settings.queries == "synthesise" and not settings.num_queries:
        raise ReasonRankError("--queries synthesise needs --num-queries.")
    check_output_file(settings.output, "--output")
    from reasonrank_ir.data import load

    config = settings.mining_config()
    dataset = load(settings.index, settings.topics, settings.qrels)
    skip = done_keys(settings.output)
    if settings.queries == "synthesise" and settings.num_queries:  # checked above; narrows the type
        sampling = Sampling(max_tokens=settings.max_tokens, temperature=settings.temperature, seed=settings.seed)
        samples = synthesise_queries(dataset, teacher_backend(settings), settings.num_queries, config, sampling,
                                     skip=skip, progress=progress)
    else:
        samples = mine_topics(dataset, config, settings.num_queries, skip, progress=progress)
    return MineOutcome(append_samples(settings.output, samples), len(skip))
