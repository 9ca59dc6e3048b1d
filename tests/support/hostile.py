"""A hostile-input corpus: documents of every awkward kind the world's MongoDB holds.

Glamira's events are written by website visitors and Bahela's sessions by tablets in
cafes, so any of these can arrive on an ordinary day. Each `Hostile` is one document with
a label saying what is wrong with it; `raw` is its BSON bytes, hand-built where the
fault is below what `bson.encode` can write (bad UTF-8, a key given twice, a document cut
short). Tests feed the corpus, mixed with good documents, to the readers, the
normalisers and the flows, and check that every document is accounted for and no
single one fails a day.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import bson
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.codec_options import CodecOptions

from demo import glamira
from pipelines.settings import JAKARTA
from tests.unit.bahela_factories import MISSING, iso_ms, session_doc, set_path


@dataclass(frozen=True)
class Hostile:
    label: str  # what is wrong, e.g. "time_stamp: milliseconds"
    raw: bytes  # the document's BSON bytes (maybe not a valid document at all)
    id: object = None  # its `_id` as inserted (None: it has none)
    wire: bool = True  # can a MongoDB server hold it (False: only a dump can)

    @property
    def document(self) -> dict | None:
        """As the pipeline reads it: text that is not UTF-8 repaired, None if not a document."""
        try:
            return bson.decode(self.raw, codec_options=CodecOptions(unicode_decode_error_handler="replace"))
        except Exception:  # not a document: the point of half of this corpus
            return None


def _oid(moment: datetime, n: int) -> ObjectId:
    return ObjectId(int(moment.timestamp()).to_bytes(4, "big") + n.to_bytes(8, "big"))


def _encode(document: dict) -> bytes:
    return bson.encode(document)


def _element(kind: int, key: str, value: bytes) -> bytes:
    return bytes([kind]) + key.encode() + b"\0" + value


def _string(text: bytes) -> bytes:
    return struct.pack("<i", len(text) + 1) + text + b"\0"


def _document(*elements: bytes) -> bytes:
    body = b"".join(elements) + b"\0"
    return struct.pack("<i", len(body) + 4) + body


# -- Glamira events -----------------------------------------------------------------------


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def good_events(day: date, count: int = 40, seed: int = 3) -> list[dict]:
    """Ordinary events of `day` from the demo's generator."""
    return list(glamira.iter_events(day, count, seed=seed))


