"""Bad input through every CLI, typed as a user would: exit status 2, one ``error:`` line on stderr that
names the file:line or the flag, no traceback, and no output file left behind.

Each row is one case of the issue "Nothing silently wrong", or a spot check that a case which was
already clear stays clear. The CLIs run as subprocesses, exactly as users start them.
"""
from __future__ import annotations

import enum
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
import typing
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import GGUF, QWEN_TOKENIZER
from reasonrank_ir.train.sample import Sample
from reasonrank_ir.types import Candidate, Query

LATIN1 = "caf\xe9".encode("latin-1")


def labelled_line(qid: str) -> str:
    candidates = tuple(Candidate(d, 1.0, {"text": f"passage {d}"}) for d in "ab")
    sample = Sample("toy", Query(qid, "q"), candidates).with_labels(["a"], ["a", "b"], "r")
    return json.dumps(sample.to_json()) + "\n"


def mined_line(qid: str) -> str:
    return json.dumps(Sample("toy", Query(qid, "q"), (Candidate("a", 1.0, {"text": "p"}),)).to_json()) + "\n"


def _head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of ``path``: a download cut short."""
    if not path.is_file():
        return b"GGUF"
    with path.open("rb") as handle:
        return handle.read(size)


def gguf_bytes(*, version: int = 3, values: tuple[tuple[str, int, bytes], ...] = (("general.name", 8, b"toy"),),
               tensors: int = 2, data: int | None = None, alignment: int = 32) -> bytes:
    """A small GGUF file written by hand (ggml's docs/gguf.md): metadata ``values`` (key, type code, encoded
    value) and ``tensors`` F32 tensors of 8 values, with ``data`` bytes of tensor data (all of it when None)."""
    import struct

    def string(text: str | bytes) -> bytes:
        raw = text.encode() if isinstance(text, str) else text
        return struct.pack("<Q", len(raw)) + raw

    head = b"GGUF" + struct.pack("<IQQ", version, tensors, len(values))
    for key, kind, value in values:
        head += string(key) + struct.pack("<I", kind) + (string(value) if kind == 8 else value)
    for number in range(tensors):
        head += string(f"t{number}") + struct.pack("<I", 1) + struct.pack("<Q", 8) + struct.pack("<IQ", 0, 32 * number)
    head += b"\0" * (-len(head) % alignment)
    whole = 32 * tensors
    return head + b"\1" * (whole if data is None else data)


@pytest.fixture
def files(tmp_path) -> dict[str, str]:
    return make_files(tmp_path)


def make_files(tmp_path: Path) -> dict[str, str]:
    """Good and bad input files, an empty folder for outputs, and paths no output can go to."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    contents: dict[str, bytes] = {
        "topics": b"1\tfirst query\n2\tsecond query\n",
        "qrels": b"1 0 d1 1\n2 0 d3 1\n",
        "run": b"1 Q0 d1 1 0.9 t\n1 Q0 d2 2 0.5 t\n2 Q0 d3 1 0.7 t\n",
        "run_latin1": b"1 Q0 d1 1 0.9 t\n1 Q0 " + LATIN1 + b" 2 0.5 t\n",
        "run_5_columns": b"1 Q0 d1 1 0.9 t\n1 Q0 d2 2 0.5\n",
        "run_nan": b"1 Q0 d1 1 0.9 t\n1 Q0 d2 2 nan t\n",
        "run_twice": b"1 Q0 d1 1 0.9 t\n1 Q0 d2 2 0.5 t\n1 Q0 d1 3 0.4 t\n",
        "run_other_corpus": b"1 Q0 x1 1 0.9 t\n1 Q0 x2 2 0.5 t\n2 Q0 x3 1 0.7 t\n",
        "topics_latin1": b"1\tfirst\n2\t" + LATIN1 + b"\n",
        "topics_empty": b"",
        "topics_empty_text": b"1\tfirst\n2\t \n",
        "topics_twice": b"1\tfirst\n2\tsecond\n1\tagain\n",
        "qrels_latin1": b"1 0 d1 1\n2 0 " + LATIN1 + b" 1\n",
        "labelled": labelled_line("1").encode() + labelled_line("2").encode(),
        "mined": mined_line("1").encode(),
        "labelled_latin1": labelled_line("1").encode() + LATIN1 + b"\n",
        "a_file": b"not a folder\n",
        "gguf_cut": _head(GGUF, 5000),
        # round two
        "run_empty": b"",
        "qrels_empty": b"",
        "qrels_other_corpus": b"1 0 x1 1\n2 0 x3 1\n",
        "qrels_other_topics": b"7 0 d1 1\n8 0 d3 1\n",
        "topics_space_id": b"1\tfirst\n2 b\tsecond\n",
        "locked_run": b"1 Q0 d1 1 0.9 t\n",
        "locked_topics": b"1\tfirst\n",
        "locked_qrels": b"1 0 d1 1\n",
        "locked_labelled": labelled_line("1").encode(),
        "gguf_text": b"this is not a model\n",
        "gguf_empty": b"",
        "gguf_header_cut": b"GGUF\x03\x00",
        "gguf_version_1": gguf_bytes(version=1),
        "gguf_data_cut": gguf_bytes(data=40),
        "gguf_locked": gguf_bytes(),
        "labelled_empty": b"",
        "labelled_broken": b'{"dataset": "toy", "qid": ',
        "labelled_other": b'{"id": 1, "text": "not a sample"}\n',
        "mined_empty": b"",
    }
    paths = {}
    for name, data in contents.items():
        suffix = ".gguf" if name.startswith("gguf") else ".jsonl" if name.startswith(("labelled", "mined")) else ".txt"
        path = inputs / (name + suffix)
        path.write_bytes(data)
        paths[name] = str(path)
    for name in contents:
        if "locked" in name:
            os.chmod(paths[name], 0)  # unreadable once root's override capabilities are dropped (see run_cli)
    (inputs / "folder.gguf").mkdir()
    paths["gguf_folder"] = str(inputs / "folder.gguf")
    (tmp_path / "out").mkdir()
    (tmp_path / "never-run").mkdir()
    paths.update(out=str(tmp_path / "out"), never_run=str(tmp_path / "never-run"), readonly=_readonly_dir(tmp_path))
    return paths


