"""The Cloudinary block against a local Search API that pages, rate-limits and fails, and
never lets a faulty answer wedge the run that reads it."""

from __future__ import annotations

import json
import math
import re
import socket
import time
from datetime import UTC, date, datetime, timedelta

import anyio
import pytest
from pydantic import SecretStr

from blocks.cloudinary import PAGE_SLACK, Cloudinary, CloudinaryExport
from demo import bahela
from pipelines.errors import SourceUnavailable
from tests.support.http_servers import FakeCloudinary, Reply
from tests.support.processes import free_port

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

START = datetime(2026, 11, 19, 17, tzinfo=UTC)
END = START + timedelta(days=1)


@pytest.fixture(scope="module")
def resources():
    return bahela.generate(date(2026, 11, 19), date(2026, 11, 21), seed=5).images


@pytest.fixture
def api(resources):
    with FakeCloudinary("bahela", "key-123", "local-secret", resources) as server:
        yield server


def block(api, **overrides) -> Cloudinary:
    settings = {
        "cloud_name": "bahela",
        "api_key": "key-123",
        "api_secret": SecretStr("local-secret"),
        "api_base_url": api.url,
        "max_results": 100,
        **overrides,
    }
    return Cloudinary(**settings)


def in_window(resources):
    def created(r):
        return datetime.fromisoformat(r["created_at"].replace("Z", "+00:00"))

    return sorted(r["asset_id"] for r in resources if START <= created(r) <= END)


async def collect(source, start=START, end=END, **options):
    with anyio.fail_after(20):  # a search that wedges fails its test instead of hanging the suite
        pages = [page async for page in source.resources_created_between(start, end, **options)]
    return pages, sorted(r["asset_id"] for page in pages for r in page)


async def test_follows_next_cursor_through_every_page(api, resources):
    pages, got = await collect(block(api))

    assert len(pages) > 3 and all(len(p) <= 100 for p in pages)
    assert got == in_window(resources)
    first = api.requests[0].json()
    assert first["max_results"] == 100 and "created_at:[" in first["expression"]
    assert all("next_cursor" in r.json() for r in api.requests[1:])


async def test_waits_for_the_rate_limit_reset_then_continues(api, resources):
    api.faults.append(api.rate_limit(reset_in_seconds=1.5))
    started = time.monotonic()

    _, got = await collect(block(api))

    assert time.monotonic() - started >= 1.0, "it honoured the reset time instead of retrying at once"
    assert got == in_window(resources)


async def test_retries_server_errors(api, resources):
    api.faults.extend([Reply(500, {"error": {"message": "boom"}}), Reply(503, "unavailable")])

    _, got = await collect(block(api))

    assert got == in_window(resources)


async def test_gives_up_after_max_attempts_with_a_clear_message(api):
    api.faults.extend([Reply(502, "bad gateway")] * 3)

    with pytest.raises(SourceUnavailable, match="failed 3 times, last with HTTP 502"):
        await collect(block(api, max_attempts=3))


async def test_wrong_credentials_name_the_setting_and_hide_the_secret(api):
    with pytest.raises(SourceUnavailable) as failure:
        await collect(block(api, api_secret=SecretStr("wrong-secret")))

    assert "api_key and api_secret" in str(failure.value) and "wrong-secret" not in str(failure.value)


async def test_saved_pages_select_the_window_like_the_api(resources, tmp_path):
    folders = bahela.SampleFolders(tmp_path)
    folders.cloudinary.mkdir()
    for number, page in enumerate(bahela.search_pages(resources, page_size=97), start=1):
        (folders.cloudinary / f"search-{number:04d}.json").write_text(json.dumps(page))

    _, got = await collect(CloudinaryExport(path=str(folders.cloudinary)))

    # the export applies the window as [start, end): an image at `end` is the next day's
    expected = sorted(
        r["asset_id"]
        for r in resources
        if START <= datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")) < END
    )
    assert got == expected and len(got) > 500


async def test_a_cursor_given_twice_stops_the_search_naming_the_source(api):
    api.paging_fault = "repeat"
    source = block(api)
    started = time.monotonic()

    with pytest.raises(SourceUnavailable) as failure:
        await collect(source)

    assert time.monotonic() - started < 5
    assert len(api.requests) < 10, "it stopped at the repeated cursor instead of following it"
    message = str(failure.value)
    assert source.describe() in message and "a second time" in message and "re-run" in message.lower()


async def test_pages_beyond_what_total_count_allows_stop_the_search(api, resources):
    api.paging_fault = "endless"

    with pytest.raises(SourceUnavailable, match="total_count") as failure:
        await collect(block(api))

    allowed = math.ceil(len(in_window(resources)) / 100) + PAGE_SLACK
    assert len(api.requests) == allowed
    assert "Cloudinary cloud 'bahela'" in str(failure.value)


