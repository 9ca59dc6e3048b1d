"""Columns out of many BSON documents at once: the elements of every document of a
batch found by one walk over the bytes, so no Python object is made per document or per
value.

Decoding documents to dicts with pymongo's C extension and picking fields out of them
costs about 12 µs an event in Python objects. The walk is compiled (`formats.bson_walk`,
numba); `scan_numpy`, which walks the 50,000 documents of a batch in lockstep with one
numpy operation per element position for all of them, is the reference it is tested
against. Strings are never copied: they become Arrow string views pointing into the
batch's own buffer.

The walk understands the BSON spec's element sizes. It does not judge values: a
document with anything it cannot size (a regex, an unknown type byte, a length that
runs past the end) or a key that is not plain ASCII is marked `bad`, and callers decode
those few with pymongo, which gives the exact error or value.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import bson
import numpy as np
import polars as pl
import pyarrow as pa

from formats.bson_walk import document_sizes, grouped_by_key, string_views, walk

_INT32 = struct.Struct("<i")
PAD = 32  # zero bytes after the buffer: 8-byte reads past a document's end stay in bounds

STRING, DOCUMENT, ARRAY, BOOLEAN, NULL, INT32, INT64, OBJECT_ID = (
    0x02,
    0x03,
    0x04,
    0x08,
    0x0A,
    0x10,
    0x12,
    0x07,
)
# bytes of a value by type: fixed sizes, or -1 when the value starts with an int32 length
_FIXED = np.full(256, -2, dtype=np.int64)  # -2: not a BSON type (regex and DBPointer too: rare)
_FIXED[[0x01, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x10, 0x11, 0x12, 0x13, 0x7F, 0xFF]] = [
    8,
    0,
    12,
    1,
    8,
    0,
    4,
    8,
    8,
    16,
    0,
    0,
]
_FIXED[[0x02, 0x0D, 0x0E, 0x03, 0x04, 0x0F, 0x05]] = -1
# for those: bytes before the counted ones, and the smallest valid count
_BEFORE = np.zeros(256, dtype=np.int64)
_BEFORE[[0x02, 0x0D, 0x0E, 0x05]] = [4, 4, 4, 5]
_LEAST = np.zeros(256, dtype=np.int64)
_LEAST[[0x02, 0x0D, 0x0E, 0x03, 0x04, 0x0F, 0x05]] = [1, 1, 1, 5, 5, 5, 0]
_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)
_BYTE_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_MIX = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5], dtype=np.uint64
)
MAX_KEY = 31  # longer keys are never among the wanted ones
# How much of a dump a reader reads at a time. Under glibc's largest dynamic mmap
# threshold (32 MiB): blocks of 32 MiB and more are fresh mappings every time, and
# faulting their pages in cost as much CPU as the reader's own work (1 M events: 1.8 s
# of system time at 32 MiB, 0.16 s at 16 MiB)
READ_BLOCK = 16 * 1024 * 1024


class Buffer:
    """A batch's bytes, read as little-endian integers at any offset. numpy gathers from
    an unaligned (stride 1) view are four times slower than two aligned gathers and a
    shift, so reads go through `u64` and `i32`."""

    def __init__(self, data: bytes):
        self.size = len(data)
        self.data = data + bytes(PAD + (-len(data)) % 8)
        self.u8 = np.frombuffer(self.data, dtype=np.uint8)
        self._words = np.frombuffer(self.data, dtype="<u8")

    def u64(self, at: np.ndarray) -> np.ndarray:
        """The 8 bytes at each offset as a little-endian uint64."""
        word, shift = at >> 3, ((at & 7) << 3).view(np.uint64)
        low = self._words[word] >> shift
        # a shift by 64 gives 0 in numpy: aligned offsets take nothing from the next word
        return low | (self._words[word + 1] << (np.uint64(64) - shift))

    def i32(self, at: np.ndarray) -> np.ndarray:
        """The 4 bytes at each offset as a signed int32, widened to int64."""
        return (self.u64(at) & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(np.int32).astype(np.int64)

    def i64(self, at: np.ndarray) -> np.ndarray:
        return self.u64(at).view(np.int64)


def whole_documents(data: bytes, position: int, end: int) -> tuple[list[int], int]:
    """The sizes of the whole documents in `data[position:end]`, one after another, and
    where they stop: at `end`, at a length that is not a document's (`length_at(stop)`
    tells), or at a document that runs past `end`. (Compiled: a dump has a million
    documents a gigabyte.)"""
    if end - position < 4:
        return [], position
    sizes, stop = document_sizes(np.frombuffer(data, dtype=np.uint8), position, end)
    return sizes.tolist(), int(stop)


def length_at(data: bytes, position: int) -> int:
    """The int32 length a document at `position` gives itself."""
    return _INT32.unpack_from(data, position)[0]


@dataclass(frozen=True)
class DocumentRun:
    """Documents back to back, as in a `.bson` dump, with each one's size: a reader that
    has found the boundaries hands them on rather than have them found again."""

    data: bytes
    sizes: np.ndarray

    @classmethod
    def of(cls, raw: bytes | Iterable[bytes]) -> DocumentRun:
        """Documents handed over one by one, or back to back (a raw cursor batch, a dump's
        bytes). A tail of the latter that is not a whole document becomes one last
        (broken) document, never a silent gap."""
        if isinstance(raw, bytes | bytearray | memoryview):
            data = bytes(raw)
            sizes, stop = whole_documents(data, 0, len(data))
            if stop < len(data):
                sizes.append(len(data) - stop)
            return cls(data, np.array(sizes, dtype=np.int64))
        items = list(raw)
        return cls(b"".join(items), np.fromiter(map(len, items), dtype=np.int64, count=len(items)))

    def __len__(self) -> int:
        return len(self.sizes)

    def select(self, keep: np.ndarray) -> DocumentRun:
        """The documents where `keep` is true, in order; consecutive ones are copied as
        one slice (a day's documents mostly lie together in a dump)."""
        if keep.all():
            return self
        starts, sizes = self.starts_and_sizes()
        edges = np.flatnonzero(np.diff(np.concatenate([[False], keep, [False]]).astype(np.int8)))
        pieces = [
            self.data[starts[first] : starts[last - 1] + sizes[last - 1]]
            for first, last in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)
        ]
        return DocumentRun(b"".join(pieces), sizes[keep])

    def starts_and_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        starts = np.zeros(len(self.sizes), dtype=np.int64)
        np.cumsum(self.sizes[:-1], out=starts[1:])
        if int(self.sizes.sum()) != len(self.data):
            raise ValueError(
                f"document sizes add up to {self.sizes.sum()} bytes, the run has {len(self.data)}"
            )
        return starts, self.sizes


