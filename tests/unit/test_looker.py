"""The LookML project in looker/, read without a Looker instance: every .lkml file parses with
`lkml`, every view names a dbt mart, every `${...}` reference resolves, and the LookML
dashboard (YAML) refers only to fields of its Explores.

Looker itself is not available here, so this module also holds a small stand-in for its SQL
generation (`Compiler`: `${TABLE}` -> the table alias, `${field}` -> that field's SQL, a
measure's type -> its aggregate, an element -> one SELECT over the Explore's joins);
tests/integration/test_looker.py runs that SQL on marts built by dbt. Whatever LookML the
stand-in does not understand (a measure filter, a type it has no rule for) raises, so a new
construct cannot pass unchecked.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

import lkml
import pytest
import yaml

from tests.support.processes import ROOT

LOOKER = ROOT / "looker"
GLAMIRA_MARTS = ROOT / "dbt" / "models" / "marts" / "glamira"
MODEL = "glamira"

REFERENCE = re.compile(r"\$\{([^}]*)\}")
CONSTANT = re.compile(r"@\{(\w+)\}")
TABLE_COLUMN = re.compile(r"\$\{TABLE\}\.(\w+)")
# the SQL-bearing parameters of a field
SQL_KEYS = ("sql", "sql_latitude", "sql_longitude", "sql_start", "sql_end")
# Spellings one of the two dialects lacks or reads differently (DATE_TRUNC's arguments are
# swapped): the views' SQL must run on BigQuery (Looker's connection) and DuckDB (the tests'
# warehouse) alike.
NOT_PORTABLE = ("SAFE_DIVIDE", "SAFE_CAST", "::", "ILIKE", "DATE_TRUNC", "FORMAT_DATE", "STRFTIME")


@dataclass(frozen=True)
class Field:
    view: str
    name: str
    kind: str  # "dimension" or "measure"
    type: str
    sql: dict[str, str]  # SQL_KEYS present
    timeframe: str | None = None  # for a dimension group's fields
    primary_key: bool = False
    filtered: bool = False  # a measure with `filters:`


@dataclass(frozen=True)
class View:
    name: str
    sql_table_name: str
    fields: dict[str, Field]

    @property
    def primary_key(self) -> Field | None:
        return next((f for f in self.fields.values() if f.primary_key), None)


@dataclass(frozen=True)
class Join:
    alias: str
    view: str
    sql_on: str
    type: str


@dataclass(frozen=True)
class Explore:
    name: str
    alias: str  # the base view's alias in the SQL
    view: str
    joins: dict[str, Join]

    def view_of(self, alias: str) -> str:
        return self.view if alias == self.alias else self.joins[alias].view


@dataclass(frozen=True)
class Project:
    parsed: dict[Path, dict]
    constants: dict[str, str]
    model: dict
    views: dict[str, View]
    explores: dict[str, Explore]
    dashboards: list[dict] = field(default_factory=list)

    def scope(self, explore: Explore) -> dict[str, Field]:
        """`alias.field` -> Field for every field an Explore offers."""
        aliases = [explore.alias, *explore.joins]
        return {
            f"{alias}.{name}": f
            for alias in aliases
            for name, f in self.views[explore.view_of(alias)].fields.items()
        }


def parse(path: Path) -> dict:
    return lkml.load(path.read_text(encoding="utf-8"))


def view_fields(view_name: str, view: dict) -> dict[str, Field]:
    fields: dict[str, Field] = {}
    for dimension in view.get("dimensions", []):
        fields[dimension["name"]] = Field(
            view_name,
            dimension["name"],
            "dimension",
            dimension.get("type", "string"),
            {k: dimension[k] for k in SQL_KEYS if k in dimension},
            primary_key=dimension.get("primary_key") == "yes",
        )
    for group in view.get("dimension_groups", []):
        if group.get("type") != "time":
            raise NotImplementedError(
                f"{view_name}.{group['name']}: dimension group type {group.get('type')}"
            )
        for timeframe in group.get("timeframes", []):
            name = f"{group['name']}_{timeframe}"
            fields[name] = Field(
                view_name, name, "dimension", "time", {"sql": group["sql"]}, timeframe=timeframe
            )
    for measure in view.get("measures", []):
        fields[measure["name"]] = Field(
            view_name,
            measure["name"],
            "measure",
            measure.get("type", "count"),
            {k: measure[k] for k in SQL_KEYS if k in measure},
            filtered=bool(measure.get("filters")),
        )
    return fields


def load_project(folder: Path = LOOKER) -> Project:
    parsed = {path: parse(path) for path in sorted(folder.rglob("*.lkml"))}
    manifest = parsed.get(folder / "manifest.lkml", {})
    constants = {c["name"]: c["value"] for c in manifest.get("constants", [])}
    model = parsed[folder / f"{MODEL}.model.lkml"]
    views = {}
    for content in parsed.values():
        for view in content.get("views", []):
            views[view["name"]] = View(
                view["name"], view.get("sql_table_name", ""), view_fields(view["name"], view)
            )
    explores = {}
    for explore in model.get("explores", []):
        base = explore.get("view_name") or explore.get("from") or explore["name"]
        alias = explore["name"] if explore.get("from") else base
        joins = {
            join["name"]: Join(
                join["name"], join.get("from", join["name"]), join["sql_on"], join.get("type", "left_outer")
            )
            for join in explore.get("joins", [])
        }
        explores[explore["name"]] = Explore(explore["name"], alias, base, joins)
    dashboards = [
        d for path in sorted(folder.rglob("*.dashboard.lookml")) for d in yaml.safe_load(path.read_text())
    ]
    return Project(parsed, constants, model, views, explores, dashboards)


# -- cross-reference checks: each returns the problems it finds, as sentences ---------------


def reference_problems(project: Project) -> list[str]:
    """Every `${...}` in the views and the joins, and every `@{constant}`, resolves."""
    problems = []
    for view in project.views.values():
        texts = [(f"{view.name}.sql_table_name", view.sql_table_name)]
        texts += [
            (f"{view.name}.{f.name}.{k}", sql) for f in view.fields.values() for k, sql in f.sql.items()
        ]
        for where, sql in texts:
            problems += [
                f"{where}: unknown constant @{{{c}}}"
                for c in CONSTANT.findall(sql)
                if c not in project.constants
            ]
            for ref in REFERENCE.findall(sql):
                if ref == "TABLE":
                    continue
                target, _, name = ref.rpartition(".")
                target_view = project.views.get(target or view.name)
                if target_view is None or name not in target_view.fields:
                    problems.append(f"{where}: ${{{ref}}} is no field")
    for explore in project.explores.values():
        if explore.view not in project.views:
            problems.append(f"explore {explore.name}: no view {explore.view}")
            continue
        scope = _scope(project, explore)
        for join in explore.joins.values():
            if join.view not in project.views:
                problems.append(f"explore {explore.name}: join {join.alias} names no view")
            for ref in REFERENCE.findall(join.sql_on):
                if ref not in scope:
                    problems.append(
                        f"explore {explore.name}: join {join.alias}: ${{{ref}}} is not in the explore"
                    )
    for datagroup in project.model.get("datagroups", []):
        trigger = datagroup.get("sql_trigger", "")
        problems += [
            f"datagroup {datagroup['name']}: unknown constant @{{{c}}}"
            for c in CONSTANT.findall(trigger)
            if c not in project.constants
        ]
    return problems


def _scope(project: Project, explore: Explore) -> dict[str, Field]:
    try:
        return project.scope(explore)
    except KeyError:
        return {}


def dashboard_problems(project: Project, dashboard: dict) -> list[str]:
    """Every element's model and Explore exist, and every field it names (fields, sorts,
    pivots, hidden fields, series settings, table calculations, filter listeners) is a field
    of that Explore or one of its own table calculations; every dashboard filter's field is
    a field of its Explore."""
    problems = []
    name = dashboard.get("dashboard")
    filters = {f["name"]: f for f in dashboard.get("filters", [])}

    def explore_of(where: str, item: dict) -> dict[str, Field] | None:
        if item.get("model") != MODEL:
            problems.append(f"{where}: model {item.get('model')!r} is not {MODEL!r}")
            return None
        explore = project.explores.get(item.get("explore"))
        if explore is None:
            problems.append(f"{where}: no explore {item.get('explore')!r}")
            return None
        return project.scope(explore)

    for dashboard_filter in filters.values():
        where = f"{name} filter {dashboard_filter['name']}"
        scope = explore_of(where, dashboard_filter)
        if scope is not None and dashboard_filter.get("field") not in scope:
            problems.append(f"{where}: field {dashboard_filter.get('field')!r} is not in the explore")

    for element in dashboard.get("elements", []):
        where = f"{name} element {element.get('name')}"
        if element.get("type") == "text":
            continue
        scope = explore_of(where, element)
        if scope is None:
            continue
        calculations = {
            d["table_calculation"] for d in element.get("dynamic_fields", []) if "table_calculation" in d
        }
        named = list(element.get("fields", []))
        named += [re.sub(r"\s+(asc|desc)$", "", s.strip()) for s in element.get("sorts", [])]
        named += list(element.get("pivots", [])) + list(element.get("hidden_fields", []))
        named += list(element.get("fill_fields", []))
        named += list(element.get("series_types", {})) + list(element.get("series_colors", {}))
        named += [s["id"] for axis in element.get("y_axes", []) for s in axis.get("series", [])]
        for dynamic in element.get("dynamic_fields", []):
            named += REFERENCE.findall(dynamic.get("expression", ""))
        if not element.get("fields"):
            problems.append(f"{where}: no fields")
        for field_name in named:
            if field_name not in scope and field_name not in calculations:
                problems.append(f"{where}: {field_name!r} is not a field of explore {element['explore']}")
        for filter_name, field_name in element.get("listen", {}).items():
            if filter_name not in filters:
                problems.append(f"{where}: listens to no filter {filter_name!r}")
            if field_name not in scope:
                problems.append(
                    f"{where}: filter {filter_name} applies to {field_name!r}, not in the explore"
                )
    return problems


def include_problems(project: Project, folder: Path = LOOKER) -> list[str]:
    """Every include matches a file; every view file and the dashboard are included."""
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    includes = [i.lstrip("/") for i in project.model.get("includes", [])]
    problems = [f"include {i!r} matches no file" for i in includes if not fnmatch.filter(files, i)]
    wanted = [f for f in files if f.endswith((".view.lkml", ".dashboard.lookml"))]
    problems += [
        f"{f} is not included by the model"
        for f in wanted
        if not any(fnmatch.fnmatch(f, i) for i in includes)
    ]
    return problems


# -- the stand-in for Looker's SQL generation ------------------------------------------------


class Compiler:
    """LookML -> SQL for one Explore, the way Looker writes it in spirit: each field's SQL
    with `${TABLE}` as the view's alias and `${field}` as that field's SQL (in parentheses),
    measures aggregated by their type, the joins an element's fields need, GROUP BY every
    dimension. Constants are substituted (`constants` overrides the manifest's). A dimension
    group's `date` is its SQL cast to a date and its other timeframes (week, month, hour of
    day ...) are its SQL unchanged: Looker writes that date arithmetic itself, per dialect,
    so only the project's own SQL is run."""

    def __init__(self, project: Project, explore: str, constants: dict[str, str] | None = None):
        self.project = project
        self.explore = project.explores[explore]
        self.constants = {**project.constants, **(constants or {})}

    def constant(self, sql: str) -> str:
        return CONSTANT.sub(lambda m: self.constants[m.group(1)], sql)

    def field(self, ref: str, alias: str | None = None) -> tuple[str, Field]:
        target, _, name = ref.rpartition(".")
        target = target or alias or self.explore.alias
        return target, self.project.views[self.explore.view_of(target)].fields[name]

    def expand(self, sql: str, alias: str) -> str:
        def replace(match: re.Match) -> str:
            ref = match.group(1)
            if ref == "TABLE":
                return alias
            target, referenced = self.field(ref, alias)
            return f"({self.reference_sql(target, referenced)})"

        return REFERENCE.sub(replace, self.constant(sql))

    def reference_sql(self, alias: str, f: Field) -> str:
        """A field's SQL where another field's `${...}` names it."""
        if f.kind == "measure":
            return self.measure_sql(alias, f)
        sql = self.expand(f.sql["sql"], alias)
        if f.timeframe == "date":
            return f"CAST({sql} AS DATE)"
        return sql

    def measure_sql(self, alias: str, f: Field) -> str:
        if f.filtered:
            raise NotImplementedError(f"{f.view}.{f.name}: measure filters are not translated")
        view = self.project.views[f.view]
        if f.type == "count":
            key = view.primary_key
            return f"COUNT(DISTINCT {self.expand(key.sql['sql'], alias)})" if key else "COUNT(*)"
        sql = self.expand(f.sql["sql"], alias)
        aggregates = {
            "sum": f"COALESCE(SUM({sql}), 0)",
            "count_distinct": f"COUNT(DISTINCT {sql})",
            "average": f"AVG({sql})",
            "min": f"MIN({sql})",
            "max": f"MAX({sql})",
            "number": sql,
            "date": sql,
        }
        if f.type not in aggregates:
            raise NotImplementedError(f"{f.view}.{f.name}: measure type {f.type}")
        return aggregates[f.type]

    def select_sql(self, alias: str, f: Field) -> str:
        """A field's SQL in the SELECT list."""
        if f.kind == "measure":
            return self.measure_sql(alias, f)
        if f.type == "location":
            return f"CONCAT(CAST({self.expand(f.sql['sql_latitude'], alias)} AS VARCHAR), ',', CAST({self.expand(f.sql['sql_longitude'], alias)} AS VARCHAR))"
        sql = self.reference_sql(alias, f)
        return f"CASE WHEN {sql} THEN 'Yes' ELSE 'No' END" if f.type == "yesno" else sql

    def aliases_needed(self, refs: list[str]) -> list[str]:
        """The base view and the joins the fields reach, including through other fields'
        SQL and the joins' own conditions, in the Explore's join order."""
        needed = {self.explore.alias}
        pending = list(refs)
        while pending:
            ref = pending.pop()
            alias, f = self.field(ref)
            if alias not in needed:
                needed.add(alias)
                if alias in self.explore.joins:
                    pending += REFERENCE.findall(self.explore.joins[alias].sql_on)
            for sql in f.sql.values():
                pending += [r if "." in r else f"{alias}.{r}" for r in REFERENCE.findall(sql) if r != "TABLE"]
        return [self.explore.alias] + [a for a in self.explore.joins if a in needed]

    def query(
        self,
        fields: list[str],
        sorts: list[str] = (),
        limit: int | None = None,
        filters: dict[str, str] | None = None,
    ) -> str:
        """One element's SELECT; `filters` are dashboard filters as `field: value` (equality)."""
        filters = filters or {}
        aliases = self.aliases_needed([*fields, *filters])
        selected = []
        groups = []
        for n, ref in enumerate(fields, start=1):
            alias, f = self.field(ref)
            selected.append(f'{self.select_sql(alias, f)} AS "{ref}"')
            if f.kind == "dimension":
                groups.append(str(n))
        base = self.project.views[self.explore.view]
        sql = [
            f"SELECT {', '.join(selected)}",
            f"FROM {self.constant(base.sql_table_name)} AS {self.explore.alias}",
        ]
        for alias in aliases[1:]:
            join = self.explore.joins[alias]
            table = self.constant(self.project.views[join.view].sql_table_name)
            kind = {"left_outer": "LEFT JOIN", "inner": "INNER JOIN", "full_outer": "FULL OUTER JOIN"}[
                join.type
            ]
            sql.append(f"{kind} {table} AS {alias} ON {self.expand(join.sql_on, self.explore.alias)}")
        conditions = []
        for ref, value in filters.items():
            alias, f = self.field(ref)
            if f.kind != "dimension":
                raise NotImplementedError(f"{ref}: only dimension filters are translated")
            quoted = value.replace("'", "''")
            conditions.append(f"({self.select_sql(alias, f)}) = '{quoted}'")
        if conditions:
            sql.append(f"WHERE {' AND '.join(conditions)}")
        if groups:  # dimensions alone are grouped too: Looker selects them distinct
            sql.append(f"GROUP BY {', '.join(groups)}")
        order = []
        for sort in sorts:
            ref, _, direction = sort.strip().partition(" ")
            order.append(f'"{ref}" {direction.upper() or "ASC"}')
        if order:
            sql.append(f"ORDER BY {', '.join(order)}")
        if limit is not None:
            sql.append(f"LIMIT {int(limit)}")
        return "\n".join(sql)


