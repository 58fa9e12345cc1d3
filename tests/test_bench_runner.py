"""`make bench`'s table: one row per budget, a script may report several, a crash is a FAIL row."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "bench_run_all", Path(__file__).resolve().parent.parent / "bench" / "run_all.py"
)
assert _SPEC is not None and _SPEC.loader is not None
run_all = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(run_all)


def test_one_summary_object_is_one_row() -> None:
    out = "details\n" + json.dumps({"budget": "b", "figure": "1", "pass": True}) + "\n"
    assert run_all.summary_rows("x.py", 0, out, "") == [("x.py", "b", "1", True)]


def test_a_list_gives_one_row_per_budget() -> None:
    rows = [{"budget": "a", "figure": "1", "pass": True}, {"budget": "b", "figure": "2",
                                                             "pass": False}]  # fmt: skip
    assert run_all.summary_rows("x.py", 1, json.dumps(rows), "") == [
        ("x.py", "a", "1", True),
        ("x.py", "b", "2", False),
    ]


def test_a_crash_is_a_fail_row_with_the_error() -> None:
    stderr = "Traceback (most recent call last):\n  ...\nRuntimeError: gunicorn did not start\n"
    [row] = run_all.summary_rows("x.py", 1, "loading...\n", stderr)
    assert row[3] is False and "RuntimeError: gunicorn did not start" in row[2]
    [row] = run_all.summary_rows("x.py", -9, "", "")
    assert row[3] is False and "exit status -9" in row[2]


def test_a_pass_from_a_failing_script_is_not_believed() -> None:
    out = json.dumps({"budget": "b", "figure": "1", "pass": True})
    rows = run_all.summary_rows("x.py", 2, out, "")
    assert rows[0][3] is True and rows[-1][3] is False