def _readonly_dir(tmp_path: Path) -> str:
    """A folder nothing can be created in (root ignores mode bits: then a read-only system folder)."""
    folder = tmp_path / "readonly"
    folder.mkdir(mode=0o555)
    if UNPRIVILEGED:
        return str(folder)
    for candidate in (folder, Path("/sys"), Path("/proc")):
        try:
            tempfile.TemporaryFile(dir=candidate).close()
        except OSError:
            return str(candidate)
    pytest.skip("no read-only folder on this machine")


SEARCH = ("search", "--index", "cranfield", "--topics", "{topics}", "--qrels", "{qrels}")
ORACLE = (*SEARCH, "--run", "{run}", "--rerank", "oracle")

CASES = [
    # -- encodings: anything but UTF-8 (with or without BOM) is an error naming the byte ---------------
    ("run latin-1", (*SEARCH, "--run", "{run_latin1}", "--output", "{out}/run.txt"),
     "run_latin1.txt:2: not UTF-8 text (byte 0xe9 at offset 24)"),
    ("topics latin-1", ("search", "--index", "cranfield", "--topics", "{topics_latin1}", "--output", "{out}/run.txt"),
     "topics_latin1.txt:2: not UTF-8 text (byte 0xe9 at offset 13)"),
    ("qrels latin-1", (*SEARCH[:-1], "{qrels_latin1}", "--run", "{run}", "--output", "{out}/run.txt"),
     "qrels_latin1.txt:2: not UTF-8 text (byte 0xe9 at offset 16)"),
    ("qrels latin-1, retrieving", ("search", "--index", "cranfield", "--topics", "{topics}", "--qrels", "{qrels_latin1}",
                                   "--output", "{out}/run.txt"), "qrels_latin1.txt:2: not UTF-8"),
    ("evaluate run latin-1", ("evaluate", "{run_latin1}", "--qrels", "{qrels}"), "run_latin1.txt:2: not UTF-8"),
    ("evaluate qrels latin-1", ("evaluate", "{run}", "--qrels", "{qrels_latin1}"), "qrels_latin1.txt:2: not UTF-8"),
    ("training JSONL latin-1", ("train.filter", "--input", "{labelled_latin1}", "--output", "{out}/kept.jsonl"),
     "labelled_latin1.jsonl:2: not UTF-8 text (byte 0xe9"),
    # -- run files trec_eval would refuse ---------------------------------------------------------------
    ("run 5 columns", (*SEARCH, "--run", "{run_5_columns}", "--output", "{out}/run.txt"),
     "run_5_columns.txt:2: expected 6 columns"),
    ("run nan score", (*SEARCH, "--run", "{run_nan}", "--output", "{out}/run.txt"),
     "run_nan.txt:2: score must be a finite number, found 'nan'"),
    ("evaluate nan score", ("evaluate", "{run_nan}", "--qrels", "{qrels}"), "run_nan.txt:2: score must be a finite"),
    ("run doc twice", (*SEARCH, "--run", "{run_twice}", "--output", "{out}/run.txt"),
     "run_twice.txt:3: doc 'd1' is ranked twice for query 1 (also on line 1)"),
    ("run of another corpus, oracle", (*SEARCH, "--run", "{run_other_corpus}", "--rerank", "oracle",
                                       "--output", "{out}/run.txt"), "none of its docs is judged"),
    # -- topics that would run other queries than the file seems to hold ---------------------------------
    ("topics empty", ("search", "--index", "cranfield", "--topics", "{topics_empty}", "--output", "{out}/run.txt"),
     "topics_empty.txt: no topics in the file"),
    ("topics empty text", ("search", "--index", "cranfield", "--topics", "{topics_empty_text}",
                           "--output", "{out}/run.txt"), "topics_empty_text.txt:2: topic '2' has an empty text"),
    ("topics id twice", ("search", "--index", "cranfield", "--topics", "{topics_twice}", "--output", "{out}/run.txt"),
     "topics_twice.txt:3: topic id 1 is given twice"),
    # -- flags checked before any work ------------------------------------------------------------------
    ("hits 0", (*ORACLE, "--hits", "0", "--output", "{out}/run.txt"), "--hits must be at least 1, found 0"),
    ("hits -5", (*ORACLE, "--hits", "-5", "--output", "{out}/run.txt"), "--hits must be at least 1, found -5"),
    ("limit-queries -1", (*ORACLE, "--limit-queries", "-1", "--output", "{out}/run.txt"),
     "--limit-queries must be a positive integer, found -1"),
    ("step > window", (*ORACLE, "--window", "10", "--step", "15", "--output", "{out}/run.txt"),
     "step 15 is larger than window 10"),
    ("passage tokens 0", (*ORACLE, "--passage-tokens", "0", "--output", "{out}/run.txt"),
     "(--passage-tokens) must be a positive integer, found 0"),
    ("cut .gguf", (*SEARCH, "--run", "{run}", "--rerank", "reasonrank", "--backend", "llamacpp",
                   "--model", "{gguf_cut}", "--output", "{out}/run.txt"), "gguf_cut.gguf"),
    ("cut .gguf, tokenizer given", (*SEARCH, "--run", "{run}", "--rerank", "reasonrank", "--backend", "llamacpp",
                                    "--model", "{gguf_cut}", "--tokenizer", str(QWEN_TOKENIZER),
                                    "--output", "{out}/run.txt"), "llama.cpp cannot load"),
    ("mine num-queries -1", ("train.mine", "--index", "cranfield", "--output", "{out}/mined.jsonl",
                             "--num-queries", "-1"), "--num-queries must be at least 1, found -1"),
    ("filter alpha 2", ("train.filter", "--input", "{labelled}", "--output", "{out}/kept.jsonl", "--alpha", "2"),
     "--alpha is an NDCG@10 threshold between 0 and 1, found 2.0"),
    ("filter alpha -1", ("train.filter", "--input", "{labelled}", "--output", "{out}/kept.jsonl", "--alpha", "-1"),
     "between 0 and 1, found -1.0"),
    ("filter alpha nan", ("train.filter", "--input", "{labelled}", "--output", "{out}/kept.jsonl", "--alpha", "nan"),
     "between 0 and 1, found nan"),
    ("filter a mined file", ("train.filter", "--input", "{mined}", "--output", "{out}/kept.jsonl"),
     "mined.jsonl:1: this list is not labelled"),
    # -- outputs that cannot be written, refused before the work -----------------------------------------
    ("search output read-only", (*ORACLE, "--output", "{readonly}/run.txt"), "cannot write in"),
    ("search output under a file", (*ORACLE, "--output", "{a_file}/run.txt"), "a_file.txt is a file, not a folder"),
    ("search output is a folder", (*ORACLE, "--output", "{out}"), "is a folder; give a file name"),
    ("experiments output-dir is a file", ("experiments", "run", "bright-oracle", "--output-dir", "{a_file}"),
     "a_file.txt is a file, not a folder"),
    ("experiments output-dir read-only", ("experiments", "run", "bright-oracle", "--output-dir", "{readonly}/x"),
     "cannot write in"),
    ("experiments output-dir under a file", ("experiments", "run", "bright-oracle", "--output-dir", "{a_file}/x"),
     "a_file.txt is a file, not a folder"),
    ("mine output is a folder", ("train.mine", "--index", "cranfield", "--output", "{out}"),
     "is a folder; give a file name"),
    ("mine output read-only", ("train.mine", "--index", "cranfield", "--output", "{readonly}/mined.jsonl"),
     "cannot write in"),
    ("filter output read-only", ("train.filter", "--input", "{labelled}", "--output", "{readonly}/kept.jsonl"),
     "cannot write in"),
    ("filter output under a file", ("train.filter", "--input", "{labelled}", "--output", "{a_file}/kept.jsonl"),
     "a_file.txt is a file, not a folder"),
    ("mine output under a file", ("train.mine", "--index", "cranfield", "--output", "{a_file}/mined.jsonl"),
     "a_file.txt is a file, not a folder"),
    ("filter output is a folder", ("train.filter", "--input", "{labelled}", "--output", "{out}"),
     "is a folder; give a file name"),
    ("label output read-only", ("train.label", "--input", "{mined}", "--output", "{readonly}/labelled.jsonl"),
     "cannot write in"),
    ("report of an experiment never run", ("experiments", "report", "bright-oracle", "--output-dir", "{never_run}"),
     "holds no scores of bright-oracle: run it first"),
    # -- spot checks: cases that were already clear stay clear -------------------------------------------
    ("search unknown measure", (*ORACLE, "--metrics", "nDGC@10", "--output", "{out}/run.txt"), "unknown measure"),
    ("search missing topics file", ("search", "--index", "cranfield", "--topics", "./no/topics.tsv",
                                    "--output", "{out}/run.txt"), "no such file"),
    ("search qrels given as the run", (*SEARCH, "--run", "{qrels}", "--output", "{out}/run.txt"), "expected 6 columns"),
    ("evaluate missing run", ("evaluate", "{out}/none.trec", "--qrels", "{qrels}"), "none.trec: no such file"),
    ("experiments unknown name", ("experiments", "report", "bright-orcale"), "Did you mean: bright-oracle"),
    ("mine without index", ("train.mine", "--output", "{out}/mined.jsonl"), "--index and --output are required"),
    ("filter input is output", ("train.filter", "--input", "{labelled}", "--output", "{labelled}"),
     "--output must differ from --input"),
    ("data info misspelt", ("data", "info", "brigt-biology"), "Did you mean: bright-biology"),
    ("index misspelt", ("index", "--index", "brigt-biology"), "Did you mean: bright-biology"),
    ("sft unknown config", ("train.sft", "--config", "sfft"), "Did you mean: sft?"),
    ("grpo missing config file", ("train.grpo", "--config", "{out}/grpo.yaml"), "Config file not found"),
    ("reasonrank command", ("cli", "search", "--index", "cranfield", "--hits", "0"), "--hits must be at least 1"),
    ("label without teacher", ("train.label", "--input", "{mined}", "--output", "{out}/labelled.jsonl"),
     "needs --model and --base-url"),
]

