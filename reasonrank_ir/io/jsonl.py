"""JSON Lines reading with errors that name the file and line (one reader for every JSONL format)."""
from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reasonrank_ir.errors import ReasonRankError


def read_jsonl(path: str | os.PathLike, skip_broken: bool = False) -> Iterator[tuple[str, Any]]:
    """``(where, record)`` per non-blank line, ``where`` being ``path:line`` for error messages.

    ``skip_broken`` passes over lines that are not JSON, for files a killed job may have cut mid-line
    (resumable outputs); otherwise such a line is a one-line error.
    """
    path = Path(path)
    if not path.is_file():
        raise ReasonRankError(f"{path}: no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                if skip_broken:
                    continue
                raise ReasonRankError(f"{path}:{number}: not valid JSON ({error.msg})") from None
            yield f"{path}:{number}", record
