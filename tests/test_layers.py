"""The code's shape: no module imports another that imports it back, directly or through others.

The one-way layers between packages (bot → handlers | scheduler → services → storage → core) are
import-linter's contracts in pyproject.toml, checked by `lint-imports` in `.ci/run`; this test
adds what those contracts do not say: no circle at all, inside a package or between modules.
"""

from __future__ import annotations

import grimp

PACKAGES = ("core", "storage", "services", "handlers", "scheduler", "bot")


def circles(graph: grimp.ImportGraph) -> list[str]:
    """Every import that is part of a circle, as 'a -> b -> … -> a'."""
    return sorted(
        f"{importer} -> {imported} -> … -> {importer}"
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if graph.find_shortest_chain(importer=imported, imported=importer)
    )


def test_no_module_imports_itself_back() -> None:
    assert circles(grimp.build_graph(*PACKAGES)) == []


def test_a_circle_is_reported() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.z")
    assert circles(graph) == []
    graph.add_import(importer="a.z", imported="a.x")
    assert circles(graph) == [
        "a.x -> a.y -> … -> a.x",
        "a.y -> a.z -> … -> a.y",
        "a.z -> a.x -> … -> a.z",
    ]
