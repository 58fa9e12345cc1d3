"""Consent receipts per second against a bare Flask "hello" route, on SQLite and PostgreSQL.

Budget (DESIGN.md): at least 0.4x the hello rate under the same gunicorn settings, on both
databases, and no receipt lost: the rows stored equal the 2xx answers. Side by side in one run.

A shared machine's speed drifts by a factor of several within a minute, so the two rates are
never compared across minutes: each round runs hello and the receipts back to back (their order
alternating), the figure is the median of the rounds' own ratios, and its spread (quartiles and
extremes) is printed beside it. Many short rounds, after an unmeasured warm-up round.

    python bench/consent_throughput.py [--seconds 2] [--rounds 15] [--databases sqlite postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT, demo_center_env, gunicorn, wrk

BUDGET = 0.4
LUA = Path(__file__).resolve().parent / "receipts.lua"
POSTGRES_ADMIN = os.environ.get(
    "PC_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def database(kind: str, folder: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder}/bench.sqlite3"
        return
    admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"pc_bench_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(POSTGRES_ADMIN).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def stored_receipts(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM consent_receipt")).scalar_one()
    engine.dispose()
    return count


def rollup_total(url: str) -> int:
    """Receipts counted by the daily rollup (written with them): must equal the rows stored."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        total = connection.execute(sa.text("SELECT sum(total) FROM consent_day")).scalar()
    engine.dispose()
    return int(total or 0)


def receipt_body() -> bytes:
    return json.dumps(
        {
            "receiptId": str(uuid.uuid4()),
            "visitorId": str(uuid.uuid4()),
            "site": "demo",
            "policyVersion": 2,
            "build": "0123456789ab",
            "textsHash": "a" * 64,
            "language": "fr",
            "action": "save",
            "gpc": False,
            "choices": {
                "functional": True,
                "analytics": False,
                "advertising": False,
                "personalization": True,
                "social": False,
            },
        }
    ).encode()


def post_receipt(url: str) -> int:
    request = urllib.request.Request(
        url,
        data=receipt_body(),
        headers={"Content-Type": "application/json", "Origin": "http://127.0.0.1:5001"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def verify_none_lost(center: str, url: str, count: int = 2000) -> tuple[int, int]:
    """Post ``count`` receipts concurrently; return (2xx answers, rows added). They must match.

    wrk stops at its deadline with requests in flight, which the server may still record; this
    phase waits for every answer, so the two numbers can be compared exactly.
    """
    # Let the requests that wrk left in flight at its deadline finish first.
    before, settled = -1, stored_receipts(url)
    while before != settled:
        time.sleep(0.5)
        before, settled = settled, stored_receipts(url)
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(post_receipt, [center + "/api/v1/consents"] * count))
    accepted = sum(200 <= status < 300 for status in statuses)
    return accepted, stored_receipts(url) - before


def spread(ratios: list[float]) -> dict[str, float]:
    """Median, quartiles and extremes of the per-round ratios."""
    ordered = sorted(ratios)
    if len(ordered) >= 2:
        low, _median, high = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        low = high = ordered[0]
    return {
        "median": statistics.median(ordered),
        "q1": low,
        "q3": high,
        "min": ordered[0],
        "max": ordered[-1],
    }


def measure(kind: str, hello: str, seconds: int, rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as folder, database(kind, folder) as url:
        env = demo_center_env(url, folder)
        ratios, ok, bad, rates, hello_rates = [], 0, 0, [], []
        with gunicorn("wsgi:app", env) as center:
            # Warm-up, not counted: the first requests load code and fill caches.
            wrk(hello + "/", 1)
            wrk(center + "/api/v1/consents", 1, script=LUA)
            for index in range(rounds):
                # Alternate which runs first, so that a drift within a round favours neither.
                first_hello = index % 2 == 0
                base = wrk(hello + "/", seconds) if first_hello else None
                run = wrk(center + "/api/v1/consents", seconds, script=LUA)
                if base is None:
                    base = wrk(hello + "/", seconds)
                counted = re.search(r"RECEIPTS ok=(\d+) bad=(\d+)", run["raw"])
                ok += int(counted.group(1))
                bad += int(counted.group(2))
                rates.append(run["rps"])
                hello_rates.append(base["rps"])
                ratios.append(run["rps"] / base["rps"])
            accepted, added = verify_none_lost(center, url)
        stored = stored_receipts(url)
        counted_by_rollup = rollup_total(url)
    return {
        "rollup": counted_by_rollup,
        "ratio": spread(ratios),
        "ratios": ratios,
        "rates": rates,
        "hello": hello_rates,
        "ok": ok,
        "bad": bad,
        "stored": stored,
        "accepted": accepted,
        "added": added,
    }


def describe(ratio: dict[str, float]) -> str:
    return (
        f"{ratio['median']:.2f}x (IQR {ratio['q1']:.2f}-{ratio['q3']:.2f}, "
        f"min-max {ratio['min']:.2f}-{ratio['max']:.2f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    arguments = parser.parse_args()

    results = {}
    with gunicorn("hello_app:app", {}, cwd=ROOT / "bench") as hello:
        for kind in arguments.databases:
            results[kind] = measure(kind, hello, arguments.seconds, arguments.rounds)

    passed = True
    rows = []
    for kind, result in results.items():
        lost = result["accepted"] - result["added"]
        rollup_ok = result["rollup"] == result["stored"]
        good = (
            result["ratio"]["median"] >= BUDGET and lost == 0 and result["bad"] == 0 and rollup_ok
        )
        passed &= good
        print(
            f"{kind}: per round (hello req/s, receipts/s, ratio): "
            + "; ".join(
                f"{h:.0f}, {r:.0f}, {q:.2f}"
                for h, r, q in zip(result["hello"], result["rates"], result["ratios"], strict=True)
            )
        )
        print(
            f"{kind}: median of per-round ratios {describe(result['ratio'])}; under wrk: "
            f"2xx {result['ok']}, other {result['bad']}, stored {result['stored']}, counted by "
            f"the daily rollup {result['rollup']}; counted "
            f"phase: 2xx {result['accepted']}, rows added {result['added']}, lost {lost}: "
            f"{'PASS' if good else 'FAIL'}"
        )
        # One row per database: each is its own budget line of DESIGN.md.
        rows.append(
            {
                "budget": f"receipts/s >= {BUDGET}x hello on {kind} (median of "
                f"{len(result['ratios'])} rounds), none lost",
                "figure": f"{describe(result['ratio'])}; median "
                f"{statistics.median(result['rates']):.0f} vs "
                f"{statistics.median(result['hello']):.0f} req/s; lost {lost}, "
                f"non-2xx {result['bad']}, rollup {'=' if rollup_ok else '!='} rows",
                "pass": good,
            }
        )
    print(json.dumps(rows))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
