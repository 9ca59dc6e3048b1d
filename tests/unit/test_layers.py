"""Folders are layers: the CLI and setup above the flows, the flows above the tasks, the
tasks above the blocks, formats below them all, and the demo beside it all, never under
it. Checked on the source's import statements (every one, lazy imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# pipelines' modules that any layer may use: settings, errors and small helpers
BASE = {
    "pipelines.settings",
    "pipelines.errors",
    "pipelines.calendar",
    "pipelines.formatting",
    "pipelines.htmlmail",
    "pipelines.interactive_page",
    "pipelines.duckdb_file",
}
# what each layer may import of the project, beside itself and BASE
ALLOWED = {
    "formats": set(),
    "blocks": {"formats"},
    "tasks": {"formats", "blocks"},
    "flows": {"formats", "blocks", "tasks"},
}
FLOWS_ALSO = {"pipelines.alerts", "pipelines.concurrency"}  # the hooks and the day lease
PROJECT = ("formats", "blocks", "tasks", "flows", "pipelines", "demo")


def imports(path: Path) -> set[str]:
    """Every project module `path` imports (`from a import b` gives `a` and `a.b`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in PROJECT}


def modules(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


def permitted(layer: str, name: str) -> bool:
    top = name.split(".")[0]
    if top == layer:
        return True
    if top == "pipelines":
        extra = FLOWS_ALSO if layer == "flows" else set()
        return name == "pipelines" or any(name == m or name.startswith(f"{m}.") for m in BASE | extra)
    return top in ALLOWED[layer]


@pytest.mark.parametrize("layer", list(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer):
    wrong = sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules(layer)
        for name in imports(path)
        if not permitted(layer, name)
    )
    assert not wrong, "\n".join(wrong)


def test_production_code_never_imports_the_demo():
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for layer in (*ALLOWED, "pipelines")
        for path in modules(layer)
        for name in imports(path)
        if name.split(".")[0] == "demo" and path.name != "cli.py"
    }
    assert not offenders, "\n".join(sorted(offenders))


def test_the_cli_reaches_the_demo_only_where_the_demo_is_asked_for():
    lazy = [
        node
        for node in ast.walk(ast.parse((ROOT / "pipelines" / "cli.py").read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("demo")
    ]
    top_level = [n for n in ast.parse((ROOT / "pipelines" / "cli.py").read_text()).body if n in lazy]
    assert lazy and not top_level, "the CLI imports the demo only inside the commands that use it"


def test_no_flow_module_imports_another_in_a_cycle():
    graph = {
        path.stem: {name.split(".")[1] for name in imports(path) if name.startswith("flows.")}
        for path in modules("flows")
    }

    def visit(node: str, trail: tuple[str, ...]) -> None:
        for nxt in graph.get(node, ()):
            assert nxt not in trail, " -> ".join((*trail, nxt))
            visit(nxt, (*trail, nxt))

    for start in graph:
        visit(start, (start,))


def test_the_image_leaves_the_demo_out():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()

    assert "COPY demo" not in dockerfile and "COPY . " not in dockerfile
