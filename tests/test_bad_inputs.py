"""Bad input through every CLI, typed as a user would: exit status 2, one ``error:`` line on stderr that
names the file:line or the flag, no traceback, and no output file left behind.

Each row is one case of the issue "Nothing silently wrong", or a spot check that a case which was
already clear stays clear. The CLIs run as subprocesses, exactly as users start them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
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


@pytest.fixture
def files(tmp_path) -> dict[str, str]:
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
    }
    paths = {}
    for name, data in contents.items():
        suffix = ".gguf" if name.startswith("gguf") else ".jsonl" if name.startswith(("labelled", "mined")) else ".txt"
        path = inputs / (name + suffix)
        path.write_bytes(data)
        paths[name] = str(path)
    (tmp_path / "out").mkdir()
    (tmp_path / "never-run").mkdir()
    paths.update(out=str(tmp_path / "out"), never_run=str(tmp_path / "never-run"), readonly=_readonly_dir(tmp_path))
    return paths


def _readonly_dir(tmp_path: Path) -> str:
    """A folder nothing can be created in (root ignores mode bits: then a read-only system folder)."""
    folder = tmp_path / "readonly"
    folder.mkdir(mode=0o555)
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


def run_cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"reasonrank_ir.{module}", *args], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, OPENAI_API_KEY="placeholder"))


def assert_one_clear_error(result: subprocess.CompletedProcess, expected: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0]


@pytest.mark.parametrize("name, argv, expected", [  # llama.cpp loading a cut GGUF takes seconds
    pytest.param(*case, id=case[0], marks=pytest.mark.slow if "gguf" in case[0] else ()) for case in CASES])
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


def test_misspelt_index_is_refused_in_under_two_seconds(files):
    started = time.perf_counter()
    result = run_cli("search", "--index", "brigt-biology", "--output", f"{files['out']}/run.txt")
    elapsed = time.perf_counter() - started
    assert_one_clear_error(result, "Did you mean: bright-biology")
    assert elapsed < 2.0, f"took {elapsed:.1f} s"
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
