"""``python -m reasonrank_ir.search``: Pyserini-style retrieval, ReasonRank reranking, evaluation.

    python -m reasonrank_ir.search --index bright-biology --rerank reasonrank
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from reasonrank_ir.backends import BACKENDS
from reasonrank_ir.errors import ArgumentParser, ReasonRankError, cli_main
from reasonrank_ir.io import check_output_file
from reasonrank_ir.io.names import slug
from reasonrank_ir.pipeline import ray_pool
from reasonrank_ir.pipeline.first_stage import FirstStage, FirstStageSettings
from reasonrank_ir.declare import Setting, add_flags
from reasonrank_ir.rerank.declared import DEFAULT_MODELS, RERANKER_SETTINGS, RERANKERS, RerankerSettings
from reasonrank_ir.retrieval.bm25 import BM25Settings

if TYPE_CHECKING:
    from reasonrank_ir.pipeline.job_spec import JobSpec
    from reasonrank_ir.rerank.listwise import RerankSummary
    from reasonrank_ir.rerank.spec import RerankerSpec


class SearchSettings:
    """The search flags that are not a reranker's or a first stage's declared settings (which are
    ``RerankerSettings`` and ``FirstStageSettings``); every command's flags are declared this way."""

    index: Annotated[str, Setting("bright-{subset}, an ir_datasets id (cranfield, beir/scifact/test, ...), a Lucene "
                                  "index folder, or a folder of JSONL/TREC documents to index", metavar="NAME_OR_PATH")]
    topics: Annotated[str | None, Setting("topics (TSV, JSONL, TREC); default: the dataset's own",
                                          metavar="NAME_OR_FILE")] = None
    limit_queries: Annotated[int | None, Setting("only the first N topics (a quick try)", metavar="N")] = None
    qrels: Annotated[str | None, Setting("judgments for scoring; default: the dataset's own",
                                         metavar="NAME_OR_FILE")] = None
    output: Annotated[str | None, Setting(
        "run file (default: runs/run.<index>[.<topics>].<first stage>.top<hits>[.<reranker>].txt)",
        metavar="FILE")] = None
    overwrite: Annotated[bool, Setting("replace a finished run (or an unfinished job) of other settings at "
                                       "--output")] = False
    output_format: Annotated[str, Setting("run format (default: trec)", choices=("trec",))] = "trec"
    bm25: Annotated[bool, Setting("BM25 ranking (the default)")] = True
    bm25qs: Annotated[bool, Setting("query-side BM25 (BM25Q) for long queries")] = False
    threads: Annotated[int, Setting("search threads (default: 1)")] = 1
    run: Annotated[str | None, Setting("rerank this TREC run (or rank_llm requests .jsonl, passages included) instead "
                                       "of retrieving", metavar="FILE")] = None

    dense: Annotated[bool, Setting("dense retrieval through Pyserini's FAISS searcher (with --encoder or "
                                   "--dense-index)")] = False
    encoder: Annotated[str | None, Setting("sentence-transformers model of a local dense index (built on first use "
                                           "in indexes/)", metavar="MODEL")] = None
    dense_index: Annotated[str | None, Setting(
        "a Pyserini prebuilt dense index (bright-biology.bge-large-en-v1.5, or just bge-large-en-v1.5, "
        "diver-retriever-4b, reason-embed-qwen3-4b-0928) or a dense index folder", metavar="NAME_OR_PATH")] = None
    fusion: Annotated[str | None, Setting("fuse BM25 with --dense, or the files of --fuse-runs (Pyserini's fusion)",
                                          choices=("rrf", "interpolation"))] = None
    alpha: Annotated[float, Setting("interpolation weight of the first run (BM25) on min-max normalised scores "
                                    "(default: 0.5)")] = 0.5
    rrf_k: Annotated[int, Setting("reciprocal rank fusion constant (default: 60)")] = 60
    fuse_runs: Annotated[list[str] | None, Setting("fuse these TREC runs instead of retrieving", nargs="+",
                                                   metavar="FILE")] = None
    expand_query: Annotated[str | None, Setting(
        "an LLM writes a reasoning passage per query before retrieval (BRIGHT's setting); the reranker still sees "
        "the original query", choices=("reasoning",))] = None
    expansion_model: Annotated[str | None, Setting("LLM for --expand-query (required with it)", metavar="MODEL")] = None
    expansion_backend: Annotated[str, Setting("engine of --expansion-model (default: auto)", choices=BACKENDS)] = "auto"
    expansion_cache: Annotated[str | None, Setting(
        "JSONL cache of reasonings (default: $REASONRANK_HOME/expansions/reasoning.<model>.jsonl)",
        metavar="FILE")] = None
    expansion_mode: Annotated[str, Setting("append the reasoning to the query (default) or use it alone, as BRIGHT "
                                           "does", choices=("append", "replace"))] = "append"

    resume: Annotated[bool, Setting("continue an interrupted job (same flags): windows in its traces are not "
                                    "generated again")] = False
    traces: Annotated[str | None, Setting("reasoning traces JSONL (default: beside the run)", metavar="FILE")] = None

    base_url: Annotated[list[str] | None, Setting(
        "OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (repeat to spread load)", metavar="URL")] = None
    api_key: Annotated[str | None, Setting("API key for --backend openai (default: $OPENAI_API_KEY)")] = None
    endpoint: Annotated[str | None, Setting(
        "for --backend openai: chat (server applies the chat template, the default) or completions (sends our "
        "rendered prompt byte for byte)", choices=("chat", "completions"))] = None
    concurrency: Annotated[int | None, Setting("parallel requests for --backend openai (default: 8)")] = None
    tensor_parallel_size: Annotated[int | None, Setting("GPUs per model for --backend vllm (default: 1)")] = None
    max_model_len: Annotated[int | None, Setting("context length for --backend vllm/llamacpp")] = None
    device: Annotated[str | None, Setting(
        "torch device for --backend hf (default: cuda if available, else cpu)")] = None
    backend_option: Annotated[list[str], Setting(
        "any other engine option, e.g. n_gpu_layers=-1 n_batch=64 (llamacpp), gpu_memory_utilization=0.8 (vllm), "
        "dtype=bfloat16 (hf); repeatable", metavar="KEY=VALUE")] = []

    metrics: Annotated[list[str], Setting("ir-measures names printed at the end (default: nDCG@10)", nargs="+",
                                          metavar="MEASURE")] = ["nDCG@10"]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m reasonrank_ir.search",
        description="Retrieve with Pyserini, rerank with ReasonRank's sliding window, write a TREC run "
                    "and reasoning traces, and score the run when judgments are known.")
    first = parser.add_argument_group("first stage (Pyserini's flags)")
    add_flags(first, SearchSettings, ["index", "topics", "limit_queries", "qrels", "output", "overwrite",
                                      "output_format"])
    add_flags(first, FirstStageSettings, ["hits"])
    add_flags(first, SearchSettings, ["bm25", "bm25qs"])
    add_flags(first, FirstStageSettings, ["k1", "b"])
    add_flags(first, SearchSettings, ["threads"])
    add_flags(first, RerankerSettings, ["batch_size"], batch_size={
        "help": "queries per search batch and per reranking batch (default: %(default)s): a reranking batch is "
                "what a batch engine (vllm, hf) sees at once"})
    add_flags(first, FirstStageSettings, ["remove_query"])
    add_flags(first, SearchSettings, ["run"])
    add_flags(parser.add_argument_group("dense retrieval, fusion and query expansion"), SearchSettings, [
        "dense", "encoder", "dense_index", "fusion", "alpha", "rrf_k", "fuse_runs", "expand_query", "expansion_model",
        "expansion_backend", "expansion_cache", "expansion_mode"])
    rerank = parser.add_argument_group("reranking")
    add_flags(rerank, RerankerSettings, [name for name in RERANKER_SETTINGS if name not in ("options", "batch_size")],
              reranker={"choices": ("none", *RERANKERS), "default": "none", "dest": "rerank"})
    add_flags(rerank, SearchSettings, ["resume", "traces"])
    add_flags(parser.add_argument_group("backend options"), SearchSettings, [
        "base_url", "api_key", "endpoint", "concurrency", "tensor_parallel_size", "max_model_len", "device",
        "backend_option"])
    add_flags(parser.add_argument_group("evaluation"), SearchSettings, ["metrics"])
    ray_pool.add_arguments(parser)
    return parser


