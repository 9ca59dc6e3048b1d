"""The IP2Location database the Glamira pipeline geolocates with."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prefect.blocks.core import Block
from pydantic import Field

from pipelines.errors import SourceUnavailable


class IP2LocationDatabase(Block):
    """An IP2Location BIN file on the worker (LITE DB1/DB3/DB5/DB11 or a commercial one).

    Download the BIN from ip2location.com (LITE needs a free account and token) into the
    image or a mounted volume, then:

        ```python
        from blocks import IP2LocationDatabase
        IP2LocationDatabase(path="/data/IP2LOCATION-LITE-DB11.IPV6.BIN").save("glamira-ip2location")
        ```
    """

    _block_type_name = "IP2Location Database"
    _block_type_slug = "pipelines-ip2location"
    _description = "An IP2Location BIN file used to geolocate IP addresses."

    path: str = Field(description="Path of the .BIN file on the worker.")

    def describe(self) -> str:
        return f"IP2Location BIN {self.path}"

    async def check(self, timeout: float = 20.0) -> str:
        """The BIN opens with the official `IP2Location` library and answers a lookup."""
        return await asyncio.to_thread(self._open)

    def _open(self) -> str:
        import IP2Location

        path = self.checked_path()
        try:
            database = IP2Location.IP2Location(str(path))
            try:
                database.get_country_short("8.8.8.8")
            finally:
                database.close()
        except Exception as exc:  # the library raises bare ValueErrors and struct errors alike
            raise SourceUnavailable(
                f"{self.describe()} does not open with the IP2Location library ({type(exc).__name__}: {exc}). "
                "Check path of the IP2Location block: it must name the .BIN file (not the CSV or the ZIP)."
            ) from None
        return f"opens with the IP2Location library ({path.stat().st_size / 1e6:.1f} MB)"

    def checked_path(self) -> Path:
        path = Path(self.path).expanduser()
        if not path.is_file():
            raise SourceUnavailable(
                f"{self.describe()} does not exist on this worker. Check the path of the IP2Location block "
                "(or run `pipelines sample-data` for the demo database)."
            )
        return path