def element_query(project: Project, element: dict, filters: dict[str, str] | None = None) -> str:
    """An element's query, with dashboard filters (`filter name: value`) applied to the
    fields the element listens with."""
    listen = element.get("listen", {})
    applied = {listen[name]: value for name, value in (filters or {}).items() if name in listen}
    compiler = Compiler(project, element["explore"])
    return compiler.query(element["fields"], element.get("sorts", []), element.get("limit"), applied)


def elements(project: Project) -> dict[str, dict]:
    return {e["name"]: e for d in project.dashboards for e in d["elements"] if e.get("type") != "text"}


# -- tests -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project()


def test_every_lkml_file_parses_with_lkml(project):
    names = {p.relative_to(LOOKER).as_posix() for p in project.parsed}

    assert {"manifest.lkml", f"{MODEL}.model.lkml"} <= names
    assert all(project.parsed.values()), [n for n, content in project.parsed.items() if not content]
    assert project.model["connection"] == "@{glamira_connection}"
    assert set(project.constants) == {"glamira_connection", "marts_dataset"}


def test_there_is_one_view_per_glamira_mart_and_it_reads_that_mart(project):
    marts = {p.stem for p in GLAMIRA_MARTS.glob("*.sql")}

    assert set(project.views) == marts
    for view in project.views.values():
        assert (
            CONSTANT.sub(lambda m: project.constants[m.group(1)], view.sql_table_name) == f"marts.{view.name}"
        )
        assert (LOOKER / "views" / f"{view.name}.view.lkml").exists()
        assert view.primary_key is not None, f"{view.name} has no primary key: Looker's counts need one"


