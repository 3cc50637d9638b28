"""BM25 through the package equals Pyserini's own CLI on the same real Lucene index."""
import pytest

from conftest import pyserini_cli
from reasonrank_ir.evaluate import evaluate
from reasonrank_ir.io.topics import write_topics
from reasonrank_ir.io.trec import read_run
from reasonrank_ir.retrieval.bm25 import BM25, BM25Settings
from reasonrank_ir.search import main as search

pytestmark = pytest.mark.pyserini


@pytest.fixture(scope="module")
def pyserini_run(cranfield, tmp_path_factory):
    """Pyserini's own BM25 CLI run (1000 hits) of every Cranfield topic on the package's index."""
    folder = tmp_path_factory.mktemp("pyserini")
    write_topics(cranfield.topics(), folder / "topics.tsv")
    done = pyserini_cli("pyserini.search.lucene", "--index", cranfield.index_path(), "--topics",
                        str(folder / "topics.tsv"), "--output", str(folder / "run.txt"), "--hits", "1000", "--bm25")
    assert done.returncode == 0, done.stderr[-2000:]
    return folder


@pytest.mark.slow
def test_bm25_equals_pyserini_cli(cranfield, pyserini_run, tmp_path):
    ours = tmp_path / "ours.txt"
    assert search(["--index", "cranfield", "--topics", str(pyserini_run / "topics.tsv"), "--hits", "1000",
                   "--output", str(ours)]) == 0
    ours_run, theirs_run = read_run(ours), read_run(pyserini_run / "run.txt")
    assert list(ours_run.rankings) == list(theirs_run.rankings)
    for query_id in theirs_run.rankings:
        assert [(c.doc_id, round(c.score, 4)) for c in ours_run[query_id].candidates] == \
               [(c.doc_id, round(c.score, 4)) for c in theirs_run[query_id].candidates]


@pytest.mark.slow
def test_bm25_scores_on_cranfield(cranfield, pyserini_run):
    """Our BM25 and evaluation give what ir_measures gives for Pyserini's run and ir_datasets' qrels."""
    import ir_datasets
    import ir_measures
    from ir_measures import R, nDCG

    run = BM25(cranfield.index_path(), BM25Settings()).retrieve(cranfield.topics().values(), k=100)
    scores = evaluate(run, cranfield.qrels(), ["nDCG@10", "R@100"]).aggregate
    expected = ir_measures.calc_aggregate([nDCG @ 10, R @ 100], ir_datasets.load("cranfield").qrels_iter(),
                                          ir_measures.read_trec_run(str(pyserini_run / "run.txt")))
    assert scores["nDCG@10"] == pytest.approx(expected[nDCG @ 10], abs=1e-9)  # 0.3220
    assert scores["R@100"] == pytest.approx(expected[R @ 100], abs=1e-9)  # 0.7224


@pytest.mark.slow
def test_remove_query_drops_the_query_document(cranfield):
    from reasonrank_ir.types import Query

    # Cranfield doc 184 text used as a query whose id is "184": it retrieves itself first.
    text = cranfield.documents(["184"])["184"]["title"]
    kept = BM25(cranfield.index_path()).retrieve([Query("184", text)], k=5)
    removed = BM25(cranfield.index_path(), BM25Settings(remove_query=True)).retrieve([Query("184", text)], k=5)
    assert kept["184"].candidates[0].doc_id == "184"
    assert "184" not in [c.doc_id for c in removed["184"].candidates]
