"""Which objects are the lake's own: the buckets and folders the function serves, and the
exact layout of an object name inside them.

Pure and dependency-free, so it reads on its own and the tests check it without a server.
The function is deployed alone (this folder is its whole source), so it cannot import the
project's list of datasets: LAKE_DATASETS is a copy, and
tests/unit/test_gcs_function_layout.py fails when it differs from what the project's
flows write.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

# source -> the datasets its flows land; rejects partitions as `_rejects/<dataset>`
LAKE_DATASETS: dict[str, frozenset[str]] = {
    "bahela": frozenset(
        {
            "sessions",
            "images",
            "daily_summary",
            "forecasts",
            "anomalies",
            "_rejects/sessions",
            "_rejects/images",
        }
    ),
    "glamira": frozenset({"events", "locations", "products", "user_agents", "anomalies", "_rejects/events"}),
}
# files a partition holds beside its parts and manifest (a CSV copy of the products)
EXTRA_FILES: dict[tuple[str, str], frozenset[str]] = {("glamira", "products"): frozenset({"products.csv"})}
MANIFEST = "_manifest.json"
# both businesses' data start long after this: an earlier day is a typo or a forgery
FIRST_DAY = date(2000, 1, 1)

_KEY = re.compile(
    r"(?P<source>[^/]+)/(?P<rejects>_rejects/)?(?P<dataset>[^/]+)/dt=(?P<day>[^/]*)/(?P<file>[^/]+)"
)
# `part-<token>-NNNN.parquet` (a write's own token) and the older `part-NNNN.parquet`
_PART = re.compile(r"part-(?:[a-z0-9]{1,32}-)?[0-9]{4}\.parquet")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # not \d: it also matches other scripts' digits
# GCS bucket names: lowercase letters, digits, `-`, `_` and `.` (3-63 characters, 222 with dots)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")


@dataclass(frozen=True)
class Lake:
    """A lake the function serves: a bucket and the folder inside it ("" or `a/b/`)."""

    bucket: str
    folder: str = ""

    def describe(self) -> str:
        return f"gs://{self.bucket}/{self.folder}"


@dataclass(frozen=True)
class LakeObject:
    source: str
    dataset: str  # `<dataset>` or `_rejects/<dataset>`
    day: date
    file: str


class OutsideLake(Exception):
    """An object the function does not forward. `reason` is a fixed text, safe for a
    response header (it never carries the object name: that goes to the log)."""

    def __init__(self, reason: str, severity: str = "INFO") -> None:
        super().__init__(reason)
        self.reason, self.severity = reason, severity


def parse_lakes(buckets: str | None, folder: str | None) -> tuple[Lake, ...]:
    """The lakes from `LAKE_BUCKETS` (comma-separated `bucket` or `bucket/folder`) and
    `LAKE_FOLDER` (the folder of every bucket listed without one). ValueError names the
    setting to fix; no bucket at all is an error, never "every bucket"."""
    entries = [entry.strip() for entry in (buckets or "").split(",") if entry.strip()]
    if not entries:
        raise ValueError(
            "LAKE_BUCKETS is not set (the lake's bucket(s), comma-separated: objects of any other "
            "bucket are never forwarded)"
        )
    default_folder = _folder(folder or "", "LAKE_FOLDER")
    lakes = []
    for entry in entries:
        bucket, slash, own_folder = entry.partition("/")
        if entry.startswith("gs://") or not _BUCKET.fullmatch(bucket):
            raise ValueError(
                f"LAKE_BUCKETS entry {entry!r} is not a bucket name: write `bucket` or `bucket/folder`, "
                "e.g. glamira-lake or glamira-lake/lake, without gs://"
            )
        own = _folder(own_folder, f"the folder of {entry!r} in LAKE_BUCKETS") if slash else None
        lakes.append(Lake(bucket, default_folder if own is None else own))
    return tuple(dict.fromkeys(lakes))


def _folder(value: str, setting: str) -> str:
    segments = value.strip().strip("/").split("/")
    if segments == [""]:
        return ""
    if any(s in ("", ".", "..") for s in segments):
        raise ValueError(f"{setting} {value!r} is not a folder path like `lake` or `data/lake`")
    return "/".join(segments) + "/"


def locate(bucket: str, name: str, lakes: Sequence[Lake], today: date) -> LakeObject:
    """Where `gs://bucket/name` sits in a served lake, or OutsideLake with the reason."""
    folders = sorted((lake.folder for lake in lakes if lake.bucket == bucket), key=len, reverse=True)
    if not folders:
        raise OutsideLake("bucket is not a lake bucket (LAKE_BUCKETS)", severity="WARNING")
    keys = [name[len(folder) :] for folder in folders if name.startswith(folder)]
    if not keys:
        raise OutsideLake("object is not under the lake's folder (LAKE_FOLDER)")
    # the deepest folder first: its reason is the one that explains a miss
    problem: OutsideLake | None = None
    for key in keys:
        try:
            return parse_key(key, today)
        except OutsideLake as exc:
            problem = problem or exc
    raise problem  # type: ignore[misc]  # keys is not empty


def parse_key(key: str, today: date) -> LakeObject:
    """`<source>/<dataset>/dt=YYYY-MM-DD/<file>` or `<source>/_rejects/<dataset>/dt=.../<file>`,
    relative to the lake's folder, with a known source and dataset, a plausible day, and
    a manifest or a part; OutsideLake for anything else."""
    match = _KEY.fullmatch(key)
    if not match:
        raise OutsideLake("object name is not <source>/[_rejects/]<dataset>/dt=YYYY-MM-DD/<file>")
    source, file = match["source"], match["file"]
    dataset = f"_rejects/{match['dataset']}" if match["rejects"] else match["dataset"]
    if source not in LAKE_DATASETS:
        raise OutsideLake(f"unknown source (the lake's are {', '.join(sorted(LAKE_DATASETS))})")
    if dataset not in LAKE_DATASETS[source]:
        raise OutsideLake(f"unknown dataset for source {source}")
    day = _day(match["day"], today)
    if not (file == MANIFEST or _PART.fullmatch(file) or file in EXTRA_FILES.get((source, dataset), ())):
        raise OutsideLake("file is neither _manifest.json nor a part-[<token>-]NNNN.parquet")
    return LakeObject(source, dataset, day, file)


def _day(text: str, today: date) -> date:
    if not _DAY.fullmatch(text):
        raise OutsideLake("partition is not dt=YYYY-MM-DD")
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise OutsideLake("dt= is not a calendar date") from exc
    # tomorrow, not today: Bahela's days are Jakarta days (UTC+7), which begin before UTC's
    if not FIRST_DAY <= day <= today + timedelta(days=1):
        raise OutsideLake(f"day is not between {FIRST_DAY.isoformat()} and tomorrow (UTC)")
    return day
