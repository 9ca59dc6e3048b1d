"""MongoDB's query rules, for documents we hold as bytes (a mongodump read in place of a
live MongoDB).

The flows ask MongoDB for a day with one query document; the embedded default must
answer the same query with the same documents, or a day would be read differently in
production and in the demo. This module evaluates the part of the query language the
flows use, with MongoDB's semantics:

- `{field: {"$gte": a, "$lt": b}}` (also `$gt`, `$lte`): compares within a type bracket
  only (numbers with numbers, whatever their BSON type; ObjectIds with ObjectIds); a
  value of another type, a missing field, null or NaN never matches; an array matches
  when one of its elements does.
- `{field: {"$not": {...}}}`: the negation, so a missing field matches.
- `{field: {"$type": "objectId"}}` (and the other type aliases used here).
- `{"$or": [...]}`, `{"$and": [...]}`, several fields in one document (all must hold).

Documents of the usual shapes are evaluated together with numpy over the walked bytes
(`formats.bson_columns.scan`); the rare ones (a Decimal128 or an array in a queried
field, a key given twice, anything the walk cannot size) are decoded and evaluated one by
one (`matches_document`), the reference the fast path is tested against. A document that
cannot be decoded at all matches every query: it must reach a reader, which rejects it
with its reason, rather than vanish between days.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import bson
import numpy as np
from bson import ObjectId
from bson.codec_options import CodecOptions
from bson.decimal128 import Decimal128
from bson.errors import InvalidBSON
from bson.int64 import Int64

from formats.bson_columns import ARRAY, INT32, INT64, OBJECT_ID, Buffer, Keys, repeated, scan

DOUBLE, DECIMAL128 = 0x01, 0x13
_RANGE = {"$gt", "$gte", "$lt", "$lte"}
_TYPE_CODES = {
    "double": 0x01,
    "string": 0x02,
    "object": 0x03,
    "array": 0x04,
    "objectId": 0x07,
    "bool": 0x08,
    "date": 0x09,
    "null": 0x0A,
    "int": 0x10,
    "long": 0x12,
    "decimal": 0x13,
}
_LENIENT = CodecOptions(unicode_decode_error_handler="replace")


def fields_of(query: Mapping) -> list[str]:
    """The document fields a query reads, in first-seen order."""
    found: list[str] = []
    for key, value in query.items():
        if key in ("$or", "$and"):
            for part in value:
                found += [f for f in fields_of(part) if f not in found]
        elif key.startswith("$"):
            raise ValueError(f"unsupported query operator {key}")
        elif "." in key:
            raise ValueError(f"dotted paths are not supported here: {key}")
        elif key not in found:
            found.append(key)
    return found


# -- one document at a time: the reference ------------------------------------------------


def matches_document(document: Mapping, query: Mapping) -> bool:
    """MongoDB's answer for one decoded document."""
    for key, condition in query.items():
        if key == "$or":
            if not any(matches_document(document, part) for part in condition):
                return False
        elif key == "$and":
            if not all(matches_document(document, part) for part in condition):
                return False
        elif not _field_matches(document, key, condition):
            return False
    return True


def _field_matches(document: Mapping, field: str, condition: Any) -> bool:
    present = field in document
    value = document.get(field)
    if not isinstance(condition, Mapping) or not any(k.startswith("$") for k in condition):
        raise ValueError(f"only operator conditions are supported, not {condition!r}")
    for operator, operand in condition.items():
        if operator == "$not":
            if _field_matches(document, field, operand):
                return False
        elif operator == "$type":
            if not (present and _has_type(value, operand)):
                return False
        elif operator in _RANGE:
            if not (present and _in_range(value, operator, operand)):
                return False
        else:
            raise ValueError(f"unsupported query operator {operator}")
    return True


def _has_type(value: Any, alias: str) -> bool:
    code = _TYPE_CODES[alias]
    if isinstance(value, list) and code != ARRAY:
        return any(_has_type(item, alias) for item in value)
    return _type_code(value) == code


_TYPE_OF = {type(None): 0x0A, bool: 0x08, Int64: INT64, float: DOUBLE, Decimal128: DECIMAL128}
_TYPE_OF |= {str: 0x02, ObjectId: OBJECT_ID, list: ARRAY, dict: 0x03}


def _type_code(value: Any) -> int | None:
    """The BSON type byte pymongo would write for a decoded value."""
    if type(value) is int:
        return INT32 if -(2**31) <= value < 2**31 else INT64
    if type(value) in _TYPE_OF:
        return _TYPE_OF[type(value)]
    return getattr(value, "_type_marker", None) or (0x09 if hasattr(value, "tzinfo") else None)


