"""Small building blocks for HTML that reads well in mail clients (inline styles, tables)
and in a browser. Every value passing through here is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

FONT = "font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif"
MUTED = "#6b7280"
UP = "#047857"
DOWN = "#b91c1c"
FLAT = "#6b7280"


def page(title: str, body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title></head>"
        f"<body style='margin:0;background:#f3f4f6;{FONT};color:#111827'>"
        "<table role='presentation' width='100%' cellpadding='0' cellspacing='0'><tr><td align='center'>"
        "<table role='presentation' width='680' cellpadding='0' cellspacing='0' "
        "style='max-width:680px;background:#ffffff;margin:24px 0;border-radius:8px'>"
        f"<tr><td style='padding:28px 32px'>{body}</td></tr></table></td></tr></table></body></html>"
    )


def heading(text: str, subtitle: str = "") -> str:
    sub = (
        f"<div style='color:{MUTED};font-size:14px;margin-top:4px'>{escape(subtitle)}</div>"
        if subtitle
        else ""
    )
    return f"<h1 style='font-size:22px;margin:0'>{escape(text)}</h1>{sub}"


def section(title: str) -> str:
    return f"<h2 style='font-size:16px;margin:28px 0 8px'>{escape(title)}</h2>"


def paragraph(text: str, muted: bool = False) -> str:
    color = f"color:{MUTED};" if muted else ""
    return f"<p style='{color}font-size:14px;line-height:1.5;margin:8px 0'>{escape(text)}</p>"


def change(text: str, value: float | None, higher_is_better: bool | None = True) -> str:
    """A signed change, green when good news, red when bad, grey when neither."""
    if value is None or abs(value) < 0.05 or higher_is_better is None:
        color = FLAT
    else:
        color = UP if (value > 0) == higher_is_better else DOWN
    return f"<span style='color:{color};white-space:nowrap'>{escape(text)}</span>"


def cards(items: Sequence[tuple[str, str, str]]) -> str:
    """A row of headline figures: (label, value, html of the comparison lines)."""
    cells = "".join(
        "<td valign='top' style='padding:12px;border:1px solid #e5e7eb;border-radius:6px;width:25%'>"
        f"<div style='color:{MUTED};font-size:12px;text-transform:uppercase;letter-spacing:.04em'>"
        f"{escape(label)}</div>"
        f"<div style='font-size:20px;font-weight:600;margin:4px 0;white-space:nowrap'>{escape(value)}</div>"
        f"<div style='font-size:12px;line-height:1.6'>{detail}</div></td>"
        for label, value, detail in items
    )
    return (
        "<table role='presentation' width='100%' cellpadding='0' cellspacing='6' "
        f"style='margin-top:16px'><tr>{cells}</tr></table>"
    )


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], raw_html_columns: set[int] | None = None
) -> str:
    """A data table; columns listed in `raw_html_columns` hold pre-escaped HTML."""
    raw_html_columns = raw_html_columns or set()
    head = "".join(
        f"<th align='{'left' if i == 0 else 'right'}' style='padding:6px 8px;border-bottom:2px solid #e5e7eb;"
        f"font-size:12px;color:{MUTED}'>{escape(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td align='{'left' if i == 0 else 'right'}' style='padding:6px 8px;border-bottom:1px solid #f3f4f6;"
            f"font-size:14px'>{cell if i in raw_html_columns else escape(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        "<table width='100%' cellpadding='0' cellspacing='0' style='border-collapse:collapse'>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(value: str) -> str:
        return value.replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
