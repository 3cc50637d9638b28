"""A job's files beside its run, and the rules that keep long jobs from clobbering or mixing work.

Beside ``run.txt`` sit ``run.traces.jsonl`` (the windows, which are also the job's journal: see
``io.traces.TraceJournal``) and ``run.settings.json``: the settings that decide the run's content
and the package version, written when the job starts, and the run file's digest once it is finished.
The run file itself is only ever replaced whole. So a job is either finished (its run file matches
the digest), unfinished (resumable from its journal), or absent; a resumed or repeated job must have
the recorded settings, and nothing finished is replaced without ``overwrite``.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io import replaced_atomically, unreadable

if TYPE_CHECKING:
    from reasonrank_ir.types import Run

Settings = Mapping[str, Any]
"""Flag (``--window``) -> value (JSON scalars), in the order a user reads them."""

RESUME_ONLY = frozenset({"engine"})
"""Settings that bind an unfinished job only: the engine ``--backend auto`` picked. Windows of two
engines are never mixed in one run, but a finished ``auto`` run stays the run of its flags on a
machine where ``auto`` picks another engine (the record says which engine made it)."""


class JobRecord(TypedDict):
    """``<run>.settings.json``: the package version and settings a job started with, and once it is
    finished its run file's ``sha256``, ``queries``, ``date`` and the facts (time, tokens) given to :func:`finish`."""

    settings: dict[str, Any]
    reasonrank_ir: NotRequired[str]
    finished: NotRequired[dict[str, Any]]


@dataclass
class OutputFiles:
    run: Path
    traces: Path
    created: Path | None = field(default=None, compare=False)
    """The outermost folder :func:`start` created for the run, which :func:`abandon` removes again."""

    @property
    def settings(self) -> Path:
        return self.run.with_name(_stem(self.run) + ".settings.json")

    @classmethod
    def beside(cls, run_path: str | os.PathLike[str], traces: str | os.PathLike[str] | None = None) -> OutputFiles:
        run_path = Path(run_path)
        return cls(run_path, Path(traces) if traces else run_path.with_name(_stem(run_path) + ".traces.jsonl"))


def _stem(run_path: Path) -> str:
    return run_path.name.removesuffix(".txt").removesuffix(".trec")