def _number(value: Any) -> Decimal | None:
    """A BSON number as an exact Decimal (None: not a number, or NaN)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return None if math.isnan(value) else Decimal(value) if math.isfinite(value) else Decimal(str(value))
    if isinstance(value, Decimal128):
        number = value.to_decimal()
        return None if number.is_nan() else number
    return None


def _in_range(value: Any, operator: str, bound: Any) -> bool:
    if isinstance(value, list):
        return any(_in_range(item, operator, bound) for item in value)
    if isinstance(bound, ObjectId):
        if not isinstance(value, ObjectId):
            return False
        left, right = value.binary, bound.binary
    else:
        left, right = _number(value), _number(bound)
        if left is None or right is None:
            return False
    return {
        "$gt": left > right,
        "$gte": left >= right,
        "$lt": left < right,
        "$lte": left <= right,
    }[operator]


def decode(raw: bytes) -> Mapping | None:
    """A document as pymongo reads it (text that is not UTF-8 replaced), None when its
    bytes are not a document at all."""
    try:
        return bson.decode(raw, codec_options=_LENIENT)
    except (InvalidBSON, TypeError, ValueError, IndexError):
        return None


# -- many documents at once ---------------------------------------------------------------


def matching(buffer: Buffer, starts: np.ndarray, sizes: np.ndarray, query: Mapping) -> np.ndarray:
    """Which of the documents at `starts` (with `sizes`) match `query`, as booleans."""
    n = len(starts)
    names = tuple(fields_of(query))
    elements = scan(buffer, starts, Keys(names), sizes, wanted_only=True)
    by_key = elements.by_key()
    none = np.zeros(0, dtype=np.int64)
    slow = elements.bad.copy()
    columns = {}
    for index, name in enumerate(names):
        chosen = by_key.get(index, none)
        column = _Column.of(buffer, n, elements, chosen)
        slow[repeated(elements.doc[chosen], n)] = True
        slow |= column.needs_decoding
        columns[name] = column
    result = _evaluate(query, columns, n)
    for row in np.flatnonzero(slow).tolist():
        document = decode(buffer.data[starts[row] : starts[row] + sizes[row]])
        result[row] = True if document is None else matches_document(document, query)
    return result


class _Column:
    """One queried field across the documents: its BSON type (0 where absent) and its
    value as a number (float64) or as an ObjectId (two big-endian words)."""

    def __init__(self, kind, number, oid_high, oid_low, needs_decoding):
        self.kind, self.number, self.oid_high, self.oid_low = kind, number, oid_high, oid_low
        self.needs_decoding = needs_decoding

    @classmethod
    def of(cls, buffer: Buffer, n: int, elements, chosen: np.ndarray) -> _Column:
        rows, kind, value = elements.doc[chosen], elements.type[chosen], elements.value[chosen]
        column_kind = np.zeros(n, dtype=np.uint8)
        column_kind[rows] = kind
        number = np.full(n, np.nan)
        for code, read in (
            (INT32, lambda at: buffer.i32(at).astype(np.float64)),
            (INT64, lambda at: buffer.i64(at).astype(np.float64)),
            (DOUBLE, lambda at: buffer.u64(at).view(np.float64)),
        ):
            picked = kind == code
            number[rows[picked]] = read(value[picked])
        oid_high = np.zeros(n, dtype=np.uint64)
        oid_low = np.zeros(n, dtype=np.uint64)
        oids = kind == OBJECT_ID
        if oids.any():
            raw = buffer.u8[value[oids][:, None] + np.arange(12)].astype(np.uint64)
            weights = np.uint64(1) << (np.arange(7, -1, -1, dtype=np.uint64) * np.uint64(8))
            oid_high[rows[oids]] = (raw[:, :4] * weights[4:]).sum(axis=1, dtype=np.uint64)
            oid_low[rows[oids]] = (raw[:, 4:] * weights).sum(axis=1, dtype=np.uint64)
        # an int64 beyond 2**53 would compare inexactly as a float; arrays and decimals
        # need MongoDB's rules in full: those documents are decoded
        big = (kind == INT64) & (np.abs(number[rows]) >= 2.0**53)
        needs = np.zeros(n, dtype=bool)
        needs[rows[(kind == ARRAY) | (kind == DECIMAL128) | big]] = True
        return cls(column_kind, number, oid_high, oid_low, needs)

    def in_range(self, operator: str, bound: Any) -> np.ndarray:
        if isinstance(bound, ObjectId):
            high = np.uint64(int.from_bytes(bound.binary[:4], "big"))
            low = np.uint64(int.from_bytes(bound.binary[4:], "big"))
            is_oid = self.kind == OBJECT_ID
            greater = (self.oid_high > high) | ((self.oid_high == high) & (self.oid_low > low))
            equal = (self.oid_high == high) & (self.oid_low == low)
            compared = {
                "$gt": greater,
                "$gte": greater | equal,
                "$lt": ~(greater | equal),
                "$lte": ~greater,
            }[operator]
            return is_oid & compared
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise ValueError(f"range bounds must be numbers or ObjectIds, not {bound!r}")
        with np.errstate(invalid="ignore"):  # NaN compares false, as in MongoDB
            return {
                "$gt": self.number > bound,
                "$gte": self.number >= bound,
                "$lt": self.number < bound,
                "$lte": self.number <= bound,
            }[operator]

    def has_type(self, alias: str) -> np.ndarray:
        return self.kind == _TYPE_CODES[alias]


def _evaluate(query: Mapping, columns: dict[str, _Column], n: int) -> np.ndarray:
    result = np.ones(n, dtype=bool)
    for key, condition in query.items():
        if key == "$or":
            either = np.zeros(n, dtype=bool)
            for part in condition:
                either |= _evaluate(part, columns, n)
            result &= either
        elif key == "$and":
            for part in condition:
                result &= _evaluate(part, columns, n)
        else:
            result &= _condition(columns[key], condition, n)
    return result


def _condition(column: _Column, condition: Mapping, n: int) -> np.ndarray:
    result = np.ones(n, dtype=bool)
    for operator, operand in condition.items():
        if operator == "$not":
            result &= ~_condition(column, operand, n)
        elif operator == "$type":
            result &= column.has_type(operand)
        elif operator in _RANGE:
            result &= column.in_range(operator, operand)
        else:
            raise ValueError(f"unsupported query operator {operator}")
    return result
