"""The fast path of `tasks.glamira.events`: a batch's events staged straight from the
BSON bytes (`formats.bson_columns`), without a Python object per document.

It takes the shapes the data usually has: scalars that are strings, booleans, integers or
null; `option` as a list of objects of such scalars, one such object, text, or null; no
cart. Every other document (a cart, an option that is JSON text, a double, a date, a
repeated key, anything malformed) is left to the general path, which decodes it with
pymongo; the two paths stage the same columns, and tests hold them to the same output.
"""

from __future__ import annotations

import bson
import numpy as np
import polars as pl
from bson.errors import InvalidBSON

from formats.bson_columns import (
    ARRAY,
    DOCUMENT,
    NULL,
    OBJECT_ID,
    STRING,
    Buffer,
    Keys,
    object_id_hex,
    repeated,
    scan,
    texts,
)
from tasks.fields import as_text


def stage_columns(
    buffer: Buffer,
    starts: np.ndarray,
    sizes: np.ndarray | None,
    scalars: tuple[str, ...],
    option_fields: tuple[str, ...],
) -> tuple[dict[str, pl.Series], pl.DataFrame, np.ndarray]:
    """(scalar columns by field, including `event_id`, `option_raw`, `_option_issue`;
    the options as flat rows with `_row`; the rows the general path must take)."""
    n = len(starts)
    top = _keys("_id", *scalars, "option", "cart_products")
    elements = scan(buffer, starts, top, sizes)
    by_key = elements.by_key()
    none = np.zeros(0, dtype=np.int64)
    slow = [np.flatnonzero(elements.bad)]

    columns: dict[str, pl.Series] = {}
    ids = by_key.get(0, none)
    is_oid = elements.type[ids] == OBJECT_ID
    id_rows = elements.doc[ids]
    event_id = np.full(n, None, dtype=object)
    event_id[id_rows[is_oid]] = object_id_hex(buffer, elements.value[ids][is_oid]).astype(str)
    columns["event_id"] = pl.Series("event_id", event_id.tolist(), dtype=pl.String)
    has_id = np.zeros(n, dtype=bool)
    has_id[id_rows[is_oid]] = True
    slow += [np.flatnonzero(~has_id), repeated(id_rows, n)]  # no ObjectId `_id`, or two

    for index, name in enumerate(scalars, start=1):
        chosen = by_key.get(index, none)
        column, others = texts(buffer, n, elements, chosen)
        columns[name] = column.alias(name)
        slow.append(others)
        if name == "time_stamp":  # text there is read, but only trusted beside an ObjectId `_id`
            is_text = np.zeros(n, dtype=bool)
            is_text[elements.doc[chosen][elements.type[chosen] == STRING]] = True
            columns["_time_stamp_text"] = pl.Series("_time_stamp_text", is_text)
    columns["_id_is_object_id"] = pl.Series("_id_is_object_id", has_id)  # the others take the general path

    option_raw, option_issue, options, option_slow = _options(
        buffer, n, elements, by_key.get(len(scalars) + 1, none), option_fields
    )
    columns["option_raw"], columns["_option_issue"] = option_raw, option_issue
    slow.append(option_slow)
    carts = by_key.get(len(scalars) + 2, none)
    slow.append(elements.doc[carts][elements.type[carts] != NULL])  # null is no cart, as in the general path
    return columns, options, np.unique(np.concatenate(slow))


def _options(buffer: Buffer, n: int, elements, chosen: np.ndarray, fields: tuple[str, ...]):
    """`option` as the general path reads it: a list of objects; one object (kept as JSON
    text too); text (kept as written); null. JSON text and lists holding anything but
    objects are left to the general path."""
    rows, kind = elements.doc[chosen], elements.type[chosen]
    slow = [
        rows[~np.isin(kind, (ARRAY, DOCUMENT, STRING, NULL))],
        repeated(rows, n),
    ]
    issue = np.full(n, None, dtype=object)
    issue[rows[kind == NULL]] = "option was null"

    raw_column, others = texts(buffer, n, elements, chosen[kind == STRING])
    slow.append(others)
    raw = raw_column.to_numpy()
    for row in rows[kind == STRING]:
        text = raw[row]
        if text is None:
            continue
        stripped = text.strip()
        if stripped.startswith(("[", "{")):
            slow.append(np.array([row]))
        elif stripped:
            issue[row] = "option was a string"

    # one object: the only item, and its JSON as the raw text
    singles = chosen[kind == DOCUMENT]
    single_rows, single_values = elements.doc[singles], elements.value[singles]
    if singles.size:
        written: list[str | None] = []
        for row, start, size in zip(single_rows, single_values, elements.size[singles], strict=True):
            try:
                written.append(as_text(bson.decode(buffer.data[start : start + size])))
            except (InvalidBSON, TypeError, ValueError):
                written.append(None)
                slow.append(np.array([row]))
        raw_column = raw_column.scatter(single_rows, pl.Series(written, dtype=pl.String))
        issue[single_rows] = "option was an object"

    # lists of objects: walk the lists, then all objects of the batch together
    lists = chosen[kind == ARRAY]
    list_rows = elements.doc[lists]
    items = scan(buffer, elements.value[lists], _keys())
    slow += [list_rows[items.bad], list_rows[items.doc[items.type != DOCUMENT]]]
    listed = np.flatnonzero(items.type == DOCUMENT)
    object_rows = np.concatenate([list_rows[items.doc[listed]], single_rows])
    object_values = np.concatenate([items.value[listed], single_values])
    order = np.lexsort(
        (np.concatenate([items.position[listed], np.zeros(singles.size, np.int64)]), object_rows)
    )
    object_rows, object_values = object_rows[order], object_values[order]
    values = scan(buffer, object_values, _keys(*fields))
    slow.append(object_rows[values.bad])
    by_key = values.by_key()
    none = np.zeros(0, dtype=np.int64)
    frame: dict[str, pl.Series] = {}
    for index, name in enumerate(fields):
        column, others = texts(buffer, len(object_rows), values, by_key.get(index, none))
        frame[name] = column.alias(name)
        slow.append(object_rows[others])
    frame["_row"] = pl.Series("_row", object_rows, dtype=pl.Int64)
    return (
        raw_column.alias("option_raw"),
        pl.Series("_option_issue", issue.tolist(), dtype=pl.String),
        pl.DataFrame(frame),
        np.concatenate(slow),
    )


_KEYS: dict[tuple[str, ...], Keys] = {}


def _keys(*names: str) -> Keys:
    if names not in _KEYS:
        _KEYS[names] = Keys(names)
    return _KEYS[names]
