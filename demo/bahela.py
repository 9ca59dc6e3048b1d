"""Realistic, deterministic Bahela data: booth sessions as MongoDB documents and the
photos as Cloudinary resources, written the way the real systems hand them over
(a mongodump folder and Search API response pages).

Every (seed, booth, day) draws from its own random stream, so a day's data is the same
whichever range it is generated in: the demo, the tests and the benchmark share it.
"""

from __future__ import annotations

import json
import math
import random
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

import bson
from bson import ObjectId

from pipelines.calendar import days_between
from pipelines.settings import JAKARTA
from tasks.bahela.sessions import SITE_DATABASE_PREFIX

GENERATOR_VERSION = 3
CLOUD_NAME = "bahela"
SEARCH_PAGE_SIZE = 500

BASIC_PRICE = 35_000
PREMIUM_PRICE = 60_000

# Share of sessions per weekday, Monday first: cafes fill up from Friday evening.
WEEKDAY_FACTOR = (0.85, 0.8, 0.85, 0.95, 1.15, 1.45, 1.35)


@dataclass(frozen=True)
class Booth:
    site: str
    cafe: str
    paid_sessions_per_day: float
    opens: int  # hour, local time
    closes: int  # hour, local time; 24 = midnight

    @property
    def database(self) -> str:
        return f"{SITE_DATABASE_PREFIX}{self.site}"


BOOTHS = (
    Booth("senopati", "Kopi Senopati, Jakarta Selatan", 66, 10, 23),
    Booth("kemang", "Teras Kemang, Jakarta Selatan", 54, 10, 22),
    Booth("menteng", "Menteng Roastery, Jakarta Pusat", 41, 9, 21),
    Booth("blok-m", "Blok M Night Market, Jakarta Selatan", 48, 16, 24),
    Booth("braga", "Braga Corner, Bandung", 37, 10, 22),
)

FILTERS = ("none", "none", "bw", "vintage", "warm", "cool", "soft")
PAGES_BEFORE_PAYMENT = ("Home", "Frame", "Payment", "Payment", "Payment")


# -- labelled incidents ------------------------------------------------------------------
#
# Days where something went wrong at one booth, injected on request so detection can be
# scored against them. Without incidents a day's data is exactly what it always was: the
# incident is applied to the finished day with a random stream of its own.

OFFLINE = "offline"  # the booth's tablet lost its connection mid-day: no session after ~14:10
PAYMENTS = "payments"  # the payment provider failed: most sessions end unpaid
UPLOADS = "uploads"  # photo uploads broke mid-day: the sessions after it have no photos
CLOSED = "closed"  # not injected: the generator's own days where a booth had no session at all
INCIDENT_KINDS = (OFFLINE, PAYMENTS, UPLOADS)
# one scheduled incident per booth in about this many days: ~1.4 per booth per month
INCIDENT_EVERY_DAYS = 21


@dataclass(frozen=True)
class Incident:
    day: date
    site: str
    kind: str  # OFFLINE | PAYMENTS | UPLOADS | CLOSED


def incident_schedule(
    first_day: date,
    last_day: date,
    seed: int = 7,
    booths: tuple[Booth, ...] = BOOTHS,
    every_days: int = INCIDENT_EVERY_DAYS,
) -> list[Incident]:
    """Incidents to inject, deterministic from the seed, booth and day (so a day's draw
    does not depend on the range), never on a day the booth was closed anyway."""
    found = []
    for day in days_between(first_day, last_day):
        for booth in booths:
            rng = random.Random(f"{seed}:{booth.site}:{day.isoformat()}:incident")
            if rng.random() < 1 / every_days and not _closed(booth, day, seed):
                found.append(Incident(day, booth.site, rng.choice(INCIDENT_KINDS)))
    return found


def closed_days(
    first_day: date, last_day: date, seed: int = 7, booths: tuple[Booth, ...] = BOOTHS
) -> list[Incident]:
    """The generator's own days without any session at a booth, without generating them."""
    return [
        Incident(day, booth.site, CLOSED)
        for day in days_between(first_day, last_day)
        for booth in booths
        if _closed(booth, day, seed)
    ]


