"""The architecture contract, over the import graph of `src/lumbung` (read with `ast`, nothing
imported): front ends only parse, call services and render; the layers point one way.

- A front end (`lumbung.cli`, `lumbung.api`, `lumbung.web`, whichever exist) imports neither
  SQLAlchemy nor the ORM models (the acting user's type, `lumbung.auth.models`, aside) nor the
  bulk loader: it cannot query the database itself. It holds a session through `lumbung.db`
  (`unit_of_work`, and `DbSession` to annotate it). Front ends do not import one another.
- No other module imports a front end (the entry points aside: `lumbung.__main__`, the
  command's, and `lumbung.app`, the web server's, which assembles the API and the pages).
- The base layer (settings, the database, errors, pages, driver errors, locks, the engines)
  imports no domain package and no front end.
- Between packages, no new cycle: the cycles that remain are listed below, a debt to pay off,
  never to grow (the rule language once imported the features that import the rule language).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
FRONT_ENDS = ("lumbung.cli", "lumbung.api", "lumbung.web")
ENTRY_POINTS = ("lumbung.__main__", "lumbung.app")  # the command's; the web server's
BASE = (
    "lumbung.config",
    "lumbung.db",
    "lumbung.errors",
    "lumbung.paging",
    "lumbung.numbers",
    "lumbung.driver_errors",
    "lumbung.locks",
    "lumbung.bulk",
    "lumbung.partitions",
    "lumbung.engine",
    "lumbung.spreadsheets",
    "lumbung.downloads",
)
FORBIDDEN_IN_FRONT_ENDS = ("sqlalchemy", "lumbung.bulk", "lumbung.partitions", "lumbung.models")
ALLOWED_MODELS = ("lumbung.auth.models",)  # the acting user's type
# Package cycles that remain (each a set of top-level packages of lumbung).
KNOWN_CYCLES = {
    frozenset(
        {
            "audit",
            "auth",
            "cycles",
            "identity",
            "installation",
            "programs",  # only through targeting, which is in the knot (below: no module cycle)
            "regions",
            "registry",
            "releases",
            "targeting",
        }
    ),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str) -> set[str]:
    """Every module `path` imports (under TYPE_CHECKING too), `from a import b` as `a.b` also."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    return {
        _module_name(path): _imports(path, _module_name(path))
        for path in sorted((SRC / "lumbung").rglob("*.py"))
    }


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "lumbung" and len(parts) > 1 else None


GRAPH = import_graph()


def test_the_graph_is_read() -> None:
    assert "lumbung.cli.registry" in GRAPH
    assert "lumbung.registry.views" in GRAPH["lumbung.cli.registry"] or any(
        m.startswith("lumbung.registry") for m in GRAPH["lumbung.cli.registry"]
    )


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _under(m, FRONT_ENDS)))
def test_a_front_end_does_not_query_the_database(module: str) -> None:
    bad = sorted(
        m
        for m in GRAPH[module]
        if (_under(m, FORBIDDEN_IN_FRONT_ENDS) or (m.endswith(".models") and _package(m)))
        and not _under(m, ALLOWED_MODELS)
    )
    assert not bad, f"{module} imports {bad}: call a service (lumbung.<domain>) instead"
    own = next(f for f in FRONT_ENDS if _under(module, (f,)))
    others = sorted(m for m in GRAPH[module] if _under(m, FRONT_ENDS) and not _under(m, (own,)))
    assert not others, f"{module} imports another front end: {others}"


def test_nothing_but_the_entry_point_imports_a_front_end() -> None:
    bad = {
        module: sorted(m for m in imported if _under(m, FRONT_ENDS))
        for module, imported in GRAPH.items()
        if not _under(module, FRONT_ENDS) and module not in ENTRY_POINTS
    }
    assert not {m: i for m, i in bad.items() if i}


def test_the_base_layer_imports_no_domain_package() -> None:
    base_packages = {_package(b) for b in BASE}
    bad = {
        module: sorted(
            m for m in imported if _package(m) not in (None, *base_packages) and m != "lumbung"
        )
        for module, imported in GRAPH.items()
        if _under(module, BASE)
    }
    # `from lumbung import db` names the package itself: allowed, it is lumbung/__init__.
    assert not {m: i for m, i in bad.items() if i}


def _package_graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, imported in GRAPH.items():
        source = _package(module)
        for m in imported:
            target = _package(m)
            if source and target and source != target and f"lumbung.{target}" in _known():
                edges[source].add(target)
    return edges


def _known() -> set[str]:
    return {".".join(m.split(".")[:2]) for m in GRAPH}


def _cycles(edges: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_new_cycle_between_packages() -> None:
    cycles = _cycles(_package_graph())
    assert cycles <= KNOWN_CYCLES, sorted(sorted(c) for c in cycles - KNOWN_CYCLES)


def test_the_rule_language_sits_on_the_features() -> None:
    """programs → targeting.vocabulary, never back; no cycle of modules joins the two."""
    edges = _package_graph()
    assert "targeting" in edges["programs"]
    assert "programs" not in edges["targeting"]
    modules: dict[str, set[str]] = {
        module: {m for m in imported if m in GRAPH and m != module}
        for module, imported in GRAPH.items()
    }
    for cycle in _cycles(modules):
        packages = {_package(m) for m in cycle}
        assert not {"programs", "targeting"} <= packages, sorted(cycle)