def file_stamp(status: os.stat_result) -> tuple[int, int, int, int]:
    """What changes when a file does: its inode, size, modification and change times."""
    return (status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


@dataclass(frozen=True, eq=False)
class DumpSlice:
    """Documents of a dump file named by where they lie in it: `(offset, length)` pieces
    in file order and each document's size. A worker process reads them from the file
    itself (the page cache, as the reader has just read them): a process pool handed the
    offsets rather than the bytes spares the reader's process pickling and piping every
    batch. `data` reads them on first use and refuses a file that changed since the
    reader's read (`stamp`, see `file_stamp`): its documents are no longer the ones
    matched."""

    path: str
    stamp: tuple[int, ...]
    pieces: tuple[tuple[int, int], ...]
    sizes: np.ndarray

    @classmethod
    def of(
        cls, path: str, stamp: tuple[int, ...], offset: int, run: DocumentRun, keep: np.ndarray
    ) -> DumpSlice:
        """The documents of `run` (read from `offset` in the file) where `keep` is true."""
        starts, sizes = run.starts_and_sizes()
        edges = np.flatnonzero(np.diff(np.concatenate([[False], keep, [False]]).astype(np.int8)))
        pieces = tuple(
            (offset + int(starts[first]), int(starts[last - 1] + sizes[last - 1] - starts[first]))
            for first, last in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)
        )
        return cls(path, stamp, pieces, sizes[keep])

    @classmethod
    def joined(cls, slices: list[DumpSlice]) -> DumpSlice:
        """Slices of one file read in order, as one (adjacent pieces become one)."""
        pieces: list[tuple[int, int]] = []
        for piece in (p for s in slices for p in s.pieces):
            if pieces and sum(pieces[-1]) == piece[0]:
                pieces[-1] = (pieces[-1][0], pieces[-1][1] + piece[1])
            else:
                pieces.append(piece)
        first = slices[0]
        if any(s.path != first.path or s.stamp != first.stamp for s in slices):
            raise ValueError("slices of different files, or of a file that changed, cannot be joined")
        return cls(first.path, first.stamp, tuple(pieces), np.concatenate([s.sizes for s in slices]))

    def __len__(self) -> int:
        return len(self.sizes)

    @cached_property
    def data(self) -> bytes:
        with open(self.path, "rb") as stream:
            if file_stamp(os.fstat(stream.fileno())) != self.stamp:
                raise ValueError(
                    f"{self.path} changed after the run read it (a dump being written or replaced): "
                    "run again once the dump is complete"
                )
            parts = []
            for offset, length in self.pieces:
                stream.seek(offset)
                parts.append(stream.read(length))
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        if len(data) != int(self.sizes.sum()):
            raise ValueError(
                f"{self.path}: {len(data)} bytes read where the documents take {self.sizes.sum()}"
            )
        return data

    def run(self) -> DocumentRun:
        return DocumentRun(self.data, self.sizes)

    def starts_and_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        return self.run().starts_and_sizes()

    def __getstate__(self) -> dict:
        """Pickled without the bytes read: travelling light is the point."""
        return {k: v for k, v in self.__dict__.items() if k != "data"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


@dataclass
class Elements:
    """The elements of a set of (sub)documents, one entry each, in no particular order."""

    doc: np.ndarray  # which document of the set (index into `starts`)
    position: np.ndarray  # the element's place in its document (0, 1, ...)
    key: np.ndarray  # index into the wanted keys, -1 for any other key
    type: np.ndarray  # the BSON type byte
    value: np.ndarray  # offset of the value in the buffer
    size: np.ndarray  # bytes of the value
    bad: np.ndarray  # per document: could not be walked (see the module's note)

    def by_key(self) -> dict[int, np.ndarray]:
        """The element indices of each wanted key, in walking order (a counting sort)."""
        wanted = int(self.key.max(initial=-1)) + 1
        order, bounds = grouped_by_key(np.ascontiguousarray(self.key, dtype=np.int64), wanted)
        return {key: order[bounds[key + 1] : bounds[key + 2]] for key in range(wanted)}


class Keys:
    """Wanted keys, matched by a 64-bit hash of their bytes, their length and their first
    eight bytes (an unwanted key would have to agree on all three to be taken for one)."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names
        encoded = [name.encode() for name in names]
        if any(len(e) > MAX_KEY or b"\0" in e for e in encoded):
            raise ValueError(f"keys must be at most {MAX_KEY} bytes without NUL: {names}")
        words = np.frombuffer(b"".join(e.ljust(32, b"\0") for e in encoded), dtype="<u8").reshape(-1, 4)
        self.lengths = np.array([len(e) for e in encoded], dtype=np.int64)
        self.first = words[:, 0].copy()
        hashes = _hash([words[:, w] for w in range(4)], self.lengths)
        if len(set(hashes.tolist())) != len(names):
            raise ValueError(f"two of the keys hash alike: {names}")
        self.order = np.argsort(hashes)
        self.sorted_hashes = hashes[self.order]
        # for the compiled walk: each key's bytes, and the keys grouped by length
        self.table = np.frombuffer(
            b"".join(e.ljust(32, b"\0") for e in encoded) or b"\0" * 32, dtype=np.uint8
        )
        self.table = self.table.reshape(-1, 32)
        self.by_length = np.argsort(self.lengths, kind="stable").astype(np.int64)
        self.first_of_length = np.searchsorted(self.lengths[self.by_length], np.arange(MAX_KEY + 2)).astype(
            np.int64
        )

    def match(self, words: list[np.ndarray], lengths: np.ndarray) -> np.ndarray:
        """The index of each key among the wanted ones, -1 for others."""
        if not self.names:
            return np.full(len(lengths), -1, dtype=np.int64)
        hashes = _hash(words, lengths)
        slot = np.minimum(np.searchsorted(self.sorted_hashes, hashes), len(self.sorted_hashes) - 1)
        candidate = self.order[slot]
        same = (
            (self.sorted_hashes[slot] == hashes)
            & (self.lengths[candidate] == lengths)
            & (self.first[candidate] == words[0])
        )
        return np.where(same, candidate, -1)


def _hash(words: list[np.ndarray], lengths: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        mixed = lengths.astype(np.uint64)
        for word, factor in zip(words, _MIX, strict=True):
            mixed = (mixed ^ word) * factor
        return mixed ^ (mixed >> np.uint64(29))


def _zero_byte(words: np.ndarray) -> np.ndarray:
    """The index of the first zero byte of each little-endian word, 8 when it has none."""
    with np.errstate(over="ignore"):
        zeros = (words - _ONES) & ~words & _HIGHS  # high bit of the first zero byte (and maybe later ones)
        lowest = zeros & (~zeros + np.uint64(1))
        # bytes at or below the lowest set high bit, counted by a multiply
        counted = (((lowest - np.uint64(1)) & _ONES) * _ONES) >> np.uint64(56)
    return np.where(zeros == 0, 8, counted.astype(np.int64) - 1)


def _key_words(buffer: Buffer, at: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The key starting at each offset: its length (MAX_KEY + 1 when longer) and its
    first 32 bytes as four little-endian words, zero from the key's NUL on. Later words
    are read only for the keys that reach them."""
    n = len(at)
    lengths = np.full(n, MAX_KEY + 1, dtype=np.int64)
    words = [np.zeros(n, dtype=np.uint64) for _ in range(4)]
    reaching = np.arange(n)
    for w in range(4):
        word = buffer.u64(at[reaching] + 8 * w) if w else buffer.u64(at)
        zero = _zero_byte(word)
        ends_here = zero < 8
        lengths[reaching[ends_here]] = 8 * w + zero[ends_here]
        words[w][reaching] = word & _BYTE_MASKS[zero]
        reaching = reaching[~ends_here]
        if not reaching.size:
            break
    return lengths, words


def scan(
    buffer: Buffer,
    starts: np.ndarray,
    keys: Keys,
    sizes: np.ndarray | None = None,
    wanted_only: bool = False,
) -> Elements:
    """The elements of the documents starting at `starts`, walked by compiled code
    (`formats.bson_walk`); the same answer as `scan_numpy`, or with `wanted_only` the
    same without the elements of other keys (readers that only look keys up need none).
    `sizes`, when known (documents handed over one by one), must match what each
    document says of itself."""
    if buffer.size >= 1 << 31:
        raise ValueError("a batch buffer must be under 2 GB")
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    checked = sizes is not None
    doc, position, key, kind, value, size, bad = walk(
        buffer.u8,
        buffer.size,
        starts,
        np.ascontiguousarray(sizes, dtype=np.int64) if checked else starts,
        checked,
        _FIXED,
        _BEFORE,
        _LEAST,
        keys.table,
        keys.by_length,
        keys.first_of_length,
        MAX_KEY,
        wanted_only,
    )
    return Elements(doc, position, key, kind, value, size, bad)


def scan_numpy(buffer: Buffer, starts: np.ndarray, keys: Keys, sizes: np.ndarray | None = None) -> Elements:
    """Walk the documents starting at `starts`, all together, one element per step:
    numpy's walk, the reference the compiled one (`scan`) is tested against."""
    if buffer.size >= 1 << 31:
        raise ValueError("a batch buffer must be under 2 GB")
    lengths = buffer.i32(np.minimum(starts, buffer.size))
    ends = starts + lengths - 1  # the document's closing NUL
    bad = (lengths < 5) | (starts + lengths > buffer.size)
    if sizes is not None:
        bad |= lengths != sizes
    bad |= buffer.u8[np.where(bad, 0, ends)] != 0
    # the documents still being walked, with their cursors and ends alongside
    active = np.flatnonzero(~bad)
    cursor, end = starts[active] + 4, ends[active]
    parts: list[tuple[np.ndarray, ...]] = []
    step = 0
    while True:
        going = cursor < end
        if not going.all():
            active, cursor, end = active[going], cursor[going], end[going]
        if not active.size:
            break
        kind = buffer.u8[cursor]
        key_length, words = _key_words(buffer, cursor + 1)
        key = keys.match(words, key_length)
        # a key that is not plain ASCII may not be UTF-8 at all: pymongo's to judge
        odd_key = ((words[0] | words[1] | words[2] | words[3]) & _HIGHS) != 0
        for i in np.flatnonzero(key_length > MAX_KEY):  # rare: find the NUL the slow way
            nul = buffer.data.find(b"\0", int(cursor[i]) + 1, int(end[i]))
            key_length[i] = (nul - cursor[i] - 1) if nul >= 0 else 1 << 40
            odd_key[i] |= nul >= 0 and not buffer.data[int(cursor[i]) + 1 : nul].isascii()
        value = cursor + key_length + 2
        size = _FIXED[kind]
        counted = np.flatnonzero(size == -1)
        if counted.size:
            count = buffer.i32(np.minimum(value[counted], buffer.size))
            counted_kind = kind[counted]
            size[counted] = np.where(count >= _LEAST[counted_kind], _BEFORE[counted_kind] + count, -2)
        cursor = value + size
        broken = (size < 0) | (cursor > end) | odd_key
        # a boolean is one byte, 0 or 1; a string ends with its NUL
        flags = np.flatnonzero(kind == BOOLEAN)
        broken[flags] |= buffer.u8[np.minimum(value[flags], buffer.size)] > 1
        text = np.flatnonzero(kind == STRING)
        broken[text] |= buffer.u8[np.minimum(cursor[text] - 1, buffer.size)] != 0
        if broken.any():
            bad[active[broken]] = True
            keep = ~broken
            active, cursor, end, kind, key, value, size = (
                a[keep] for a in (active, cursor, end, kind, key, value, size)
            )
        parts.append((active, np.full(active.size, step, dtype=np.int64), key, kind, value, size))
        step += 1
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Elements(empty, empty, empty, empty.astype(np.uint8), empty, empty, bad)
    doc, position, key, kind, value, size = (np.concatenate(column) for column in zip(*parts, strict=True))
    return Elements(doc, position, key, kind, value, size, bad)


def compile_walk() -> None:
    """Compile the walk's machine code now, or load it from numba's cache: an image build
    that calls it spares each run in a fresh container the compile (seconds, in every
    process that starts before the cache is written)."""
    raw = [bson.encode({"ip": "1.2", "b": True}), bson.encode({})]
    run = DocumentRun.of(raw)
    buffer = Buffer(run.data)
    starts, sizes = run.starts_and_sizes()
    keys = Keys(("ip",))
    for given in (sizes, None):
        for wanted_only in (False, True):
            elements = scan(buffer, starts, keys, given, wanted_only)
    chosen = elements.by_key()[0]
    strings(buffer, len(raw), elements.doc[chosen], elements.value[chosen], elements.size[chosen])
    whole_documents(run.data, 0, len(run.data))


# -- values as columns -------------------------------------------------------------------------


def strings(buffer: Buffer, n: int, rows: np.ndarray, value: np.ndarray, size: np.ndarray) -> pl.Series:
    """A Binary column of `n` rows: row `rows[i]` holds the bytes of the BSON string at
    `value[i]`, the others are null. Nothing is copied: the column is Arrow binary views
    into the buffer. (Cast to String to check the UTF-8.)"""
    views, present = string_views(
        buffer.u8,
        n,
        np.ascontiguousarray(rows, dtype=np.int64),
        np.ascontiguousarray(value, dtype=np.int64),
        np.ascontiguousarray(size, dtype=np.int64),
    )
    validity = pa.py_buffer(np.packbits(present, bitorder="little"))
    array = pa.Array.from_buffers(
        pa.binary_view(), n, [validity, pa.py_buffer(views), pa.py_buffer(buffer.data)]
    )
    return pl.Series(array)


def integers(buffer: Buffer, kind: np.ndarray, value: np.ndarray) -> np.ndarray:
    """The values of int32 and int64 elements (others: 0)."""
    out = np.zeros(len(value), dtype=np.int64)
    small, big = kind == INT32, kind == INT64
    out[small] = buffer.i32(value[small])
    out[big] = buffer.i64(value[big])
    return out


def object_id_hex(buffer: Buffer, value: np.ndarray) -> np.ndarray:
    """The 24-character hex of ObjectIds at `value`, as a numpy bytes array."""
    raw = buffer.u8[value[:, None] + np.arange(12)]
    return _HEX[raw].reshape(len(value), 24).view("S24").ravel()


_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint8).reshape(256, 2)


