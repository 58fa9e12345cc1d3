"""Run every benchmark of bench/ and print one table: budget, measured figure, pass or fail.

Each benchmark script prints, as its last line, a JSON object with the keys ``budget``, ``figure``
and ``pass``. Helpers (files starting with ``_``), the baseline app and this runner are skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"run_all.py", "hello_app.py"}


def main() -> int:
    rows = []
    for script in sorted(BENCH_DIR.glob("*.py")):
        if script.name in NOT_BENCHMARKS or script.name.startswith("_"):
            continue
        print(f"== {script.name}", flush=True)
        result = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, check=False
        )
        print(result.stdout, end="")
        try:
            summary = json.loads(result.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            summary = {"budget": "(no summary line)", "figure": "error", "pass": False}
            print(result.stderr, end="", file=sys.stderr)
        rows.append((script.name, summary["budget"], summary["figure"], bool(summary["pass"])))

    widths = [
        max(len(str(row[i])) for row in [("benchmark", "budget", "figure"), *rows])
        for i in range(3)
    ]
    print()
    print(f"{'benchmark':<{widths[0]}}  {'budget':<{widths[1]}}  {'figure':<{widths[2]}}  result")
    for name, budget, figure, passed in rows:
        verdict = "PASS" if passed else "FAIL"
        print(f"{name:<{widths[0]}}  {budget:<{widths[1]}}  {figure:<{widths[2]}}  {verdict}")
    return 0 if all(row[3] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
