"""The Cloud Function's idea of the lake (functions/gcs_to_prefect/lake_layout.py): which
buckets, folders and object names are the lake's own, and its copy of the datasets held
equal to what the project's flows write.

The function is deployed alone, so it keeps its own list of datasets; the project has no
single list, so the test reads the flows' and tasks' source (every call that names a
lake partition) the way a reviewer would, and fails on a call it cannot read rather
than skip it.
"""

from __future__ import annotations

import ast
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from tests.support.modules import load_source

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = ROOT / "functions" / "gcs_to_prefect" / "lake_layout.py"
TODAY = date(2026, 11, 21)


@pytest.fixture(scope="module")
def layout():
    return load_source("gcs_to_prefect_lake_layout", LAYOUT)


# -- the function's datasets are the project's ---------------------------------------------

# the calls that name a partition: (index of the source argument, of the dataset, rejects?)
PARTITION_CALLS = {
    "partition_prefix": (0, 1, False),
    "rejects_prefix": (0, 1, True),
    "land_partition": (1, 2, None),
}
SCANNED = ("flows", "tasks", "pipelines")


class Unreadable(Exception):
    pass


PARAMETER = "<a parameter>"  # the caller names it: its own calls are scanned


@cache
def _module(path: Path) -> _Module:
    return _Module(path)


