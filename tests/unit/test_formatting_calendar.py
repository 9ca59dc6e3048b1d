"""How figures read in reports, and business days in Asia/Jakarta."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from pipelines import formatting as fmt
from pipelines.calendar import DayWindow, days_between, yesterday
from pipelines.settings import JAKARTA

# -- formatting ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0, "Rp 0"),
        (35_000, "Rp 35.000"),
        (2_265_000, "Rp 2.265.000"),
        (1_234_567_890, "Rp 1.234.567.890"),
        (-10_000, "-Rp 10.000"),
        (35_000.4, "Rp 35.000"),
        (None, "–"),
    ],
)
def test_rupiah_uses_dots_between_thousands_and_no_decimals(amount, expected):
    assert fmt.rupiah(amount) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0m 00s"),
        (394.2, "6m 34s"),
        (59.6, "1m 00s"),
        (3600, "1h 00m"),
        (3725, "1h 02m"),
        (None, "–"),
    ],
)
def test_duration_reads_as_minutes_and_seconds_or_hours_and_minutes(seconds, expected):
    assert fmt.duration(seconds) == expected


@pytest.mark.parametrize(
    ("value", "reference", "expected"),
    [(110, 100, 10.0), (90, 100, -10.0), (50, -100, 150.0), (100, 100, 0.0)],
)
def test_percent_change_is_relative_to_the_reference(value, reference, expected):
    assert fmt.percent_change(value, reference) == pytest.approx(expected)


@pytest.mark.parametrize(("value", "reference"), [(None, 100), (100, None), (100, 0)])
def test_percent_change_is_none_without_a_usable_reference(value, reference):
    assert fmt.percent_change(value, reference) is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [(12.345, "▲ +12.3%"), (-4.0, "▼ -4.0%"), (0.01, "■ +0.0%"), (None, "n/a")],
)
def test_signed_percent_shows_direction_and_sign(change, expected):
    assert fmt.signed_percent(change) == expected


@pytest.mark.parametrize(
    ("n_bytes", "expected"),
    [(999, "999 B"), (1_500, "1.5 KB"), (2_500_000, "2.5 MB"), (3_200_000_000_000, "3200.0 GB"), (None, "–")],
)
def test_data_size_uses_decimal_units(n_bytes, expected):
    assert fmt.data_size(n_bytes) == expected


def test_count_uses_dots_between_thousands():
    assert (fmt.count(1_758), fmt.count(0), fmt.count(None)) == ("1.758", "0", "–")


# -- calendar -----------------------------------------------------------------------


def test_a_jakarta_day_runs_from_1700_utc_the_day_before_to_1700_utc():
    window = DayWindow.of(date(2026, 11, 21), JAKARTA)

    assert (window.start, window.end) == (
        datetime(2026, 11, 20, 17, 0, tzinfo=UTC),
        datetime(2026, 11, 21, 17, 0, tzinfo=UTC),
    )


def test_a_widened_window_adds_the_margin_on_both_sides():
    window = DayWindow.of(date(2026, 11, 21), JAKARTA)

    assert window.widened(timedelta(hours=6)) == (
        datetime(2026, 11, 20, 11, 0, tzinfo=UTC),
        datetime(2026, 11, 21, 23, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 21, 16, 59, tzinfo=UTC), date(2026, 11, 20)),  # 23:59 in Jakarta
        (datetime(2026, 11, 21, 17, 0, tzinfo=UTC), date(2026, 11, 21)),  # 00:00 in Jakarta
    ],
)
def test_yesterday_is_the_day_before_today_in_jakarta(now, expected):
    assert yesterday(JAKARTA, now) == expected


def test_days_between_lists_every_day_in_order_both_ends_included():
    days = days_between(date(2026, 11, 29), date(2026, 12, 2))

    assert days == [date(2026, 11, 29), date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 2)]


def test_days_between_one_day_is_that_day():
    assert days_between(date(2026, 11, 21), date(2026, 11, 21)) == [date(2026, 11, 21)]


def test_days_between_refuses_a_last_day_before_the_first():
    with pytest.raises(ValueError, match="before the first day"):
        days_between(date(2026, 11, 21), date(2026, 11, 20))