# Round two ("nothing silently wrong, round two"), class by class; several variants each.
LLAMACPP = (*SEARCH, "--run", "{run}", "--rerank", "reasonrank", "--backend", "llamacpp")
OPENAI = (*SEARCH, "--run", "{run}", "--rerank", "reasonrank", "--backend", "openai", "--model", "m")
URL = ("--base-url", "http://127.0.0.1:9/v1")
TRAIN = ("--model", str(QWEN_TOKENIZER), "--data", "{labelled}")
CASES_2 = [
    # -- 2. what belongs together: run, qrels and topics --------------------------------------------------
    ("evaluate qrels of another corpus", ("evaluate", "{run}", "--qrels", "{qrels_other_corpus}"),
     "run.txt: none of its docs is judged in"),
    ("evaluate qrels of other topics", ("evaluate", "{run}", "--qrels", "{qrels_other_topics}"),
     "match none of the judged queries"),
    ("evaluate empty qrels", ("evaluate", "{run}", "--qrels", "{qrels_empty}"), "qrels_empty.txt: no judgments"),
    ("evaluate empty run", ("evaluate", "{run_empty}", "--qrels", "{qrels}"), "run_empty.txt: no run lines"),
    ("search qrels of other topics", (*SEARCH[:-1], "{qrels_other_topics}", "--run", "{run}", "--rerank", "oracle",
                                      "--output", "{out}/run.txt"), "judges none of the topics (1, 2)"),
    ("search empty qrels", (*SEARCH[:-1], "{qrels_empty}", "--run", "{run}", "--output", "{out}/run.txt"),
     "qrels_empty.txt: no judgments"),
    ("search qrels of another corpus", (*SEARCH[:-1], "{qrels_other_corpus}", "--run", "{run}",
                                        "--output", "{out}/run.txt"), "none of its docs is judged"),
    ("search empty run", (*SEARCH, "--run", "{run_empty}", "--output", "{out}/run.txt"), "no run lines"),
    ("topic id with a space", ("search", "--index", "cranfield", "--topics", "{topics_space_id}",
                               "--output", "{out}/run.txt"), "topic id '2 b' contains whitespace"),
    # -- 3. every file error is one line: unreadable inputs, outputs that cannot be created ---------------
    ("unreadable run", ("evaluate", "{locked_run}", "--qrels", "{qrels}"),
     "locked_run.txt: cannot read it (Permission denied)"),
    ("unreadable qrels", ("evaluate", "{run}", "--qrels", "{locked_qrels}"), "locked_qrels.txt: cannot read it"),
    ("unreadable topics", ("search", "--index", "cranfield", "--topics", "{locked_topics}",
                           "--output", "{out}/run.txt"), "locked_topics.txt: cannot read it"),
    ("unreadable run to rerank", (*SEARCH, "--run", "{locked_run}", "--rerank", "oracle",
                                  "--output", "{out}/run.txt"), "locked_run.txt: cannot read it"),
    ("unreadable training input", ("train.filter", "--input", "{locked_labelled}", "--output", "{out}/kept.jsonl"),
     "locked_labelled.txt: cannot read it"),
    ("unreadable sft data", ("train.sft", "--model", str(QWEN_TOKENIZER), "--data", "{locked_labelled}",
                             "--run-dir", "{out}/sft"), "locked_labelled.txt: cannot read it"),
    ("inspect output is a folder", ("inspect", "{run}", "--output", "{out}"), "is a folder; give a file name"),
    ("inspect output read-only", ("inspect", "{run}", "--output", "{readonly}/run.html"), "cannot write in"),
    ("inspect output under a file", ("inspect", "{run}", "--output", "{a_file}/run.html"), "is a file, not a folder"),
    ("sft run-dir is a file", ("train.sft", *TRAIN, "--run-dir", "{a_file}"), "a_file.txt is a file, not a folder"),
    ("grpo run-dir is a file", ("train.grpo", *TRAIN, "--run-dir", "{a_file}"), "a_file.txt is a file, not a folder"),
    ("grpo run-dir read-only", ("train.grpo", *TRAIN, "--run-dir", "{readonly}/grpo"), "cannot write in"),
    ("sft run-dir under a file", ("train.sft", *TRAIN, "--run-dir", "{a_file}/sft"), "is a file, not a folder"),
    ("label output under a file", ("train.label", "--input", "{mined}", "--output", "{a_file}/l.jsonl"),
     "is a file, not a folder"),
    # -- 4. every flag checked before any work, with its type --------------------------------------------
    ("bm25 k1 negative", (*SEARCH, "--k1", "-1", "--output", "{out}/run.txt"), "--k1 must be a finite number"),
    ("bm25 k1 inf", (*SEARCH, "--k1", "inf", "--output", "{out}/run.txt"), "--k1 must be a finite number"),
    ("bm25 b above 1", (*SEARCH, "--b", "1.5", "--output", "{out}/run.txt"), "--b must lie in [0, 1], found 1.5"),
    ("bm25 b nan", (*SEARCH, "--b", "nan", "--output", "{out}/run.txt"), "--b must lie in [0, 1], found nan"),
    ("threads 0", (*SEARCH, "--threads", "0", "--output", "{out}/run.txt"), "--threads must be at least 1, found 0"),
    ("batch size -1", (*SEARCH, "--batch-size", "-1", "--output", "{out}/run.txt"), "--batch-size must be at least 1"),
    ("rrf-k 0", (*SEARCH, "--fusion", "rrf", "--fuse-runs", "{run}", "{run}", "--rrf-k", "0",
                 "--output", "{out}/run.txt"), "--rrf-k must be at least 1, found 0"),
    ("rrf-k -60", (*SEARCH, "--fusion", "rrf", "--fuse-runs", "{run}", "{run}", "--rrf-k", "-60",
                   "--output", "{out}/run.txt"), "--rrf-k must be at least 1"),
    ("metric P@0", (*ORACLE, "--metrics", "P@0", "--output", "{out}/run.txt"), "'P@0': the cut-off after @"),
    ("metric nDCG@0", ("evaluate", "{run}", "--qrels", "{qrels}", "--metrics", "nDCG@0"), "'nDCG@0': the cut-off"),
    ("metric R@-1", ("evaluate", "{run}", "--qrels", "{qrels}", "--metrics", "R@-1"), "R@-1"),
    ("llamacpp n_batch abc", (*LLAMACPP, "--model", "{gguf_text}", "--backend-option", "n_batch=abc",
                              "--output", "{out}/run.txt"), "backend option n_batch='abc': expected int"),
    ("llamacpp misspelt option", (*LLAMACPP, "--model", "{gguf_text}", "--backend-option", "n_batc=8",
                                  "--output", "{out}/run.txt"), "backend option 'n_batc'"),
    ("llamacpp n_ctx -1", (*LLAMACPP, "--model", "{gguf_text}", "--max-model-len", "-1",
                           "--output", "{out}/run.txt"), "n_ctx must be at least 0, found -1"),
    ("gguf is text", (*LLAMACPP, "--model", "{gguf_text}", "--output", "{out}/run.txt"),
     "gguf_text.gguf is not a GGUF file"),
    ("gguf is a folder", (*LLAMACPP, "--model", "{gguf_folder}", "--output", "{out}/run.txt"),
     "folder.gguf is a folder"),
    ("gguf missing", (*LLAMACPP, "--model", "{out}/none.gguf", "--output", "{out}/run.txt"), "does not exist"),
    ("gguf empty", (*LLAMACPP, "--model", "{gguf_empty}", "--output", "{out}/run.txt"), "gguf_empty.gguf is empty"),
    ("gguf cut in its header", (*LLAMACPP, "--model", "{gguf_header_cut}", "--output", "{out}/run.txt"),
     "gguf_header_cut.gguf is cut short: its 6 bytes end inside the header"),
    ("gguf tensor data cut", (*LLAMACPP, "--model", "{gguf_data_cut}", "--tokenizer", str(QWEN_TOKENIZER),
                              "--output", "{out}/run.txt"), "gguf_data_cut.gguf is cut short: 168 bytes, but its"),
    ("gguf unreadable", (*LLAMACPP, "--model", "{gguf_locked}", "--output", "{out}/run.txt"),
     "gguf_locked.gguf: cannot read it"),
    ("gguf version 1", (*LLAMACPP, "--model", "{gguf_version_1}", "--output", "{out}/run.txt"),
     "gguf_version_1.gguf is GGUF version 1; llama.cpp reads"),
    ("openai timeout abc", (*OPENAI, *URL, "--backend-option", "timeout=abc", "--output", "{out}/run.txt"),
     "backend option timeout='abc': expected float"),
    ("openai misspelt option", (*OPENAI, *URL, "--backend-option", "max_retires=2", "--output", "{out}/run.txt"),
     "Did you mean: max_retries"),
    ("openai retries -1", (*OPENAI, *URL, "--backend-option", "max_retries=-1", "--output", "{out}/run.txt"),
     "max_retries must be at least 0"),
    ("openai concurrency 0", (*OPENAI, *URL, "--concurrency", "0", "--output", "{out}/run.txt"),
     "concurrency must be at least 1"),
    ("openai ftp url", (*OPENAI, "--base-url", "ftp://host/v1", "--output", "{out}/run.txt"), "is not an http(s) URL"),
    ("openai no url", (*OPENAI, "--output", "{out}/run.txt"), "at least one base URL"),
    ("hf dtype", (*SEARCH, "--run", "{run}", "--rerank", "reasonrank", "--backend", "hf", "--model", "m",
                  "--backend-option", "dtype=float8", "--output", "{out}/run.txt"), "unknown dtype 'float8'"),
    ("train set learning_rate abc", ("train.sft", "--config", "sft", "--set", "training.learning_rate=abc",
                                     *TRAIN, "--run-dir", "{out}/sft"), "learning_rate='abc' is not a valid float"),
    ("train set epochs a list", ("train.grpo", "--config", "grpo", "--set", "training.max_steps=[1]",
                                 *TRAIN, "--run-dir", "{out}/grpo"), "max_steps=[1] is not a valid int"),
    ("train set misspelt key", ("train.sft", "--config", "sft", "--set", "training.learnin_rate=1e-5",
                                *TRAIN, "--run-dir", "{out}/sft"), "Did you mean: learning_rate"),
    ("train set grpo field on sft", ("train.sft", "--set", "training.num_generations=4", *TRAIN,
                                     "--run-dir", "{out}/sft"), "training: unknown setting 'num_generations'"),
    ("train set scheduler misspelt", ("train.sft", "--set", "training.lr_scheduler_type=cosin", *TRAIN,
                                      "--run-dir", "{out}/sft"), "Did you mean: cosine"),
    ("train set lora rank abc", ("train.sft", "--set", "lora.r=abc", *TRAIN, "--run-dir", "{out}/sft"),
     "lora: r='abc' is not a valid int"),
    ("train set lora misspelt", ("train.grpo", "--set", "lora.lora_alpah=16", *TRAIN, "--run-dir", "{out}/grpo"),
     "Did you mean: lora_alpha"),
    ("index empty", ("search", "--index", "", "--output", "{out}/run.txt"), "--index: empty value ''"),
    ("topics blank", ("search", "--index", "cranfield", "--topics", " ", "--output", "{out}/run.txt"),
     "--topics: empty value ' '"),
    ("index command empty name", ("index", "--index", ""), "--index: empty value"),
    ("index batch size 0", ("index", "--index", "cranfield", "--dense", "--encoder", "m", "--batch-size", "0"),
     "--batch-size must be at least 1, found 0"),
    ("index max length -1", ("index", "--index", "cranfield", "--dense", "--encoder", "m", "--max-length", "-1"),
     "--max-length must be at least 1"),
    ("evaluate empty run name", ("evaluate", "", "--qrels", "{qrels}"), "run: empty value"),
    # -- 5. argparse's usage errors in the package's format -----------------------------------------------
    ("hits abc", (*SEARCH, "--hits", "abc"), "--hits: invalid int value 'abc' (see "),
    ("alpha x", ("train.filter", "--input", "{labelled}", "--output", "{out}/k.jsonl", "--alpha", "x"),
     "--alpha: invalid float value 'x'"),
    ("rerank choice", (*SEARCH, "--rerank", "resonrank"), "--rerank: invalid choice 'resonrank'"),
    ("evaluate without qrels", ("evaluate", "{run}"), "the following arguments are required: --qrels"),
    ("search unknown flag", (*SEARCH, "--hts", "5"), "unrecognized arguments: --hts 5"),
    ("experiments no command", ("experiments",), "the following arguments are required"),
    ("mine num-queries abc", ("train.mine", "--index", "cranfield", "--output", "{out}/m.jsonl",
                              "--num-queries", "abc"), "--num-queries: invalid int value 'abc'"),
    ("sft unknown flag", ("train.sft", "--config", "sft", "--bogus"), "unrecognized arguments: --bogus"),
    # -- 9. training inputs ------------------------------------------------------------------------------
    ("label empty input", ("train.label", "--input", "{mined_empty}", "--output", "{out}/l.jsonl",
                           "--model", "m", *URL), "mined_empty.jsonl: no mined lists"),
    ("filter empty input", ("train.filter", "--input", "{labelled_empty}", "--output", "{out}/k.jsonl"),
     "labelled_empty.jsonl: no labelled lists"),
    ("grpo empty data", ("train.grpo", "--model", str(QWEN_TOKENIZER), "--data", "{labelled_empty}",
                         "--run-dir", "{out}/grpo"), "labelled_empty.jsonl: no training samples"),
    ("grpo broken data", ("train.grpo", "--model", str(QWEN_TOKENIZER), "--data", "{labelled_broken}",
                          "--run-dir", "{out}/grpo"), "labelled_broken.jsonl:1: not valid JSON"),
    ("sft data not samples", ("train.sft", "--model", str(QWEN_TOKENIZER), "--data", "{labelled_other}",
                              "--run-dir", "{out}/sft"), "labelled_other.jsonl:1: not a training sample"),
    ("sft missing data", ("train.sft", "--model", str(QWEN_TOKENIZER), "--data", "{out}/none.jsonl",
                          "--run-dir", "{out}/sft"), "none.jsonl: no such file"),
]


