"""Small, explicit Bahela records for unit tests.

`session_doc()` is one valid, completed session of `DAY` (Asia/Jakarta) as the booth app
stores it in MongoDB; `image_resource()` one of its photos as Cloudinary's Search API
returns it. A test changes only what it is about, with dotted paths:
`session_doc(**{"payment.amount": "35.000,-"})`, and `MISSING` removes a field.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
from bson import ObjectId, json_util

from pipelines.settings import JAKARTA
from tasks.bahela.sessions import sessions_frame

DAY = date(2026, 11, 21)  # a Saturday
SITE = "senopati"
MISSING = object()

_oid_counter = itertools.count(1)


def jakarta(hour: int, minute: int = 0, second: int = 0, day: date = DAY) -> datetime:
    """A Jakarta wall-clock time as an aware UTC datetime."""
    return datetime.combine(day, time(hour, minute, second), tzinfo=JAKARTA).astimezone(UTC)


def iso_ms(moment: datetime) -> str:
    """What JavaScript's `Date.prototype.toISOString` writes (the booth app's format)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def object_id(created: datetime) -> ObjectId:
    """A unique ObjectId whose timestamp is `created`."""
    return ObjectId(int(created.timestamp()).to_bytes(4, "big") + next(_oid_counter).to_bytes(8, "big"))


def set_path(doc: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    target = doc
    for key in parents:
        target = target.setdefault(key, {})
    if value is MISSING:
        target.pop(leaf, None)
    else:
        target[leaf] = value


def session_doc(
    code: str = "abc123",
    /,
    *,
    opened: datetime | None = None,
    started: datetime | None = None,
    seconds: float = 360.0,
    **fields: Any,
) -> dict:
    """A completed (paid, finished) basic session: 35,000 IDR, 2 copies, 4 photos.

    The guest opens the app at `opened` (default 14:00 Jakarta on DAY), the session
    starts at `started` (default two minutes later) and lasts `seconds`.
    """
    opened = opened or jakarta(14, 0)
    started = started or opened + timedelta(minutes=2)
    ended = started + timedelta(seconds=seconds)
    doc = {
        "_id": object_id(opened),
        "id": code,
        "page": "Result",
        "progress": {
            "appStartTime": iso_ms(opened),
            "startTime": iso_ms(started),
            "endTime": iso_ms(ended),
        },
        "options": {"lang": "id", "filterFn": "none", "copies": 2, "useRetryMode": False, "retryCount": 0},
        "payment": {
            "paid": True,
            "amount": 35_000,
            "discount": 0,
            "orderId": f"order-{code}-{int(opened.timestamp() * 1000)}",
            "expiryTime": iso_ms(opened + timedelta(minutes=15)),
        },
        "result": {
            "capturedImageUrls": [f"blob:https://app.bahela.id/{code}-{n}" for n in range(1, 5)],
            "uploadedImageUrls": [f"https://res.cloudinary.com/bahela/{code}-{n}.jpg" for n in range(1, 5)],
        },
        "__v": 0,
    }
    for path, value in fields.items():
        set_path(doc, path, value)
    return doc


def unpaid_doc(code: str = "unp001", **fields: Any) -> dict:
    """A guest who left on the payment page: never paid, never started."""
    changes = {
        "page": "Payment",
        "payment.paid": False,
        "progress.startTime": MISSING,
        "progress.endTime": MISSING,
        "result.capturedImageUrls": [],
        "result.uploadedImageUrls": [],
    }
    return session_doc(code, **{**changes, **fields})


def paid_unfinished_doc(code: str = "unf001", **fields: Any) -> dict:
    """Paid, started, then the app crashed or the guest walked away."""
    changes = {"page": "Capture", "progress.endTime": MISSING, "result.uploadedImageUrls": []}
    return session_doc(code, **{**changes, **fields})


def relaxed_json(doc: dict) -> str:
    return json_util.dumps(doc, json_options=json_util.RELAXED_JSON_OPTIONS)


def raw_sessions_of(pairs: Iterable[tuple[str, dict]]) -> pl.DataFrame:
    """The extract's frame for `(site, document)` pairs."""
    return sessions_frame(pairs)


def raw_sessions(*docs: dict, site: str = SITE) -> pl.DataFrame:
    """The extract's frame: one row per document, all of one booth."""
    return raw_sessions_of((site, doc) for doc in docs)


def image_resource(
    public_id: str = "abc123-1",
    /,
    *,
    created: datetime | None = None,
    site: str = SITE,
    width: int = 1200,
    height: int = 1800,
    size: int = 1_000_000,
    **fields: Any,
) -> dict:
    """One Cloudinary resource; `asset_id` is derived from `public_id` unless given."""
    created = (created or jakarta(14, 5)).replace(microsecond=0)
    version = int(created.timestamp())
    path = f"v{version}/{public_id}.jpg"
    resource = {
        "asset_id": hashlib.md5(public_id.encode()).hexdigest(),
        "public_id": public_id,
        "asset_folder": f"bahela/{site}",
        "filename": public_id,
        "format": "jpg",
        "version": version,
        "resource_type": "image",
        "type": "upload",
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bytes": size,
        "width": width,
        "height": height,
        "aspect_ratio": round(width / height, 5),
        "pixels": width * height,
        "url": f"http://res.cloudinary.com/bahela/image/upload/{path}",
        "secure_url": f"https://res.cloudinary.com/bahela/image/upload/{path}",
    }
    for key, value in fields.items():
        set_path(resource, key, value)
    return resource


def raw_images(*resources: dict) -> pl.DataFrame:
    return pl.DataFrame({"raw": [json.dumps(r) for r in resources]}, schema={"raw": pl.String})
