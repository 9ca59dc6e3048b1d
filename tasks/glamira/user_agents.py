"""User agents -> browser, OS and device, with a maintained parser (ua-parser, with its
Rust accelerator), never hand-written regexes; the device type is read off its answer."""

from __future__ import annotations

import polars as pl

USER_AGENTS_SCHEMA: dict[str, pl.DataType] = {
    "user_agent": pl.String(),
    "browser_family": pl.String(),
    "browser_major": pl.String(),
    "os_family": pl.String(),
    "os_major": pl.String(),
    "device_family": pl.String(),
    "device_brand": pl.String(),
    "device_model": pl.String(),
    "device_type": pl.String(),  # desktop | mobile | tablet | bot | unknown
    "first_seen": pl.Date(),
}
DEVICE_TYPES = ("desktop", "mobile", "tablet", "bot", "unknown")

_MOBILE_OS = {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "HarmonyOS", "Tizen"}
_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "FreeBSD", "Debian"}
# clients the parser names but does not mark as spiders: scripts are not visitors either
_SCRIPT_BROWSERS = {
    "Python Requests",
    "Python-urllib",
    "curl",
    "Wget",
    "HeadlessChrome",
    "Go-http-client",
    "okhttp",
    "Apache-HttpClient",
}


def parse_user_agents(user_agents: pl.Series, first_seen) -> pl.DataFrame:
    from ua_parser import parse

    rows = []
    for text in user_agents.drop_nulls().unique().sort():
        result = parse(text)
        browser, os_, device = result.user_agent, result.os, result.device
        rows.append(
            {
                "user_agent": text,
                "browser_family": browser.family if browser else None,
                "browser_major": browser.major if browser else None,
                "os_family": os_.family if os_ else None,
                "os_major": os_.major if os_ else None,
                "device_family": device.family if device else None,
                "device_brand": device.brand if device else None,
                "device_model": device.model if device else None,
                "device_type": _device_type(text, browser, os_, device),
            }
        )
    frame = pl.DataFrame(rows, schema={k: v for k, v in USER_AGENTS_SCHEMA.items() if k != "first_seen"})
    return frame.with_columns(first_seen=pl.lit(first_seen, dtype=pl.Date()))


def _device_type(text: str, browser, os_, device) -> str:
    if (device and device.family == "Spider") or (browser and browser.family in _SCRIPT_BROWSERS):
        return "bot"
    if device and (device.family == "iPad" or "Tablet" in (device.brand or "")):
        return "tablet"
    os_family = os_.family if os_ else None
    if os_family == "Android" and "Mobile" not in text:  # Android's own convention for tablets
        return "tablet"
    if os_family in _MOBILE_OS:
        return "mobile"
    if os_family in _DESKTOP_OS:
        return "desktop"
    return "unknown"
