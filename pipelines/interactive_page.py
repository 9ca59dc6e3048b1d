"""An interactive report as one self-contained HTML file: Vega-Lite charts (built with
Altair; Vega's JavaScript inlined from vl-convert, so the page opens from `file://` with no
network), controls that set every chart's parameters, and under each chart a table filled
from the items the chart drew, so a table always shows its chart's numbers.

The page's script exposes `window.dashboard` (the Vega views, the current filters, and
`pending`, a promise of the last update) for tests and debugging. Anomalies
(tasks/anomalies.py ANOMALY_SCHEMA) are drawn as red rules on the days flagged.

Both businesses' pages use it: tasks/glamira/interactive.py and tasks/bahela/interactive.py.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from html import escape
from typing import Any

import altair as alt
import polars as pl

ALL = "(all)"  # the value of a filter that keeps everything


ANOMALY = "#b91c1c"


WIDTH = 860


def columnar(frame: pl.DataFrame) -> dict:
    """A frame as the page carries it: one list per column, text as a dictionary and
    codes (the script expands it into rows)."""
    columns: dict[str, dict] = {}
    for name in frame.columns:
        series = frame[name]
        if series.dtype == pl.String:
            values = series.unique(maintain_order=True).drop_nulls().to_list()
            index = {value: i for i, value in enumerate(values)}
            columns[name] = {
                "dict": values,
                "codes": [None if v is None else index[v] for v in series.to_list()],
            }
        else:
            columns[name] = {"values": [round(v, 6) if isinstance(v, float) else v for v in series.to_list()]}
    return {"length": frame.height, "columns": columns}


def anomaly_rows(anomalies: pl.DataFrame, entity_to, column: str) -> list[dict]:
    """The page's rows of anomalies, `column` (what the entity filter compares) set to
    `entity_to(entity)`; columns the frame lacks are null."""
    frame = anomalies.select(
        pl.col("day").cast(pl.Date),
        *[
            (pl.col(name) if name in anomalies.columns else pl.lit(None)).alias(name)
            for name in (
                "entity",
                "metric",
                "actual",
                "expected",
                "lower",
                "upper",
                "score",
                "severity",
                "detail",
            )
        ],
    )
    rows = records(frame.with_columns(t=epoch_ms("day"), day=pl.col("day").cast(pl.String)))
    return [row | {column: entity_to(row["entity"])} for row in rows]


def day_x(title: str = "Day") -> alt.X:
    return alt.X(
        "t:T",
        title=title,
        timeUnit="utcyearmonthdate",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(format="%d %b"),
    )


def anomaly_layer(
    keep: str, entity_title: str, entity_field: str, name: str = "anomalies"
) -> list[alt.Chart]:
    """Red rules on the days flagged (the anomalies that `keep` keeps), and a marker at the
    top of each for the tooltip; the marks are `name` and `name`_points."""
    base = alt.Chart(alt.NamedData("anomalies")).transform_filter(keep)
    tips = [
        alt.Tooltip("day:N", title="Day"),
        alt.Tooltip(f"{entity_field}:N", title=entity_title),
        alt.Tooltip("metric:N", title="Metric"),
        alt.Tooltip("actual:Q", title="Actual", format=",.2f"),
        alt.Tooltip("expected:Q", title="Expected", format=",.2f"),
        alt.Tooltip("score:Q", title="Score (spreads)", format="+.1f"),
        alt.Tooltip("severity:N", title="Severity"),
        alt.Tooltip("detail:N", title="Detail"),
    ]
    rule = base.mark_rule(color=ANOMALY, strokeWidth=2, strokeDash=[4, 3]).encode(x=day_x(), tooltip=tips)
    point = base.mark_point(color=ANOMALY, shape="triangle-down", filled=True, size=90).encode(
        x=day_x(), y=alt.value(6), tooltip=tips
    )
    return [rule.properties(name=name), point.properties(name=f"{name}_points")]


@dataclass(frozen=True)
class Column:
    field: str
    label: str
    format: str  # usd | idr | int | day | duration | text | number


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    note: str
    chart: Any  # an Altair chart; its data are named data sets of the page
    marks: tuple[str, ...]  # the marks whose items fill the table, merged on the first column
    columns: tuple[Column, ...]
    sort: str = ""
    descending: bool = False


@dataclass(frozen=True)
class Control:
    name: str  # the Vega parameter every chart declares
    label: str
    kind: str  # select | date
    default: str
    options: tuple[tuple[str, str], ...] = ()  # (value, label) for a select
    bounds: tuple[str, str] = ("", "")  # min and max of a date


@dataclass(frozen=True)
class Page:
    title: str
    subtitle: str
    notes: tuple[str, ...]
    controls: tuple[Control, ...]
    panels: tuple[Panel, ...]
    datasets: dict[str, list[dict] | pl.DataFrame] = field(default_factory=dict)  # frames go columnar


def render_page(page: Page) -> str:
    """One self-contained HTML file: styles, data, Vega's JavaScript and the script inline;
    nothing is fetched."""
    bundle = _vega_bundle()
    datasets = {
        name: columnar(rows) if isinstance(rows, pl.DataFrame) else rows
        for name, rows in page.datasets.items()
    }
    specs = {}
    for panel in page.panels:
        spec = panel.chart.to_dict()
        spec.pop("$schema", None)  # an address: nothing fetches it, but nothing needs it either
        spec.pop("datasets", None)
        specs[panel.key] = spec
    setup = {
        "filters": [c.name for c in page.controls],
        "defaults": {c.name: c.default for c in page.controls},
        "panels": [
            {
                "key": p.key,
                # Vega-Lite names a unit's mark after the unit
                "marks": [f"{m}_marks" for m in p.marks],
                "columns": [{"field": c.field, "label": c.label, "format": c.format} for c in p.columns],
                "sort": p.sort or p.columns[0].field,
                "descending": p.descending,
            }
            for p in page.panels
        ],
    }
    controls = "".join(_control_html(c) for c in page.controls)
    sections = "".join(
        f"<section class='panel' id='panel-{escape(p.key)}' data-panel='{escape(p.key)}'>"
        f"<h2>{escape(p.title)}</h2><p class='note'>{escape(p.note)}</p>"
        f"<div class='chart' id='chart-{escape(p.key)}'></div>"
        f"<div class='table-wrap'><table class='data' id='table-{escape(p.key)}'><thead><tr>"
        + "".join(f"<th>{escape(c.label)}</th>" for c in p.columns)
        + "</tr></thead><tbody></tbody></table></div></section>"
        for p in page.panels
    )
    notes = "".join(f"<p class='note'>{escape(n)}</p>" for n in page.notes)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(page.title)}</title><style>{_CSS}</style>"
        f"<script>{_script_text(bundle)}</script></head><body>"
        f"<header><h1>{escape(page.title)}</h1><p class='sub'>{escape(page.subtitle)}</p>{notes}</header>"
        f"<form id='filters' onsubmit='return false'>{controls}"
        "<button type='button' id='reset'>Reset</button></form>"
        f"<main>{sections}</main>"
        f"<script>const DATASETS = {_json(datasets)};\nconst SPECS = {_json(specs)};\n"
        f"const SETUP = {_json(setup)};\n{_SCRIPT}</script></body></html>"
    )


@functools.cache
def _vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script, from vl-convert (no network)."""
    import vl_convert as vlc
    from altair.utils._importers import vl_version_for_vl_convert

    return vlc.javascript_bundle(vl_version=vl_version_for_vl_convert())


