"""Soak: gunicorn on PostgreSQL, consent receipts and the policy page under wrk for 3 minutes.

Issue 8: 64 connections in all (32 posting receipts with bench/receipts.lua, 32 reading /policy
with bench/statuses.lua), loopback only, each wrk bounded by --seconds. Checks:

- no 5xx answer (both Lua scripts count statuses >= 500 separately from other non-2xx);
- every 2xx receipt is in the database: gunicorn is stopped gracefully first (SIGTERM: requests
  under way finish, the group-commit writer has committed), then the rows are counted; there
  must be at least as many rows as 2xx answers, and at most as many more as requests could be
  in flight when wrk stopped (connections + wrk's timeouts);
- the workers' memory does not grow without bound: each worker's RSS (VmRSS in /proc) is sampled
  every few seconds; over the last third of the run it must stay within
  max(GROWTH_MB, GROWTH_SHARE) of the middle third's maximum (the first third is warm-up). A
  worker restarted by gunicorn (crash, timeout) fails the run.

The gunicorn settings are those of every throughput benchmark (bench/_harness.py), on a
throw-away PostgreSQL database (bench/consent_throughput.py), with CONSENT_RATE_LIMIT raised as
there: the load comes from one address.

    python bench/soak.py [--seconds 180] [--connections 64]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    GUNICORN_SETTINGS,
    children,
    demo_center_env,
    gunicorn_process,
    rss_mb,
    stop,
    warm,
)
from consent_throughput import database, stored_receipts

BENCH = Path(__file__).resolve().parent
SAMPLE_EVERY = 3.0
GROWTH_MB = 20.0
GROWTH_SHARE = 0.10


def run_wrk(url: str, seconds: int, connections: int, script: Path) -> subprocess.Popen:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("the soak only targets the loopback interface")
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(script), url]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wrk_figures(output: str) -> dict[str, float]:
    figures: dict[str, float] = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])}
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    figures["socket_errors"] = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    figures["timeouts"] = int(socket_errors[4]) if socket_errors else 0
    return figures


def memory_verdict(samples: dict[int, list[tuple[float, float]]], seconds: float) -> tuple:
    """(passed, lines): per worker, growth of the last third over the middle third's maximum."""
    lines, passed = [], True
    for pid, series in sorted(samples.items()):
        middle = [rss for at, rss in series if seconds / 3 <= at < 2 * seconds / 3]
        last = [rss for at, rss in series if at >= 2 * seconds / 3]
        first = series[0][1] if series else 0.0
        if not middle or not last:
            lines.append(f"  worker {pid}: too few samples ({len(series)})")
            passed = False
            continue
        bound = max(GROWTH_MB, GROWTH_SHARE * max(middle))
        growth = max(last) - max(middle)
        good = growth < bound
        passed &= good
        lines.append(
            f"  worker {pid}: {len(series)} samples; RSS first {first:.0f} MB, middle third max "
            f"{max(middle):.0f} MB, last third max {max(last):.0f} MB (growth {growth:+.1f} MB, "
            f"bound < {bound:.0f} MB), end {series[-1][1]:.0f} MB: {'PASS' if good else 'FAIL'}"
        )
    return passed, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--connections", type=int, default=64, help="in all, split in two")
    arguments = parser.parse_args()
    seconds = arguments.seconds
    half = max(arguments.connections // 2, 1)

    with (
        tempfile.TemporaryDirectory(prefix="pc-bench-soak-") as folder,
        database("postgresql", folder) as url,
    ):
        env = demo_center_env(url, folder)
        samples: dict[int, list[tuple[float, float]]] = {}
        with gunicorn_process("wsgi:app", env) as (center, master):
            warm(center + "/policy")
            seeded = stored_receipts(url)  # the demo's own receipts
            workers_at_start = children(master.pid)
            receipts = run_wrk(center + "/api/v1/consents", seconds, half,
                               BENCH / "receipts.lua")  # fmt: skip
            policy = run_wrk(center + "/policy", seconds, half, BENCH / "statuses.lua")
            began = time.monotonic()
            seen_workers: set[int] = set(workers_at_start)
            finished = threading.Event()

            def sample() -> None:
                while not finished.wait(SAMPLE_EVERY):
                    at = time.monotonic() - began
                    for pid in children(master.pid):
                        seen_workers.add(pid)
                        rss = rss_mb(pid)
                        if rss is not None:
                            samples.setdefault(pid, []).append((at, rss))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            receipts_out, receipts_err = receipts.communicate(timeout=seconds + 60)
            policy_out, policy_err = policy.communicate(timeout=seconds + 60)
            finished.set()
            sampler.join()
            if receipts.returncode or policy.returncode:
                raise RuntimeError(f"wrk failed: {receipts_err} {policy_err}")
            workers_at_end = children(master.pid)
            # Graceful stop: every request under way is answered and its receipt committed.
            stop(master)
            graceful = master.returncode == 0
        stored = stored_receipts(url) - seeded

    counted = re.search(r"RECEIPTS ok=(\d+) bad=(\d+) server=(\d+)", receipts_out)
    ok, bad, receipt_5xx = (int(counted[i]) for i in (1, 2, 3))
    statuses = re.search(r"STATUSES 2xx=(\d+) 3xx=(\d+) 4xx=(\d+) 5xx=(\d+)", policy_out)
    page_2xx, page_3xx, page_4xx, page_5xx = (int(statuses[i]) for i in (1, 2, 3, 4))
    receipt_wrk, page_wrk = wrk_figures(receipts_out), wrk_figures(policy_out)

    in_flight_bound = half + receipt_wrk["timeouts"]
    none_lost = ok <= stored <= ok + in_flight_bound
    no_5xx = receipt_5xx == 0 and page_5xx == 0
    restarted = sorted(seen_workers - set(workers_at_start))
    memory_ok, memory_lines = memory_verdict(samples, seconds)
    memory_ok &= not restarted and workers_at_end == workers_at_start

    print(f"soak: {seconds} s, {2 * half} connections (receipts {half}, /policy {half}), "
          f"gunicorn {' '.join(GUNICORN_SETTINGS)}, PostgreSQL")  # fmt: skip
    print(f"receipts: {receipt_wrk['rps']:.0f} req/s; 2xx {ok}, other {bad} (5xx {receipt_5xx}); "
          f"socket errors {receipt_wrk['socket_errors']:.0f} (timeouts "
          f"{receipt_wrk['timeouts']:.0f})")  # fmt: skip
    print(f"/policy: {page_wrk['rps']:.0f} req/s; 2xx {page_2xx}, 3xx {page_3xx}, 4xx {page_4xx}, "
          f"5xx {page_5xx}; socket errors {page_wrk['socket_errors']:.0f}")  # fmt: skip
    print(f"rows stored after a graceful stop (exit status {master.returncode}): {stored}; 2xx "
          f"answers {ok}; extra rows allowed for requests in flight at wrk's deadline: "
          f"{in_flight_bound:.0f}: {'PASS' if none_lost else 'FAIL'}")  # fmt: skip
    print(f"workers: at start {workers_at_start}, at end {workers_at_end}, restarted "
          f"{restarted or 'none'}; memory (sampled every {SAMPLE_EVERY:.0f} s):")  # fmt: skip
    for line in memory_lines:
        print(line)
    peak = max((rss for series in samples.values() for _, rss in series), default=0.0)
    growths = [
        line.split("growth ")[1].split(" MB")[0] for line in memory_lines if "growth " in line
    ]
    rows = [
        {
            "budget": f"soak {seconds} s, {2 * half} conns (receipts + /policy), PostgreSQL: "
            "no 5xx",
            "figure": f"receipts {receipt_wrk['rps']:.0f} req/s, policy {page_wrk['rps']:.0f} "
            f"req/s, 5xx {receipt_5xx + page_5xx}, other non-2xx/3xx {bad + page_4xx}",
            "pass": no_5xx and bad == 0 and page_4xx == 0,
        },
        {
            "budget": "soak: every 2xx receipt stored (graceful stop, then count)",
            "figure": f"2xx {ok}, rows {stored} (+{stored - ok} in flight at the deadline)",
            "pass": none_lost and graceful,
        },
        {
            "budget": f"soak: worker RSS, last third <= middle third max + "
            f"max({GROWTH_MB:.0f} MB, {GROWTH_SHARE:.0%})",
            "figure": f"growth {', '.join(growths)} MB; peak {peak:.0f} MB; restarts "
            f"{len(restarted)}",
            "pass": memory_ok,
        },
    ]
    passed = all(row["pass"] for row in rows)
    print(f"soak: {'PASS' if passed else 'FAIL'}")
    print(json.dumps(rows))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