def file_digest(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes (hex); a path that is not a file is a one-line error."""
    if not Path(path).is_file():
        raise ReasonRankError(f"{path}: no such file")
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise unreadable(path, error) from None
    return digest.hexdigest()


def _record(files: OutputFiles) -> JobRecord | None:
    try:
        record: JobRecord = json.loads(files.settings.read_text(encoding="utf-8"))
        return record
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):
        raise ReasonRankError(f"{files.settings}: not the settings of a job (not JSON): "
                              "pass --overwrite to start the job again") from None


def _write_record(files: OutputFiles, record: JobRecord) -> None:
    with replaced_atomically(files.settings) as handle:
        handle.write(json.dumps(record, indent=1) + "\n")


def is_finished(files: OutputFiles) -> bool:
    """The run file is there, whole, as the job wrote it when it finished."""
    record = _record(files)
    return bool(record and record.get("finished") and files.run.is_file()
                and file_digest(files.run) == record["finished"]["sha256"])


def _journaled_windows(files: OutputFiles) -> int:
    if not files.traces.is_file():
        return 0
    with open(files.traces, "rb") as handle:
        return sum(1 for line in handle if line.endswith(b"\n") and line.strip())


@dataclass(frozen=True)
class Conflict:
    """Why a job's files are not the work of ``settings``: a setting that differs (``key``, its recorded
    value and the new one), or files without settings beside them (``key`` None)."""

    key: str | None
    was: object
    now: object
    finished: bool
    journaled: int

    @property
    def kind(self) -> str:
        return "a finished run" if self.finished else f"an unfinished job ({self.journaled} windows)"


def difference(was: Settings, now: Settings, ignore: frozenset[str] = frozenset()) -> tuple[str, object, object] | None:
    """The first setting whose value differs (recorded order first), as (key, recorded, new)."""
    key = next((key for key in {**was, **now} if key not in ignore and was.get(key) != now.get(key)), None)
    return None if key is None else (key, was.get(key), now.get(key))


def conflict(files: OutputFiles, settings: Settings) -> Conflict | None:
    """What keeps the work at ``files`` from counting as the job of ``settings``; None when it is that
    job's (or there is no work). Settings whose job never finished a window bind nothing; an unfinished
    job also binds the package version (two versions' windows are never mixed in one run)."""
    from reasonrank_ir import __version__

    record = _record(files)
    journaled = _journaled_windows(files)
    if record is None:
        if files.run.exists() or journaled:
            return Conflict(None, None, None, False, journaled)
        return None
    finished = is_finished(files)
    if not (finished or journaled):
        return None
    changed = difference(record["settings"], settings, RESUME_ONLY if finished else frozenset())
    if changed is None and not finished and record.get("reasonrank_ir") != __version__:
        changed = ("reasonrank-ir version", record.get("reasonrank_ir"), __version__)
    return None if changed is None else Conflict(*changed, finished, journaled)


def start(files: OutputFiles, settings: Settings, *, resume: bool = False, overwrite: bool = False) -> bool:
    """Check the job at ``files`` against ``settings`` before any work; True when it is already complete.

    Refuses (one line naming the differing setting, see :func:`conflict`) to resume another job's
    work, and to replace a finished run or a journal without ``overwrite``; then records ``settings``
    for the job about to run.
    """
    from reasonrank_ir import __version__

    settings = dict(settings)
    if overwrite:
        for path in (files.run, files.traces, files.settings):
            path.unlink(missing_ok=True)
    found = conflict(files, settings)
    if found is not None and found.key is None:
        raise ReasonRankError(f"{files.run if files.run.exists() else files.traces} exists but was not "
                              "written by this job (no settings beside it): pass --overwrite to replace "
                              "it, or choose another --output")
    if found is not None:
        if resume:
            raise ReasonRankError(f"cannot --resume {files.run}: it was started with {found.key} {found.was}, now "
                                  f"{found.now}; rerun with its settings, or pass --overwrite to start again")
        raise ReasonRankError(f"{files.run} holds {found.kind} made with {found.key} {found.was}, now {found.now}: "
                              "pass --overwrite to replace it, or choose another --output")
    record = _record(files)
    if record is not None and difference(record["settings"], settings, RESUME_ONLY) is None:
        if is_finished(files):
            return True
        journaled = _journaled_windows(files)
        if journaled and not resume:
            raise ReasonRankError(f"{files.run} is an unfinished job with these settings ({journaled} windows "
                                  "done): add --resume to continue it, or --overwrite to start again")
        if journaled:
            return False
    folder = files.run.parent.absolute()
    while not folder.parent.exists():
        folder = folder.parent
    files.created = folder if not folder.exists() else None
    _write_record(files, {"reasonrank_ir": __version__, "settings": settings})
    return False


def abandon(files: OutputFiles) -> None:
    """Remove what :func:`start` recorded when the job stopped before any window or run was written."""
    if not files.run.exists() and not _journaled_windows(files):
        files.settings.unlink(missing_ok=True)
        if files.traces.exists() and files.traces.stat().st_size == 0:
            files.traces.unlink()
        folder = files.run.parent.absolute()
        while files.created is not None and folder.is_relative_to(files.created) and not any(folder.iterdir()):
            folder.rmdir()  # a refused job leaves no empty runs/ folder behind
            folder = folder.parent


def finish(files: OutputFiles, run: Run, tag: str | None = None, facts: Mapping[str, Any] | None = None) -> None:
    """Replace the run file whole, then record its digest: the job is finished. ``facts`` (time, tokens)
    are recorded with it, and the date."""
    from datetime import datetime

    from reasonrank_ir.io.trec import write_run

    write_run(run, files.run, tag)
    record: JobRecord = _record(files) or {"settings": {}}
    record["finished"] = {"queries": len(run), "sha256": file_digest(files.run),
                          "date": datetime.now(UTC).isoformat(timespec="seconds"), **(facts or {})}
    _write_record(files, record)


def recorded(files: OutputFiles) -> JobRecord | None:
    """The record beside a run (version, settings, and once finished its digest, date and facts)."""
    return _record(files)
