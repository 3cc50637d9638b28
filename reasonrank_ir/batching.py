"""Fixed-size batches of any iterable (``itertools.batched`` arrived only in Python 3.12)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` items in order, the last one shorter when the items run out."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, found {size}")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
