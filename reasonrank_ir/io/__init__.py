"""Readers and writers for the formats users already have: TREC runs and qrels, topics, JSONL.

Every file is read as UTF-8, with or without a byte-order mark, LF or CRLF line ends; anything else
(latin-1, UTF-16, a cut gzip stream) is one error naming the file, line and byte offset, never a
``UnicodeDecodeError`` or a BOM glued to the first query id.
"""
from __future__ import annotations

import gzip
import os
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from reasonrank_ir.errors import ReasonRankError

_BOM = b"\xef\xbb\xbf"


def numbered_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of every non-blank line (``.gz`` read transparently), for file:line errors."""
    path = Path(path)
    if not path.is_file():
        raise ReasonRankError(f"{path}: no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    offset = 0
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                start = len(_BOM) if number == 1 and raw.startswith(_BOM) else 0
                line = _decode(raw[start:], path, number, offset + start)
                offset += len(raw)
                if line.strip():
                    yield number, line.rstrip("\r\n")
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise ReasonRankError(f"{path}: not a readable gzip file ({error or 'cut short'})") from None
    except OSError as error:
        raise unreadable(path, error) from None


def read_text(path: str | os.PathLike[str]) -> str:
    """A whole file (YAML, JSON) under the same encoding rules as :func:`numbered_lines`."""
    path = Path(path)
    if not path.is_file():
        raise ReasonRankError(f"{path}: no such file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise unreadable(path, error) from None
    start = len(_BOM) if data.startswith(_BOM) else 0
    return _decode(data[start:], path, None, start).replace("\r\n", "\n")


def unreadable(path: str | os.PathLike[str], error: OSError) -> ReasonRankError:
    """The one-line error for an input that exists but cannot be read (permissions, a folder, I/O)."""
    return ReasonRankError(f"{path}: cannot read it ({error.strerror or error})")


def _decode(raw: bytes, path: Path, number: int | None, offset: int) -> str:
    """``raw`` (starting at byte ``offset`` of the file) as UTF-8, or an error saying where it is not."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        if number is None:
            number = raw.count(b"\n", 0, error.start) + 1
        byte = raw[error.start]
        raise ReasonRankError(f"{path}:{number}: not UTF-8 text (byte 0x{byte:02x} at offset {offset + error.start}); "
                              "save the file as UTF-8") from None


def check_output_file(path: str | os.PathLike[str], flag: str) -> None:
    """Refuse an output file that cannot be written, before any work is done for it."""
    path = Path(path)
    if path.is_dir():
        raise ReasonRankError(f"{flag} {path} is a folder; give a file name (e.g. {path / 'run.txt'})")
    if path.exists() and not os.access(path, os.W_OK):
        raise ReasonRankError(f"{flag} {path}: the file is read-only")
    _check_can_create(path.parent, flag, path)


def check_output_dir(path: str | os.PathLike[str], flag: str) -> None:
    """Refuse an output folder that is a file or cannot be written, before any work is done for it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ReasonRankError(f"{flag} {path} is a file, not a folder")
    _check_can_create(path, flag, path)


def _check_can_create(folder: Path, flag: str, target: Path) -> None:
    """Files can be made in ``folder``: its nearest existing ancestor is a folder we may write in."""
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ReasonRankError(f"{flag} {target}: {existing} is a file, not a folder")
    try:
        tempfile.TemporaryFile(dir=existing).close()  # os.access says yes to root on read-only mounts
    except OSError as error:
        raise ReasonRankError(f"{flag} {target}: cannot write in {existing} ({error.strerror})") from None


@contextmanager
def replaced_atomically(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """Write ``path`` through a temporary file renamed over it once complete.

    Readers, and a job killed mid-write, see the old file or the new one, never part of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