def demo_incidents(last_day: date, seed: int = 7) -> list[Incident]:
    """The demo's one incident: on the day it mails, so the mail shows a flagged day; at
    the busiest booth that was open that day."""
    booth = next(b for b in BOOTHS if not _closed(b, last_day, seed))
    return [Incident(last_day, booth.site, OFFLINE)]


@dataclass
class BahelaSample:
    """One generated range: session documents per booth database, and images, and the
    incidents injected into it (CLOSED days are listed by `closed_days`)."""

    first_day: date
    last_day: date
    seed: int
    sessions: dict[str, list[dict]] = field(default_factory=dict)
    images: list[dict] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)

    def documents(self) -> Iterable[tuple[str, dict]]:
        for database, docs in self.sessions.items():
            for doc in docs:
                yield database, doc


def generate(
    first_day: date,
    last_day: date,
    seed: int = 7,
    booths: tuple[Booth, ...] = BOOTHS,
    incidents: Sequence[Incident] = (),
) -> BahelaSample:
    """The range's data; `incidents` (e.g. `incident_schedule(...)`) are injected on their
    days, those outside the range or of unknown booths are ignored."""
    sample = BahelaSample(first_day, last_day, seed, {b.database: [] for b in booths})
    injected = {(i.day, i.site): i for i in incidents if first_day <= i.day <= last_day}
    for day in days_between(first_day, last_day):
        for booth in booths:
            docs, images = _booth_day(booth, day, seed)
            incident = injected.get((day, booth.site))
            if incident is not None and docs:
                docs, images = _inject_incident(incident, booth, docs, images, seed)
                sample.incidents.append(incident)
            sample.sessions[booth.database].extend(docs)
            sample.images.extend(images)
    for docs in sample.sessions.values():
        docs.sort(key=lambda d: d["_id"])
    sample.images.sort(key=lambda r: (r["created_at"], r["public_id"]))
    return sample


def _closed(booth: Booth, day: date, seed: int) -> bool:
    """The first draw of the booth's day: closed or offline all day (2% of days)."""
    return random.Random(f"{seed}:{booth.site}:{day.isoformat()}").random() < 0.02


