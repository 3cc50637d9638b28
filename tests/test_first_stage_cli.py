"""The first-stage flags of ``reasonrank_ir.search`` and the ``reasonrank_ir.index`` CLI."""
from __future__ import annotations

import pytest

from reasonrank_ir import index as index_cli
from reasonrank_ir import search
from reasonrank_ir.errors import ReasonRankError


def first_stage(*flags: str):
    return search.make_first_stage(search.build_parser().parse_args(["--index", "cranfield", *flags]))


@pytest.mark.parametrize("flags, name", [
    ((), "bm25"),
    (("--bm25qs",), "bm25qs"),
    (("--dense", "--encoder", "sentence-transformers/all-MiniLM-L6-v2"), "dense-all-minilm-l6-v2"),
    (("--dense", "--dense-index", "bright-biology.diver-retriever-4b"), "dense-diver-retriever-4b"),
    (("--dense", "--encoder", "m/e5", "--fusion", "rrf"), "bm25+dense-e5.rrf"),
    (("--bm25qs", "--dense", "--encoder", "e5", "--fusion", "interpolation", "--alpha", "0.3"),
     "bm25qs+dense-e5.interp0.3"),
    (("--fuse-runs", "runs/run.a.txt", "b.trec"), "a+b.rrf"),
    (("--expand-query", "reasoning", "--expansion-model", "Qwen/Qwen2.5-7B-Instruct"),
     "bm25.reasoning-qwen2.5-7b-instruct"),
    (("--dense", "--encoder", "e5", "--expand-query", "reasoning", "--expansion-model", "gpt-4o",
      "--expansion-mode", "replace"), "dense-e5.reasoning-gpt-4o-only"),
])
def test_run_names_say_what_produced_them(flags, name):
    stage = first_stage(*flags)
    assert stage.name == name
    args = search.build_parser().parse_args(["--index", "cranfield", *flags])
    assert search.default_output(args).name == f"run.cranfield.{name}.top100.txt"  # hits always in the name


@pytest.mark.parametrize("flags, message", [
    (("--fusion", "rrf"), "--fusion fuses BM25 with --dense"),
    (("--encoder", "e5"), "add --dense"),
    (("--expand-query", "reasoning"), "--expansion-model"),
    (("--run", "a.txt", "--fuse-runs", "b.txt", "c.txt"), "pick one"),
    (("--dense", "--encoder", "e5", "--fuse-runs", "a.txt", "b.txt"), "run files only"),
    (("--dense", "--encoder", "e5", "--fusion", "interpolation", "--alpha", "2"), "[0, 1]"),
])
def test_inconsistent_flags_are_one_line_errors(flags, message):
    with pytest.raises(ReasonRankError) as error:
        first_stage(*flags)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.slow
@pytest.mark.pyserini
def test_cli_errors_exit_2_with_one_line(cranfield, capsys):
    assert search.main(["--index", "cranfield", "--dense", "--encoder", "no-org/no-model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: unknown encoder") and "all-MiniLM-L6-v2" in err[0]
    assert search.main(["--index", "cranfield", "--dense", "--dense-index", "bge-large-en"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: unknown dense index") and "diver-retriever-4b" in err[0]


@pytest.mark.slow
@pytest.mark.pyserini
def test_fuse_runs_from_the_cli(cranfield, tmp_path, capsys):
    from reasonrank_ir.io.trec import read_run

    for flag in ("--bm25", "--bm25qs"):
        assert search.main(["--index", "cranfield", flag, "--hits", "30",
                            "--output", str(tmp_path / f"run.{flag[2:]}.txt")]) == 0
    output = tmp_path / "fused.txt"
    assert search.main(["--index", "cranfield", "--fuse-runs", str(tmp_path / "run.bm25.txt"),
                        str(tmp_path / "run.bm25qs.txt"), "--fusion", "interpolation", "--alpha", "0.5",
                        "--hits", "30", "--output", str(output)]) == 0
    captured = capsys.readouterr()
    assert "bm25+bm25qs.interp0.5" in captured.err and "nDCG@10" in captured.out
    fused = read_run(output)
    assert len(fused) == 225 and all(len(r.candidates) == 30 for r in fused)


@pytest.mark.slow
def test_index_cli(cranfield, capsys):
    assert index_cli.main(["--index", "cranfield"]) == 0
    assert capsys.readouterr().out.strip() == f"lucene index: {cranfield.index_path()}"
    assert index_cli.main(["--index", "cranfield", "--encoder", "x"]) == 2
    assert "add --dense" in capsys.readouterr().err
    assert index_cli.main(["--index", "cranfield", "--dense"]) == 2
    assert "--encoder" in capsys.readouterr().err
    assert index_cli.main(["--index", "cranfield", "--dense", "--encoder", "no-org/no-model"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown encoder")