def texts(buffer: Buffer, n: int, elements: Elements, chosen: np.ndarray) -> tuple[pl.Series, np.ndarray]:
    """A String column of `n` rows from elements `chosen` (at most one per row) as the
    pipeline reads scalars: strings as they are, booleans and integers in their JSON
    spelling, null as null. Returns the column and the rows whose value is anything else
    (a double, a date, an object, text that is not UTF-8, a repeated key): those rows
    must be read by pymongo instead."""
    rows, kind = elements.doc[chosen], elements.type[chosen]
    value, size = elements.value[chosen], elements.size[chosen]
    is_text, is_bool = kind == STRING, kind == BOOLEAN
    is_int = (kind == INT32) | (kind == INT64)
    other = rows[~(is_text | is_bool | is_int | (kind == NULL))]
    text_rows, text_value, text_size = rows[is_text], value[is_text], size[is_text]
    try:
        column = strings(buffer, n, text_rows, text_value, text_size).cast(pl.String)
    except pl.exceptions.ComputeError:  # not UTF-8 somewhere: find it, leave those rows to pymongo
        valid = np.array(
            [_is_utf8(buffer.data[v + 4 : v + s - 1]) for v, s in zip(text_value, text_size, strict=True)],
            dtype=bool,
        )
        other = np.concatenate([other, text_rows[~valid]])
        column = strings(buffer, n, text_rows[valid], text_value[valid], text_size[valid]).cast(pl.String)
    if is_bool.any() or is_int.any():
        flags = buffer.u8[value[is_bool]]
        spelled = pl.concat(
            [
                pl.Series(flags == 1, dtype=pl.Boolean).cast(pl.String),
                pl.Series(integers(buffer, kind[is_int], value[is_int])).cast(pl.String),
            ]
        )
        column = column.scatter(np.concatenate([rows[is_bool], rows[is_int]]), spelled)
    return column, np.union1d(other, repeated(rows, n))


def repeated(rows: np.ndarray, n: int) -> np.ndarray:
    """The rows (of `n`) that appear more than once: documents with a key twice, which
    pymongo reads as the last value."""
    return np.flatnonzero(np.bincount(rows, minlength=n) > 1)


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True
