"""normalise_images and attach_image_totals: Cloudinary resources tied to their sessions."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from tasks.bahela.images import IMAGES_SCHEMA, attach_image_totals, normalise_images
from tasks.bahela.sessions import normalise_sessions
from tests.unit.bahela_factories import (
    DAY,
    MISSING,
    SITE,
    image_resource,
    jakarta,
    raw_images,
    raw_sessions,
    session_doc,
    unpaid_doc,
)

NEXT_DAY = DAY + timedelta(days=1)


def seen(*docs, site=SITE, day=DAY) -> pl.DataFrame:
    """What normalise_sessions hands the images step: every code of the extract."""
    return normalise_sessions(raw_sessions(*docs, site=site), day).seen


def only_row(frame: pl.DataFrame) -> dict:
    assert frame.height == 1, frame
    return frame.row(0, named=True)


def test_an_image_is_tied_to_its_session_by_code_and_takes_its_site_and_day():
    sessions = seen(session_doc("abc123"), site="kemang")
    raw = raw_images(image_resource("abc123-3", site="somewhere-else"))

    result = normalise_images(raw, sessions, DAY)

    row = only_row(result.images)
    assert (row["session_code"], row["image_number"], row["site"], row["day"]) == ("abc123", 3, "kemang", DAY)


def test_kept_images_have_the_documented_schema_and_values():
    raw = raw_images(image_resource("abc123-1", width=600, height=1800, size=250_000))

    images = normalise_images(raw, seen(session_doc("abc123")), DAY).images

    assert images.schema == pl.Schema(IMAGES_SCHEMA)
    row = only_row(images)
    assert (row["width"], row["height"], row["pixels"], row["bytes"]) == (600, 1800, 1_080_000, 250_000)
    assert row["created_at"] == jakarta(14, 5)


def test_a_public_id_with_a_folder_path_still_names_its_session():
    raw = raw_images(image_resource("bahela/senopati/abc123-2"))

    row = only_row(normalise_images(raw, seen(session_doc("abc123")), DAY).images)

    assert (row["session_code"], row["image_number"]) == ("abc123", 2)


def test_an_image_of_an_unknown_session_is_rejected():
    raw = raw_images(image_resource("zzz999-1"))

    result = normalise_images(raw, seen(session_doc("abc123")), DAY)

    assert result.images.height == 0
    reject = only_row(result.rejects)
    assert (reject["reason"], reject["dataset"], reject["site"], reject["day"]) == (
        "unknown session: zzz999",
        "images",
        SITE,
        DAY,
    )


def test_an_image_of_an_unknown_session_belongs_to_the_day_it_was_uploaded():
    raw = raw_images(image_resource("zzz999-1", created=jakarta(0, 20, day=NEXT_DAY)))
    sessions = seen(session_doc("abc123"))

    on_day, on_next_day = normalise_images(raw, sessions, DAY), normalise_images(raw, sessions, NEXT_DAY)

    assert (on_day.read, on_day.other_days, on_next_day.read) == (1, {NEXT_DAY.isoformat(): 1}, 1)


def test_an_image_of_a_rejected_session_is_rejected():
    sessions = seen(session_doc("abc123", **{"payment.amount": "35.000,-"}))
    raw = raw_images(image_resource("abc123-1"))

    result = normalise_images(raw, sessions, DAY)

    assert result.images.height == 0
    assert only_row(result.rejects)["reason"] == "session rejected: abc123"


def test_an_image_of_a_kept_session_is_kept_when_a_rejected_copy_of_the_session_comes_first():
    # The app saved the session twice; the first save is malformed and rejected, the
    # second is kept. Its photos belong to a kept session and must be kept too.
    broken = session_doc("abc123", **{"payment.amount": "35.000,-"})
    good = session_doc("abc123", opened=jakarta(14, 0, 2), __v=1)
    sessions_of_day = normalise_sessions(raw_sessions(broken, good), DAY)
    assert sessions_of_day.sessions["session_code"].to_list() == ["abc123"]

    result = normalise_images(raw_images(image_resource("abc123-1")), sessions_of_day.seen, DAY)

    assert result.rejects["reason"].to_list() == []
    assert result.images["session_code"].to_list() == ["abc123"]


def test_an_image_uploaded_after_midnight_belongs_to_its_sessions_day():
    late = session_doc("late01", opened=jakarta(23, 40), started=jakarta(23, 45), seconds=600)
    raw = raw_images(image_resource("late01-4", created=jakarta(0, 2, day=NEXT_DAY)))
    sessions = seen(late)

    on_day = normalise_images(raw, sessions, DAY)
    on_next_day = normalise_images(raw, sessions, NEXT_DAY)

    assert only_row(on_day.images)["day"] == DAY
    assert (on_next_day.images.height, on_next_day.rejects.height) == (0, 0)
    assert on_next_day.other_days == {DAY.isoformat(): 1}


def test_the_same_asset_returned_twice_is_kept_once_and_counted_as_repeated():
    photo = image_resource("abc123-1")
    raw = raw_images(photo, image_resource("abc123-2"), photo)

    result = normalise_images(raw, seen(session_doc("abc123")), DAY)

    assert result.images["public_id"].to_list() == ["abc123-1", "abc123-2"]
    assert (result.repeated, result.read) == (1, 3)


def test_an_asset_repeated_on_another_day_is_not_counted_in_this_days_repeats():
    # The extract reads a window wider than the day: a repeat of the previous day's
    # late upload is that day's repeat, not this one's.
    previous_day = DAY - timedelta(days=1)
    yesterdays = image_resource("prev01-1", created=jakarta(20, 0, day=previous_day))
    sessions = seen(session_doc("prev01", opened=jakarta(19, 50, day=previous_day)), session_doc("abc123"))
    raw = raw_images(yesterdays, yesterdays, image_resource("abc123-1"))

    result = normalise_images(raw, sessions, DAY)

    assert (result.read, result.repeated, sum(result.other_days.values())) == (3, 0, 2)


def test_a_resource_with_bytes_that_are_not_a_number_is_rejected():
    raw = raw_images(image_resource("abc123-1", bytes="big"))

    result = normalise_images(raw, seen(session_doc("abc123")), DAY)

    assert result.images.height == 0
    assert only_row(result.rejects)["reason"] == "bytes is not a whole number in range: 'big'"


@pytest.mark.parametrize(("field", "value"), [("width", 2**40), ("bytes", 2**70), ("pixels", float("inf"))])
def test_a_resource_with_a_number_out_of_range_is_rejected_and_the_others_kept(field, value):
    raw = raw_images(image_resource("abc123-1", **{field: value}), image_resource("abc123-2"))

    result = normalise_images(raw, seen(session_doc("abc123")), DAY)

    assert result.images["public_id"].to_list() == ["abc123-2"]
    assert only_row(result.rejects)["reason"].startswith(f"{field} is not a whole number in range")


def test_a_resource_without_a_public_id_is_rejected_on_its_upload_day():
    resource = image_resource("abc123-1", public_id=MISSING)
    raw = raw_images(resource)

    reject = only_row(normalise_images(raw, seen(session_doc("abc123")), DAY).rejects)

    assert (reject["reason"], reject["record_id"], reject["day"], reject["site"]) == (
        "missing public_id",
        resource["asset_id"],
        DAY,
        SITE,
    )
    assert reject["raw"] == raw["raw"][0]


def test_a_public_id_that_names_no_session_is_rejected():
    raw = raw_images(image_resource("staff-test"))

    reject = only_row(normalise_images(raw, seen(session_doc("abc123")), DAY).rejects)

    assert reject["reason"] == "public_id is not <session code>-<n>"


def test_two_different_resources_without_asset_id_are_both_rejected():
    raw = raw_images(
        image_resource("abc123-1", asset_id=MISSING),
        image_resource("abc123-2", asset_id=MISSING),
    )

    result = normalise_images(raw, seen(session_doc("abc123")), DAY)

    assert sorted(result.rejects["record_id"]) == ["abc123-1", "abc123-2"]
    assert result.repeated == 0


def test_every_image_of_the_day_is_either_kept_or_rejected():
    raw = raw_images(
        image_resource("abc123-1"),
        image_resource("abc123-2"),
        image_resource("zzz999-1"),
        image_resource("abc123-3", bytes="big"),
        image_resource("zzz888-1", created=jakarta(12, 0, day=DAY - timedelta(days=1))),
    )

    result = normalise_images(raw, seen(session_doc("abc123")), DAY)

    assert (result.read, result.images.height, result.rejects.height, result.other_days) == (
        5,
        2,
        2,
        {(DAY - timedelta(days=1)).isoformat(): 1},
    )


# -- attach_image_totals ------------------------------------------------------------------


def test_sessions_get_the_sum_of_their_images_bytes_and_pixels():
    sessions = normalise_sessions(raw_sessions(session_doc("abc123")), DAY)
    raw = raw_images(
        image_resource("abc123-1", size=400_000, width=1200, height=1800),
        image_resource("abc123-2", size=300_000, width=600, height=1800),
    )
    images = normalise_images(raw, sessions.seen, DAY).images

    row = only_row(attach_image_totals(sessions.sessions, images))

    assert (row["image_count"], row["image_bytes"], row["image_pixels"]) == (2, 700_000, 3_240_000)


def test_sessions_without_images_get_zero_totals():
    sessions = normalise_sessions(raw_sessions(session_doc("abc123"), unpaid_doc("unp001")), DAY)
    images = normalise_images(raw_images(image_resource("abc123-1")), sessions.seen, DAY).images

    totals = attach_image_totals(sessions.sessions, images)

    unpaid = only_row(totals.filter(pl.col("session_code") == "unp001"))
    assert (unpaid["image_count"], unpaid["image_bytes"], unpaid["image_pixels"]) == (0, 0, 0)


def test_image_totals_keep_every_session_and_its_columns():
    of_day = normalise_sessions(raw_sessions(session_doc("abc123"), unpaid_doc("unp001")), DAY)
    images = normalise_images(raw_images(), of_day.seen, DAY).images

    totals = attach_image_totals(of_day.sessions, images)

    assert totals.height == of_day.sessions.height
    assert totals.columns == [*of_day.sessions.columns, "image_count", "image_bytes", "image_pixels"]


def test_a_resource_that_is_not_json_is_rejected_not_lost():
    raw = pl.concat(
        [raw_images(image_resource("abc123-1")), pl.DataFrame({"raw": ['{"asset_id": "a1", "public']})]
    )

    result = normalise_images(raw, seen(session_doc("abc123")), DAY)

    assert (result.read, result.images.height, result.rejects.height) == (2, 1, 1)