UNPRIVILEGED = (["setpriv", "--bounding-set=-dac_override,-dac_read_search",
                 "--inh-caps=-dac_override,-dac_read_search"] if os.geteuid() == 0 and shutil.which("setpriv") else [])
"""Root reads and writes past mode bits (CAP_DAC_OVERRIDE); the CLIs run without that power, as a user would."""


def run_cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*UNPRIVILEGED, sys.executable, "-m", f"reasonrank_ir.{module}", *args], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, OPENAI_API_KEY="placeholder"))


def assert_one_clear_error(result: subprocess.CompletedProcess, expected: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0]


@pytest.mark.parametrize("name, argv, expected", [pytest.param(*case, id=case[0]) for case in CASES + CASES_2])
def test_bad_input_is_one_clear_line_and_leaves_no_output(files, name, argv, expected):
    if name.startswith("cut .gguf") and not GGUF.is_file():
        pytest.skip(f"{GGUF} missing: run scripts/fetch_test_models.sh")
    module, *args = (arg.format(**files) for arg in argv)
    inputs = sorted(Path(files["a_file"]).parent.iterdir())
    result = run_cli(module, *args)
    assert_one_clear_error(result, expected)
    assert not any(Path(files["out"]).iterdir()), "an output was left behind"
    assert not any(Path(files["never_run"]).iterdir())
    assert sorted(Path(files["a_file"]).parent.iterdir()) == inputs