def test_the_explores_join_every_dimension_the_dashboard_needs(project):
    sales, events = project.explores["sales"], project.explores["events"]

    assert sales.view == "fct_sales_order_line"
    assert set(sales.joins) == {
        "dim_store",
        "dim_product",
        "dim_location",
        "dim_device",
        "dim_customer",
        "dim_date",
    }
    assert events.view == "fct_daily_events" and set(events.joins) == {"dim_store", "dim_date"}
    assert {j.type for e in (sales, events) for j in e.joins.values()} == {"left_outer"}


def test_every_field_reference_in_the_views_joins_and_datagroups_resolves(project):
    assert reference_problems(project) == []
    assert include_problems(project) == []


def test_a_misspelt_reference_in_a_view_is_found(project):
    broken = copy.deepcopy(project)
    view = broken.views["fct_sales_order_line"]
    revenue = view.fields["revenue_usd"]
    view.fields["revenue_usd"] = Field(
        revenue.view, revenue.name, "measure", "sum", {"sql": "${line_total_usdd}"}
    )

    assert reference_problems(broken) == [
        "fct_sales_order_line.revenue_usd.sql: ${line_total_usdd} is no field"
    ]


def test_the_dashboard_refers_only_to_fields_of_its_explores(project):
    assert [d["dashboard"] for d in project.dashboards] == ["glamira_sales"]
    dashboard = project.dashboards[0]

    assert dashboard_problems(project, dashboard) == []
    assert len(elements(project)) == 15
    assert {f["name"] for f in dashboard["filters"]} == {"date", "store", "country", "device"}