def _control_html(control: Control) -> str:
    name = escape(control.name)
    if control.kind == "date":
        low, high = control.bounds
        field_html = (
            f"<input type='date' id='{name}' name='{name}' value='{escape(control.default)}' "
            f"min='{escape(low)}' max='{escape(high)}'>"
        )
    else:
        options = "".join(
            f"<option value='{escape(value)}'{' selected' if value == control.default else ''}>{escape(label)}</option>"
            for value, label in control.options
        )
        field_html = f"<select id='{name}' name='{name}'>{options}</select>"
    return f"<label>{escape(control.label)} {field_html}</label>"


def _json(value: Any) -> str:
    # "<" escaped: a value holding "</script>" cannot end the script early
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).replace("<", "\\u003c")


def _script_text(text: str) -> str:
    return text.replace("</script", "<\\/script")


_CSS = """
body{margin:0;background:#f3f4f6;color:#111827;font:14px/1.45 -apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif}
header,main,#filters{max-width:1000px;margin:0 auto;padding:0 24px}
header{padding-top:24px}h1{font-size:22px;margin:0}.sub,.note{color:#6b7280;margin:4px 0}
#filters{position:sticky;top:0;z-index:2;background:#f3f4f6;display:flex;flex-wrap:wrap;gap:12px;
 padding-top:12px;padding-bottom:12px;border-bottom:1px solid #e5e7eb}
#filters label{font-size:13px;color:#374151}#filters select,#filters input{font:inherit;margin-left:4px}
#filters select{max-width:220px}
.panel{background:#fff;border-radius:8px;margin:16px 0;padding:16px 20px}
.panel h2{font-size:16px;margin:0 0 4px}.chart{margin:8px 0;overflow-x:auto}
.table-wrap{max-height:320px;overflow:auto;border-top:1px solid #e5e7eb}
table.data{border-collapse:collapse;width:100%;font-size:13px}
table.data th{position:sticky;top:0;background:#f9fafb;text-align:right;padding:4px 8px}
table.data td{text-align:right;padding:3px 8px;border-bottom:1px solid #f3f4f6;font-variant-numeric:tabular-nums}
table.data th:first-child,table.data td:first-child{text-align:left}
.empty{color:#6b7280;font-style:italic}
"""