def _booth_day(booth: Booth, day: date, seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(f"{seed}:{booth.site}:{day.isoformat()}")
    if rng.random() < 0.02:  # the booth was closed or offline all day (see `_closed`)
        return [], []
    expected = booth.paid_sessions_per_day * WEEKDAY_FACTOR[day.weekday()]
    if _is_public_holiday(day):  # a day off fills the cafes like a Saturday
        expected = booth.paid_sessions_per_day * max(WEEKDAY_FACTOR[day.weekday()], 1.4)
    if day.day >= 25 or day.day <= 2:  # payday weekend spending
        expected *= 1.1
    n_paid = _poisson(rng, expected)
    n_unpaid = _poisson(rng, expected * 0.28)
    n_paid_unfinished = _poisson(rng, expected * 0.015)
    codes = _unique_codes(rng, n_paid + n_unpaid + n_paid_unfinished)

    docs: list[dict] = []
    images: list[dict] = []
    for i, code in enumerate(codes):
        kind = "paid" if i < n_paid else "unpaid" if i < n_paid + n_unpaid else "unfinished"
        app_start = _arrival(rng, booth, day)
        doc, session_images = _session(rng, booth, code, app_start, kind)
        docs.append(doc)
        images.extend(session_images)

    _inject_source_faults(rng, docs)
    if rng.random() < 0.35:  # staff test shots and uploads from sessions the app lost
        images.extend(_orphan_images(rng, booth, day))
    return docs, images


def _inject_incident(
    incident: Incident, booth: Booth, docs: list[dict], images: list[dict], seed: int
) -> tuple[list[dict], list[dict]]:
    """The finished day as the incident would have left it."""
    rng = random.Random(f"{seed}:{booth.site}:{incident.day.isoformat()}:{incident.kind}")
    # mid-day: 14:10 for booths open from the morning, two hours after opening otherwise
    since = datetime.combine(incident.day, time(14, 10), tzinfo=JAKARTA)
    if booth.opens >= 13:
        since = datetime.combine(incident.day, time(booth.opens + 2, 10), tzinfo=JAKARTA)

    def started(doc: dict) -> datetime:
        return doc["_id"].generation_time

    def without_photos_of(lost: list[dict]) -> list[dict]:
        urls = {url for doc in lost for url in doc["result"]["uploadedImageUrls"]}
        for doc in lost:
            doc["result"]["uploadedImageUrls"] = []
        return [image for image in images if image["secure_url"] not in urls]

    if incident.kind == OFFLINE:
        kept = [doc for doc in docs if started(doc) < since]
        lost = [doc for doc in docs if started(doc) >= since]
        return kept, without_photos_of(lost)
    if incident.kind == PAYMENTS:
        failed = [doc for doc in docs if doc["page"] == "Result" and rng.random() < 0.85]
        images = without_photos_of(failed)
        for doc in failed:
            payment = doc["payment"]
            doc["page"] = rng.choice(PAGES_BEFORE_PAYMENT)
            doc["payment"] = {
                "paid": False,
                "amount": _rupiah_value(payment["amount"]) + _rupiah_value(payment["discount"]),
                "discount": 0,
                "orderId": payment["orderId"],
                "expiryTime": payment["expiryTime"],
            }
            doc["result"] = {"capturedImageUrls": [], "uploadedImageUrls": []}
            for moment in ("startTime", "endTime"):
                doc["progress"].pop(moment, None)
        return docs, images
    if incident.kind == UPLOADS:
        return docs, without_photos_of([doc for doc in docs if started(doc) >= since])
    raise ValueError(f"unknown incident kind {incident.kind!r}")


def _rupiah_value(value) -> int:
    """An amount as the fault injection may have left it: 35000, "35000" or "35.000,-"."""
    if isinstance(value, int):
        return value
    return int(str(value).removesuffix(",-").replace(".", ""))


def _session(
    rng: random.Random, booth: Booth, code: str, app_start: datetime, kind: str
) -> tuple[dict, list[dict]]:
    premium = rng.random() < 0.3
    price = PREMIUM_PRICE if premium else BASIC_PRICE
    discount = rng.choice((5_000, 10_000)) if rng.random() < 0.12 else 0
    paid_at = app_start + timedelta(seconds=rng.uniform(40, 240))
    start = paid_at + timedelta(seconds=rng.uniform(8, 60))
    retry_mode = rng.random() < 0.25
    retries = rng.randint(1, 3) if retry_mode else 0
    minutes = rng.lognormvariate(math.log(5.5), 0.3) + retries * rng.uniform(0.8, 1.6)
    end = start + timedelta(minutes=minutes)
    n_images = rng.choices((3, 4, 5, 6, 7, 8), weights=(1, 3, 3, 3, 2, 2) if premium else (2, 4, 3, 2, 1, 1))[
        0
    ]
    order_ms = int(paid_at.timestamp() * 1000)

    doc = {
        "_id": _object_id(rng, app_start),
        "id": code,
        "page": "Result",
        "progress": {
            "appStartTime": _iso_ms(app_start),
            "startTime": _iso_ms(start),
            "endTime": _iso_ms(end),
        },
        "options": {
            "lang": "id" if rng.random() < 0.75 else "en",
            "filterFn": rng.choice(FILTERS),
            "copies": 4 if premium else 2,
            "useRetryMode": retry_mode,
            "retryCount": retries,
        },
        "payment": {
            "paid": True,
            "amount": price - discount,
            "discount": discount,
            "orderId": f"order-{code}-{order_ms}",
            "expiryTime": _iso_ms(app_start + timedelta(minutes=15)),
        },
        "result": {"capturedImageUrls": [], "uploadedImageUrls": []},
        "__v": 0,
    }
    images: list[dict] = []
    if kind == "unpaid":
        doc["page"] = rng.choice(PAGES_BEFORE_PAYMENT)
        doc["payment"] = {
            "paid": False,
            "amount": price,
            "discount": 0,
            "orderId": f"order-{code}-{order_ms}",
            "expiryTime": _iso_ms(app_start + timedelta(minutes=15)),
        }
        del doc["progress"]["startTime"], doc["progress"]["endTime"]
        return doc, images
    if kind == "unfinished":  # paid, then the app crashed or the guest walked away
        doc["page"] = "Capture"
        del doc["progress"]["endTime"]
        return doc, images

    uploaded_without_images = rng.random() < 0.02  # uploads failed: no images in Cloudinary
    shot_times = sorted(start + (end - start) * rng.uniform(0.15, 1.0) for _ in range(n_images))
    for n, shot in enumerate(shot_times, start=1):
        captured = f"blob:https://app.bahela.id/{_hex(rng, 8)}-{_hex(rng, 4)}"
        doc["result"]["capturedImageUrls"].append(captured)
        if uploaded_without_images:
            continue
        resource = _image(rng, booth, f"{code}-{n}", shot + timedelta(seconds=rng.uniform(2, 25)))
        doc["result"]["uploadedImageUrls"].append(resource["secure_url"])
        images.append(resource)
    doc["__v"] = rng.choice((0, 0, 0, 1, 2))
    return doc, images


def _image(rng: random.Random, booth: Booth, public_id: str, created: datetime) -> dict:
    width, height = rng.choices(((1200, 1800), (600, 1800), (1800, 1200)), weights=(7, 2, 1))[0]
    pixels = width * height
    created = created.replace(microsecond=0)
    version = int(created.timestamp())
    path = f"v{version}/{public_id}.jpg"
    return {
        "asset_id": _hex(rng, 32),
        "public_id": public_id,
        "asset_folder": f"bahela/{booth.site}",
        "filename": public_id,
        "format": "jpg",
        "version": version,
        "resource_type": "image",
        "type": "upload",
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bytes": int(pixels * max(0.18, rng.gauss(0.52, 0.09))),
        "width": width,
        "height": height,
        "aspect_ratio": round(width / height, 5),
        "pixels": pixels,
        "url": f"http://res.cloudinary.com/{CLOUD_NAME}/image/upload/{path}",
        "secure_url": f"https://res.cloudinary.com/{CLOUD_NAME}/image/upload/{path}",
    }


def _orphan_images(rng: random.Random, booth: Booth, day: date) -> list[dict]:
    noon = datetime.combine(day, time(11), tzinfo=JAKARTA).astimezone(UTC)
    lost_code = "".join(rng.choices(string.ascii_lowercase + string.digits, k=6))
    return [
        _image(rng, booth, f"{lost_code}-{n}", noon + timedelta(minutes=rng.uniform(0, 480)))
        for n in range(1, rng.randint(1, 4))
    ]


def _inject_source_faults(rng: random.Random, docs: list[dict]) -> None:
    """The faults the real app's documents show, about one document in seventy."""
    paid = [d for d in docs if d["page"] == "Result"]
    for doc in list(paid):
        roll = rng.random()
        if roll < 0.004:
            del doc["id"]
        elif roll < 0.008:
            doc["payment"]["amount"] = f"{doc['payment']['amount']:,}".replace(",", ".") + ",-"
        elif roll < 0.016:
            doc["payment"]["amount"] = str(doc["payment"]["amount"])  # numeric, as a string
            doc["payment"]["paid"] = "true"
        elif roll < 0.019:  # the tablet's clock jumped back mid-session
            start = doc["progress"]["startTime"]
            doc["progress"]["startTime"], doc["progress"]["endTime"] = doc["progress"]["endTime"], start
        elif roll < 0.021:
            doc["progress"]["startTime"] = "Invalid Date"
        elif roll < 0.028:  # the app saved the same session twice
            twin = json.loads(json.dumps(doc, default=str))
            twin["_id"] = _object_id(rng, doc["_id"].generation_time + timedelta(seconds=2))
            twin["__v"] = doc["__v"] + 1
            docs.append(twin)


def _arrival(rng: random.Random, booth: Booth, day: date) -> datetime:
    weekend = day.weekday() >= 5
    hours = list(range(booth.opens, booth.closes))
    peak_a, peak_b = (14, 19) if weekend else (16, 20)
    weights = [
        0.4 + math.exp(-((h - peak_a) ** 2) / 6) + 1.2 * math.exp(-((h - peak_b) ** 2) / 4) for h in hours
    ]
    hour = rng.choices(hours, weights=weights)[0]
    local = datetime.combine(day, time(hour), tzinfo=JAKARTA) + timedelta(seconds=rng.uniform(0, 3599))
    return local.astimezone(UTC)


@lru_cache(maxsize=8)
def _holidays(year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.Indonesia(years=year))


def _is_public_holiday(day: date) -> bool:
    return day in _holidays(day.year)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    # normal approximation is fine at these means and keeps one draw per call
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def _unique_codes(rng: random.Random, n: int) -> list[str]:
    alphabet = string.ascii_lowercase + string.digits
    codes: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < n:
        code = "".join(rng.choices(alphabet, k=6))
        if code not in codes:
            codes.add(code)
            ordered.append(code)
    return ordered


def _object_id(rng: random.Random, created: datetime) -> ObjectId:
    seconds = int(created.timestamp()).to_bytes(4, "big")
    return ObjectId(seconds + rng.randbytes(8))


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choices("0123456789abcdef", k=n))


