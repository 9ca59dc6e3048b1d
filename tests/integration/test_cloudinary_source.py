"""The Cloudinary block against a local Search API that pages, rate-limits and fails."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import SecretStr

from blocks.cloudinary import Cloudinary, CloudinaryExport
from pipelines.errors import SourceUnavailable
from pipelines.sample_data import bahela
from tests.support.http_servers import FakeCloudinary, Reply

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


async def collect(source, start=START, end=END):
    pages = [page async for page in source.resources_created_between(start, end)]
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