def _slug(text: str) -> str:
    """A name's slug; a path's last part only."""
    return slug(text.rstrip("/").split("/")[-1] if Path(text).exists() else text)


def default_output(args: argparse.Namespace) -> Path:
    """A name that says what selects the work (index, topics, first stage, hits) and the reranker."""
    from reasonrank_ir.homes import runs_home
    from reasonrank_ir.job import file_digest

    parts = ["run", _slug(args.index)]
    if args.topics:
        parts.append(f"{_slug(Path(args.topics).stem)}-{file_digest(args.topics)[:6]}" if Path(args.topics).is_file()
                     else _slug(args.topics))
    parts += [_slug(make_first_stage(args).name), f"top{args.hits}"]
    if args.limit_queries:
        parts.append(f"first{args.limit_queries}")
    if args.rerank != "none":
        model = _slug(Path(args.model).name) if args.model else ""
        parts.append("-".join(p for p in (args.rerank, model, f"w{args.window}s{args.step}") if p))
    return runs_home() / (".".join(parts) + ".txt")


def job_spec(args: argparse.Namespace, spec: RerankerSpec | None) -> JobSpec:
    """The job the flags describe (see ``pipeline.job_spec``: the experiments describe theirs the same way)."""
    from reasonrank_ir.pipeline.job_spec import JobSpec

    return JobSpec(index=args.index, first_stage=make_first_stage(args), reranker=spec, topics=args.topics,
                   qrels=args.qrels, limit_queries=args.limit_queries)


