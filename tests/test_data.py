"""The dataset registry: BRIGHT names offline after import-bright, ir_datasets ids, local folders."""
import json

import pytest

from conftest import BRIGHT_DATA, VASWANI_DATA
from reasonrank_ir.data import load
from reasonrank_ir.data.__main__ import main as data_cli
from reasonrank_ir.data.bright import SUBSETS, canonical_name
from reasonrank_ir.errors import ReasonRankError

pytestmark = pytest.mark.pyserini

QUERY_COUNTS = dict(zip(SUBSETS, (103, 116, 103, 101, 101, 117, 108, 142, 112, 111, 76, 194)))


def test_bright_names_resolve_offline_after_import(bright_imported):
    for subset, count in QUERY_COUNTS.items():
        dataset = load(f"bright-{subset}")
        assert len(dataset.topics()) == count
        assert set(dataset.qrels()) == set(dataset.topics())
        assert dataset.max_passage_tokens == 512


def test_bright_hub_aliases(bright_imported):
    assert canonical_name("earth_science") == "bright-earth-science"
    assert load("bright_theoremqa_questions").name == "bright-theoremqa-questions"


def test_bright_excluded_ids(bright_imported):
    assert not load("bright-biology").excluded_ids()
    leetcode = load("bright-leetcode").excluded_ids()
    assert sum(len(ids) for ids in leetcode.values()) == 33485
    assert "leetcode/leetcode_1996.txt" in leetcode["0"]
    assert load("bright-aops").excluded_ids() and load("bright-theoremqa-questions").excluded_ids()


def test_import_bright_cli(isolated_caches, capsys):
    assert data_cli(["import-bright", str(BRIGHT_DATA)]) == 0
    assert "copied 36 files" in capsys.readouterr().out
    assert data_cli(["import-bright", str(VASWANI_DATA)]) == 2
    assert "holds no BRIGHT files" in capsys.readouterr().err


def test_unknown_name_lists_close_matches():
    with pytest.raises(ReasonRankError, match=r"unknown index or dataset 'bright-biolgy'.*bright-biology"):
        load("bright-biolgy")
    with pytest.raises(ReasonRankError, match=r"Did you mean: .*cranfield"):
        load("cranfeld")


def test_prebuilt_index_names_read_without_the_jvm_are_pyserinis_own(isolated_caches):
    # The fast reader lets a typo be refused without starting Java; it must never drift from the table
    # Pyserini builds when it runs.
    from reasonrank_ir.storage import prebuilt

    declared = prebuilt._declared_index_names()
    assert declared is not None and "msmarco-v1-passage" in declared and "bright-biology" in declared
    assert declared == set(prebuilt.prebuilt_indexes())


def test_prebuilt_index_offline_says_where_to_put_it(bright_imported):
    with pytest.raises(ReasonRankError, match=r"cannot download the prebuilt index 'bright-pony'.*unpack it so that"):
        load("bright-pony").index_path()


@pytest.mark.slow
def test_irds_cranfield_after_import(cranfield):
    assert len(cranfield.topics()) == 225
    qrels = cranfield.qrels()
    assert len(qrels) == 225 and sum(len(d) for d in qrels.values()) == 1837
    doc = cranfield.documents(["184"])["184"]
    assert doc["title"] and doc["text"] and doc["contents"].startswith(doc["title"])


def test_irds_offline_without_import_is_actionable(isolated_caches):
    with pytest.raises(ReasonRankError, match="import vaswani|download it"):
        load("vaswani").topics()


@pytest.mark.slow
def test_local_corpus_folder_with_topics_and_qrels_beside(isolated_caches):
    dataset = load(str(VASWANI_DATA))
    assert len(dataset.topics()) == 93 and len(dataset.qrels()) == 93
    assert dataset.index().num_docs == 11429


def test_local_jsonl_corpus_and_bad_documents(isolated_caches, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "docs.jsonl").write_text(json.dumps({"id": "a", "title": "T", "text": "alpha beta"}) + "\n")
    dataset = load(str(corpus), topics=None)
    assert dataset.documents(["a"])["a"]["contents"] == "T\nalpha beta"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "docs.jsonl").write_text('{"text": "no id"}\n')
    with pytest.raises(ReasonRankError, match=r"docs\.jsonl:1: a document needs an 'id'"):
        load(str(tmp_path / "bad")).index_path()


def test_pyserini_prebuilt_and_topic_names(isolated_caches):
    from reasonrank_ir.data.prebuilt import PrebuiltDataset

    dataset = load("msmarco-v1-passage", topics="dl19-passage", qrels="dl19-passage")
    assert isinstance(dataset, PrebuiltDataset)
    with pytest.raises(ReasonRankError, match=r"cannot download the prebuilt index 'msmarco-v1-passage'.*unpack"):
        dataset.index_path()
    with pytest.raises(ReasonRankError, match=r"Pyserini could not provide the topics 'dl19-passage'.*get_topics"):
        dataset.topics()
    with pytest.raises(ReasonRankError, match="has no topics of its own"):
        load("msmarco-v1-passage").topics()


def test_bright_original_query_text(bright_imported):
    dataset = load("bright-biology")
    original, tsv = dataset.original_topics(), dataset.topics()
    assert set(original) == set(tsv)
    assert all(" ".join(original[q].text.split()) == " ".join(tsv[q].text.split()) for q in tsv)
    assert any("\n" in query.text for query in original.values())  # the TSV flattens line breaks
