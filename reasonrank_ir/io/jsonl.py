"""JSON Lines: one reader (errors name the file and line) and one writer for every JSONL format."""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io import numbered_lines, replaced_atomically


def read_jsonl(path: str | os.PathLike[str], skip_broken: bool = False) -> Iterator[tuple[str, Any]]:
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


def jsonl_line(record: Any) -> str:
    """One record as one line, non-ASCII text kept readable."""
    return json.dumps(record, ensure_ascii=False) + "\n"


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Any]) -> int:
    """Write ``records`` to ``path`` all at once (see ``replaced_atomically``); returns how many."""
    count = 0
    with replaced_atomically(path) as handle:
        for record in records:
            handle.write(jsonl_line(record))
            count += 1
    return count