@pytest.mark.parametrize(
    "where, misspelt",
    [
        ("fields", "fct_sales_order_line.revenue_usdd"),
        ("sorts", "fct_sales_order_line.order_dat"),
        ("listen", "dim_store.domian"),
        ("dynamic_fields", "fct_sales_order_line.order"),
        ("explore", "sale"),
    ],
)
def test_a_misspelt_field_in_the_dashboard_is_found(project, where, misspelt):
    dashboard = copy.deepcopy(project.dashboards[0])
    by_name = {e["name"]: e for e in dashboard["elements"]}
    if where == "fields":
        by_name["revenue_by_day"]["fields"][1] = misspelt
    elif where == "sorts":
        by_name["revenue_by_day"]["sorts"] = [misspelt]
    elif where == "listen":
        by_name["revenue"]["listen"]["store"] = misspelt
    elif where == "dynamic_fields":
        by_name["orders_by_device"]["dynamic_fields"][0]["expression"] = f"${{{misspelt}}} / 2"
    else:
        by_name["funnel"]["explore"] = misspelt

    problems = dashboard_problems(project, dashboard)

    assert problems and all(misspelt in p for p in problems), problems


def test_the_sql_is_portable_between_bigquery_and_duckdb(project):
    texts = [sql for v in project.views.values() for f in v.fields.values() for sql in f.sql.values()]
    texts += [j.sql_on for e in project.explores.values() for j in e.joins.values()]

    for text in texts:
        for spelling in NOT_PORTABLE:
            assert spelling not in text.upper(), (spelling, text)


def test_the_compiler_substitutes_every_reference(project):
    compiler = Compiler(project, "sales")

    sql = element_query(project, elements(project)["average_order_value"])

    assert "${" not in sql and "@{" not in sql
    assert "FROM marts.fct_sales_order_line AS fct_sales_order_line" in sql
    assert "JOIN" not in sql  # no dimension of another view: no join, as in Looker
    assert compiler.aliases_needed(["dim_location.country"]) == ["fct_sales_order_line", "dim_location"]
    assert "NULLIF" in sql and "COUNT(DISTINCT" in sql
