"""Training formats: the released ReasonRank data in, SFT chat examples and GRPO rows out.

Prompts come from :mod:`reasonrank_ir.rerank.prompts` (the one implementation), so a model is
trained on exactly the prompt the reranker sends. The SFT target is the assistant turn
``<think>{reasoning}</think> <answer>[a] > [b] ...</answer>``.

The released data (``training_data_all.jsonl`` of ``liuwenhan/reasonrank_data_13k``) gives ids only;
its ``id_query/`` and ``id_doc/`` folders map ids to texts. :func:`read_released` reads them into the
same :class:`Sample` objects mining and labelling write, so the public data trains the same way.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasonrank_ir.backends.base import Message
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io import numbered_lines, read_text
from reasonrank_ir.io.jsonl import read_jsonl, write_jsonl
from reasonrank_ir.rerank.prompts import PassageFormatter, answer_format, build_messages, render
from reasonrank_ir.train.sample import Sample, sample_at

_ID_KEYS = ("id", "_id", "docid", "doc_id", "qid", "query_id", "pid")
_TEXT_KEYS = ("text", "contents", "query", "passage", "body", "segment", "content")


@dataclass(frozen=True)
class PromptSettings:
    """How passages are shown: the reranker's prompt style and per-passage token budget."""

    max_passage_tokens: int = 512
    style: str = "reasonrank"


def assistant_turn(sample: Sample) -> str:
    """The SFT target: the teacher's reasoning in think tags, its ranking in answer tags."""
    order = [i + 1 for i in sample.teacher_order()]
    return f"<think>{sample.reasoning.strip()}</think> <answer>{answer_format(order)}</answer>"


def prompt_messages(sample: Sample, tokenizer: Any, settings: PromptSettings = PromptSettings()) -> tuple[Message, ...]:
    """The reranker's system and user messages for the sample's list, passages in ``initial_list`` order."""
    formatter = PassageFormatter(tokenizer, settings.max_passage_tokens)
    passages = formatter.format_many(sample.documents())
    return build_messages(sample.query.text, passages, settings.style)


def chat_example(sample: Sample, tokenizer: Any, settings: PromptSettings = PromptSettings()) -> dict[str, Any]:
    """``{"messages": [system, user, assistant], ...}``: the chat form LLaMA-Factory and trl read."""
    messages = (*prompt_messages(sample, tokenizer, settings), Message("assistant", assistant_turn(sample)))
    return {
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "dataset": sample.dataset,
        "qid": sample.query_id,
    }


def sft_example(sample: Sample, tokenizer: Any, settings: PromptSettings = PromptSettings()) -> dict[str, str]:
    """A prompt-completion pair for trl's SFTTrainer (loss on the completion only).

    ``prompt`` is the reranker's rendered prompt, byte for byte; ``completion`` is the assistant turn
    closed by the chat template's end-of-turn token (``<|im_end|>`` for Qwen), so the model learns to stop.
    """
    messages = prompt_messages(sample, tokenizer, settings)
    prompt = render(messages, tokenizer).text
    turn = assistant_turn(sample)
    chat = [{"role": m.role, "content": m.content} for m in messages]
    full = tokenizer.apply_chat_template(chat + [{"role": "assistant", "content": turn}], tokenize=False)
    plain = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    if not full.startswith(plain) or turn not in full[len(plain):]:
        raise ReasonRankError("The tokenizer's chat template does not render the assistant turn after the "
                              "generation prompt; use a model with a ChatML-style template (e.g. Qwen2.5).")
    closing = full[len(plain):].split(turn, 1)[1].rstrip()
    return {"prompt": prompt, "completion": turn + closing}


def grpo_example(sample: Sample, tokenizer: Any, settings: PromptSettings = PromptSettings()) -> dict[str, Any]:
    """A GRPO row: the rendered prompt plus the columns the ranking reward reads."""
    sample.teacher_order()  # a list the teacher did not fully rank cannot be rewarded
    if not sample.relevant:
        raise ReasonRankError(f"Sample {sample.dataset}/{sample.query_id}: no relevant passage, so GRPO's reward "
                              "(NDCG@10) is undefined for it; drop it (train.filter drops such lists) or relabel it")
    return {
        "prompt": render(prompt_messages(sample, tokenizer, settings), tokenizer).text,
        "initial_list": list(sample.initial_list),
        "relevant_docids": list(sample.relevant),
        "final_list": list(sample.final_list),
    }