def make_first_stage(args: argparse.Namespace) -> FirstStage:
    """The first stage the flags describe (its ``name`` says what produced the run)."""
    from reasonrank_ir.retrieval.dense_index import DenseSettings
    from reasonrank_ir.retrieval.expansion import ExpansionSettings
    from reasonrank_ir.retrieval.fusion import FusionSettings

    if (args.encoder or args.dense_index) and not args.dense:
        raise ReasonRankError("--encoder and --dense-index choose a dense index: add --dense")
    if args.expand_query and not args.expansion_model:
        raise ReasonRankError("--expand-query reasoning needs --expansion-model MODEL (the LLM that writes it)")
    dense = (DenseSettings(index=args.dense_index, encoder=args.encoder, batch_size=args.batch_size,
                           threads=args.threads) if args.dense else None)
    fusion = FusionSettings(args.fusion, rrf_k=args.rrf_k, alpha=args.alpha) if args.fusion else None
    expansion = (ExpansionSettings(args.expansion_model, backend=args.expansion_backend, cache=args.expansion_cache,
                                   mode=args.expansion_mode) if args.expand_query else None)
    return FirstStage(
        hits=args.hits, run_file=args.run, dense=dense, fusion=fusion, fuse_runs=tuple(args.fuse_runs or ()),
        expansion=expansion,
        bm25=BM25Settings(k1=args.k1, b=args.b, query_side=args.bm25qs, remove_query=args.remove_query,
                          threads=args.threads, batch_size=args.batch_size))


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """Only the flags the user set; the chosen engine rejects ones it does not take."""
    context = "n_ctx" if args.backend == "llamacpp" else "max_model_len"
    options = {"base_urls": args.base_url, "api_key": args.api_key, "concurrency": args.concurrency,
               "endpoint": args.endpoint, "tensor_parallel_size": args.tensor_parallel_size,
               context: args.max_model_len, "device": args.device}
    for item in args.backend_option:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ReasonRankError(f"--backend-option takes KEY=VALUE, found {item!r}")
        import yaml

        options[key.strip()] = yaml.safe_load(value)  # numbers, booleans and strings as written
    return {k: v for k, v in options.items() if v is not None}


