"""How numbers read in reports: money in the business's own form, durations, sizes, deltas."""

from __future__ import annotations


def rupiah(amount: float | int | None) -> str:
    """`2265000` -> `Rp 2.265.000` (Indonesian thousands separator, no decimals)."""
    if amount is None:
        return "–"
    whole = round(amount)
    sign = "-" if whole < 0 else ""
    return f"{sign}Rp {abs(whole):,}".replace(",", ".")


def duration(seconds: float | None) -> str:
    """`394.2` -> `6m 34s`."""
    if seconds is None:
        return "–"
    total = round(seconds)
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def data_size(n_bytes: float | int | None) -> str:
    if n_bytes is None:
        return "–"
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def count(n: float | int | None) -> str:
    if n is None:
        return "–"
    return f"{round(n):,}".replace(",", ".")


def megapixels(pixels: float | int | None) -> str:
    if pixels is None:
        return "–"
    return f"{pixels / 1e6:,.1f} MP".replace(",", " ")


def percent_change(value: float | None, reference: float | None) -> float | None:
    """Relative change in percent, or None where there is nothing to compare with."""
    if value is None or reference is None or reference == 0:
        return None
    return (value - reference) / abs(reference) * 100


def signed_percent(change: float | None) -> str:
    if change is None:
        return "n/a"
    arrow = "▲" if change > 0.05 else "▼" if change < -0.05 else "■"
    return f"{arrow} {change:+.1f}%"
