"""JSON Lines reading with errors that name the file and line (one reader for every JSONL format)."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io import numbered_lines


def read_jsonl(path: str | os.PathLike, skip_broken: bool = False) -> Iterator[tuple[str, Any]]:
    """``(where, record)`` per non-blank line, ``where`` being ``path:line`` for error messages.

    ``skip_broken`` passes over lines that are not JSON, for files a killed job may have cut mid-line
    (resumable outputs); otherwise such a line is a one-line error.
    """
    for number, line in numbered_lines(path):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if skip_broken:
                continue
            raise ReasonRankError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        yield f"{path}:{number}", record