def test_misspelt_index_is_refused_before_anything_heavy_loads(files):
    """Refused fast because nothing heavy runs first: no Pyserini, JVM, torch or transformers is imported
    (the import log says so; a wall-clock bound would only measure how loaded the machine is, and
    benchmarks/bad_inputs.py times the whole table)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "reasonrank_ir.search", "--index",
                             "brigt-biology", "--output", f"{files['out']}/run.txt"], capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, OPENAI_API_KEY="placeholder"))
    imports = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
               if line.startswith("import time:")}
    result.stderr = "".join(line + "\n" for line in result.stderr.splitlines() if not line.startswith("import time:"))
    assert_one_clear_error(result, "Did you mean: bright-biology")
    assert "reasonrank_ir" in imports and not imports & {"pyserini", "jnius", "torch", "transformers"}
    assert not any(Path(files["out"]).iterdir())


def test_bom_and_crlf_inputs_run_every_query(tmp_path):
    """A BOM used to glue itself to the first query id, so that query vanished from the run and scores."""
    bom = b"\xef\xbb\xbf"
    (tmp_path / "topics.tsv").write_bytes(bom + b"1\tfirst\r\n2\tsecond\r\n")
    (tmp_path / "qrels.txt").write_bytes(bom + b"1 0 d1 1\r\n2 0 d3 1\r\n")
    (tmp_path / "run.trec").write_bytes(bom + b"1 Q0 d2 1 0.9 t\r\n1 Q0 d1 2 0.5 t\r\n2 Q0 d3 1 0.7 t\r\n")
    output = tmp_path / "oracle.txt"
    result = run_cli("search", "--index", "cranfield", "--topics", str(tmp_path / "topics.tsv"), "--qrels",
                     str(tmp_path / "qrels.txt"), "--run", str(tmp_path / "run.trec"), "--rerank", "oracle",
                     "--output", str(output), "--metrics", "RR@10")
    assert result.returncode == 0, result.stderr
    # the oracle puts the relevant d1 first for query 1: RR goes from (1/2 + 1) / 2 to 1
    assert [tuple(line.split()[:3:2]) for line in output.read_text().splitlines()] == [
        ("1", "d1"), ("1", "d2"), ("2", "d3")]
    assert result.stdout.splitlines() == ["first stage RR@10\t0.7500", "RR@10\t1.0000"]


# -- a bad .gguf is named for what is wrong with it, before llama.cpp or a tokenizer loads --------------
def _cut(size: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(gguf_bytes()[:size])
    return write


def _write(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


GGUF_FILES = [  # what the file holds, and the words of the one line that refuses it
    ("missing", lambda path: None, "model.gguf' does not exist"),
    ("a folder", lambda path: path.mkdir(), "model.gguf is a folder"),
    ("empty", _write(b""), "model.gguf is empty (0 bytes)"),
    ("text", _write(b"<html>Not Found</html>\n"), "model.gguf is not a GGUF file (it starts with b'<htm'"),
    ("safetensors", _write(b"\x10\x00\x00\x00\x00\x00\x00\x00{}"), "is not a GGUF file"),
    ("cut in its magic", _cut(2), "its 2 bytes end inside the header"),
    ("cut in its version", _cut(6), "its 6 bytes end inside the header"),
    ("cut in its counts", _cut(20), "its 20 bytes end inside the header"),
    ("cut in a key", _cut(30), "its 30 bytes end inside the metadata (key 1 of 1)"),
    ("cut in a value", _cut(55), "its 55 bytes end inside the metadata (key 'general.name')"),
    ("cut in the tensor table", _cut(100), "its 100 bytes end inside the tensor table (tensor 2 of 2)"),
    ("cut at the data", _cut(128), "is cut short: 128 bytes, but its 2 tensors need 192"),
    ("cut one byte short", _cut(191), "is cut short: 191 bytes, but its 2 tensors need 192"),
    ("version 1", _write(gguf_bytes(version=1)), "is GGUF version 1; llama.cpp reads little-endian GGUF versions 2"),
    ("version 9", _write(gguf_bytes(version=9)), "is GGUF version 9"),
    ("big-endian", _write(b"GGUF" + (3).to_bytes(4, "big") + gguf_bytes()[8:]), "is a big-endian GGUF file"),
    ("unknown value type", _write(gguf_bytes(values=(("general.x", 13, b""),))),
     "is damaged: metadata key 'general.x' has unknown value type 13"),
    ("array of arrays", _write(gguf_bytes(values=(("general.x", 9, (9).to_bytes(4, "little") + bytes(8)),))),
     "metadata key 'general.x' holds an array of arrays"),
    ("alignment 3", _write(gguf_bytes(values=(("general.alignment", 4, (3).to_bytes(4, "little")),))),
     "general.alignment must be a power of two, found 3"),
    ("tensor of 5 dimensions", _write(gguf_bytes()[:59] + (2).to_bytes(8, "little") + b"t0" + (5).to_bytes(4, "little")
                                      + bytes(200)), "tensor 't0' has 5 dimensions (at most 4)"),
]


@pytest.mark.parametrize("name, make, expected", GGUF_FILES, ids=[case[0] for case in GGUF_FILES])
def test_a_bad_gguf_is_one_line_saying_what_is_wrong_with_the_file(tmp_path, name, make, expected):
    from reasonrank_ir.backends.gguf_file import check_gguf
    from reasonrank_ir.errors import ReasonRankError

    path = tmp_path / "model.gguf"
    make(path)
    with pytest.raises(ReasonRankError) as refused:
        check_gguf(path)
    assert expected in str(refused.value) and "\n" not in str(refused.value)
    assert "tokenizer" not in str(refused.value)


@pytest.mark.parametrize("alignment", [32, 64])
def test_a_whole_gguf_passes_the_check(tmp_path, alignment):
    """Metadata of every kind, any alignment; a file without tensors ends right after its metadata."""
    from reasonrank_ir.backends.gguf_file import check_gguf

    path = tmp_path / "model.gguf"
    values = (("general.name", 8, b"toy"),) if alignment == 32 else (
        ("general.alignment", 4, alignment.to_bytes(4, "little")),
        ("tokenizer.ggml.tokens", 9, (8).to_bytes(4, "little") + (2).to_bytes(8, "little") + b"".join(
            len(t).to_bytes(8, "little") + t for t in (b"a", b"bc"))),
        ("tokenizer.ggml.scores", 9, (6).to_bytes(4, "little") + (2).to_bytes(8, "little") + bytes(8)))
    path.write_bytes(gguf_bytes(values=values, alignment=alignment))
    check_gguf(path)
    check_gguf(str(path))
    path.write_bytes(gguf_bytes(tensors=0, alignment=1))  # no tensors, no padding after the metadata
    check_gguf(path)


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.01, 0.5, 0.999999])
def test_the_test_gguf_passes_and_its_cut_copies_are_refused(tmp_path, fraction):
    """The real model file (SmolLM2, Q4_1) passes; cut anywhere, in its metadata, tensor table or data, it
    is refused as cut short."""
    from reasonrank_ir.backends.gguf_file import check_gguf
    from reasonrank_ir.errors import ReasonRankError

    if not GGUF.is_file():
        pytest.skip(f"{GGUF} missing: run scripts/fetch_test_models.sh")
    check_gguf(GGUF)
    size = max(5, int(GGUF.stat().st_size * fraction))
    cut = tmp_path / "smollm2.gguf"
    with GGUF.open("rb") as source, cut.open("wb") as target:
        shutil.copyfileobj(io.BytesIO(source.read(size)), target)
    with pytest.raises(ReasonRankError, match=r"smollm2.gguf is cut short: .*download it again$"):
        check_gguf(cut)


# -- train --set: trl's and peft's fields read from their source, without importing trl ------------------
def _enum_or_str_as_enum(kind):
    """``SomeEnum | str`` as transformers and peft read it: the string must be one of the enum's values."""
    members = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and any(
            isinstance(member, type) and issubclass(member, enum.Enum) for member in members):
        return typing.Union[tuple(member for member in members if member is not str)]  # noqa: UP007
    return kind


