"""The HTML report of a run (``reasonrank_ir.inspect``): its data, its CLI, and the page in Chromium.

The browser tests open reports made from the oracle run over the BRIGHT biology first stage and
from a llama.cpp (SmolLM2 GGUF) rerank of Cranfield in Debian's headless Chromium, offline, and fail
on any JavaScript error or network request. Without Chromium they fail and say how to install it.
"""
from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import pytest

import reference
from browser import INSTALL_HINT, Chromium, chromium_binary
from conftest import BRIGHT_FIRST_STAGE, GGUF, N_BATCH
from reasonrank_ir import ReasonRankError
from reasonrank_ir.inspect import write_report
from reasonrank_ir.inspect.__main__ import main as inspect_cli
from reasonrank_ir.inspect.build import (Move, build, group_traces, initial_order, split_response, spread,
                                         window_view)
from reasonrank_ir.rerank.listwise import WindowTrace
from reasonrank_ir.types import Candidate, Query, Ranking, Run

BIOLOGY_RUN = BRIGHT_FIRST_STAGE / "biology.reasonir-gpt4cot.top100.trec"


def trace(query_id, start, end, doc_ids, order, response="", status="ok", **extra) -> WindowTrace:
    return WindowTrace(query_id, 0, start, end, extra.get("prompt_tokens", 0), extra.get("output_tokens", 0),
                       extra.get("seconds", 0.0), status, tuple(order), response, tuple(doc_ids))


def make_run(lists: dict[str, list[str]]) -> Run:
    return Run({q: Ranking(Query(q, f"text of {q}"), tuple(Candidate(d, float(len(ds) - i)) for i, d in enumerate(ds)))
                for q, ds in lists.items()}, "toy")


def blocks(path: Path) -> tuple[dict, list[dict]]:
    """The overview and per-query details embedded in a report, decoded as the page decodes them."""
    text = path.read_text(encoding="utf-8")

    def unpack(b64: str):
        return json.loads(gzip.decompress(base64.b64decode(b64)))

    overview = unpack(re.search(r'id="data-overview">([^<]*)<', text).group(1))
    lines = re.search(r'id="data-details">([^<]*)<', text).group(1).split()
    return overview, [unpack(line) for line in lines]


# -- the data, worked out by hand ------------------------------------------------------------------

# first stage a b c d e; window [2,5) reverses its input's last two and puts e first: e c d -> a b e c d;
# then window [0,3) sees a b e and outputs e b a -> e b a c d.
WINDOWS = [trace("q", 2, 5, "cde", (2, 0, 1)), trace("q", 0, 3, "abe", (2, 1, 0))]


def test_initial_order_undoes_the_windows():
    assert initial_order(list("ebacd"), WINDOWS) == list("abcde")
    assert initial_order(list("ebacd"), []) == list("ebacd")
    with pytest.raises(ReasonRankError, match=r"do not belong to the run: window \[0, 3\) of query 'q'"):
        initial_order(list("beacd"), WINDOWS)  # the run's top two swapped: not what the last window output


def test_traces_of_another_run_are_one_clear_error():
    run = make_run({"q": list("ebacd")})
    assert group_traces(WINDOWS, run) == {"q": WINDOWS}
    with pytest.raises(ReasonRankError, match=r"t.jsonl do not belong to run 'toy': 1 of their 2 query ids are not "
                                              r"in the run \(e.g. 'other'\)"):
        group_traces(WINDOWS + [trace("other", 0, 2, "ab", (0, 1))], run, "t.jsonl")
    with pytest.raises(ReasonRankError, match=r"a window of query 'q' has doc id 'z' that the run does not rank"):
        group_traces([trace("q", 0, 2, "az", (0, 1))], run)


