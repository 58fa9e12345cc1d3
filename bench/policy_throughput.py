"""Policy page throughput against a bare Flask "hello" route, side by side in one run.

Budget (DESIGN.md): /policy serves at least 0.8x the requests/s of the hello route under the
same gunicorn settings, and a conditional GET answers 304. Prints one JSON line last.

    python bench/policy_throughput.py [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT, gunicorn, production_env, warm, wrk

BUDGET = 0.8
# Both routes get the same request a browser sends.
BROWSER_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Encoding": "gzip, deflate, br, zstd",
    "Accept-Language": "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7",
}


def conditional_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        etag = response.headers["ETag"]
    request = urllib.request.Request(url, headers={"If-None-Match": etag})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternated hello/policy rounds")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as instance:
        app_env = production_env(f"sqlite:///{instance}/bench.sqlite3", instance)
        with (
            gunicorn("hello_app:app", {}, cwd=ROOT / "bench") as hello,
            gunicorn("wsgi:app", app_env) as center,
        ):
            policy_url = center + "/policy"
            warm(policy_url)
            warm(hello + "/")
            ratios, hello_rates, policy_rates, bad = [], [], [], 0
            for _ in range(arguments.rounds):
                base = wrk(hello + "/", arguments.seconds, headers=BROWSER_HEADERS)
                page = wrk(policy_url, arguments.seconds, headers=BROWSER_HEADERS)
                hello_rates.append(base["rps"])
                policy_rates.append(page["rps"])
                bad += base["bad_status"] + page["bad_status"]
                ratios.append(page["rps"] / base["rps"])
            status_304 = conditional_status(policy_url)
            size = len(urllib.request.urlopen(policy_url, timeout=10).read())

    ratio = statistics.median(ratios)
    passed = ratio >= BUDGET and status_304 == 304 and bad == 0
    print(f"hello  req/s per round: {', '.join(f'{r:.0f}' for r in hello_rates)}")
    print(f"policy req/s per round: {', '.join(f'{r:.0f}' for r in policy_rates)} ({size} bytes)")
    print(f"ratio per round: {', '.join(f'{r:.2f}' for r in ratios)}; median {ratio:.2f}")
    print(f"conditional GET: {status_304}; non-2xx/3xx answers: {bad}")
    print(
        f"policy throughput ratio {ratio:.2f} (budget >= {BUDGET}): {'PASS' if passed else 'FAIL'}"
    )
    print(
        json.dumps(
            {
                "budget": f"/policy req/s >= {BUDGET}x hello, 304 on conditional GET",
                "figure": f"{ratio:.2f}x, {status_304}",
                "pass": passed,
            }
        )
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