SAMPLE_VALUES = ("abc", 3, 0.5, True, None, [1], ["q_proj"], {"a": 1}, "epoch", "cosine", "CAUSAL_LM", "none", "no",
                 "all-linear", "adamw_torch", "lora_only")


@pytest.mark.parametrize("module, name", [("trl", "SFTConfig"), ("trl", "GRPOConfig"), ("peft", "LoraConfig")])
def test_config_fields_read_from_source_are_the_imported_ones(module, name):
    """The fields read with ``ast`` are the dataclass's fields, in order; each type takes every value the
    imported one takes (``SomeEnum | str`` read as the library reads it: one of the enum's values), and
    refuses the same ones unless it names something read as Any."""
    import importlib

    from pydantic import TypeAdapter, ValidationError

    from reasonrank_ir.train.library_fields import imported_fields, read_fields

    def accepts(adapter, value):
        try:
            adapter.validate_python(value)
        except ValidationError:
            return False
        return True

    read = read_fields(module, name)
    imported = imported_fields(getattr(importlib.import_module(module), name))
    assert list(read) == list(imported)
    compared = 0
    for key in read:
        try:
            real, ours = TypeAdapter(_enum_or_str_as_enum(imported[key])), TypeAdapter(read[key])
        except Exception:  # a type pydantic cannot describe: not checked either way
            continue
        exact = "Any" not in str(read[key]) and key != "init_lora_weights"  # its Literal holds a placeholder
        for value in SAMPLE_VALUES:
            assert accepts(ours, value) >= accepts(real, value), (key, value)  # never stricter than the library
            assert not exact or accepts(ours, value) == accepts(real, value), (key, value)
        compared += exact
    assert compared > len(read) * 2 / 3  # most fields are checked exactly
    assert read.get("learning_rate", float) is float
    assert "cosine" in str(read.get("lr_scheduler_type", "cosine")) and "Literal" in str(read.get("bias", "Literal"))


