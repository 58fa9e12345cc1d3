"""No timing tells who has an account: known and unknown addresses answered in the same time.

The attack of issue 16, item 6, measured as an attacker would: gunicorn (production settings,
mail through a real SMTP server on loopback) is asked, interleaved in random order within each
round, for a sign-in link and for "find my request" with an address that has an account (or a
request) and with one that has none. Each answer is timed from the request sent to the last byte
read; the median of the known address is divided by the median of the unknown one, per endpoint.

Budget: every ratio within 0.8x-1.25x, on SQLite and PostgreSQL; and the work really happens
after the answer: each known address got its mail, the unknown ones none. (Before the fix the
known address answered in about 12 ms and the unknown one in 5 ms; this benchmark, run with
``--root`` on the checkout before the fix, measured 4.5x for the sign-in link and 4.2x for "find
my request" on SQLite.)

    python bench/account_lookup_timing.py [--rounds 80] [--databases sqlite postgresql]
                                          [--root /path/to/another/checkout]

``--root`` serves another checkout of the project (its code and migrations, with this venv), e.g.
one from before the fix, to see the tell this benchmark guards against.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT, VENV_BIN, free_port, gunicorn_process, production_env
from consent_throughput import database

LOW, HIGH = 0.8, 1.25
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# A pause between two requests, and after a known address until its mail has arrived: each
# answer is timed alone, not slowed by the previous answer's mail being worked out on the same
# two cores (that contention is the work of any background job on the host: an RQ worker on
# another host removes it).
GAP_SECONDS = 0.05
WARM_ROUNDS = 10


class Recorder:
    """The SMTP server's side: who got mail (aiosmtpd handler)."""

    def __init__(self) -> None:
        self.recipients: list[str] = []
        self.lock = threading.Lock()

    def count(self, address: str) -> int:
        with self.lock:
            return self.recipients.count(address)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.recipients.extend(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


def seed(known_email: str) -> None:
    """In a child process run in the served checkout: one account and one request filed with
    ``known_email``; prints the request's reference."""
    from privacy_center import create_app
    from privacy_center.content import get_content
    from privacy_center.extensions import db
    from privacy_center.models import Account
    from privacy_center.rights.filing import file_request

    app = create_app()
    with app.app_context():
        db.session.add(
            Account(email=known_email, first_name="Camille", last_name="Martin", language="en")
        )
        filed = file_request(
            db.session, kind="objection_marketing", email=known_email, name="Camille",
            language="en", details="", specifics={}, account=None, document=None,
            today=get_content().operator.today(), settings=app.config,
        )  # fmt: skip
        db.session.commit()
        print(filed.request.reference)


class Browser:
    """One visitor's connection: keeps the session cookie (sent over http by hand: production
    marks it Secure) and the form token."""

    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict[str, str] | None = None) -> tuple:
        headers = {"Accept-Language": "en"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, payload.decode("utf-8", "replace"), elapsed

    def token(self, path: str) -> str:
        status, page, _ = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        return CSRF.search(page).group(1)


def measure(
    base: str, known: str, reference: str, rounds: int, recorder: Recorder
) -> dict[tuple[str, str], list]:
    """Interleaved timings of each (endpoint, known|unknown) pair, in ms."""
    browser = Browser(base)
    mailed = 0
    tokens = {
        "link": browser.token("/rights/sign-in/link"),
        "find": browser.token("/rights/requests/find?lang=en"),
    }
    times: dict[tuple[str, str], list[float]] = {
        (endpoint, who): [] for endpoint in tokens for who in ("known", "unknown")
    }
    for number in range(WARM_ROUNDS + rounds):
        order = list(times)
        random.shuffle(order)
        for endpoint, who in order:
            email = known if who == "known" else f"nobody-{secrets.token_hex(4)}@example.org"
            if endpoint == "link":
                path, body = "/rights/sign-in/link", {"email": email, "next": ""}
                expected = 302
            else:
                path, body = (
                    "/rights/requests/find?lang=en",
                    {"email": email, "reference": reference},
                )
                expected = 200
            status, _, elapsed = browser.request(
                "POST", path, {"csrf_token": tokens[endpoint], **body}
            )
            if status != expected:
                raise RuntimeError(f"POST {path} answered {status}, not {expected}")
            if number >= WARM_ROUNDS:
                times[endpoint, who].append(elapsed * 1000)
            time.sleep(GAP_SECONDS)
            if who == "known":
                mailed += 1
                deadline = time.monotonic() + 10
                while recorder.count(known) < mailed and time.monotonic() < deadline:
                    time.sleep(0.005)
    return times


def run_database(kind: str, root: Path, rounds: int, recorder: Recorder, port: int) -> list:
    rows = []
    with tempfile.TemporaryDirectory() as folder, database(kind, folder) as url:
        env = {
            **os.environ,
            **production_env(url, folder),
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(port),
            "SIGN_IN_LINK_RATE_LIMIT": "100000000 per minute",
            "REQUEST_RATE_LIMIT": "100000000 per minute",
            "PYTHONPATH": str(root),
        }
        env.pop("REDIS_URL", None)
        subprocess.run(
            [str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
            cwd=root, env=env, check=True, capture_output=True,
        )  # fmt: skip
        known = f"holder-{secrets.token_hex(4)}@example.org"
        reference = subprocess.run(
            [sys.executable, __file__, "--seed", known],
            cwd=root, env=env, check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        with gunicorn_process("wsgi:app", env, cwd=root) as (base, _process):
            times = measure(base, known, reference, rounds, recorder)
            # The mails of the last answers are worked out after them: wait for them.
            wanted = 2 * (WARM_ROUNDS + rounds)
            deadline = time.monotonic() + 30
            while recorder.recipients.count(known) < wanted and time.monotonic() < deadline:
                time.sleep(0.2)
        with recorder.lock:
            got_known = recorder.recipients.count(known)
            others = [address for address in recorder.recipients if address != known]
            recorder.recipients.clear()
    for endpoint, label in (("link", "sign-in link"), ("find", "find my request")):
        known_ms = statistics.median(times[endpoint, "known"])
        unknown_ms = statistics.median(times[endpoint, "unknown"])
        ratio = known_ms / unknown_ms
        print(
            f"{kind:10} {label:16} known {known_ms:6.2f} ms  unknown {unknown_ms:6.2f} ms  "
            f"ratio {ratio:.2f}  ({rounds} each, interleaved)",
            flush=True,
        )
        rows.append(
            {
                "budget": f"{label}, known/unknown median ({kind}) in {LOW}x-{HIGH}x",
                "figure": f"{ratio:.2f}x ({known_ms:.1f} / {unknown_ms:.1f} ms)",
                "pass": LOW <= ratio <= HIGH,
            }
        )
    print(f"{kind:10} mails: {got_known} to the known address (of {wanted}), {len(others)} others")
    rows.append(
        {
            "budget": f"known address mailed each time, unknown never ({kind})",
            "figure": f"{got_known}/{wanted} known, {len(others)} unknown",
            "pass": got_known == wanted and not others,
        }
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=80)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve")
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.seed:
        seed(arguments.seed)
        return 0

    from aiosmtpd.controller import Controller

    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    rows: list[dict] = []
    try:
        for kind in arguments.databases:
            rows += run_database(kind, arguments.root.resolve(), arguments.rounds, recorder, port)
    finally:
        controller.stop()
    print(json.dumps(rows))
    return 0 if rows and all(row["pass"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
