"""The deterministic Bahela sample: reproducible, range-independent and realistic."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from statistics import mean

import bson
import pytest

from demo.bahela import (
    BASIC_PRICE,
    BOOTHS,
    CLOSED,
    OFFLINE,
    PAYMENTS,
    PREMIUM_PRICE,
    UPLOADS,
    Incident,
    SampleFolders,
    closed_days,
    demo_incidents,
    ensure,
    generate,
    incident_schedule,
    search_pages,
    write,
)
from pipelines.settings import JAKARTA

FOUR_WEEKS = (date(2026, 11, 2), date(2026, 11, 29))  # Monday to Sunday


@pytest.fixture(scope="module")
def month():
    return generate(*FOUR_WEEKS, seed=7)


def local_day(doc: dict) -> date:
    return doc["_id"].generation_time.astimezone(JAKARTA).date()


def image_day(resource: dict) -> date:
    return datetime.fromisoformat(resource["created_at"]).astimezone(JAKARTA).date()


def code_of(resource: dict) -> str:
    return resource["public_id"].rsplit("-", 1)[0]


def all_docs(sample) -> list[dict]:
    return [doc for _, doc in sample.documents()]


def is_completed(doc: dict) -> bool:
    return doc["page"] == "Result" and doc["payment"]["paid"] in (True, "true")


def as_int(amount) -> int | None:
    if isinstance(amount, int):
        return amount
    return int(amount) if isinstance(amount, str) and amount.isdigit() else None


# -- determinism ---------------------------------------------------------------------


def test_the_same_seed_gives_identical_data():
    first = generate(date(2026, 11, 20), date(2026, 11, 21), seed=11)
    second = generate(date(2026, 11, 20), date(2026, 11, 21), seed=11)

    assert (first.sessions, first.images) == (second.sessions, second.images)


def test_another_seed_gives_other_data():
    first = generate(date(2026, 11, 21), date(2026, 11, 21), seed=11)
    second = generate(date(2026, 11, 21), date(2026, 11, 21), seed=12)

    assert {d["id"] for d in all_docs(first) if "id" in d}.isdisjoint(
        {d["id"] for d in all_docs(second) if "id" in d}
    )


def test_a_days_data_does_not_depend_on_the_generated_range():
    day = date(2026, 11, 21)
    long = generate(date(2026, 11, 16), date(2026, 11, 25), seed=7)
    short = generate(day - timedelta(days=1), day + timedelta(days=1), seed=7)

    def of_day(sample):
        docs = {db: [d for d in docs if local_day(d) == day] for db, docs in sample.sessions.items()}
        return docs, [r for r in sample.images if image_day(r) == day]

    long_docs, long_images = of_day(long)
    short_docs, short_images = of_day(short)
    assert sum(map(len, short_docs.values())) > 0 and short_images
    assert (long_docs, long_images) == (short_docs, short_images)


# -- realism over four weeks -----------------------------------------------------------


def test_every_booth_has_a_database(month):
    assert sorted(month.sessions) == sorted(f"booth_{b.site}" for b in BOOTHS)


def test_prices_are_the_two_packages_before_discount(month):
    prices = Counter()
    for doc in all_docs(month):
        amount = as_int(doc["payment"]["amount"])
        if amount is not None:
            prices[amount + doc["payment"]["discount"]] += 1

    assert set(prices) == {BASIC_PRICE, PREMIUM_PRICE}


def test_discounts_are_given_only_on_some_paid_sessions(month):
    completed = [d for d in all_docs(month) if is_completed(d)]
    discounted = [d for d in completed if d["payment"]["discount"] > 0]

    assert 0 < len(discounted) < len(completed) / 4


def test_completed_sessions_with_images_have_three_to_eight(month):
    per_code = Counter(code_of(r) for r in month.images)
    codes = {d["id"] for d in all_docs(month) if is_completed(d) and "id" in d}

    counts = [per_code[c] for c in codes if per_code[c]]

    assert counts and min(counts) == 3 and max(counts) == 8


def test_some_completed_sessions_have_no_images(month):
    with_images = {code_of(r) for r in month.images}
    completed = {d["id"] for d in all_docs(month) if is_completed(d) and "id" in d}

    assert 0 < len(completed - with_images) < len(completed) / 20


def test_weekend_days_are_busier_than_weekdays_on_average(month):
    per_day = Counter(local_day(d) for d in all_docs(month))
    weekend = [n for day, n in per_day.items() if day.weekday() >= 5]
    weekdays = [n for day, n in per_day.items() if day.weekday() < 5]

    assert (len(weekend), len(weekdays)) == (8, 20)
    assert mean(weekend) > 1.2 * mean(weekdays)


def test_some_sessions_are_unpaid_and_some_paid_but_unfinished(month):
    statuses = Counter(
        "completed" if is_completed(d) else "unpaid" if d["payment"]["paid"] is False else "paid_unfinished"
        for d in all_docs(month)
    )

    assert statuses["completed"] > statuses["unpaid"] > statuses["paid_unfinished"] > 0


def test_some_sessions_were_retried(month):
    retried = [d for d in all_docs(month) if d["options"]["retryCount"] > 0]

    assert retried and all(d["options"]["useRetryMode"] for d in retried)


def test_some_images_belong_to_no_session_document(month):
    codes = {d["id"] for d in all_docs(month) if "id" in d}

    orphans = {code_of(r) for r in month.images} - codes

    assert orphans


def test_some_sessions_were_saved_twice(month):
    per_booth_code = Counter((db, d["id"]) for db, d in month.documents() if "id" in d)

    assert any(n == 2 for n in per_booth_code.values())


def test_image_pixels_are_width_times_height(month):
    wrong = [r["public_id"] for r in month.images if r["pixels"] != r["width"] * r["height"]]

    assert month.images and wrong == []


def test_session_codes_and_public_ids_have_the_documented_shape(month):
    codes = [d["id"] for d in all_docs(month) if "id" in d]
    numbers = [r["public_id"].rsplit("-", 1)[1] for r in month.images]

    assert all(len(c) == 6 and c.isalnum() and c == c.lower() for c in codes)
    assert all(n.isdigit() for n in numbers)


def test_asset_ids_are_unique(month):
    asset_ids = [r["asset_id"] for r in month.images]

    assert len(asset_ids) == len(set(asset_ids))


# -- writing -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    sample = generate(date(2026, 11, 21), date(2026, 11, 21), seed=7)
    folders = write(sample, SampleFolders(tmp_path_factory.mktemp("sample")))
    return sample, folders


def test_write_produces_a_mongodump_file_per_booth_that_decodes_to_the_documents(written):
    sample, folders = written

    for database, docs in sample.sessions.items():
        with (folders.mongodump / database / "sessions.bson").open("rb") as dump:
            decoded = list(bson.decode_file_iter(dump))
        assert decoded == docs, database


def test_write_produces_search_pages_whose_cursor_chain_covers_every_image_once(written):
    sample, folders = written
    pages = [json.loads(p.read_text()) for p in sorted(folders.cloudinary.glob("search-*.json"))]

    cursors = [p.get("next_cursor") for p in pages]
    resources = [r for p in pages for r in p["resources"]]

    assert len(pages) >= 2
    assert None not in cursors[:-1] and cursors[-1] is None and len(set(cursors)) == len(cursors)
    assert {p["total_count"] for p in pages} == {len(sample.images)}
    assert [r["asset_id"] for r in resources] == [r["asset_id"] for r in sample.images]


def test_write_records_the_range_in_the_manifest(written):
    sample, folders = written

    manifest = json.loads(folders.manifest.read_text())

    assert (manifest["first_day"], manifest["last_day"], manifest["seed"]) == ("2026-11-21", "2026-11-21", 7)
    assert (manifest["sessions"], manifest["images"]) == (
        sum(map(len, sample.sessions.values())),
        len(sample.images),
    )


def test_search_pages_of_nothing_is_one_empty_page():
    assert search_pages([]) == [{"total_count": 0, "time": 42, "resources": []}]


def test_search_pages_split_by_page_size():
    resources = [{"public_id": f"abc123-{n}"} for n in range(5)]

    pages = search_pages(resources, page_size=2)

    assert [len(p["resources"]) for p in pages] == [2, 2, 1]
    assert ["next_cursor" in p for p in pages] == [True, True, False]


def test_ensure_writes_when_the_folder_is_empty(tmp_path):
    folders = SampleFolders(tmp_path)

    written = ensure(folders, date(2026, 11, 21), date(2026, 11, 21), seed=7)

    assert written is True
    assert json.loads(folders.manifest.read_text())["first_day"] == "2026-11-21"


def test_ensure_does_not_rewrite_a_folder_that_covers_the_range(tmp_path):
    folders = SampleFolders(tmp_path)
    ensure(folders, date(2026, 11, 20), date(2026, 11, 21), seed=7)
    dump = folders.mongodump / "booth_senopati" / "sessions.bson"
    before = (dump.stat().st_mtime_ns, folders.manifest.stat().st_mtime_ns)

    written = ensure(folders, date(2026, 11, 21), date(2026, 11, 21), seed=7)

    assert written is False
    assert (dump.stat().st_mtime_ns, folders.manifest.stat().st_mtime_ns) == before


def test_ensure_rewrites_for_another_seed(tmp_path):
    folders = SampleFolders(tmp_path)
    ensure(folders, date(2026, 11, 21), date(2026, 11, 21), seed=7)

    written = ensure(folders, date(2026, 11, 21), date(2026, 11, 21), seed=8)

    assert written is True
    assert json.loads(folders.manifest.read_text())["seed"] == 8


def test_ensure_rewrites_for_a_range_the_folder_does_not_cover(tmp_path):
    folders = SampleFolders(tmp_path)
    ensure(folders, date(2026, 11, 21), date(2026, 11, 21), seed=7)

    written = ensure(folders, date(2026, 11, 21), date(2026, 11, 22), seed=7)

    assert written is True
    assert json.loads(folders.manifest.read_text())["last_day"] == "2026-11-22"


# -- labelled incidents ------------------------------------------------------------------

INCIDENT_DAY = date(2026, 11, 20)  # a Friday


def booth_day(sample, site: str) -> tuple[list[dict], list[dict]]:
    docs = sample.sessions[f"booth_{site}"]
    codes = {d.get("id") for d in docs}
    return docs, [r for r in sample.images if r["asset_folder"] == f"bahela/{site}" and code_of(r) in codes]


@pytest.fixture(scope="module")
def plain_day():
    return generate(INCIDENT_DAY, INCIDENT_DAY, seed=7)


def with_incident(kind: str, site: str = "kemang"):
    return generate(INCIDENT_DAY, INCIDENT_DAY, seed=7, incidents=[Incident(INCIDENT_DAY, site, kind)])


def test_the_schedule_is_deterministic_range_independent_and_spares_closed_days():
    whole = incident_schedule(date(2026, 1, 1), date(2026, 6, 30), seed=7)
    part = incident_schedule(date(2026, 3, 1), date(2026, 3, 31), seed=7)

    assert (
        whole
        == incident_schedule(date(2026, 1, 1), date(2026, 6, 30), seed=7)
        != incident_schedule(date(2026, 1, 1), date(2026, 6, 30), seed=8)
    )
    assert part == [i for i in whole if i.day.month == 3]
    assert {i.kind for i in whole} == {OFFLINE, PAYMENTS, UPLOADS}
    assert 0.7 <= len(whole) / len(BOOTHS) / 6 <= 2.5  # about 1.4 per booth per month
    closed = {(i.day, i.site) for i in closed_days(date(2026, 1, 1), date(2026, 6, 30), seed=7)}
    assert closed and not closed & {(i.day, i.site) for i in whole}


def test_closed_days_are_the_generators_own_empty_booth_days():
    closed = closed_days(*FOUR_WEEKS, seed=7)
    open_ = {(d, b.site) for d in (FOUR_WEEKS[0] + timedelta(days=n) for n in range(28)) for b in BOOTHS}

    assert closed and {i.kind for i in closed} == {CLOSED}
    for incident in closed:
        assert generate(incident.day, incident.day, seed=7).sessions[f"booth_{incident.site}"] == []
    # and every other booth-day of the range has sessions
    some_open = sorted(open_ - {(i.day, i.site) for i in closed})[:3]
    for day, site in some_open:
        assert generate(day, day, seed=7).sessions[f"booth_{site}"]


def test_other_booths_and_days_are_unchanged_by_an_incident(plain_day):
    sample = with_incident(OFFLINE)

    for site in ("senopati", "menteng", "blok-m", "braga"):
        assert sample.sessions[f"booth_{site}"] == plain_day.sessions[f"booth_{site}"]
    assert [r for r in sample.images if r["asset_folder"] != "bahela/kemang"] == [
        r for r in plain_day.images if r["asset_folder"] != "bahela/kemang"
    ]
    assert sample.incidents == [Incident(INCIDENT_DAY, "kemang", OFFLINE)]
    assert plain_day.incidents == []


def test_an_offline_booth_has_no_session_after_ten_past_two(plain_day):
    docs, images = booth_day(with_incident(OFFLINE), "kemang")
    before, _ = booth_day(plain_day, "kemang")

    last = max(local_day_time(d) for d in docs)
    assert "12:00" <= last < "14:10" and len(docs) < len(before) / 2
    assert {code_of(r) for r in images} <= {d.get("id") for d in docs}


def test_failing_payments_leave_most_sessions_unpaid_and_without_photos(plain_day):
    docs, images = booth_day(with_incident(PAYMENTS), "kemang")
    before, before_images = booth_day(plain_day, "kemang")

    assert len(docs) == len(before)
    assert sum(is_completed(d) for d in docs) < 0.3 * sum(is_completed(d) for d in before)
    unpaid = [d for d in docs if d["payment"]["paid"] is False]
    assert all(isinstance(d["payment"]["amount"], int) and "startTime" not in d["progress"] for d in unpaid)
    assert len(images) < 0.3 * len(before_images)


def test_broken_uploads_leave_the_afternoons_sessions_without_photos(plain_day):
    docs, images = booth_day(with_incident(UPLOADS), "kemang")
    before, before_images = booth_day(plain_day, "kemang")

    late = [d for d in docs if local_day_time(d) >= "14:10" and is_completed(d)]
    assert len(docs) == len(before) and late
    assert all(d["result"]["uploadedImageUrls"] == [] and d["result"]["capturedImageUrls"] for d in late)
    assert len(images) < 0.6 * len(before_images)


def test_the_demos_incident_is_on_its_last_day_at_an_open_booth():
    last = date(2026, 12, 6)

    [incident] = demo_incidents(last, seed=7)

    assert (incident.day, incident.kind) == (last, OFFLINE)
    assert (incident.day, incident.site) not in {(i.day, i.site) for i in closed_days(last, last, seed=7)}


def test_ensure_rewrites_when_the_incidents_differ_and_records_them(tmp_path):
    folders = SampleFolders(tmp_path)
    incident = Incident(INCIDENT_DAY, "kemang", OFFLINE)
    ensure(folders, INCIDENT_DAY, INCIDENT_DAY, seed=7)

    assert ensure(folders, INCIDENT_DAY, INCIDENT_DAY, seed=7, incidents=[incident]) is True
    assert ensure(folders, INCIDENT_DAY, INCIDENT_DAY, seed=7, incidents=[incident]) is False
    assert json.loads(folders.manifest.read_text())["incidents"] == [
        {"day": "2026-11-20", "site": "kemang", "kind": OFFLINE}
    ]


def local_day_time(doc: dict) -> str:
    return doc["_id"].generation_time.astimezone(JAKARTA).strftime("%H:%M")