def glamira_corpus(day: date) -> list[Hostile]:
    """Events whose `_id` says they were stored on `day` (noon UTC), each with one fault."""
    base = good_events(day, 1)[0]
    base.pop("_id", None)
    at = noon(day)
    start = int(datetime.combine(day, time.min, tzinfo=UTC).timestamp())
    counter = iter(range(1, 10_000))
    out: list[Hostile] = []

    def add(label: str, wire: bool = True, _id=MISSING, **changes) -> None:
        document = {"_id": _oid(at, next(counter)) if _id is MISSING else _id, **base}
        if _id is None:
            document.pop("_id")
        for path, value in changes.items():
            set_path(document, path.replace("__", "."), value)
        out.append(Hostile(label, _encode(document), document.get("_id"), wire))

    # where the day is: every type and unit a time stamp has been seen in
    second = start + 3_600
    for label, value in {
        "int": second,
        "Int64": Int64(second),
        "whole double": float(second),
        "fractional double": second + 0.5,
        "Decimal128": Decimal128(str(second)),
        "fractional Decimal128": Decimal128(f"{second}.25"),
        "digits as text": str(second),
        "padded digits as text": f" {second} ",
        "words": "yesterday",
        "empty text": "",
        "milliseconds": second * 1000,
        "milliseconds as text": str(second * 1000),
        "microseconds": Int64(second * 1_000_000),
        "negative": -second,
        "zero": 0,
        "one": 1,
        "2^62": Int64(2**62),
        "Int64 max": Int64(2**63 - 1),
        "date": at,
        "epoch date": datetime(1970, 1, 1, tzinfo=UTC),
        "true": True,
        "false": False,
        "null": None,
        "in an array": [second],
        "empty array": [],
        "an object": {"$date": second},
        "NaN": math.nan,
        "infinity": math.inf,
        "minus infinity": -math.inf,
        "year 2099": 4_102_400_000,
        "the day before": second - 86_400,
        "three days later": second + 3 * 86_400,
        "ObjectId": ObjectId(),
        "Decimal128 NaN": Decimal128("NaN"),
        "Decimal128 infinity": Decimal128("Infinity"),
        "binary": Binary(b"\x01\x02"),
    }.items():
        add(f"time_stamp: {label}", time_stamp=value)
    add("time_stamp: missing", time_stamp=MISSING)

    # who the event is
    add("_id: text", _id="event-0001")
    add("_id: int", _id=42)
    add("_id: Int64", _id=Int64(2**40))
    add("_id: object", _id={"a": 1})
    add("_id: ObjectId of another day", _id=_oid(at - timedelta(days=5), next(counter)))
    add("_id: text, time_stamp text", _id="event-0002", time_stamp=str(second))
    add("_id: text, time_stamp missing", _id="event-0003", time_stamp=MISSING)
    add("_id: int, time_stamp a date", _id=43, time_stamp=at)
    add("_id: missing", wire=False, _id=None)
    add("_id: missing, time_stamp missing", wire=False, _id=None, time_stamp=MISSING)

    # what it is
    for label, value in {
        "missing": MISSING,
        "null": None,
        "empty": "",
        "a number": 5,
        "a list": ["view_product_detail"],
        "an object": {"name": "checkout_success"},
        "a megabyte": "x" * 1_000_000,
    }.items():
        add(f"collection: {label}", collection=value)

    # prices
    for label, value in {
        "400 digits": "9" * 400,
        "1e400": "1e400",
        "inf": "inf",
        "NaN": "NaN",
        "-0": "-0",
        "thirty nines": "9" * 30,
        "many groups": "1,000,000,000,000,000,000.00",
        "a number": 1725,
        "a double": 1725.5,
        "Decimal128": Decimal128("1725.00"),
        "true": True,
        "a list": ["1,725.00"],
        "an object": {"amount": 1725},
        "empty": "",
        "blank": "   ",
        "a range": "99 - 149",
        "negative": "-1,725.00",
    }.items():
        add(f"price: {label}", price=value)

    # carts
    line = {"product_id": "110474", "price": "1,725.00", "currency": "USD", "amount": 1, "option": []}
    for label, amount in {
        "2^31": 2**31,
        "2^40": Int64(2**40),
        "-1": -1,
        "1.5": 1.5,
        "text": "abc",
        "digits": "3",
        "null": None,
        "NaN": math.nan,
        "1e300": 1e300,
        "Decimal128": Decimal128("2"),
    }.items():
        add(
            f"cart amount: {label}", collection="checkout_success", cart_products=[{**line, "amount": amount}]
        )
    for label, price in {"400 digits": "9" * 400, "inf": "inf", "a number": 99, "null": None}.items():
        add(f"cart price: {label}", collection="checkout_success", cart_products=[{**line, "price": price}])
    for label, cart in {
        "text": "[]",
        "an object": line,
        "a number": 7,
        "a list of text": ["110474"],
        "nested lists": [[line]],
        "a line of nulls": [{k: None for k in line}],
        "ten thousand lines": [line] * 10_000,
    }.items():
        add(f"cart_products: {label}", collection="checkout_success", cart_products=cart)

    # options
    deep: object = []
    for _ in range(60):
        deep = [deep]
    for label, option in {
        "deep lists": deep,
        "deep JSON text": "[" * 100_000 + "]" * 100_000,
        "JSON text cut short": '[{"option_label": "alloy"',
        "a list of numbers": [1, 2, 3],
        "odd types inside": [{"option_id": ObjectId(), "value_id": at, "price": Binary(b"x")}],
        "a number": 12,
    }.items():
        add(f"option: {label}", option=option)

    # scalars of odd BSON types
    for label, value in {
        "ObjectId": ObjectId(),
        "binary": Binary(b"\xff\xfe"),
        "regex": Regex("^a.*"),
        "code": Code("function() {}"),
        "MinKey": MinKey(),
        "MaxKey": MaxKey(),
        "Timestamp": Timestamp(1, 1),
        "date": at,
        "Decimal128": Decimal128("1.5"),
        "2^63 - 1": Int64(2**63 - 1),
        "NaN": math.nan,
        "a list": ["a", 1],
        "an object": {"family": "Chrome"},
        "a megabyte": "Mozilla/5.0 " * 90_000,
    }.items():
        add(f"user_agent: {label}", user_agent=value)
    add("ip: a list", ip=["1.2.3.4"])
    add("store_id: an object", store_id={"id": 6})
    add("recommendation position: 2^40", recommendation_product_position=Int64(2**40))
    add("recommendation position: text", recommendation_clicked_position="first")

    out += _broken_glamira(at, second, counter)
    return out


