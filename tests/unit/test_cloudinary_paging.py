"""The pure parts of the Cloudinary block: what counts as a Search API page, when paging
would never end, and when a rate limit resets. The block's HTTP behaviour is tested over
a real socket in tests/integration/test_cloudinary_source.py."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from blocks.cloudinary import PAGE_SLACK, MalformedPage, Paging, SearchPage, rate_limit_reset, search_page

NOW = datetime(2026, 11, 19, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ([], "a list instead of an object"),
        (42, "a number instead of an object"),
        (None, "null instead of an object"),
        ({"total_count": 1}, "no `resources`"),
        ({"resources": None}, "`resources` is null, not a list"),
        ({"resources": "a"}, "`resources` is a string, not a list"),
        ({"resources": [], "next_cursor": 7}, "`next_cursor` is a number, not a string"),
        ({"resources": [], "next_cursor": ["x"]}, "`next_cursor` is a list, not a string"),
        ({"resources": [], "total_count": "12"}, "`total_count` is a string, not a count"),
        ({"resources": [], "total_count": -1}, "`total_count` is a number, not a count"),
        ({"resources": [], "total_count": True}, "`total_count` is a boolean, not a count"),
    ],
)
def test_a_payload_that_is_not_a_search_page_says_what_is_off(payload, problem):
    with pytest.raises(MalformedPage) as failure:
        search_page(payload)

    assert str(failure.value) == problem


def test_resources_that_are_not_objects_are_kept_for_the_normaliser():
    page = search_page({"total_count": 3, "resources": [{"public_id": "a"}, "junk", None]})

    assert page.resources == [{"public_id": "a"}, "junk", None]


def test_an_empty_or_missing_cursor_ends_the_search():
    assert search_page({"resources": [], "next_cursor": ""}).next_cursor is None
    assert search_page({"resources": [], "next_cursor": None}).next_cursor is None
    assert search_page({"resources": []}).next_cursor is None


def test_a_cursor_seen_before_in_the_search_is_endless():
    paging = Paging(max_results=100)

    assert paging.follow(SearchPage([], "c1", 1000)) is None
    assert paging.follow(SearchPage([], "c2", 1000)) is None
    problem = paging.follow(SearchPage([], "c1", 1000))

    assert problem is not None and "'c1' a second time, on page 3" in problem


def test_pages_may_run_past_total_count_by_the_slack_and_no_further():
    # given: 250 resources at 100 a page fill 3 pages; the slack allows a few more
    paging = Paging(max_results=100)
    allowed = 3 + PAGE_SLACK

    problems = [paging.follow(SearchPage([], f"c{n}", 250)) for n in range(1, allowed + 1)]

    assert problems[:-1] == [None] * (allowed - 1)
    assert problems[-1] is not None and f"fills at most {allowed}" in problems[-1]


def test_a_total_count_that_grows_while_paging_extends_the_limit():
    paging = Paging(max_results=100)
    paging.follow(SearchPage([], "c1", 100))

    paging.follow(SearchPage([], "c2", 900))

    assert paging.limit() == 9 + PAGE_SLACK


def test_the_last_page_ends_paging_whatever_the_count():
    paging = Paging(max_results=100)

    assert paging.follow(SearchPage([], None, 0)) is None


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"X-FeatureRateLimit-Reset": "Thu, 19 Nov 2026 13:00:00 GMT"}, 3600.5),
        ({"X-FeatureRateLimit-Reset": str(NOW.timestamp() + 90)}, 90.5),
        ({"Retry-After": "30"}, 30.0),
        ({"X-FeatureRateLimit-Reset": "Thu, 19 Nov 2026 11:00:00 GMT"}, 0.5),
        ({"X-FeatureRateLimit-Reset": "soon", "Retry-After": "12"}, 12.0),
        ({"X-FeatureRateLimit-Reset": "nan"}, None),
        ({}, None),
    ],
)
def test_the_rate_limit_reset_is_read_from_the_headers(headers, seconds):
    assert rate_limit_reset(httpx.Headers(headers), now=NOW) == seconds
