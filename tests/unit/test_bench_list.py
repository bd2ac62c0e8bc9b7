"""The listing benchmark at a tiny size: its rows, a cursor page that reads one page of index
entries, and writes whose cost does not follow the user data they do not touch."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from threadline_tools.bench_list import main

LIST_COLUMNS = {
    "shape",
    "dialect",
    "threads",
    "page_size",
    "calls",
    "items_read",
    "read_units",
    "returned",
    "index_entries",
    "items_fetched",
}
SHAPES = ["default", "status=running", "cursor page 2 (limit=20)", "offset=100 limit=10"]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    out: Path = tmp_path_factory.mktemp("bench")
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main(["--sizes", "60", "--shapes", ";".join(SHAPES), "--out", str(out)]) == 0
    lists = json.loads((out / "list.json").read_text())
    writes = json.loads((out / "list_writes.json").read_text())
    return lists, writes, printed.getvalue()


def _row(rows: list[dict[str, Any]], shape: str, dialect: str = "native") -> dict[str, Any]:
    return next(r for r in rows if r["shape"] == shape and r["dialect"] == dialect)


def test_every_shape_asked_for_has_a_row_with_every_column(results: tuple[Any, ...]) -> None:
    lists, _, printed = results
    # Then each shape of each dialect that has it is measured once, at the one size
    assert {(r["shape"], r["dialect"]) for r in lists} == {
        ("default", "native"),
        ("default", "agentuity"),
        ("status=running", "native"),
        ("cursor page 2 (limit=20)", "native"),
        ("offset=100 limit=10", "agentuity"),
    }
    for row in lists:
        assert set(row) >= LIST_COLUMNS, row
        assert row["status"] == 200 and row["threads"] == 60, row
        assert row["items_read"] >= row["index_entries"] + row["items_fetched"]
    assert "targets" in printed and "write units" in printed


def test_a_cursor_page_reads_one_page_of_index_entries(results: tuple[Any, ...]) -> None:
    lists, _, _ = results
    page = _row(lists, "cursor page 2 (limit=20)")
    assert page["returned"] == page["page_size"] == 20
    assert page["index_entries"] <= page["page_size"] + 1
    assert page["read_units"] > 0


def test_the_default_list_reads_its_page_and_counters_not_the_tenant(results: tuple[Any, ...]) -> None:
    lists, _, _ = results
    default = _row(lists, "default")
    assert default["returned"] == 10
    assert default["index_entries"] == default["page_size"] + 1
    assert default["items_fetched"] <= 2 * default["page_size"]  # headers and user data items


def test_a_workflow_touch_costs_the_same_whatever_the_user_data(results: tuple[Any, ...]) -> None:
    _, writes, _ = results
    # Given each write measured with small and with 200 KB user data
    by = {(r["operation"].split(" ")[0], r["user_data"]): r for r in writes}
    assert {op for op, _ in by} == {"create", "workflow", "status", "delete"}
    # Then the header, written at every step, does not carry the user data
    assert by["workflow", "200 KB"]["write_units"] == by["workflow", "small"]["write_units"]
    assert by["status", "200 KB"]["write_units"] == by["status", "small"]["write_units"]
    # And creating it writes the 200 KB once, in a transaction (2 units per KB)
    assert by["create", "200 KB"]["table_write_units"] >= 400
    # And every write is indexed
    assert all(r["indexer_write_units"] > 0 for r in writes)