def _iso_ms(moment: datetime) -> str:
    """What JavaScript's `Date.prototype.toISOString` writes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- writing what the real systems would hand over -------------------------------------


@dataclass(frozen=True)
class SampleFolders:
    """Where a written sample lives: a mongodump folder and saved Search API pages."""

    root: Path

    @property
    def mongodump(self) -> Path:
        return self.root / "mongodump"

    @property
    def cloudinary(self) -> Path:
        return self.root / "cloudinary"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    def covers(self, first_day: date, last_day: date, seed: int, incidents: Sequence[Incident] = ()) -> bool:
        if not self.manifest.exists():
            return False
        meta = json.loads(self.manifest.read_text())
        return (
            meta.get("generator_version") == GENERATOR_VERSION
            and meta.get("seed") == seed
            and meta.get("incidents", []) == _incident_list(incidents)
            and date.fromisoformat(meta["first_day"]) <= first_day
            and date.fromisoformat(meta["last_day"]) >= last_day
        )


def write(sample: BahelaSample, folders: SampleFolders) -> SampleFolders:
    """Write `sample` as `mongodump/<database>/sessions.bson` and Search API pages."""
    for database, docs in sample.sessions.items():
        target = folders.mongodump / database
        target.mkdir(parents=True, exist_ok=True)
        with (target / "sessions.bson").open("wb") as out:
            for doc in docs:
                out.write(bson.encode(doc))
        (target / "sessions.metadata.json").write_text(
            json.dumps(
                {"indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}], "collectionName": "sessions"}
            )
        )
    pages = folders.cloudinary
    pages.mkdir(parents=True, exist_ok=True)
    for old in pages.glob("search-*.json"):
        old.unlink()
    for number, page in enumerate(search_pages(sample.images), start=1):
        (pages / f"search-{number:04d}.json").write_text(json.dumps(page, indent=1))
    folders.manifest.write_text(
        json.dumps(
            {
                "generator_version": GENERATOR_VERSION,
                "seed": sample.seed,
                "first_day": sample.first_day.isoformat(),
                "last_day": sample.last_day.isoformat(),
                "databases": sorted(sample.sessions),
                "sessions": sum(len(d) for d in sample.sessions.values()),
                "images": len(sample.images),
                "incidents": _incident_list(sample.incidents),
            },
            indent=2,
        )
    )
    return folders


def search_pages(resources: list[dict], page_size: int = SEARCH_PAGE_SIZE) -> list[dict]:
    """Resources as the Search API pages them: `resources`, `total_count`, `next_cursor`."""
    chunks = [resources[i : i + page_size] for i in range(0, len(resources), page_size)] or [[]]
    pages = []
    for n, chunk in enumerate(chunks):
        page = {"total_count": len(resources), "time": 42, "resources": chunk}
        if n + 1 < len(chunks):
            page["next_cursor"] = f"cursor-{n + 1:04d}-{len(resources):x}"
        pages.append(page)
    return pages


def _incident_list(incidents: Sequence[Incident]) -> list[dict]:
    return [
        {"day": i.day.isoformat(), "site": i.site, "kind": i.kind}
        for i in sorted(incidents, key=lambda i: (i.day, i.site))
    ]


def ensure(
    folders: SampleFolders,
    first_day: date,
    last_day: date,
    seed: int = 7,
    incidents: Sequence[Incident] = (),
) -> bool:
    """Generate and write the sample unless `folders` already holds the range with the
    same incidents. True if written."""
    if folders.covers(first_day, last_day, seed, incidents):
        return False
    write(generate(first_day, last_day, seed, incidents=incidents), folders)
    return True
