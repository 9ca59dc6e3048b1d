"""The element walk of `formats.bson_columns.scan`, compiled: one pass over each
document's bytes, element after element, in machine code (numba, compiled at run time
from PyPI wheels: no compiler at install).

numpy walks the documents of a batch in lockstep, so each element costs a dozen array
operations over every document still being walked; the compiled walk reads each byte
once. It answers exactly as the numpy walk (`bson_columns.scan_numpy`, kept as the
reference the tests hold it to): the same elements in the same order, the same
documents marked bad. Compiled code is cached beside this module (`cache=True`), so a
process pays the compile once, later processes load it; NUMBA_CACHE_DIR moves the cache
where the package folder is read-only.
"""

from __future__ import annotations

import numba
import numpy as np

STRING, BOOLEAN = 0x02, 0x08


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _i32(data: np.ndarray, at: int) -> int:
    value = (
        np.int64(data[at])
        | (np.int64(data[at + 1]) << 8)
        | (np.int64(data[at + 2]) << 16)
        | (np.int64(data[at + 3]) << 24)
    )
    return value - (1 << 32) if value >= 1 << 31 else value


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _key_index(data, at, length, table, by_length, first_of_length, max_key):
    """The wanted key spelled by `data[at:at + length]`, -1 for any other."""
    if length > max_key:
        return -1
    for slot in range(first_of_length[length], first_of_length[length + 1]):
        key = by_length[slot]
        same = True
        for i in range(length):
            if data[at + i] != table[key, i]:
                same = False
                break
        if same:
            return key
    return -1


@numba.njit(cache=True, nogil=True, boundscheck=False)
def walk(
    data,
    size,
    starts,
    sizes,
    check_sizes,
    fixed,
    before,
    least,
    table,
    by_length,
    first_of_length,
    max_key,
    wanted_only,
):
    """(doc, position, key, type, value, size) of every element walked (`wanted_only`:
    of those with a wanted key), ordered by position then document as the lockstep walk
    emits them, and `bad` per document. `data` is the padded buffer (reads up to 8 bytes
    past `size` stay in it).

    Two passes: the first checks every element and counts the sound ones of each
    document, the second writes them straight to their place in position order."""
    n = len(starts)
    bad = np.zeros(n, dtype=np.bool_)
    sound = np.zeros(n, dtype=np.int64)  # elements before the first broken one
    at_position = np.zeros(64, dtype=np.int64)  # documents with an element at each position
    steps = 0  # the most elements a document has
    for d in range(n):
        start = starts[d]
        whole = _i32(data, min(start, size))
        end = start + whole - 1  # the closing NUL
        if whole < 5 or start + whole > size or (check_sizes and whole != sizes[d]) or data[end] != 0:
            bad[d] = True
            continue
        cursor = start + 4
        step = 0
        while cursor < end:
            type_byte = data[cursor]
            at = cursor + 1
            odd = False
            while at < end and data[at] != 0:
                if data[at] >= 0x80:  # not plain ASCII, maybe not UTF-8: pymongo's to judge
                    odd = True
                at += 1
            if at >= end:  # the key runs into the document's end
                bad[d] = True
                break
            at += 1  # the value
            bytes_ = fixed[type_byte]
            if bytes_ == -1:
                counted = _i32(data, min(at, size))
                bytes_ = before[type_byte] + counted if counted >= least[type_byte] else -2
            following = at + bytes_
            broken = bytes_ < 0 or following > end or odd
            if type_byte == BOOLEAN and data[min(at, size)] > 1:
                broken = True
            if type_byte == STRING and data[min(following - 1, size)] != 0:
                broken = True
            if broken:
                bad[d] = True
                break
            if step == len(at_position):
                at_position = _grown(at_position, 2 * step)
            key_length = at - cursor - 2
            if (
                not wanted_only
                or _key_index(data, cursor + 1, key_length, table, by_length, first_of_length, max_key) >= 0
            ):
                at_position[step] += 1
            step += 1
            cursor = following
        sound[d] = step
        steps = max(steps, step)
    offsets = np.zeros(steps + 1, dtype=np.int64)
    for s in range(steps):
        offsets[s + 1] = offsets[s] + at_position[s]
    count = offsets[steps]
    doc = np.empty(count, dtype=np.int64)
    position = np.empty(count, dtype=np.int64)
    key = np.empty(count, dtype=np.int64)
    kind = np.empty(count, dtype=np.uint8)
    value = np.empty(count, dtype=np.int64)
    length = np.empty(count, dtype=np.int64)
    for d in range(n):
        cursor = starts[d] + 4
        for step in range(sound[d]):
            type_byte = data[cursor]
            at = cursor + 1
            while data[at] != 0:
                at += 1
            key_length = at - cursor - 1
            at += 1
            bytes_ = fixed[type_byte]
            if bytes_ == -1:
                bytes_ = before[type_byte] + _i32(data, at)
            wanted = _key_index(data, cursor + 1, key_length, table, by_length, first_of_length, max_key)
            if wanted_only and wanted < 0:
                cursor = at + bytes_
                continue
            e = offsets[step]
            offsets[step] += 1
            doc[e] = d
            position[e] = step
            key[e] = wanted
            kind[e] = type_byte
            value[e] = at
            length[e] = bytes_
            cursor = at + bytes_
    return doc, position, key, kind, value, length, bad


