"""A GGUF file's structure checked without llama.cpp: a missing, cut, foreign or damaged model file named as such.

llama.cpp reports all of these as one "failed to load model" (after seconds, for a cut file), and
reading the tokenizer out of the file fails first with a message about tokenizers. This walks the
layout instead (header, every metadata key/value, every tensor's name, shape, type and offset) and
checks that the file holds the tensor data they declare: tens of milliseconds, standard library only.
The layout is ggml's ``docs/gguf.md``: little-endian, versions 2 and 3 (llama.cpp reads no other).
"""
from __future__ import annotations

import mmap
import struct
from pathlib import Path

from reasonrank_ir.errors import ReasonRankError

MAGIC = b"GGUF"
VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4  # GGML_MAX_DIMS: llama.cpp refuses tensors of more dimensions

SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
"""Metadata value types of a fixed size, by GGUF type code (8 is a string, 9 an array)."""
STRING, ARRAY = 8, 9

BLOCKS = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 40),
          10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
          16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110),
          22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8),
          29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18)}
"""ggml tensor types: (values per block, bytes per block), as gguf-py's ``GGML_QUANT_SIZES``. A type not
listed here (a newer ggml's) is checked by its offset alone."""


class _CutShort(Exception):
    """The layout runs past the end of the file."""


class _Reader:
    """Little-endian values at a moving position of a memory-mapped file."""

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.size = len(data)
        self.position = 0

    def unpack(self, fmt: str) -> int | float | bool:
        width = struct.calcsize(fmt)
        if self.position + width > self.size:
            raise _CutShort
        (value,) = struct.unpack_from(fmt, self.data, self.position)
        self.position += width
        result: int | float | bool = value
        return result

    def integer(self, fmt: str) -> int:
        return int(self.unpack(fmt))

    def skip(self, count: int) -> None:
        if count < 0 or self.position + count > self.size:
            raise _CutShort
        self.position += count

    def string(self) -> bytes:
        length = self.integer("<Q")
        start = self.position
        self.skip(length)
        return bytes(self.data[start:self.position])


def check_gguf(model: str | Path) -> None:
    """Raise one :class:`ReasonRankError` line when ``model`` is not a whole GGUF file llama.cpp can read:
    missing, a folder, unreadable, empty, another format, an unknown version, damaged, or cut short
    (a file shorter than its header, metadata, tensor table or tensor data says)."""
    path = Path(model)
    if path.is_dir():
        raise ReasonRankError(f"{model} is a folder; the llamacpp backend takes a .gguf file (--model)")
    if not path.is_file():
        raise ReasonRankError(f"GGUF model file {str(model)!r} does not exist; pass the path of a .gguf file.")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
            if not magic:
                raise ReasonRankError(f"{model} is empty (0 bytes), not a GGUF file: an interrupted download? "
                                      "Download it again.")
            if len(magic) < len(MAGIC) and MAGIC.startswith(magic):
                raise _cut(str(model), len(magic), "the header")
            if magic != MAGIC:
                raise ReasonRankError(f"{model} is not a GGUF file (it starts with {magic!r}, not b'GGUF'): "
                                      "another format, or an error page saved as the model?")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                _check_layout(str(model), _Reader(data))
    except OSError as error:
        raise ReasonRankError(f"{model}: cannot read it ({error.strerror or error})") from None


def _cut(model: str, size: int, where: str) -> ReasonRankError:
    return ReasonRankError(f"{model} is cut short: its {size:,} bytes end inside {where} (an interrupted "
                           "download?); llama.cpp cannot load it: download it again")


def _check_layout(model: str, reader: _Reader) -> None:
    reader.position = len(MAGIC)
    where = "the header"
    try:
        version = reader.integer("<I")
        if version not in VERSIONS:
            swapped = int.from_bytes(version.to_bytes(4, "little"), "big")
            found = "a big-endian GGUF file" if swapped in VERSIONS else f"GGUF version {version}"
            raise ReasonRankError(f"{model} is {found}; llama.cpp reads little-endian GGUF versions 2 and 3")
        tensors = reader.integer("<Q")
        keys = reader.integer("<Q")
        alignment = DEFAULT_ALIGNMENT
        for number in range(1, keys + 1):
            where = f"the metadata (key {number:,} of {keys:,})"
            key = reader.string().decode("utf-8", "replace")
            value_type = reader.integer("<I")
            where = f"the metadata (key {key!r})"
            value = _skip_value(model, reader, value_type, key)
            if key == "general.alignment":
                if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or value & (value - 1):
                    raise ReasonRankError(f"{model} is damaged: general.alignment must be a power of two, "
                                          f"found {value!r}; llama.cpp cannot load it")
                alignment = value
        needed = 0
        for number in range(1, tensors + 1):
            where = f"the tensor table (tensor {number:,} of {tensors:,})"
            name = reader.string().decode("utf-8", "replace")
            dims = reader.integer("<I")
            if dims > MAX_DIMS:
                raise ReasonRankError(f"{model} is damaged: tensor {name!r} has {dims} dimensions (at most "
                                      f"{MAX_DIMS}); llama.cpp cannot load it")
            count = 1
            for _ in range(dims):
                count *= reader.integer("<Q")
            ggml_type = reader.integer("<I")
            offset = reader.integer("<Q")
            block, width = BLOCKS.get(ggml_type, (1, 0))
            needed = max(needed, offset + count // block * width)
    except _CutShort:
        raise _cut(model, reader.size, where) from None
    if not tensors:
        return  # no data section: the file may end right after its metadata
    start = -(-reader.position // alignment) * alignment
    if start + needed > reader.size:
        raise ReasonRankError(f"{model} is cut short: {reader.size:,} bytes, but its {tensors:,} tensors need "
                              f"{start + needed:,} (an interrupted download?); llama.cpp cannot load it: "
                              "download it again")


def _skip_value(model: str, reader: _Reader, kind: int, key: str) -> object:
    """Step over one metadata value; return it when it is a scalar (``general.alignment`` is read)."""
    if kind in SCALARS:
        return reader.unpack(SCALARS[kind])
    if kind == STRING:
        reader.skip(reader.integer("<Q"))
        return None
    if kind == ARRAY:
        item = reader.integer("<I")
        count = reader.integer("<Q")
        if item in SCALARS:
            reader.skip(count * struct.calcsize(SCALARS[item]))
        elif item == STRING:
            for _ in range(count):
                reader.skip(reader.integer("<Q"))
        else:  # an array of arrays is valid GGUF, but not what llama.cpp reads
            raise ReasonRankError(f"{model} is damaged: metadata key {key!r} holds an array of "
                                  f"{'arrays' if item == ARRAY else f'unknown type {item}'}; llama.cpp cannot load it")
        return None
    raise ReasonRankError(f"{model} is damaged: metadata key {key!r} has unknown value type {kind}; "
                          "llama.cpp cannot load it")
