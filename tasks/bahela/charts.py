"""The weekly report's chart: each target's daily history, its 7-day average, the week
being reported, and next week's forecast with its interval, as one PNG."""

from __future__ import annotations

import io
from datetime import date, timedelta

import matplotlib

matplotlib.use("Agg")  # no display: render to memory

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from tasks.bahela.forecast import TARGETS, TargetForecast  # noqa: E402

HISTORY = "#6b7280"
AVERAGE = "#111827"
FORECAST = "#d97706"
WEEK = "#dbeafe"


def forecast_chart(
    totals: pl.DataFrame, week_ending: date, forecasts: dict[str, TargetForecast] | None, width_px: int = 1200
) -> bytes:
    """PNG bytes. `totals` is `metrics.daily_totals` (one row per day, all booths)."""
    fig, axes = plt.subplots(2, 2, figsize=(width_px / 100, width_px / 100 * 0.62), dpi=100, sharex=True)
    for ax, (target, label) in zip(axes.flat, TARGETS.items(), strict=True):
        ax.axvspan(week_ending - timedelta(days=6.5), week_ending + timedelta(days=0.5), color=WEEK, zorder=0)
        ax.plot(
            totals["day"],
            totals[target],
            color=HISTORY,
            linewidth=1,
            marker="o",
            markersize=2.5,
            label="daily",
        )
        ax.plot(totals["day"], totals[f"{target}_avg7"], color=AVERAGE, linewidth=1.8, label="7-day average")
        if forecasts and target in forecasts:
            f = forecasts[target]
            ax.fill_between(
                f.days, f.lower, f.upper, color=FORECAST, alpha=0.2, linewidth=0, label="80% interval"
            )
            ax.plot(
                f.days,
                f.prediction,
                color=FORECAST,
                linewidth=2,
                linestyle="--",
                marker="o",
                markersize=3,
                label="forecast",
            )
        ax.set_title(label, fontsize=11, loc="left")
        ax.yaxis.set_major_formatter(FuncFormatter(_formatter(target)))
        ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    axes.flat[0].legend(loc="upper left", fontsize=8, frameon=False, ncol=2)
    fig.suptitle(
        f"Bahela, all booths: history to {week_ending:%d %b %Y} and next week's forecast", fontsize=12
    )
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _formatter(target: str):
    if target == "revenue_idr":
        return lambda value, _: (
            f"Rp {value / 1e6:,.1f} jt".replace(",", "X").replace(".", ",").replace("X", ".")
        )
    if target == "avg_duration_seconds":
        return lambda value, _: f"{int(value // 60)}m {int(value % 60):02d}s"
    return lambda value, _: f"{value:,.0f}".replace(",", ".")
