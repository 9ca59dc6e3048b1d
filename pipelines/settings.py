"""Where the embedded default keeps what it writes, and the businesses' time zones."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")
HOME_ENV = "PIPELINES_HOME"


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