def _flag(loc: tuple[Any, ...]) -> str:
    """A spec field as its flag, for errors: ``rerank window (--window)``."""
    return f"rerank {loc[0]} ({RERANKER_SETTINGS[loc[0]].flag})"


def reranker_spec(args: argparse.Namespace) -> RerankerSpec:
    """The ``RerankerSpec`` the flags describe, checked: bad window settings fail before topics and model load."""
    from reasonrank_ir.rerank.spec import RerankerSpec
    from reasonrank_ir.settings import validate

    values = {name: getattr(args, name) for name in RERANKER_SETTINGS if name not in ("reranker", "options")}
    values.update(reranker=args.rerank, model=args.model or DEFAULT_MODELS.get(args.rerank),
                  options=backend_options(args) if args.rerank != "oracle" else {})
    return validate(RerankerSpec, values, place=_flag)


def describe(summary: RerankSummary) -> str:
    """One line a user reads at the end of a reranking job."""
    statuses = ", ".join(f"{count} {status}" for status, count in summary.statuses.items())
    return (f"reranked {summary.queries} queries in {summary.seconds:.1f}s ({summary.queries_per_second:.2f} q/s): "
            f"{summary.windows} windows, {summary.prompt_tokens} prompt / {summary.output_tokens} output tokens, "
            f"answers: {statuses}")


def run(args: argparse.Namespace) -> int:
    """Everything a user can get wrong (measures, topics, qrels, files, settings, model) is resolved
    before the first model call; a finished run of the same settings is reported, not redone."""
    from reasonrank_ir import pipeline
    from reasonrank_ir.data import load
    from reasonrank_ir.evaluate import format_lines, parse_measures
    from reasonrank_ir.job import OutputFiles
    from reasonrank_ir.pipeline.rerankers import Rerankers
    from reasonrank_ir.pipeline.search_job import run_job

    parse_measures(args.metrics)  # fail on a typo before any work
    spec = reranker_spec(args) if args.rerank != "none" else None  # every reranker setting checked by its declaration
    ray = ray_pool.options_from(args)
    work = job_spec(args, spec)
    dataset = load(args.index, topics=args.topics, qrels=args.qrels)
    output = Path(args.output) if args.output else default_output(args)
    check_output_file(output, "--output")
    if args.traces:
        check_output_file(args.traces, "--traces")
    topics = work.queries(dataset)
    dataset.qrels()  # read now: a bad judgments file must fail before the run, not after it
    if args.qrels:
        pipeline.check_judgments(dataset, topics, args.qrels)
    files = OutputFiles.beside(output, args.traces)

    def echo(line: str) -> None:
        print(line, file=sys.stderr)

    rerankers = (Rerankers(spec, ray=ray, echo=echo)  # --ray: not a job setting
                 if spec is not None else None)
    try:
        result = run_job(work, dataset, files, topics, rerankers=rerankers, resume=args.resume,
                         overwrite=args.overwrite, echo=echo)
    finally:
        if rerankers is not None:
            rerankers.close()
    if result.complete:
        echo(f"already complete: {output} (same settings; --overwrite runs it again)")
    elif result.outcome is not None:
        if result.outcome.replayed_windows:
            echo(f"resumed: {result.outcome.replayed_windows} windows replayed from {files.traces}")
        echo(describe(result.outcome.summary))
        echo(f"traces: {files.traces}")
    if not result.complete:
        echo(f"run: {output}")
    qrels = pipeline.judgments(dataset, topics)  # read once for both scorings
    scores = pipeline.score(result.run, dataset, args.metrics, qrels=qrels) if qrels is not None else None
    if scores is not None:
        if result.outcome is not None and result.first_stage is not None:
            before = pipeline.score(result.first_stage, dataset, args.metrics, qrels=qrels)
            if before is not None:
                print("\n".join(f"first stage {line}" for line in format_lines(before)))
        print("\n".join(format_lines(scores)))
    return 0


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