def test_window_moves_of_relevant_passages():
    window = trace("q", 10, 13, ("x", "y", "z"), (2, 0, 1), "<think>[3] answers it, [1] less</think>"
                   "<answer>[3] > [1] > [2]</answer>")
    view = window_view(window, {"z": 2, "x": 1, "y": 0})
    # z: position 3 of the window (rank 13) to first (rank 11); x: rank 11 to 12; y is not relevant
    assert view.moves == (Move("z", 2, 13, 11), Move("x", 1, 11, 12))
    assert (view.reasoning, view.answer) == ("[3] answers it, [1] less", "[3] > [1] > [2]")


@pytest.mark.parametrize("response, status, expected", [
    ("<think>I compare [1] and [2]</think>\n<answer>[2] > [1]</answer>", "ok", ("I compare [1] and [2]", "[2] > [1]")),
    ("[2] > [1]", "ok", ("", "[2] > [1]")),                       # the oracle's and RankGPT's untagged answer
    ("<think>a long thought cut off", "no_answer", ("a long thought cut off", "")),
    ("rambling without tags", "no_answer", ("rambling without tags", "")),
    ("<think>x</think> <answer>[1] > [2", "repaired", ("x", "[1] > [2")),
])
def test_split_response(response, status, expected):
    assert split_response(response, 2, status) == expected


def test_spread():
    summary = spread([4, 1, 10, 3, 2], bins=9)
    # sorted 1 2 3 4 10: mean 20/5, median the 3rd, p90 the ceil(4.5) = 5th value
    assert (summary.mean, summary.median, summary.p90, summary.max, summary.total) == (4, 3, 10, 10, 20)
    assert summary.bins == tuple(range(1, 11)) and summary.counts == (1, 1, 1, 1, 0, 0, 0, 0, 1)
    assert spread([]) is None
    assert spread([5, 5]).counts == (2,)


def test_build_overview():
    run = make_run({"q": list("ebacd"), "r": list("xy")})
    first = make_run({"q": list("abcde"), "r": list("xy")})
    scores = {"before": {"q": 0.25, "r": 0.5}, "after": {"q": 0.75, "r": 0.5}}
    data = build(run, {"q": WINDOWS}, baseline=first, qrels={"q": {"e": 1, "a": 0}, "r": {"y": 2}}, scores=scores)
    overview = data.overview
    assert (overview["before"], overview["after"]) == (0.375, 0.625)
    assert (overview["outcome"]["wins"], overview["outcome"]["ties"], overview["outcome"]["losses"]) == (1, 1, 0)
    assert overview["windows"] == 2 and overview["statuses"] == {"ok": 2, "repaired": 0, "no_answer": 0}
    assert overview["levels"] == [0, 1, 2]
    assert [q["relevant"] for q in overview["queries"]] == [1, 1]
    q = data.details[0]
    assert q["baseline"] == tuple("abcde") and q["reranked"] == tuple("ebacd")
    # e went from rank 5 to 3 in the first window, then from 3 to 1 in the second
    assert [w["moves"] for w in q["windows"]] == [({"doc_id": "e", "relevance": 1, "before": 5, "after": 3},),
                                                   ({"doc_id": "e", "relevance": 1, "before": 3, "after": 1},)]


# -- files and the CLI ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def oracle_run(bright_imported, tmp_path_factory) -> Path:
    """The oracle over ReasonIR's biology top-100, written by the search CLI with its traces."""
    from reasonrank_ir.search import main as search

    output = tmp_path_factory.mktemp("oracle") / "run.bright-biology.oracle.txt"
    assert search(["--index", "bright-biology", "--run", str(BIOLOGY_RUN), "--rerank", "oracle",
                   "--output", str(output)]) == 0
    return output