def _broken_glamira(at: datetime, second: int, counter) -> list[Hostile]:
    """Faults below `bson.encode`: only a dump (or a careless writer) holds these."""
    stamp = _element(0x10, "time_stamp", struct.pack("<i", second))
    collection = _element(0x02, "collection", _string(b"view_product_detail"))
    faults = {
        "user_agent: not UTF-8": [
            stamp,
            collection,
            _element(0x02, "user_agent", _string(b"Mozilla \xff\xfe\xc3(")),
        ],
        "a key that is not UTF-8": [stamp, collection, b"\x02k\xff\x00" + _string(b"x")],
        "time_stamp: given twice, the last of another day": [
            stamp,
            collection,
            _element(0x10, "time_stamp", struct.pack("<i", second + 5 * 86_400)),
        ],
        "a boolean byte of 2": [stamp, collection, _element(0x08, "is_paypal", b"\x02")],
        "a string whose length runs past the document": [
            stamp,
            _element(0x02, "collection", struct.pack("<i", 9999) + b"view\0"),
        ],
        "an unknown type byte": [stamp, collection, _element(0x42, "mystery", b"\x00\x00")],
        "a NUL inside a string": [stamp, _element(0x02, "collection", _string(b"view_prod\0uct"))],
    }
    out = []
    for label, elements in faults.items():
        identity = _oid(at, next(counter))
        raw = _document(_element(0x07, "_id", identity.binary), *elements)
        out.append(Hostile(label, raw, identity, wire=False))
    return out


def torn(document: bytes, keep: int) -> Hostile:
    """A document cut short after `keep` bytes: the last one of a dump that was copied
    while being written."""
    return Hostile(f"a document cut short after {keep} bytes", document[:keep], None, wire=False)


# -- Bahela sessions ---------------------------------------------------------------------


