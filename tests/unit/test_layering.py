"""Handlers sit on top: they import the api edge, logic, models and the wiring, never the store,
the workflow runner or the clients directly (the layer's own direction is import-linter's
contracts in pyproject.toml, run by `make lint`)."""

from __future__ import annotations

import ast

import pytest
from threadline_tools.template import ROOT

HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))
ALLOWED = (
    "threadline.api",
    "threadline.logic",
    "threadline.models",
    "threadline.auth",
    "threadline.errors",
    "threadline.observability",  # traces and the correlation id, at the entry point
)


def threadline_imports(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "threadline":
            found |= {node.module} if node.module != "threadline" else {f"threadline.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "threadline"}
    return found


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: path.parent.name)
def test_a_handler_imports_the_edge_logic_models_and_the_wiring_only(handler: object) -> None:
    imported = threadline_imports(handler.read_text())  # type: ignore[attr-defined]
    assert imported, "a handler uses the layer"
    strays = {name for name in imported if name != "threadline.wiring" and not name.startswith(ALLOWED)}
    assert not strays


def test_the_check_sees_a_store_import() -> None:
    assert threadline_imports("from threadline.store.threads import ThreadStore\nfrom threadline import wiring") == {
        "threadline.store.threads",
        "threadline.wiring",
    }


def test_reset_forgets_every_object_the_wiring_caches() -> None:
    # (a factory cached twice kept its first object, with the first test's AWS client, past reset)
    import inspect

    from threadline import wiring

    cached = [f for _, f in inspect.getmembers(wiring) if hasattr(f, "cache_clear") and f.__module__ == wiring.__name__]
    assert cached
    for factory in cached:
        assert not hasattr(factory.__wrapped__, "cache_clear"), f"{factory.__name__} is cached twice"
    source = inspect.getsource(wiring.reset)
    assert [f.__name__ for f in cached if f.__name__ not in source] == []