MALFORMED_PAGES = {
    "not JSON": Reply(200, b'{"resources": [{"public_id": "a"', {"Content-Type": "application/json"}),
    "an HTML page": Reply(200, "<html><body>Sign in</body></html>", {"Content-Type": "text/html"}),
    "a JSON list": Reply(200, [{"public_id": "a"}]),
    "a JSON scalar": Reply(200, b"42", {"Content-Type": "application/json"}),
    "no resources": Reply(200, {"total_count": 3, "time": 12}),
    "null resources": Reply(200, {"total_count": 3, "resources": None}),
    "resources not a list": Reply(200, {"total_count": 3, "resources": {"public_id": "a"}}),
    "next_cursor not a string": Reply(200, {"total_count": 3, "resources": [], "next_cursor": 7}),
}


@pytest.mark.parametrize("reply", MALFORMED_PAGES.values(), ids=MALFORMED_PAGES.keys())
async def test_a_malformed_page_is_retried_then_names_the_source_and_api_base_url(api, reply):
    api.faults.extend([reply] * 3)
    source = block(api, max_attempts=3, backoff_seconds=0.01)

    with pytest.raises(SourceUnavailable, match="failed 3 times, last with a malformed page") as failure:
        await collect(source)

    assert len(api.requests) == 3, "each malformed answer was retried like a 5xx"
    message = str(failure.value)
    assert source.describe() in message and "api_base_url" in message and "re-run" in message


async def test_a_malformed_page_followed_by_a_good_one_reads_the_whole_day(api, resources):
    api.faults.append(MALFORMED_PAGES["an HTML page"])

    _, got = await collect(block(api, backoff_seconds=0.01))

    assert got == in_window(resources)


async def test_resources_that_are_not_objects_flow_on_to_the_normaliser(api):
    # given: a page whose list holds a good resource and two that are not JSON objects
    good = {"asset_id": "a1", "public_id": "p1", "created_at": "2026-11-19T18:00:00Z"}
    api.faults.append(Reply(200, {"total_count": 3, "resources": [good, "not an object", None]}))

    pages = [page async for page in block(api).resources_created_between(START, END)]

    # then: the page is not a fault, and nothing in it is dropped
    assert pages == [[good, "not an object", None]]
    assert len(api.requests) == 1