def bahela_corpus(day: date) -> list[Hostile]:
    """Sessions whose `_id` says they were stored at 14:00 in Jakarta on `day`."""
    stored = datetime.combine(day, time(14), tzinfo=JAKARTA).astimezone(UTC)
    counter = iter(range(1, 10_000))
    codes = (f"h{n:05d}" for n in range(1, 100_000))
    out: list[Hostile] = []

    def add(label: str, wire: bool = True, _id=MISSING, **changes) -> None:
        document = session_doc(next(codes), opened=stored)
        document["_id"] = _oid(stored, 10_000 + next(counter)) if _id is MISSING else _id
        if _id is None:
            document.pop("_id")
        for path, value in changes.items():
            set_path(document, path.replace("__", "."), value)
        out.append(Hostile(label, _encode(document), document.get("_id"), wire))

    def clock(label: str, start) -> None:
        add(f"clock: {label}", progress__startTime=start, progress__appStartTime=start)

    clock("reset to 1970", "1970-01-01T00:00:03.000Z")
    clock("year 2099", "2099-12-31T23:59:59.000Z")
    clock("a week ahead", iso_ms(stored + timedelta(days=7)))
    clock("a week behind", iso_ms(stored - timedelta(days=7)))
    clock("epoch ms of another day", str(int((stored - timedelta(days=3)).timestamp() * 1000)))
    clock("epoch ms as a number", Int64(int(stored.timestamp() * 1000)))
    clock("a BSON date", stored)
    clock("a BSON date of 1970", datetime(1970, 1, 1, tzinfo=UTC))
    clock("Invalid Date", "Invalid Date")
    clock("empty", "")
    clock("true", True)
    clock("a naive time", "2026-11-21T14:00:00")
    add("clock: start missing, app start fine", progress__startTime=MISSING)
    add("clock: end before start", progress__endTime=iso_ms(stored - timedelta(hours=1)))
    add("clock: end in 2099", progress__endTime="2099-01-01T00:00:00.000Z")
    add("clock: end missing", progress__endTime=MISSING)

    for label, amount in {
        "'35.000'": "35.000",
        "'35,000'": "35,000",
        "'Rp 35.000'": "Rp 35.000",
        "'35000.00'": "35000.00",
        "Int64 max": Int64(2**63 - 1),
        "1e20": 1e20,
        "inf": math.inf,
        "NaN": math.nan,
        "-1": -1,
        "a fraction": Decimal128(Decimal("35000.5")),
        "words": "tiga puluh lima ribu",
        "true": True,
        "a list": [35_000],
        "an object": {"value": 35_000},
        "null": None,
        "eleven digits": 10_000_000_001,
    }.items():
        add(f"amount: {label}", payment__amount=amount)
    for label, discount in {"'5.000'": "5.000", "-5000": -5_000, "2^63": "9223372036854775808"}.items():
        add(f"discount: {label}", payment__discount=discount)

    add("copies: 2^40", options__copies=Int64(2**40))
    add("copies: text", options__copies="two")
    add("retryCount: -2^33", options__retryCount=Int64(-(2**33)))
    add("__v: 1e300", __v=1e300)
    add("paid: 'yes'", payment__paid="yes")
    add("paid: 2", payment__paid=2)
    add("page: a number", page=5)
    add("id: a number", id=123456)
    add("id: a list", id=["abc123"])
    add("id: missing", id=MISSING)
    add("capturedImageUrls: an object", result__capturedImageUrls={"a": 1})
    add("options: a string", options="none")
    add("progress: a list", progress=[1, 2])

    add("_id: text", _id="session-0001")
    add("_id: int", _id=7)
    add(
        "_id: text, no readable time", _id="session-0002", progress__startTime="x", progress__appStartTime="y"
    )
    add("_id: ObjectId of 1970", _id=ObjectId(b"\x00\x00\x00\x01" + b"\x00" * 8))
    add("_id: missing", wire=False, _id=None)

    repaired = _oid(stored, 99_001)
    out.append(
        Hostile(
            "filterFn: not UTF-8",
            _replace_string(session_doc("hbad01", opened=stored) | {"_id": repaired}, b"none", b"n\xffne"),
            repaired,
            wire=False,
        )
    )
    broken = _oid(stored, 99_002)
    out.append(
        Hostile(
            "bytes that are not a document",
            _document(_element(0x07, "_id", broken.binary), b"\x42junk\x00\x01"),
            broken,
            wire=False,
        )
    )
    return out


def _replace_string(document: dict, old: bytes, new: bytes) -> bytes:
    """The document's bytes with one string value's bytes swapped (same length)."""
    assert len(old) == len(new)
    raw = bson.encode(document)
    at = raw.index(_string(old))
    return raw[:at] + _string(new) + raw[at + len(_string(old)) :]


def every(corpus: list[Hostile], wire_only: bool = False) -> Iterator[Hostile]:
    return (h for h in corpus if h.wire or not wire_only)