@numba.njit(cache=True, nogil=True)
def _grown(array, capacity):
    bigger = np.zeros(capacity, dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


@numba.njit(cache=True, nogil=True, boundscheck=False)
def document_sizes(data, position, end):
    """The sizes of the whole documents in `data[position:end]` one after another, and
    where they stop (see `bson_columns.whole_documents`)."""
    sizes = np.empty(max(16, (end - position) // 256), dtype=np.int64)
    count = 0
    while position + 4 <= end:
        length = _i32(data, position)
        if length < 5 or position + length > end:
            break
        if count == len(sizes):
            sizes = _grown(sizes, 2 * count)
        sizes[count] = length
        count += 1
        position += length
    return sizes[:count], position


@numba.njit(cache=True, nogil=True, boundscheck=False)
def grouped_by_key(key, keys):
    """The element indices sorted by `key` (-1 first), stable, and where each key's run
    starts (`bounds[k + 1]` for key k, `bounds[keys + 1]` the end): a counting sort."""
    bounds = np.zeros(keys + 2, dtype=np.int64)
    for e in range(len(key)):
        bounds[key[e] + 2] += 1
    for k in range(1, keys + 2):
        bounds[k] += bounds[k - 1]
    order = np.empty(len(key), dtype=np.int64)
    cursor = bounds.copy()
    for e in range(len(key)):
        slot = key[e] + 1
        order[cursor[slot]] = e
        cursor[slot] += 1
    return order, bounds


@numba.njit(cache=True, nogil=True, boundscheck=False)
def string_views(data, n, rows, value, size):
    """Arrow binary views (16 bytes a row) of the BSON strings at `value` (with their
    element `size`) for `rows` of `n`, and which rows have one: up to 12 bytes inline,
    longer ones as their first 4 bytes and their offset in buffer 0 (`data` itself)."""
    views = np.zeros((n, 16), dtype=np.uint8)
    present = np.zeros(n, dtype=np.bool_)
    for i in range(len(rows)):
        row = rows[i]
        length = size[i] - 5  # after the int32 length, before the NUL
        at = value[i] + 4
        views[row, :] = 0
        for b in range(4):
            views[row, b] = (length >> (8 * b)) & 0xFF
        if length <= 12:
            for b in range(length):
                views[row, 4 + b] = data[at + b]
        else:
            for b in range(4):
                views[row, 4 + b] = data[at + b]
                views[row, 12 + b] = (at >> (8 * b)) & 0xFF
        present[row] = True
    return views, present
