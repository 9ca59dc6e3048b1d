"""The interactive pages' data, without a browser: the country cap, the anomalies' mapping
to the filters, the forecast rows, and data that cannot break out of the page's script.
(tests/integration/test_interactive_dashboards.py drives the pages in chromium.)"""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import numpy as np
import polars as pl

from pipelines.interactive_page import ALL, columnar
from tasks.anomalies import ANOMALY_SCHEMA
from tasks.bahela import interactive as bahela
from tasks.glamira.interactive import (
    CUBE_SCHEMA,
    OTHER,
    anomaly_records,
    cap_countries,
    fit_cube,
    kept_countries,
    render_interactive,
)

DAY = date(2026, 11, 2)


def cube_rows(rows: list[dict]) -> pl.DataFrame:
    base = {name: 0 for name in CUBE_SCHEMA} | {"date_day": DAY, "store": "glamira.de", "store_id": "10"}
    base |= {"store_key": "5f0c"}
    base |= {"device_type": "desktop", "revenue_usd": 0.0}
    return pl.DataFrame([base | row for row in rows], schema=CUBE_SCHEMA)


def test_countries_beyond_the_top_are_summed_as_other_and_nothing_is_lost():
    # given five countries, Unknown, and an event row (no country)
    cube = cube_rows(
        [
            {"country": "Germany", "orders": 5, "revenue_usd": 500.0},
            {"country": "France", "orders": 4, "revenue_usd": 400.0},
            {"country": "Austria", "orders": 3, "revenue_usd": 30.0},
            {"country": "Spain", "orders": 2, "revenue_usd": 20.0},
            {"country": "Unknown", "orders": 1, "revenue_usd": 10.0},
            {"country": None, "events": 900},
        ]
    )

    # when only the two largest are kept
    capped = cap_countries(cube, top=2)

    # then the others are one "Other" row, Unknown and the event row stay, and the sums hold
    by_country = dict(capped.select("country", "revenue_usd").iter_rows())
    assert by_country == {"Germany": 500.0, "France": 400.0, OTHER: 50.0, "Unknown": 10.0, None: 0.0}
    assert capped["orders"].sum() == cube["orders"].sum() and capped["events"].sum() == 900


def test_anomalies_map_to_the_store_filter_and_other_businesses_are_left_out():
    cube = cube_rows([{"country": "Germany", "orders": 1}])
    anomalies = pl.DataFrame(
        [
            {"business": "glamira", "day": DAY, "entity": "10", "metric": "events", "detail": "store"},
            {"business": "glamira", "day": DAY, "entity": "5f0c", "metric": "orders", "detail": "by key"},
            {"business": "glamira", "day": DAY, "entity": "all", "metric": "revenue_usd", "detail": "all"},
            {"business": "glamira", "day": DAY, "entity": None, "metric": "events", "detail": "no entity"},
            {
                "business": "bahela",
                "day": DAY,
                "entity": "kemang",
                "metric": "revenue_idr",
                "detail": "booth",
            },
        ],
        schema_overrides={"day": pl.Date(), "entity": pl.String()},
    )
    rows = anomaly_records(anomalies, cube)
    assert [(r["store"], r["detail"], r["day"]) for r in rows] == [
        ("glamira.de", "store", DAY.isoformat()),
        ("glamira.de", "by key", DAY.isoformat()),
        (ALL, "all", DAY.isoformat()),
        (ALL, "no entity", DAY.isoformat()),
    ]
    assert (
        anomaly_records(None, cube) == [] and anomaly_records(pl.DataFrame(schema=ANOMALY_SCHEMA), cube) == []
    )


def test_a_name_holding_a_script_tag_stays_data():
    cube = cube_rows([{"country": "</script><script>alert(1)</script>", "orders": 1, "revenue_usd": 1.0}])
    page = render_interactive(cube)
    assert "<script>alert(1)" not in page
    assert "\\u003c/script>\\u003cscript>alert(1)\\u003c/script>" in page


def test_the_forecast_rows_carry_the_interval_for_all_booths_only():
    days = [DAY + timedelta(days=i) for i in range(2)]
    forecast = SimpleNamespace(
        days=days,
        prediction=np.array([10.0, 12.0]),
        lower=np.array([8.0, 9.0]),
        upper=np.array([13.0, float("nan")]),
        by_booth={"kemang": np.array([4.0, 5.0])},
    )
    rows = bahela.forecast_records({"transactions": forecast})
    assert [(r["booth"], r["day"], r["prediction"], r["lower"], r["upper"]) for r in rows] == [
        (ALL, "2026-11-02", 10.0, 8.0, 13.0),
        ("kemang", "2026-11-02", 4.0, None, None),
        (ALL, "2026-11-03", 12.0, 9.0, None),  # NaN is no number
        ("kemang", "2026-11-03", 5.0, None, None),
    ]
    assert bahela.interactive_name(date(2026, 11, 15)) == "bahela-weekly-2026-11-15-interactive.html"


def test_empty_marts_give_a_page_that_says_so():
    page = render_interactive(pl.DataFrame(schema=CUBE_SCHEMA))
    assert "no orders yet" in page and '"cube":{"length":0,' in page


def test_a_cube_too_large_keeps_fewer_countries_apart():
    # given 8 countries over 8 days: 64 rows
    cube = cube_rows(
        [
            {
                "date_day": DAY + timedelta(days=d),
                "country": f"Country {c}",
                "orders": 1,
                "revenue_usd": 10.0 * c,
            }
            for d in range(8)
            for c in range(1, 9)
        ]
    )
    # when at most 32 rows fit, then the countries kept apart halve (12, 6, 3) until they do:
    # 3 and Other on 8 days
    fitted = fit_cube(cube, top_countries=12, max_rows=32)
    assert fitted.height == 32 and kept_countries(fitted) == 3
    assert fitted["revenue_usd"].sum() == cube["revenue_usd"].sum()
    assert kept_countries(cube) is None


def test_the_columnar_form_holds_every_value():
    frame = pl.DataFrame(
        {"store": ["a", None, "b", "a"], "orders": [1, 2, None, 4], "usd": [1.5, 0.1 + 0.2, 3.0, None]}
    )
    data = columnar(frame)
    store = data["columns"]["store"]
    assert data["length"] == 4
    assert [None if i is None else store["dict"][i] for i in store["codes"]] == ["a", None, "b", "a"]
    assert data["columns"]["orders"] == {"values": [1, 2, None, 4]}
    assert data["columns"]["usd"] == {"values": [1.5, 0.3, 3.0, None]}
