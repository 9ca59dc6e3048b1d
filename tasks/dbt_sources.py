"""Which of the dbt project's source tables the warehouse holds, and what `dbt build`
leaves out for those it does not.

An install may run one business only (a Glamira-only warehouse has no `raw_bahela`), or
a source's first day may not be loaded yet. dbt would fail every model over a missing
table; instead everything downstream of it is excluded (`--exclude source:bahela+`,
tests included) and the run says what it skipped.

The tables are the relations dbt itself renders from the manifest (database, schema and
identifier after `raw_prefix`), so the check asks about exactly what dbt would read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, order=True)
class Relation:
    schema: str
    name: str
    database: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True, order=True)
class SourceTable:
    source: str  # the dbt source, e.g. "bahela"
    table: str  # its table, e.g. "sessions"
    relation: Relation


def source_tables(manifest) -> list[SourceTable]:
    """The project's source tables, from a parsed dbt manifest."""
    return sorted(
        SourceTable(s.source_name, s.name, Relation(s.schema, s.identifier, s.database))
        for s in manifest.sources.values()
    )


def model_relations(manifest) -> dict[str, Relation]:
    """model name -> the relation dbt builds it as."""
    return {
        n.name: Relation(n.schema, n.alias, n.database)
        for n in manifest.nodes.values()
        if n.resource_type == "model"
    }


@dataclass(frozen=True)
class SourcePlan:
    """The source tables present and missing, and the dbt selections that follow."""

    present: tuple[SourceTable, ...]
    missing: tuple[SourceTable, ...]

    @classmethod
    def of(cls, tables: Iterable[SourceTable], existing: set[Relation]) -> SourcePlan:
        tables = sorted(tables)
        return cls(
            present=tuple(t for t in tables if t.relation in existing),
            missing=tuple(t for t in tables if t.relation not in existing),
        )

    @property
    def nothing_to_build(self) -> bool:
        return not self.present

    @property
    def exclude(self) -> list[str]:
        """`--exclude` selectors: a whole source when none of its tables is there (the
        common case: the other business), else each missing table."""
        present = {t.source for t in self.present}
        whole = sorted({t.source for t in self.missing} - present)
        return [f"source:{s}+" for s in whole] + [
            f"source:{t.source}.{t.table}+" for t in self.missing if t.source in present
        ]

    def skipped_selection(self, select: str | None) -> list[str]:
        """What the exclusion takes out of `select` (everything when None): dbt's
        intersection (`a,b`) of each exclusion with each selected element."""
        if not select:
            return self.exclude
        return [f"{excluded},{chosen}" for excluded in self.exclude for chosen in select.split()]

    def missing_by_source(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for t in self.missing:
            found.setdefault(t.source, []).append(str(t.relation))
        return found

    def describe_missing(self) -> str:
        return "; ".join(f"{s} ({', '.join(r)})" for s, r in self.missing_by_source().items())


@dataclass(frozen=True)
class Skipped:
    """dbt nodes a run left out, by resource type ("model" -> names)."""

    nodes: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, listed: Iterable[tuple[str, str]]) -> Skipped:
        nodes: dict[str, list[str]] = {}
        for resource_type, name in listed:
            if resource_type != "source":
                nodes.setdefault(resource_type, []).append(name)
        return cls({k: sorted(v) for k, v in sorted(nodes.items())})

    @property
    def models(self) -> list[str]:
        return self.nodes.get("model", [])

    def count(self, resource_type: str) -> int:
        return len(self.nodes.get(resource_type, []))

    def line(self) -> str:
        if not self.nodes:
            return "nothing"
        parts = [f"{len(names)} {kind}{'' if len(names) == 1 else 's'}" for kind, names in self.nodes.items()]
        return ", ".join(parts) + (f" (models: {', '.join(self.models)})" if self.models else "")


def markdown(
    status: dict[str, int],
    plan: SourcePlan,
    skipped: Skipped,
    dashboard: str,
) -> str:
    """The run's artifact: what dbt did, which sources were missing and what that left out."""
    if plan.nothing_to_build:
        out = [
            "# dbt build skipped",
            "",
            "None of the dbt project's source tables is in the warehouse, so there was nothing to build. "
            "Load a business's raw tables first (`bahela-daily`, `glamira-daily`).",
        ]
    else:
        out = ["# dbt build", "", *(f"- {k}: {v}" for k, v in sorted(status.items()))]
    if plan.missing:
        out += ["", "## Missing sources", ""]
        out += [f"- {source}: {', '.join(tables)}" for source, tables in plan.missing_by_source().items()]
        if not plan.nothing_to_build:
            out += [
                "",
                f"Left out (`--exclude {' '.join(plan.exclude)}`): {skipped.line()}.",
            ]
    out += ["", "## Dashboard", "", dashboard]
    return "\n".join(out)


async def existing_relations(warehouse, relations: Iterable[Relation]) -> set[Relation]:
    """Those of `relations` the warehouse has, tables or views."""
    from blocks.warehouse import BigQueryWarehouse

    wanted = set(relations)
    datasets = sorted({(r.database, r.schema) for r in wanted}, key=str)
    if isinstance(warehouse, BigQueryWarehouse):
        names = await asyncio.to_thread(_bigquery_tables, warehouse, datasets)
    else:
        names = await _duckdb_tables(warehouse, datasets)
    return {r for r in wanted if (r.database, r.schema, r.name.lower()) in names}


async def _duckdb_tables(warehouse, datasets) -> set[tuple]:
    # one file, one catalog: the schema names the relation (DuckDB compares names
    # case-insensitively, so they are compared lower-cased)
    schemas = sorted({schema for _, schema in datasets})
    if not schemas or not Path(warehouse.path).expanduser().exists():  # asking must not create it
        return set()
    found = await warehouse.query(
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in ({', '.join('?' for _ in schemas)})",
        schemas,
    )
    by_schema: dict[str, set[str]] = {}
    for schema, name in found.iter_rows():
        by_schema.setdefault(schema.lower(), set()).add(name.lower())
    return {
        (database, schema, name)
        for database, schema in datasets
        for name in by_schema.get(schema.lower(), ())
    }


def _bigquery_tables(warehouse, datasets) -> set[tuple]:
    from google.api_core.exceptions import NotFound

    client = warehouse._client()
    found = set()
    for database, schema in datasets:
        try:
            tables = list(client.list_tables(f"{database or warehouse._project()}.{schema}"))
        except NotFound:  # no dataset yet: none of its tables either
            continue
        found |= {(database, schema, t.table_id.lower()) for t in tables}
    return found
