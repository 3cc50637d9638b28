"""Both Pyserini cache layouts (1.6-2.3: ``topics-and-qrels/``; 2.4+: ``topics/`` and ``qrels/``) and 2.4's
network-only tables, exercised on whichever Pyserini is installed by faking the version."""
from __future__ import annotations

from urllib.error import URLError

import pytest

from conftest import BRIGHT_DATA
from reasonrank_ir import pyserini_compat
from reasonrank_ir.data import import_bright, load

pytestmark = pytest.mark.pyserini

BRIGHT_BIOLOGY_QUERIES = 103


@pytest.fixture
def pyserini_version(monkeypatch, tmp_path):
    """Set the Pyserini version the adapter sees, with an empty Pyserini cache."""
    monkeypatch.setenv("PYSERINI_CACHE", str(tmp_path / "pyserini"))

    def fake(major: int, minor: int) -> None:
        monkeypatch.setattr(pyserini_compat, "version", lambda: (major, minor))

    return fake


def test_version_of_the_installed_pyserini():
    assert pyserini_compat.version() >= (1, 6)


@pytest.mark.parametrize("version, topics, qrels", [
    ((1, 6), "topics-and-qrels", "topics-and-qrels"),
    ((2, 3), "topics-and-qrels", "topics-and-qrels"),
    ((2, 4), "topics", "qrels"),
])
def test_import_bright_writes_the_installed_layout(pyserini_version, tmp_path, version, topics, qrels):
    pyserini_version(*version)
    copied = import_bright(BRIGHT_DATA)
    cache = tmp_path / "pyserini"
    assert {p.parent for p in copied} == {cache / topics, cache / qrels}
    assert (cache / topics / "topics.bright-biology.tsv.gz").is_file()
    assert (cache / qrels / "qrels.bright-biology.txt").is_file()
    assert len(load("bright-biology").topics()) == BRIGHT_BIOLOGY_QUERIES


def test_files_imported_under_one_layout_are_read_under_the_other(pyserini_version):
    pyserini_version(1, 6)
    import_bright(BRIGHT_DATA)
    pyserini_version(2, 4)  # upgraded Pyserini: nothing fetched, the 1.x cache still serves
    dataset = load("bright-biology")
    assert len(dataset.topics()) == len(dataset.qrels()) == BRIGHT_BIOLOGY_QUERIES


def test_2_4_prefers_a_cache_folder_in_the_working_directory(pyserini_version, monkeypatch, tmp_path):
    monkeypatch.delenv("PYSERINI_CACHE")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".cache").mkdir()
    pyserini_version(2, 3)
    assert pyserini_compat.cache_home() != tmp_path / ".cache" / "pyserini"
    pyserini_version(2, 4)
    assert pyserini_compat.cache_home() == tmp_path / ".cache" / "pyserini"


def test_unreachable_tables_are_one_line_on_2_4_only(pyserini_version):
    error = URLError("[Errno -2] Name or service not known")
    pyserini_version(2, 3)
    assert pyserini_compat.unreachable(error) is None
    pyserini_version(2, 4)
    message = str(pyserini_compat.unreachable(error))
    assert "Pyserini 2.4 fetches" in message and "pyserini<2.4" in message and "\n" not in message
    assert pyserini_compat.unreachable(ValueError("x")) is None


def test_unreachable_tables_on_the_installed_2_4_fail_in_one_line():
    from reasonrank_ir.errors import ReasonRankError
    from reasonrank_ir.java import import_pyserini

    if not pyserini_compat.remote_tables():
        pytest.skip("the installed Pyserini carries its tables")
    try:
        import_pyserini("pyserini.search")
    except ReasonRankError as error:
        assert "cannot reach it" in str(error) and "\n" not in str(error)
    else:
        pytest.skip("online: Pyserini fetched its tables")