class _Module:
    """Constant-folds the string values an expression can take in one source file:
    literals, literal collections (a dict's keys), comprehensions over them, loop
    variables, local and module assignments, and names imported from the project."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(), str(path))
        self.parents = {child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)}

    def where(self, node: ast.AST) -> str:
        shown = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{shown}:{getattr(node, 'lineno', '?')}"

    def values(self, expr: ast.AST) -> set[str] | str:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return {expr.value}
        if isinstance(expr, ast.Tuple | ast.List | ast.Set):
            return self._union(expr, expr.elts)
        if isinstance(expr, ast.Dict):
            return self._union(expr, expr.keys)
        if isinstance(expr, ast.DictComp):
            return self.values(expr.key)
        if isinstance(expr, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            return self.values(expr.elt)
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Attribute)
            and expr.func.attr in ("items", "keys")
            and not expr.args
        ):
            return self.values(expr.func.value)
        if isinstance(expr, ast.Name):
            return self.lookup(expr)
        names = [n for n in ast.walk(expr) if isinstance(n, ast.Name)]
        if names and all(self.lookup(n) == PARAMETER for n in names):
            return PARAMETER  # e.g. dataset.removeprefix("_rejects/")
        raise Unreadable(f"{self.where(expr)}: cannot tell the values of {ast.unparse(expr)}")

    def _union(self, at: ast.AST, items) -> set[str]:
        found: set[str] = set()
        for item in items:
            values = self.values(item)
            if values == PARAMETER:
                raise Unreadable(f"{self.where(at)}: a parameter among literals in {ast.unparse(at)}")
            found |= values
        return found

    def lookup(self, name: ast.Name) -> set[str] | str:
        node = name
        while node in self.parents:
            parent = self.parents[node]
            if isinstance(parent, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
                for generator in parent.generators:
                    if (bound := self._bound(generator.target, generator.iter, name)) is not None:
                        return bound
            bound = (
                self._bound(parent.target, parent.iter, name)
                if isinstance(parent, ast.For | ast.AsyncFor) and node in parent.body
                else None
            )
            if bound is not None:
                return bound
            if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                arguments = parent.args
                every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
                if name.id in {a.arg for a in every}:
                    return PARAMETER
                assigned = self._assigned(parent, name.id)
                if assigned:
                    return self._union(name, assigned)
            node = parent
        return self.global_values(name.id, name)

    def _bound(self, target: ast.AST, iterable: ast.AST, name: ast.Name) -> set[str] | str | None:
        if isinstance(target, ast.Name) and target.id == name.id:
            return self.values(iterable)
        if isinstance(target, ast.Tuple) and any(
            isinstance(t, ast.Name) and t.id == name.id for t in target.elts
        ):
            first = target.elts[0]
            if isinstance(first, ast.Name) and first.id == name.id:
                return self.values(iterable)  # `for key, value in d.items()`
            raise Unreadable(f"{self.where(name)}: {name.id} is not the first name unpacked")
        return None

    @staticmethod
    def _assigned(scope: ast.AST, name: str) -> list[ast.AST]:
        return [
            node.value
            for node in ast.walk(scope)
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
        ]

    def global_values(self, name: str, at: ast.AST) -> set[str]:
        for node in self.tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    return self._union(node, [node.value])
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                for alias in node.names:
                    if (alias.asname or alias.name) == name:
                        source = ROOT / (node.module.replace(".", "/") + ".py")
                        if source.exists():
                            return _module(source).global_values(alias.name, at)
        raise Unreadable(f"{self.where(at)}: cannot find where {name} is defined")


def _argument(call: ast.Call, index: int, name: str) -> ast.AST | None:
    if len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == name), None)


def partitions_named(module: _Module) -> set[tuple[str, str]]:
    """(source, dataset) of every partition a file's calls name; `_rejects/<dataset>`
    for rejects."""
    named = set()
    for call in ast.walk(module.tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
            continue
        if call.func.id not in PARTITION_CALLS:
            continue
        source_at, dataset_at, rejects = PARTITION_CALLS[call.func.id]
        sources = module.values(_argument(call, source_at, "source"))
        datasets = module.values(_argument(call, dataset_at, "dataset"))
        if rejects is None:
            flag = _argument(call, 5, "rejects")
            if flag is not None and not isinstance(flag, ast.Constant):
                raise Unreadable(f"{module.where(call)}: rejects={ast.unparse(flag)} is not a constant")
            rejects = bool(flag.value) if flag is not None else False
        if datasets == PARAMETER:
            continue  # a helper, or glamira-load: its callers name the dataset
        if sources == PARAMETER:
            raise Unreadable(f"{module.where(call)}: a dataset without its source ({ast.unparse(call)})")
        prefix = "_rejects/" if rejects else ""
        named |= {(source, f"{prefix}{dataset}") for source in sources for dataset in datasets}
    return named


def project_partitions() -> dict[str, set[str]]:
    named: set[tuple[str, str]] = set()
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            named |= partitions_named(_module(path))
    # glamira-load's datasets: the manifests its trigger must receive
    loads = _module(ROOT / "flows" / "glamira_load.py")
    named |= {("glamira", dataset) for dataset in loads.global_values("LOADS", loads.tree)}
    by_source: dict[str, set[str]] = {}
    for source, dataset in named:
        by_source.setdefault(source, set()).add(dataset)
    return by_source


def test_the_functions_datasets_are_the_ones_the_project_lands(layout):
    project = project_partitions()

    assert {source: set(datasets) for source, datasets in layout.LAKE_DATASETS.items()} == project, (
        "functions/gcs_to_prefect/lake_layout.py LAKE_DATASETS differs from the partitions the flows "
        "write: update the function's copy (it is deployed alone and cannot import the project)"
    )


def test_the_source_reader_refuses_a_dataset_it_cannot_read(tmp_path):
    # given a flow naming its dataset by something the reader cannot fold to strings
    flow = tmp_path / "flow.py"
    flow.write_text("def land(lake, day):\n    return partition_prefix('glamira', pick_one(), day)\n")
    # then reading it fails loudly instead of missing a dataset
    with pytest.raises(Unreadable, match="pick_one"):
        partitions_named(_Module(flow))


# -- the layout -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "glamira/events/dt=2026-11-20/_manifest.json",
            ("glamira", "events", "2026-11-20", "_manifest.json"),
        ),
        (
            "glamira/events/dt=2026-11-20/part-20261120021407a1b2c3-0012.parquet",
            ("glamira", "events", "2026-11-20", "part-20261120021407a1b2c3-0012.parquet"),
        ),
        (
            "bahela/sessions/dt=2026-01-31/part-0000.parquet",
            ("bahela", "sessions", "2026-01-31", "part-0000.parquet"),
        ),
        (
            "glamira/_rejects/events/dt=2026-11-20/part-x-0000.parquet",
            ("glamira", "_rejects/events", "2026-11-20", "part-x-0000.parquet"),
        ),
        (
            "glamira/products/dt=2026-11-20/products.csv",
            ("glamira", "products", "2026-11-20", "products.csv"),
        ),
        (
            "bahela/daily_summary/dt=2000-01-01/_manifest.json",
            ("bahela", "daily_summary", "2000-01-01", None),
        ),
        (
            "bahela/sessions/dt=2026-11-22/_manifest.json",
            ("bahela", "sessions", "2026-11-22", None),
        ),  # tomorrow
    ],
)
def test_names_in_the_lake_layout_are_located(layout, name, expected):
    where = layout.parse_key(name, TODAY)

    source, dataset, day, file = expected
    assert (where.source, where.dataset, where.day.isoformat()) == (source, dataset, day)
    assert where.file == (file or "_manifest.json")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("uploads/anyone/glamira/events/dt=2026-11-20/_manifest.json", "is not <source>/"),
        ("events/dt=2026-11-20/_manifest.json", "is not <source>/"),
        ("_leases/glamira-daily/2026-11-20.json", "is not <source>/"),  # a run's lease, not data
        ("glamira/events/dt=2026-11-20/nested/part-0000.parquet", "is not <source>/"),
        ("glamira/events/dt=2026-11-20/", "is not <source>/"),
        ("glamira//dt=2026-11-20/_manifest.json", "is not <source>/"),
        ("glamira/_rejects/_rejects/events/dt=2026-11-20/_manifest.json", "is not <source>/"),
        ("acme/events/dt=2026-11-20/_manifest.json", "unknown source"),
        ("_rejects/events/dt=2026-11-20/_manifest.json", "unknown source"),
        ("glamira/sessions/dt=2026-11-20/_manifest.json", "unknown dataset"),
        ("glamira/_rejects/dt=2026-11-20/_manifest.json", "unknown dataset"),
        ("glamira/_rejects/products/dt=2026-11-20/_manifest.json", "unknown dataset"),
        ("bahela/_rejects/daily_summary/dt=2026-11-20/_manifest.json", "unknown dataset"),
        ("glamira/events/dt=20261120/_manifest.json", "dt=YYYY-MM-DD"),
        ("glamira/events/dt=２０２６-11-20/_manifest.json", "dt=YYYY-MM-DD"),
        ("glamira/events/day=2026-11-20/_manifest.json", "is not <source>/"),
        ("glamira/events/dt=2026-02-30/_manifest.json", "not a calendar date"),
        ("glamira/events/dt=2026-13-45/_manifest.json", "not a calendar date"),
        ("glamira/events/dt=9999-12-31/_manifest.json", "between 2000-01-01 and tomorrow"),
        ("glamira/events/dt=2026-11-23/_manifest.json", "between 2000-01-01 and tomorrow"),
        ("glamira/events/dt=1999-12-31/_manifest.json", "between 2000-01-01 and tomorrow"),
        ("glamira/events/dt=2026-11-20/notes.txt", "neither _manifest.json nor a part"),
        ("glamira/events/dt=2026-11-20/products.csv", "neither _manifest.json nor a part"),
        ("glamira/events/dt=2026-11-20/part-ABC-0000.parquet", "neither _manifest.json nor a part"),
        ("glamira/events/dt=2026-11-20/part-000.parquet", "neither _manifest.json nor a part"),
        ("glamira/events/dt=2026-11-20/part-0000.parquet.tmp", "neither _manifest.json nor a part"),
        (f"glamira/events/dt=2026-11-20/part-{'a' * 33}-0000.parquet", "neither _manifest.json nor a part"),
    ],
)
def test_names_outside_the_layout_are_refused_with_the_reason(layout, name, reason):
    with pytest.raises(layout.OutsideLake) as refused:
        layout.parse_key(name, TODAY)

    assert reason in refused.value.reason


# -- buckets and folders --------------------------------------------------------------------

MANIFEST = "glamira/events/dt=2026-11-20/_manifest.json"


def test_an_object_of_another_bucket_is_refused(layout):
    lakes = layout.parse_lakes("glamira-lake", None)

    with pytest.raises(layout.OutsideLake, match="LAKE_BUCKETS") as refused:
        layout.locate("someone-elses-bucket", MANIFEST, lakes, TODAY)
    assert refused.value.severity == "WARNING"  # a notification set on the wrong bucket


def test_lake_folder_is_the_root_of_the_layout(layout):
    lakes = layout.parse_lakes("glamira-lake", "/lake/")

    assert layout.locate("glamira-lake", f"lake/{MANIFEST}", lakes, TODAY).dataset == "events"
    with pytest.raises(layout.OutsideLake, match="LAKE_FOLDER"):
        layout.locate("glamira-lake", MANIFEST, lakes, TODAY)
    with pytest.raises(layout.OutsideLake, match="is not <source>/"):
        layout.locate("glamira-lake", f"lake/extra/{MANIFEST}", lakes, TODAY)


def test_a_bucket_entry_may_name_its_own_folder(layout):
    lakes = layout.parse_lakes("glamira-lake, bahela-lake/data/lake/", "lake")

    assert lakes == (layout.Lake("glamira-lake", "lake/"), layout.Lake("bahela-lake", "data/lake/"))
    assert layout.locate("bahela-lake", "data/lake/bahela/images/dt=2026-11-20/_manifest.json", lakes, TODAY)
    with pytest.raises(layout.OutsideLake, match="LAKE_FOLDER"):
        layout.locate("bahela-lake", "lake/bahela/images/dt=2026-11-20/_manifest.json", lakes, TODAY)


@pytest.mark.parametrize(
    ("buckets", "folder", "problem"),
    [
        (None, None, "LAKE_BUCKETS is not set"),
        (" , ", None, "LAKE_BUCKETS is not set"),
        ("gs://glamira-lake", None, "is not a bucket name"),
        ("Glamira-Lake", None, "is not a bucket name"),
        ("glamira-*", None, "is not a bucket name"),
        ("glamira-lake", "a//b", "LAKE_FOLDER"),
        ("glamira-lake/../x", None, "in LAKE_BUCKETS"),
    ],
)
def test_lake_settings_that_cannot_be_right_are_refused(layout, buckets, folder, problem):
    with pytest.raises(ValueError, match=problem):
        layout.parse_lakes(buckets, folder)
