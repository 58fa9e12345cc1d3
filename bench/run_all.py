"""Run every benchmark of bench/ and print one table: budget, measured figure, pass or fail.

Each benchmark script prints, as its last line, either one JSON object with the keys ``budget``,
``figure`` and ``pass``, or a JSON list of such objects (one row per budget it measures). Helpers
(files starting with ``_``), the baseline app and this runner are skipped. A script that crashes,
or prints no summary, becomes a FAIL row carrying its error, and the next script runs.

    python bench/run_all.py [--only soak faults ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"run_all.py", "hello_app.py"}


def summary_rows(script: str, returncode: int, stdout: str, stderr: str) -> list[tuple]:
    """The table rows of one script's output: (script, budget, figure, passed)."""
    lines = stdout.strip().splitlines()
    try:
        summary = json.loads(lines[-1])
        entries = summary if isinstance(summary, list) else [summary]
        rows = [
            (script, str(entry["budget"]), str(entry["figure"]), bool(entry["pass"]))
            for entry in entries
        ]
        if not rows:
            raise ValueError("empty summary")
    except (IndexError, ValueError, TypeError, KeyError):
        errors = [line for line in stderr.strip().splitlines() if line.strip()]
        reason = errors[-1].strip() if errors else f"exit status {returncode}, no summary line"
        return [(script, "(crashed: no summary line)", f"error: {reason[:160]}", False)]
    if returncode != 0 and all(row[3] for row in rows):
        # A summary that says pass from a script that failed is not believed.
        rows.append((script, "(script exit status)", f"exit status {returncode}", False))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="script names (without .py) to run")
    arguments = parser.parse_args()

    rows: list[tuple] = []
    began = time.monotonic()
    for script in sorted(BENCH_DIR.glob("*.py")):
        if script.name in NOT_BENCHMARKS or script.name.startswith("_"):
            continue
        if arguments.only and script.stem not in arguments.only:
            continue
        print(f"== {script.name}", flush=True)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, check=False
        )
        print(result.stdout, end="")
        if result.returncode != 0:
            print(result.stderr[-4000:], end="", file=sys.stderr)
        print(f"== {script.name}: {time.monotonic() - started:.0f} s", flush=True)
        rows.extend(summary_rows(script.name, result.returncode, result.stdout, result.stderr))

    header = ("benchmark", "budget", "figure")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(3)]
    print()
    print(f"{'benchmark':<{widths[0]}}  {'budget':<{widths[1]}}  {'figure':<{widths[2]}}  result")
    for name, budget, figure, passed in rows:
        verdict = "PASS" if passed else "FAIL"
        print(f"{name:<{widths[0]}}  {budget:<{widths[1]}}  {figure:<{widths[2]}}  {verdict}")
    print(f"({len(rows)} rows, {time.monotonic() - began:.0f} s)")
    return 0 if rows and all(row[3] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
