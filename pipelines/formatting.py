"""How numbers read in reports: money in the business's own form, durations, sizes, deltas."""

from __future__ import annotations

import math


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def rupiah(amount: float | int | None) -> str:
    """`2265000` -> `Rp 2.265.000` (Indonesian thousands separator, no decimals)."""
    if _missing(amount):
        return "–"
    whole = round(amount)
    sign = "-" if whole < 0 else ""
    return f"{sign}Rp {abs(whole):,}".replace(",", ".")


def rupiah_short(amount: float | int | None) -> str:
    """`7514337` -> `Rp 7,5 jt` (juta), `750000` -> `Rp 750 rb` (ribu): for dense tables."""
    if _missing(amount):
        return "–"
    value = float(amount)
    for size, unit in ((1e9, "M"), (1e6, "jt"), (1e3, "rb")):
        if abs(value) >= size:
            number = f"{value / size:.1f}".replace(".", ",").removesuffix(",0")
            return f"Rp {number} {unit}"
    return rupiah(value)


def duration(seconds: float | None) -> str:
    """`394.2` -> `6m 34s`."""
    if _missing(seconds):
        return "–"
    total = round(seconds)
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def data_size(n_bytes: float | int | None) -> str:
    if _missing(n_bytes):
        return "–"
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def count(n: float | int | None) -> str:
    if _missing(n):
        return "–"
    return f"{round(n):,}".replace(",", ".")


def megapixels(pixels: float | int | None) -> str:
    if _missing(pixels):
        return "–"
    return f"{pixels / 1e6:,.1f} MP".replace(",", " ")


def percent_change(value: float | None, reference: float | None) -> float | None:
    """Relative change in percent, or None where there is nothing to compare with."""
    if _missing(value) or _missing(reference) or reference == 0:
        return None
    return (value - reference) / abs(reference) * 100


def signed_percent(change: float | None) -> str:
    if _missing(change):
        return "n/a"
    arrow = "▲" if change > 0.05 else "▼" if change < -0.05 else "■"
    return f"{arrow} {change:+.1f}%"


def slack_escape(text: object) -> str:
    """A data-derived value (a booth name, a run name, an error) made literal in Slack's
    mrkdwn, where `<`, `>` and `&` are control characters: `<!channel>` pings everyone,
    `<http://x|y>` is a link, `&lt;` an entity. Our own markup (`*bold*`, `slack_link`)
    is added around escaped values, never escaped itself."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, label: str) -> str:
    """Our own `<url|label>` link, with both parts escaped: a `|` in the URL would end it
    early, so it is percent-encoded (what a browser sends for it anyway)."""
    return f"<{slack_escape(url).replace('|', '%7C')}|{slack_escape(label)}>"