@pytest.mark.parametrize("annotation, expected", [
    ("int", int), ("float | None", float | None), ("Optional[float]", float | None),
    ("typing.Optional[int]", int | None), ("Union[SchedulerType, str]", typing.Any | str),
    ("list[DebugOption] | str", list[typing.Any] | str), ("Literal['a', 'b']", typing.Literal["a", "b"]),
    ("Literal[MODE, 'b']", typing.Any), ("'torch.dtype'", typing.Any), ("Optional['int']", int | None),
    ("dict[str, Any] | str | None", dict[str, typing.Any] | str | None), ("nn.Module", typing.Any),
    ("Generic[int]", typing.Any), ("int | 'no such'", int | typing.Any), ("ClassVar[int]", typing.Any),
])
def test_annotations_are_typed_over_builtins_and_typing_alone(annotation, expected):
    import ast

    from reasonrank_ir.train.library_fields import annotation_type

    assert annotation_type(ast.parse(annotation, mode="eval").body) == expected


PACKAGE_SOURCES = {  # a package laid out as trl's and transformers' are: lazy __init__, relative imports, mixins
    "__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .configs import Config\n",
    "configs/__init__.py": "from .config import *\n",
    "configs/config.py": (
        "import dataclasses, enum, typing\nfrom dataclasses import dataclass, field\nfrom typing import ClassVar\n"
        "from ..base import Base\nfrom ..kinds import Mode, Counted, Lenient\n\n"
        "@dataclass\nclass Config(Base):\n"
        "    KNOWN: ClassVar[list] = []\n    mode: Mode | str = 'fast'\n    counted: Counted | str = 'a'\n"
        "    lenient: 'typing.Optional[Lenient]' = None\n    rate: float = 1.0\n    name: str = 'x'\n"),
    "base.py": ("from dataclasses import dataclass\nclass Mixin:\n    not_a_field: int = 0\n\n"
                "@dataclass\nclass Base(Mixin):\n    rate: int = 0\n    steps: int = 1\n"),
    "kinds.py": ("import enum\nclass Named(str, enum.Enum):\n    pass\n\nclass Mode(Named):\n    FAST = 'fast'\n"
                 "    SLOW = 'slow'\n\nclass Counted(enum.Enum):\n    A = enum.auto()\n\n"
                 "class Lenient(str, enum.Enum):\n    X = 'x'\n    @classmethod\n"
                 "    def _missing_(cls, value):\n        return cls.X\n"),
}


