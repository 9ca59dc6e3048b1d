"""The production profile: a role without a saved block is an error raised before any
work, listing every missing block with the `pipelines setup` variables that create it;
never a silent fallback to the embedded default."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from prefect.filesystems import LocalFileSystem

from blocks.resolve import MissingBlocks
from flows.bahela_daily import bahela_daily
from flows.glamira_daily import glamira_daily
from flows.roles import BahelaBlocks, GlamiraBlocks

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DAY = date(2026, 11, 20)


@pytest.fixture
def production(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINES_PROFILE", "production")
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def unsaved(model):
    tag = uuid.uuid4().hex[:8]
    return model(**{role: f"{tag}-{role}" for role in model.model_fields})


async def test_a_production_run_without_blocks_lists_them_all_and_does_nothing(prefect_api, production):
    names = unsaved(BahelaBlocks)

    with pytest.raises(MissingBlocks) as failure:
        await bahela_daily(day=DAY, blocks=names)

    message = str(failure.value)
    for role in ("mongodb", "cloudinary", "lake", "warehouse", "mailer"):
        assert getattr(names, role) in message, role
    assert names.slack not in message, "a chat channel is optional"
    assert "pipelines setup" in message and "Nothing was done" in message
    assert not production.exists(), "nothing written under PIPELINES_HOME"


async def test_the_listing_names_the_variables_that_create_the_default_blocks(prefect_api, production):
    with pytest.raises(MissingBlocks) as failure:
        await glamira_daily(day=DAY, crawl=False, load_warehouse=False)

    lines = str(failure.value).splitlines()
    assert any(line.startswith("  - glamira-mongodb (") and "GLAMIRA_MONGODB_URI" in line for line in lines)
    assert any(
        line.startswith("  - glamira-ip2location (") and "GLAMIRA_IP2LOCATION_BIN" in line for line in lines
    )
    assert not any("glamira-crawl" in line or "glamira-warehouse" in line for line in lines), (
        "only the roles this run uses"
    )
    assert not production.exists()


async def test_one_missing_block_among_saved_ones_is_the_one_named(prefect_api, production, tmp_path):
    names = unsaved(GlamiraBlocks)
    await LocalFileSystem(basepath=str(tmp_path / "lake")).save(names.lake)

    with pytest.raises(MissingBlocks) as failure:
        await glamira_daily(day=DAY, geolocate=False, crawl=False, load_warehouse=False, blocks=names)

    assert [need.name for need in failure.value.missing] == [names.mongodb]
    assert not (tmp_path / "lake").exists(), "not even the day's lease was taken"