# The page's script: one Vega view per panel, all fed the same named data sets; the
# controls set every view's parameters, and each table is refilled from the items its
# chart drew once the views have run.
_SCRIPT = r"""
(function () {
  const locale = 'en-US';
  const FORMATS = {
    usd: v => '$' + v.toLocaleString(locale, {minimumFractionDigits: 2, maximumFractionDigits: 2}),
    idr: v => 'Rp ' + Math.round(v).toLocaleString('id-ID'),
    int: v => Math.round(v).toLocaleString(locale),
    number: v => v.toLocaleString(locale, {maximumFractionDigits: 2}),
    duration: v => Math.floor(v / 60) + 'm ' + String(Math.round(v % 60)).padStart(2, '0') + 's',
    day: v => String(v),
    text: v => String(v),
  };
  function show(value, format) {
    if (value === null || value === undefined || (typeof value === 'number' && isNaN(value))) return '–';
    return (FORMATS[format] || FORMATS.text)(value);
  }
  function markItems(view, name) {
    const out = [];
    (function walk(mark) {
      if (!mark) return;
      if (mark.name === name) { for (const item of mark.items || []) if (item.datum) out.push(item.datum); return; }
      for (const item of mark.items || []) for (const child of item.items || []) walk(child);
    })(view.scenegraph().root);
    return out;
  }
  function rows(view, panel) {
    const key = panel.columns[0].field, byKey = new Map();
    for (const mark of panel.marks) {
      for (const datum of markItems(view, mark)) {
        const k = datum[key];
        const row = byKey.get(k) || {};
        for (const c of panel.columns) if (datum[c.field] !== undefined && row[c.field] === undefined) row[c.field] = datum[c.field];
        byKey.set(k, row);
      }
    }
    const list = Array.from(byKey.values());
    const s = panel.sort, sign = panel.descending ? -1 : 1;
    list.sort((a, b) => (a[s] === b[s] ? 0 : (a[s] === undefined || a[s] === null ? 1 : (b[s] === undefined || b[s] === null ? -1 : (a[s] < b[s] ? -sign : sign)))));
    return list;
  }
  function fill(panel) {
    const body = document.querySelector('#table-' + panel.key + ' tbody');
    const list = rows(views[panel.key], panel);
    body.replaceChildren();
    if (!list.length) {
      const tr = body.insertRow(), td = tr.insertCell();
      td.colSpan = panel.columns.length; td.className = 'empty'; td.textContent = 'Nothing for these filters.';
      return;
    }
    for (const row of list) {
      const tr = body.insertRow();
      for (const c of panel.columns) {
        const td = tr.insertCell(), v = row[c.field];
        td.dataset.field = c.field;
        if (v !== undefined && v !== null) td.dataset.value = String(v);
        td.textContent = show(v, c.format);
      }
    }
  }
  function expand(data) {
    if (Array.isArray(data)) return data;
    const names = Object.keys(data.columns);
    const columns = names.map(name => {
      const c = data.columns[name];
      return c.dict ? c.codes.map(i => (i === null ? null : c.dict[i])) : c.values;
    });
    const rows = new Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const row = {};
      for (let j = 0; j < names.length; j++) row[names[j]] = columns[j][i];
      rows[i] = row;
    }
    return rows;
  }
  const DATA = Object.fromEntries(Object.entries(DATASETS).map(([name, data]) => [name, expand(data)]));
  const views = {};
  const current = Object.assign({}, SETUP.defaults);
  function values() {
    for (const name of SETUP.filters) current[name] = document.getElementById(name).value || SETUP.defaults[name];
    return current;
  }
  function update() {
    const filters = values();
    const runs = SETUP.panels.map(p => {
      const view = views[p.key];
      for (const name of SETUP.filters) view.signal(name, filters[name]);
      return view.runAsync();
    });
    dashboard.pending = Promise.all(runs).then(() => { SETUP.panels.forEach(fill); dashboard.updates += 1; return filters; });
    return dashboard.pending;
  }
  const dashboard = window.dashboard = {views: views, filters: current, updates: 0, update: update, rows: (key) => rows(views[key], SETUP.panels.find(p => p.key === key))};
  const embeds = SETUP.panels.map(p => {
    const spec = Object.assign({}, SPECS[p.key], {datasets: DATA});
    return vegaEmbed('#chart-' + p.key, spec, {actions: false, renderer: 'svg'}).then(result => { views[p.key] = result.view; });
  });
  dashboard.pending = Promise.all(embeds).then(update).then(() => { document.body.dataset.ready = 'true'; });
  document.getElementById('filters').addEventListener('change', update);
  document.getElementById('reset').addEventListener('click', () => {
    for (const name of SETUP.filters) document.getElementById(name).value = SETUP.defaults[name];
    update();
  });
})();
"""


def epoch_ms(column: str) -> pl.Expr:
    return (pl.col(column).cast(pl.Date).cast(pl.Datetime("ms", "UTC")).dt.epoch("ms")).alias("t")


def records(frame: pl.DataFrame) -> list[dict]:
    return [
        {k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}
        for row in frame.iter_rows(named=True)
    ]