def test_fields_follow_imports_bases_and_enums_in_source(tmp_path, monkeypatch):
    """Fields of dataclass bases only (not a mixin's, not a ClassVar), a redeclared field in its first place
    with its new type; an enum read as its values, unless they are not all written down (``auto()``) or
    the enum takes other values too (``_missing_``)."""
    import importlib

    from reasonrank_ir.train.library_fields import imported_fields, read_fields

    package = tmp_path / "toylib_fields"
    for relative, text in PACKAGE_SOURCES.items():
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    read = read_fields("toylib_fields", "Config")
    assert "toylib_fields" not in sys.modules  # read, not imported
    assert read == {"rate": float, "steps": int, "mode": typing.Literal["fast", "slow"], "counted": typing.Any | str,
                    "lenient": typing.Any | None, "name": str}
    assert list(read) == list(imported_fields(importlib.import_module("toylib_fields.configs").Config))


def test_source_that_cannot_be_read_falls_back_to_importing(tmp_path):
    from dataclasses import dataclass

    from reasonrank_ir.train.library_fields import dataclass_fields

    @dataclass
    class Config:
        rate: float = 1.0
        name: str | None = None

    assert dataclass_fields("no_such_package_anywhere", "Config", lambda: Config) == {"rate": float, "name": str | None}
    assert dataclass_fields("json", "Config", lambda: Config) == {"rate": float, "name": str | None}  # no such class
    assert list(dataclass_fields("trl", "SFTConfig", lambda: Config))[:2] != ["rate", "name"]  # read, not loaded


@pytest.mark.parametrize("command, assignment, expected", [
    ("sft", "training.learning_rate=abc", "learning_rate='abc' is not a valid float"),
    ("sft", "training.learnin_rate=1e-5", "Did you mean: learning_rate"),
    ("sft", "training.lr_scheduler_type=cosin", "lr_scheduler_type='cosin' is not one of linear, cosine, "),
    ("grpo", "training.save_strategy=epochs", "Did you mean: epoch, steps?"),
    ("sft", "lora.bias=yes", "bias='yes' is not one of none, all, lora_only."),
    ("grpo", "training.num_generations=many", "num_generations='many' is not a valid"),
    ("grpo", "training.max_steps=[1]", "max_steps=[1] is not a valid int"),
    ("sft", "lora.r=abc", "r='abc' is not a valid int"),
    ("grpo", "lora.lora_alpah=16", "Did you mean: lora_alpha"),
])
def test_a_bad_training_setting_is_refused_before_trl_is_imported(tmp_path, command, assignment, expected):
    """trl (and the torch and transformers it brings) takes seconds to import: a typo is refused without
    it (the import log says so; benchmarks/bad_inputs.py times the table)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", f"reasonrank_ir.train.{command}", "--config",
                             command, "--set", assignment, "--run-dir", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=300)
    imports = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
               if line.startswith("import time:")}
    result.stderr = "".join(line + "\n" for line in result.stderr.splitlines() if not line.startswith("import time:"))
    assert_one_clear_error(result, expected)
    assert "reasonrank_ir" in imports and not imports & {"trl", "peft", "torch", "transformers"}
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # trl, the tokenizer and the rows load first: only trl's own config can say
@pytest.mark.parametrize("command, assignments", [
    ("sft", ("training.fp16=true", "training.bf16=true")),
    ("grpo", ("training.fp16=true", "training.bf16=true")),
])
def test_settings_trl_refuses_are_one_line_and_start_no_run_folder(tmp_path, command, assignments):
    """Settings of the right types that trl's config refuses (this machine cannot run them, or they
    contradict each other) are one error line, before the run folder or its config.yaml exists."""
    data = tmp_path / "labelled.jsonl"
    data.write_text(labelled_line("1") + labelled_line("2"))
    sets = [arg for assignment in assignments for arg in ("--set", assignment)]
    result = run_cli(f"train.{command}", *sets, "--model", str(QWEN_TOKENIZER), "--data", str(data),
                     "--run-dir", str(tmp_path / "run"))
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in result.stderr and result.returncode == 2, result.stderr
    assert len(errors) == 1 and errors[0].startswith(f"error: training: {command.upper()}Config refuses these settings: ")
    assert not (tmp_path / "run").exists()