async def test_a_rate_limit_past_the_deadline_fails_at_once_saying_when_to_rerun(api):
    # given: the hourly allowance is spent until an hour from now, and the run ends in 5 s
    api.faults.append(api.rate_limit(reset_in_seconds=3600, status=429))
    expected_reset = datetime.now(UTC) + timedelta(seconds=3600)
    source = block(api)
    started = time.monotonic()

    with pytest.raises(SourceUnavailable) as failure:
        await collect(source, deadline=started + 5)

    # then: no waiting at all, and the message says when a re-run will work
    assert time.monotonic() - started < 2
    assert len(api.requests) == 1
    message = str(failure.value)
    assert source.describe() in message and "HTTP 429" in message
    reset = re.search(r"until (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC \(in 60 min\)", message)
    assert reset, message
    shown = datetime.strptime(reset.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs((shown - expected_reset).total_seconds()) < 5
    assert re.search(r"the run has [45] s left", message), message
    assert f"re-run of the day after {reset.group(1)} UTC will succeed" in message


async def test_a_rate_limit_that_resets_before_the_deadline_is_waited_out(api, resources):
    api.faults.append(api.rate_limit(reset_in_seconds=1.5, status=429))
    started = time.monotonic()

    _, got = await collect(block(api), deadline=started + 30)

    assert time.monotonic() - started >= 1.0
    assert got == in_window(resources)


async def test_an_unreachable_api_gives_up_after_max_attempts_naming_the_source():
    closed = f"http://127.0.0.1:{free_port()}"
    source = Cloudinary(
        cloud_name="bahela",
        api_key="key-123",
        api_secret=SecretStr("local-secret"),
        api_base_url=closed,
        max_attempts=3,
        backoff_seconds=0.01,
    )
    started = time.monotonic()

    with pytest.raises(SourceUnavailable, match="failed 3 times, last with network error") as failure:
        await collect(source)

    assert time.monotonic() - started < 5
    assert f"Cloudinary cloud 'bahela' at {closed}" in str(failure.value)
    assert "local-secret" not in str(failure.value)


async def test_network_errors_stop_retrying_at_the_deadline():
    # given: many attempts with the production backoff, but a run that ends in 1.5 s
    source = Cloudinary(
        cloud_name="bahela",
        api_key="key-123",
        api_secret=SecretStr("local-secret"),
        api_base_url=f"http://127.0.0.1:{free_port()}",
        max_attempts=50,
    )
    started = time.monotonic()

    with pytest.raises(SourceUnavailable) as failure:
        await collect(source, deadline=started + 1.5)

    assert time.monotonic() - started < 3
    message = str(failure.value)
    assert "Cloudinary cloud 'bahela'" in message
    assert re.search(r"run has \d+ s left|deadline", message), message


async def test_an_api_that_never_answers_is_given_only_the_time_the_run_has_left():
    # given: a port that accepts connections and never replies, and a run that ends in 1 s
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        source = Cloudinary(
            cloud_name="bahela",
            api_key="key-123",
            api_secret=SecretStr("local-secret"),
            api_base_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
            timeout_seconds=60,
        )
        started = time.monotonic()

        with pytest.raises(SourceUnavailable, match="ReadTimeout") as failure:
            await collect(source, deadline=started + 1)

    # then: the request timed out with the run, not after the block's 60 s
    assert time.monotonic() - started < 3
    assert source.describe() in str(failure.value)


async def test_a_search_begun_after_the_deadline_sends_nothing(api):
    source = block(api)

    with pytest.raises(SourceUnavailable, match="deadline") as failure:
        await collect(source, deadline=time.monotonic() - 1)

    assert api.requests == []
    assert source.describe() in str(failure.value)


CORRUPT_SAVED_PAGES = {
    "not JSON": '{"total_count": 3, "resources": [',
    "a JSON list": "[]",
    "null resources": '{"total_count": 3, "resources": null}',
}


@pytest.mark.parametrize("text", CORRUPT_SAVED_PAGES.values(), ids=CORRUPT_SAVED_PAGES.keys())
async def test_a_corrupt_saved_page_names_the_file_and_the_path(resources, tmp_path, text):
    (tmp_path / "search-0001.json").write_text(json.dumps(bahela.search_pages(resources)[0]))
    (tmp_path / "search-0002.json").write_text(text)

    with pytest.raises(SourceUnavailable) as failure:
        await collect(CloudinaryExport(path=str(tmp_path)))

    message = str(failure.value)
    assert "search-0002.json" in message and str(tmp_path) in message and "path" in message


async def test_saved_resources_that_are_not_objects_flow_on_to_the_normaliser(tmp_path):
    good = {"asset_id": "a1", "created_at": "2026-11-19T18:00:00Z"}
    page = {"total_count": 3, "resources": [good, "not an object", None]}
    (tmp_path / "search-0001.json").write_text(json.dumps(page))

    pages = [p async for p in CloudinaryExport(path=str(tmp_path)).resources_created_between(START, END)]

    assert pages == [[good, "not an object", None]]


# -- Cloudinary's own configuration forms, read by its SDK ----------------------------


async def test_a_block_from_a_cloudinary_url_with_upload_prefix_searches_that_api(api, resources):
    source = Cloudinary.from_url(f"cloudinary://key-123:local-secret@bahela?upload_prefix={api.url}")

    _, got = await collect(source)

    assert source.api_base_url == api.url
    assert got == in_window(resources)


def test_a_cloudinary_url_without_upload_prefix_points_at_cloudinarys_api():
    source = Cloudinary.from_url("cloudinary://key-123:local-secret@bahela", expression="tags=booth")

    assert (source.cloud_name, source.api_key, source.api_secret.get_secret_value()) == (
        "bahela",
        "key-123",
        "local-secret",
    )
    assert source.api_base_url == "https://api.cloudinary.com" and source.expression == "tags=booth"


@pytest.mark.parametrize("url", ["https://key-123:local-secret@bahela", "cloudinary://key-123@bahela"])
def test_a_url_cloudinary_cannot_use_is_refused_without_quoting_the_secret(url):
    with pytest.raises(ValueError) as refused:
        Cloudinary.from_url(url)

    assert "cloudinary://" in str(refused.value) and "local-secret" not in str(refused.value)


SDK_ENVIRONMENTS = {
    "CLOUDINARY_URL": {"CLOUDINARY_URL": "cloudinary://key-123:local-secret@bahela?upload_prefix={api}"},
    "CLOUDINARY_CLOUD_NAME and keys": {
        "CLOUDINARY_CLOUD_NAME": "bahela",
        "CLOUDINARY_API_KEY": "key-123",
        "CLOUDINARY_API_SECRET": "local-secret",
        "CLOUDINARY_UPLOAD_PREFIX": "{api}",
    },
}


@pytest.mark.parametrize("variables", SDK_ENVIRONMENTS.values(), ids=SDK_ENVIRONMENTS.keys())
async def test_the_sdks_configuration_from_the_environment_makes_a_block_that_searches(
    api, resources, monkeypatch, variables
):
    import cloudinary

    # given: the process environment configured the way Cloudinary's documentation shows
    for name in ("CLOUDINARY_URL", "CLOUDINARY_CLOUD_NAME", "CLOUDINARY_API_KEY", "CLOUDINARY_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value.format(api=api.url))
    cloudinary.reset_config()  # the SDK reads the environment when its configuration is made
    try:
        source = Cloudinary.from_sdk_config(cloudinary.config())
    finally:
        monkeypatch.undo()
        cloudinary.reset_config()

    _, got = await collect(source)

    assert got == in_window(resources)


async def test_a_check_is_one_authenticated_search_for_a_single_resource(api, resources):
    said = await block(api).check(timeout=5)

    assert f"{len(resources)} resources match" in said
    assert len(api.requests) == 1 and api.requests[0].json()["max_results"] == 1


async def test_a_check_with_a_wrong_secret_names_the_settings_and_hides_the_secret(api):
    with pytest.raises(SourceUnavailable) as failure:
        await block(api, api_secret=SecretStr("wrong-secret")).check(timeout=5)

    assert "api_key and api_secret" in str(failure.value) and "wrong-secret" not in str(failure.value)