def test_oracle_report_scores(oracle_run, tmp_path):
    # the dataset comes from the run's file name; the published first stage and oracle rows
    overview, details = blocks(write_report(oracle_run, tmp_path / "given.html", baseline=BIOLOGY_RUN))
    assert round(overview["before"], 4) == 0.4349  # the published first stage
    assert overview["after"] == pytest.approx(reference.ideal_ndcg10("biology"))  # the oracle: the ideal sort
    assert len(overview["queries"]) == len(details) == 103 and overview["windows"] == 927
    assert overview["outcome"]["losses"] == 0  # ordering windows by the qrels never hurts
    # recovered from the traces instead: the order the windows saw (tied scores in file order)
    path = write_report(oracle_run)
    assert path == oracle_run.with_suffix(".html")
    recovered, details = blocks(path)
    assert recovered["baseline"].startswith("first stage")
    assert details[0]["baseline"][80:] == (json.loads(
        (oracle_run.with_name("run.bright-biology.oracle.traces.jsonl")).read_text().splitlines()[0])["doc_ids"])


def test_cli_bad_input(oracle_run, tmp_path, capsys):
    traces = oracle_run.with_name("run.bright-biology.oracle.traces.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text(traces.read_text().splitlines()[0] + "\n{not json\n")
    assert inspect_cli([str(oracle_run), "--traces", str(broken)]) == 2
    assert capsys.readouterr().err == (f"error: {broken}:2: not valid JSON "
                                       "(Expecting property name enclosed in double quotes)\n")
    # traces of the first stage's run do not fit the oracle's order
    other = tmp_path / "other.txt"
    other.write_text(BIOLOGY_RUN.read_text())
    assert inspect_cli([str(other), "--traces", str(traces), "--qrels", "bright-biology"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "do not belong to the run: window [0, 20) of query '0'" in err
    # no traces: the overview and lists still come
    bare = tmp_path / "bare.txt"
    bare.write_text(oracle_run.read_text())
    assert inspect_cli([str(bare), "--qrels", "bright-biology", "--output", str(tmp_path / "bare.html")]) == 0
    overview, details = blocks(tmp_path / "bare.html")
    assert overview["windows"] == 0 and overview["before"] is None
    assert overview["after"] == pytest.approx(reference.ideal_ndcg10("biology"))  # the oracle (20/10): the ideal sort
    assert any("No traces" in note for note in overview["notes"]) and details[0]["baseline"] is None
    assert inspect_cli([str(bare), "--traces", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl: no such traces file" in capsys.readouterr().err


# -- in the browser ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if chromium_binary() is None:
        pytest.fail(INSTALL_HINT)
    with Chromium() as chromium:
        yield chromium


def open_report(browser: Chromium, path: Path) -> None:
    browser.events.clear()
    browser.goto(path.resolve().as_uri())
    browser.wait_for("document.body && document.body.dataset.ready === '1'")


def assert_clean(browser: Chromium, path: Path) -> None:
    assert browser.errors() == []
    assert set(browser.requests()) == {path.resolve().as_uri()}  # the page itself, nothing else


def text(browser: Chromium, selector: str) -> str:
    return browser.evaluate(f"document.querySelector({json.dumps(selector)}).textContent")


@pytest.mark.slow
def test_oracle_report_in_the_browser(browser, oracle_run, tmp_path):
    path = write_report(oracle_run, tmp_path / "oracle.html")
    open_report(browser, path)
    assert text(browser, "#query-count") == "103"
    assert text(browser, "#metric-after") == f"{reference.ideal_ndcg10('biology'):.4f}"
    assert browser.evaluate("document.querySelectorAll('#delta-chart rect.bar').length") == 103
    assert browser.evaluate("document.querySelectorAll('tr.query-row').length") == 103
    browser.evaluate("(() => { const s = document.querySelector('#query-list input');"
                     " s.value = 'nostril'; s.dispatchEvent(new Event('input')); })()")
    assert browser.evaluate("[...document.querySelectorAll('tr.query-row')].map(r => r.dataset.query)") == ["1"]
    browser.screenshot(tmp_path / "overview.png")
    browser.click("tr.query-row")
    browser.wait_for("document.querySelector('#query-view') !== null")
    assert browser.evaluate("location.hash") == "#q=1"
    assert "breathe out of one nostril" in text(browser, "#query-text")
    assert browser.evaluate("document.querySelectorAll('.window').length") == 9
    # graded labels are coloured: relevant passages green, unjudged ones white
    colours = browser.evaluate("[...new Set([...document.querySelectorAll('#reranked-list .label')]"
                               ".map(e => getComputedStyle(e).backgroundColor))]")
    assert set(colours) == {"rgb(198, 233, 200)", "rgb(255, 255, 255)"}
    # the oracle puts the query's relevant passages first; its answer text is the ranking itself
    relevant = browser.evaluate("[...document.querySelectorAll('#reranked-list .doc')]"
                                ".map(d => d.classList.contains('relevant'))")
    assert relevant[:6] == [True] * 6 and not any(relevant[6:])
    assert text(browser, ".window .answer").startswith("[")
    browser.click("#reranked-list .doc")
    browser.wait_for("document.querySelector('#reranked-list .passage') !== null")
    assert "--index" in text(browser, "#reranked-list .passage")
    browser.screenshot(tmp_path / "query.png")
    assert (tmp_path / "query.png").stat().st_size > 10_000
    assert_clean(browser, path)

    # no traces and no judgments: the overview and the run's list still come
    bare = tmp_path / "bare.txt"
    bare.write_text(oracle_run.read_text())
    path = write_report(bare)
    open_report(browser, path)
    assert (text(browser, "#query-count"), text(browser, "#metric-after")) == ("103", "–")
    assert "No traces" in text(browser, ".notes") and "No relevance judgments" in text(browser, ".notes")
    browser.click("tr.query-row")
    browser.wait_for("document.querySelector('#query-view') !== null")
    assert browser.evaluate("document.querySelectorAll('.lists.single #reranked-list .doc').length") == 100
    assert browser.evaluate("document.querySelectorAll('.window').length") == 0
    assert_clean(browser, path)


@pytest.mark.slow
@pytest.mark.skipif(not GGUF.is_file(), reason=f"{GGUF} missing: run scripts/fetch_test_models.sh")
def test_llamacpp_cranfield_report_in_the_browser(browser, cranfield, qwen_tokenizer, tmp_path):
    from reasonrank_ir import pipeline
    from reasonrank_ir.backends import create_backend
    from reasonrank_ir.backends.base import Sampling
    from reasonrank_ir.rerank import ListwiseReranker, RerankConfig
    from reasonrank_ir.rerank.parse import parse_answer
    from reasonrank_ir.rerank.prompts import passage_text

    topics = dict(list(cranfield.topics().items())[:2])
    first = pipeline.retrieve(cranfield, topics, pipeline.FirstStage(hits=6))
    backend = create_backend("llamacpp", str(GGUF), n_ctx=1024, n_threads=1, n_batch=N_BATCH)
    config = RerankConfig(depth=6, window=3, step=3, max_passage_tokens=24, sampling=Sampling(max_tokens=32))
    files = pipeline.OutputFiles.beside(tmp_path / "run.cranfield.smollm2.txt")
    pipeline.rerank(ListwiseReranker(backend, qwen_tokenizer, config), first, cranfield, files, progress=False)
    path = write_report(files.run, index="cranfield")  # qrels and topics: the dataset in the file name
    overview, details = blocks(path)
    assert overview["windows"] == 4 and overview["tokens"]["output_tokens"]["max"] <= 32

    open_report(browser, path)
    assert text(browser, "#query-count") == "2"
    assert browser.evaluate("document.querySelectorAll('#tokens tr').length") == 4  # header + 3 measures
    browser.click("tr.query-row[data-query='1']")
    browser.wait_for("document.querySelector('#query-view') !== null")
    response = json.loads(files.traces.read_text().splitlines()[0])
    assert response["query_id"] == "1" and response["start"] == 3
    window = browser.evaluate("document.querySelector('.window .head').textContent")
    assert "ranks 4–6" in window and f"{response['output_tokens']} output tokens" in window
    browser.evaluate("document.querySelector('.window .reasoning-box').open = true")
    browser.wait_for("document.querySelector('.window .reasoning') !== null")
    assert text(browser, ".window .reasoning") == parse_answer(response["response"], 3).reasoning
    browser.click("#reranked-list .doc")
    browser.wait_for("document.querySelector('#reranked-list .passage') !== null")
    doc_id = browser.evaluate("document.querySelector('#reranked-list .doc').dataset.doc")
    assert text(browser, "#reranked-list .passage") == passage_text(cranfield.documents([doc_id])[doc_id])
    browser.screenshot(tmp_path / "cranfield.png")
    assert_clean(browser, path)


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, reasonrank_ir.inspect, reasonrank_ir.inspect.__main__; print([m for m in "
            "('torch', 'pyserini', 'jnius', 'ir_measures', 'transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_experiments_report_links_a_page_per_reranked_run(bright_imported, tmp_path, monkeypatch, capsys):
    from reasonrank_ir.experiments.__main__ import main as experiments_cli

    # the packaged YAML reads ReasonRank's runs from ReasonRank/runs/{subset}/ of the current folder
    folder = tmp_path / "ReasonRank" / "runs" / "biology"
    folder.mkdir(parents=True)
    (folder / "reasonir_gpt4cot_top100.txt").symlink_to(BIOLOGY_RUN)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert experiments_cli(["run", "bright-oracle", "--only", "bright-biology", "--output-dir", str(out)]) == 0
    table = capsys.readouterr().out
    assert ("What each reranker did, query by query: [biology × Oracle, window 20 step 10](biology.oracle-w20s10.html)"
            " · [biology × Oracle, window 10 step 5](biology.oracle-w10s5.html)") in table
    assert "biology.oracle-w20s10.html" in (out / "report.md").read_text()
    page = out / "biology.oracle-w20s10.html"
    overview, _ = blocks(page)
    assert round(overview["before"], 4) == 0.4349  # the published first stage, as in the table
    assert overview["after"] == pytest.approx(reference.ideal_ndcg10("biology"))
    written = page.stat().st_mtime_ns
    assert experiments_cli(["report", "bright-oracle", "--output-dir", str(out)]) == 0
    assert page.stat().st_mtime_ns == written  # the run did not change: the page is not rewritten


@pytest.mark.slow
def test_reasoning_mentions_and_sorting_in_the_browser(browser, tmp_path):
    """Hand-made traces: the ids a reasoning mentions are coloured by their label; columns sort."""
    from reasonrank_ir.io.traces import TraceJournal
    from reasonrank_ir.io.trec import write_qrels, write_run

    run = make_run({"q10": list("ebacd"), "q9": list("vw")})
    write_run(run, tmp_path / "run.txt")
    write_qrels({"q10": {"e": 2, "c": 0}, "q9": {"w": 1}}, tmp_path / "qrels.txt")
    thought = "<think>Passage [3] answers the query; [1] is off topic and [9] does not exist.</think>"
    with TraceJournal(tmp_path / "run.traces.jsonl") as traces:
        traces.record(trace("q10", 2, 5, "cde", (2, 0, 1), thought + "<answer>[3] > [1] > [2]</answer>",
                           prompt_tokens=900, output_tokens=40, seconds=1.5))
        traces.record(trace("q10", 0, 3, "abe", (2, 1, 0), "<think>[3] first</think><answer>[3] > [2]</answer>",
                           status="repaired", prompt_tokens=800, output_tokens=20, seconds=0.5))
    path = write_report(tmp_path / "run.txt", qrels=str(tmp_path / "qrels.txt"))
    open_report(browser, path)
    assert text(browser, "#statuses") == "ok 1repaired 1no_answer 0 "
    assert browser.evaluate("[...document.querySelectorAll('#tokens td.num')].slice(0, 5).map(e => e.textContent)") \
        == ["850", "800", "900", "900", "1700"]  # prompt tokens: mean, median, p90, max, total
    browser.click("#queries th:first-child")  # by query id, ascending, numbers in their order
    assert browser.evaluate("[...document.querySelectorAll('tr.query-row')].map(r => r.dataset.query)") == ["q9", "q10"]
    browser.click("tr.query-row[data-query='q10']")
    browser.wait_for("document.querySelectorAll('.window').length === 2")
    browser.click(".window .reasoning-box summary")
    browser.wait_for("document.querySelector('.window .reasoning') !== null")
    mentions = browser.evaluate("[...document.querySelectorAll('.window .mention')]"
                                ".map(e => [e.textContent, e.className, e.title])")
    # [3] is e (relevance 2), [1] is c (judged 0); [9] is no passage of the window: left as text
    assert mentions == [["[3]", "mention lab-2", "e · relevance 2"], ["[1]", "mention lab-0", "c · relevance 0"]]
    assert "[9] does not exist" in text(browser, ".window .reasoning")
    assert text(browser, ".window .moves") == "relevant passages moved▲ e (relevance 2): rank 5 → 3"
    assert_clean(browser, path)


# -- warnings: traces that miss windows, judgments of another collection --------------------------------

def _windows_of(pass_index, spans):
    return [WindowTrace("q", pass_index, s, e, 0, 0, 0.0, "ok", tuple(range(e - s)), "", tuple("abcdefgh"[s:e]))
            for s, e in spans]


@pytest.mark.parametrize("windows, expected", [
    (_windows_of(0, [(4, 8), (2, 6), (0, 4)]), None),                                   # whole
    (_windows_of(0, [(4, 8), (2, 6), (0, 4)]) + _windows_of(1, [(4, 8), (2, 6)]), None),  # pass 1 starts at step
    (_windows_of(0, [(4, 8), (2, 6)]), "1 queries miss windows"),                       # never reached the top
    (_windows_of(0, [(4, 8), (0, 2)]), "1 queries miss windows"),                       # a gap between windows
    (_windows_of(1, [(4, 8), (2, 6)]), "1 queries miss windows"),                       # pass 0 missing
])
def test_missing_windows_are_named(windows, expected):
    from reasonrank_ir.inspect.build import missing_windows

    run = make_run({"q": list("abcdefgh")})
    found = missing_windows({"q": windows}, run)
    assert found == expected if expected is None else expected in found


def test_queries_without_windows_are_named():
    from reasonrank_ir.inspect.build import missing_windows

    run = make_run({"q": list("abcdefgh"), "r": list("xy"), "s": list("z")})
    found = missing_windows({"q": _windows_of(0, [(4, 8), (2, 6), (0, 4)])}, run)
    assert found.startswith("2 of the run's 3 queries have no window in the traces (e.g. 'r')")


@pytest.mark.parametrize("qrels, warned", [
    ({"q": {"x1": 1, "x2": 0}}, True),           # judgments of another collection: none of the run's docs
    ({"q": {"a": 0, "zz": 1}}, False),           # one doc judged (not relevant): scores are meaningful
])
def test_cli_warns_about_cut_traces_and_foreign_judgments(tmp_path, capsys, qrels, warned):
    from reasonrank_ir.io.traces import TraceJournal
    from reasonrank_ir.io.trec import write_qrels, write_run

    write_run(make_run({"q": list("abcdefgh")}), tmp_path / "run.txt")
    write_qrels(qrels, tmp_path / "qrels.txt")
    with TraceJournal(tmp_path / "run.traces.jsonl") as traces:
        for window in _windows_of(0, [(4, 8), (2, 6)]):  # the last window, [0, 4), is missing
            traces.record(window)
    assert inspect_cli([str(tmp_path / "run.txt"), "--qrels", str(tmp_path / "qrels.txt")]) == 0
    err = capsys.readouterr().err
    assert "warning: run.traces.jsonl: 1 queries miss windows of their schedule (e.g. 'q')" in err
    assert ("judge none of the run's docs" in err) is warned
    overview, _ = blocks(tmp_path / "run.html")
    assert any("miss windows" in note for note in overview["notes"])