def export_chat(samples: Iterable[Sample], path: str | Path, tokenizer: Any,
                settings: PromptSettings = PromptSettings()) -> int:
    """Write the chat-form SFT examples as JSONL; returns how many."""
    return write_jsonl(path, (chat_example(sample, tokenizer, settings) for sample in samples))


# -- the released ReasonRank data ------------------------------------------------------------------

def read_released(path: str | Path, queries: str | Path | None = None,
                  docs: str | Path | None = None) -> Iterator[Sample]:
    """Samples from the released ``training_data_all.jsonl`` and its id->text tables.

    ``queries``/``docs`` default to the ``id_query/`` and ``id_doc/`` folders beside ``path``; each
    may be a folder or a single file of JSON (``{id: text}`` or a list of records), JSONL (records
    with an id field and a text field, or ``{id: text}`` lines) or TSV (``id<TAB>text``).
    """
    path = Path(path)
    if not path.is_file():
        raise ReasonRankError(f"Released data file not found: {path}.")
    query_table = {k: _as_text(v) for k, v in read_id_table(queries or path.parent / "id_query").items()}
    doc_table = {k: _as_doc(v) for k, v in read_id_table(docs or path.parent / "id_doc").items()}
    for where, record in read_jsonl(path):
        yield sample_at(where, record, query_table, doc_table)


def read_samples_any(path: str | Path) -> Iterator[Sample]:
    """Our JSONL (records carry ``docs``) or the released data (id tables beside the file)."""
    from reasonrank_ir.train.sample import read_samples

    path = Path(path)
    where, first = next(read_jsonl(path), (None, None))
    if where is None:
        raise ReasonRankError(f"{path}: no training samples in the file")
    if not isinstance(first, dict) or not ({"docs", "initial_list"} & set(first)):
        raise ReasonRankError(f"{where}: not a training sample: expected this package's JSONL (with 'docs') or the "
                              "released ReasonRank data (with 'initial_list' and id tables beside it)")
    if "docs" in first:
        return read_samples(path)
    return read_released(path)


def read_id_table(source: str | Path) -> dict[str, Any]:
    """An id -> text (or stored fields) table from a file or every table file in a folder."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix in (".json", ".jsonl", ".tsv"))
        if not files:
            raise ReasonRankError(f"{source} holds no .json, .jsonl or .tsv id tables.")
    elif source.is_file():
        files = [source]
    else:
        raise ReasonRankError(f"Id table not found: {source} (pass the released id_query/ or id_doc/ folder).")
    table: dict[str, Any] = {}
    for file in files:
        table.update(_read_table_file(file))
    return table


def _read_table_file(path: Path) -> dict[str, Any]:
    if path.suffix == ".tsv":
        lines = (line for _, line in numbered_lines(path))
        return {row[0]: row[1] for row in csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE) if len(row) >= 2}
    if path.suffix == ".json":
        try:
            data = json.loads(read_text(path))
        except json.JSONDecodeError as error:
            raise ReasonRankError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
        records = data.items() if isinstance(data, dict) else ((None, r) for r in data)
    else:
        records = ((None, record) for _, record in read_jsonl(path))
    table = {}
    for key, value in records:
        if key is not None:
            table[str(key)] = value
        elif isinstance(value, dict):
            id_key = next((k for k in _ID_KEYS if k in value), None)
            if id_key is not None:
                table[str(value[id_key])] = value
            elif len(value) == 1:
                (k, v), = value.items()
                table[str(k)] = v
            else:
                raise ReasonRankError(f"{path}: a record has no id field ({', '.join(_ID_KEYS)}).")
    return table


def _as_text(value: Any) -> str:
    if isinstance(value, Mapping):
        for key in _TEXT_KEYS:
            if key in value:
                return str(value[key])
        raise ReasonRankError(f"A query record has no text field ({', '.join(_TEXT_KEYS)}).")
    return str(value)


def _as_doc(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    return {"contents": str(value)}
