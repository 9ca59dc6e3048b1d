"""The profile a run is in, where the embedded default keeps what it writes, and the
businesses' time zones."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")
HOME_ENV = "PIPELINES_HOME"
PROFILE_ENV = "PIPELINES_PROFILE"


class Profile(StrEnum):
    """`local`: a role without a saved block uses the embedded default under
    PIPELINES_HOME (the CLI's default, `make demo`). `production`: every role must be a
    saved block, checked before any work, and nothing is written under PIPELINES_HOME
    (every deployment in prefect.yaml sets it)."""

    LOCAL = "local"
    PRODUCTION = "production"

    @classmethod
    def from_env(cls) -> Profile:
        value = os.environ.get(PROFILE_ENV, "").strip().lower() or cls.LOCAL.value
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"{PROFILE_ENV}={value!r}: use 'local' or 'production'") from None


@dataclass(frozen=True)
class Home:
    """The one folder the embedded default writes to (`PIPELINES_HOME`, default `./.data`)."""

    root: Path

    @classmethod
    def from_env(cls) -> Home:
        return cls(Path(os.environ.get(HOME_ENV, ".data")).expanduser().resolve())

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def samples(self) -> Path:
        return self.root / "samples"
