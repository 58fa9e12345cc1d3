"""Issue 16, item 3: one host rule everywhere.

- A request for a host outside ``TRUSTED_HOSTS`` is refused (400) on every path: Flask's pages,
  the pre-rendered policy pages and the consent receipts answered below Flask; no receipt is
  stored and no link is built on the forged host.
- ``X-Forwarded-For``, ``-Proto`` and ``-Host`` are believed from the proxies ``TRUSTED_PROXIES``
  names and from no one else, by the application and by gunicorn started as documented
  (``gunicorn.conf.py``), whose answers name no server version.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import valid_receipt
from flask import Flask
from sqlalchemy import delete, func, select
from werkzeug.test import EnvironBuilder, run_wsgi_app

from privacy_center import create_app
from privacy_center.config import ConfigurationError, trusted_proxies
from privacy_center.consent.views import WRITER
from privacy_center.extensions import db as database
from privacy_center.hosts import HostRule
from privacy_center.models import ConsentReceipt

ROOT = Path(__file__).resolve().parent.parent
HOST = "privacy.example.com"
FORGED = "evil.example"


def production_environment(database_url: str, directory: Path) -> dict[str, str]:
    """What production refuses to start without, with throw-away secrets."""
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return {
        "PC_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "TRUSTED_HOSTS": HOST,
        "DATABASE_URL": database_url,
        "PC_IDENTITY_DOCUMENT_KEY": key,
        "PC_EXPORT_KEY": key,
        "PC_AUDIT_KEY": key,
        "PC_IDENTITY_DOCUMENT_DIR": str(directory / "documents"),
        "PC_EXPORT_DIR": str(directory / "exports"),
        "PC_AUDIT_CHECKPOINT_FILE": str(directory / "audit-checkpoints.jsonl"),
        "MAIL_OUTBOX_DIR": str(directory / "outbox"),
        "CONSENT_RATE_LIMIT": "1000 per minute",
    }


@pytest.fixture
def production(app: Flask, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Factory: the application as a deployment starts it (production settings from the
    environment), on the migrated test database; the receipts it stored are deleted after.

    (``app`` is requested for the migrated database.)
    """
    made: list[Flask] = []

    def factory(overrides: dict | None = None, **environment: str) -> Flask:
        for name in ("REDIS_URL", "TRUSTED_PROXIES", "CONSENT_EXTRA_ORIGINS"):
            monkeypatch.delenv(name, raising=False)
        for name, value in {
            **production_environment(database_url, tmp_path),
            **environment,
        }.items():
            monkeypatch.setenv(name, value)
        application = create_app("production", overrides)
        assert application.config["ENVIRONMENT"] == "production"
        made.append(application)
        return application

    yield factory
    for application in made:
        if WRITER in application.extensions:
            application.extensions[WRITER].close()
        with application.app_context():
            database.session.execute(delete(ConsentReceipt))
            database.session.commit()
            database.engine.dispose()


def stored_receipts(application: Flask) -> int:
    with application.app_context():
        return database.session.scalar(select(func.count()).select_from(ConsentReceipt))


def post_receipt(client, host: str, origin: str, **options):
    return client.post(
        "/api/v1/consents",
        data=json.dumps(valid_receipt()),
        content_type="application/json",
        base_url=f"https://{host}",
        headers={"Origin": origin},
        **options,
    )


# --- the forged host, on each path ------------------------------------------------------------


def test_forged_host_gets_no_prerendered_policy_page(production):
    application = production()
    dispatched: list[str] = []
    application.before_request(lambda: dispatched.append("flask") and None)
    client = application.test_client()
    first = client.get("/policy", base_url=f"https://{HOST}")
    assert first.status_code == 200 and dispatched == ["flask"]
    # The page is now pre-rendered: the trusted host gets it without Flask...
    assert client.get("/policy", base_url=f"https://{HOST}").data == first.data
    assert dispatched == ["flask"]
    # ... and the forged one gets nothing from it, on either pre-rendered page.
    for path in ("/policy", "/policy/versions"):
        forged = client.get(path, base_url=f"https://{FORGED}")
        assert forged.status_code == 400, path
        assert forged.data == b"Unknown host.\n"
        assert forged.headers["Cache-Control"] == "no-store"
        assert forged.headers["X-Content-Type-Options"] == "nosniff"
    assert dispatched == ["flask"]


@pytest.mark.parametrize("group_commit", ["1", ""], ids=["wsgi-intake", "flask-view"])
def test_forged_host_with_matching_origin_stores_no_receipt(production, group_commit):
    """The attack of the issue: Host evil.example with Origin https://evil.example made the
    receipt's own origin evil.example, so it was accepted and its URL named the forged host."""
    application = production({"RECEIPT_GROUP_COMMIT": bool(group_commit)})
    assert (WRITER in application.extensions) is bool(group_commit)
    client = application.test_client()
    forged = post_receipt(client, FORGED, f"https://{FORGED}")
    assert forged.status_code == 400
    assert FORGED not in forged.get_data(as_text=True)
    assert stored_receipts(application) == 0
    # The trusted host, posting from its own origin, is recorded and named.
    allowed = post_receipt(client, HOST, f"https://{HOST}")
    assert allowed.status_code == 201, allowed.get_data(as_text=True)
    assert allowed.get_json()["url"].startswith(f"https://{HOST}/api/v1/consents/")
    assert stored_receipts(application) == 1


@pytest.mark.parametrize("group_commit", [True, False], ids=["wsgi-intake", "flask-view"])
def test_both_receipt_paths_see_the_same_own_origin(production, group_commit):
    """The host with its default port written out is the same origin on either path (the
    intake used the raw Host header, and refused what the view accepted)."""
    application = production({"RECEIPT_GROUP_COMMIT": group_commit})
    client = application.test_client()
    answer = post_receipt(client, f"{HOST}:443", f"https://{HOST}")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.get_json()["url"].startswith(f"https://{HOST}/api/v1/consents/")


def test_every_route_refuses_a_forged_host(production):
    """No path can drift: every route of the application, whatever answers it."""
    application = production()
    client = application.test_client()
    checked = 0
    for rule in application.url_map.iter_rules():
        if rule.arguments:
            continue
        for method in sorted(rule.methods - {"HEAD"}):
            answer = client.open(rule.rule, method=method, base_url=f"https://{FORGED}")
            assert answer.status_code == 400, (method, rule.rule, answer.status_code)
            assert answer.data == b"Unknown host.\n"
            checked += 1
    assert checked > 30
    assert stored_receipts(application) == 0


@pytest.mark.parametrize(
    "host",
    [
        HOST,
        f"{HOST}:8443",
        f"{HOST}:443",
        "www.example.org",
        "deep.www.example.org",
        "example.org",
        FORGED,
        f"{FORGED}:443",
        f"{HOST}.{FORGED}",
        f"x{HOST}",
        HOST.upper(),
        f"{HOST}:0",
        f"{HOST}:99999",
        f"{HOST}@{FORGED}",
        f"{FORGED}#{HOST}",
        "",
        None,
    ],
)
def test_the_host_rule_is_flasks_own(host: str | None) -> None:
    """HostRule (the guard in front of every path) decides as Flask's own TRUSTED_HOSTS check
    does, before and after it remembers an accepted Host."""
    trusted = [HOST, ".www.example.org"]
    flask_app = Flask(__name__)
    flask_app.config["TRUSTED_HOSTS"] = trusted
    flask_app.add_url_rule("/", "probe", lambda: "ok")
    environ = EnvironBuilder(path="/").get_environ()
    environ.pop("HTTP_HOST")
    if host is not None:
        environ["HTTP_HOST"] = host
    _body, status, _headers = run_wsgi_app(flask_app, dict(environ), buffered=True)
    assert status in ("200 OK", "400 BAD REQUEST"), status
    rule = HostRule(trusted)
    assert rule.allows(dict(environ)) is (status == "200 OK")
    assert rule.allows(dict(environ)) is (status == "200 OK")  # remembered or not, the same


# --- X-Forwarded-*, in the application -------------------------------------------------------


def test_trusted_proxies_names_addresses() -> None:
    assert trusted_proxies("") == ()
    assert trusted_proxies("127.0.0.1, 10.0.0.0/24 ::1") == ("127.0.0.1", "10.0.0.0/24", "::1")
    with pytest.raises(ConfigurationError, match="no longer counts proxies"):
        trusted_proxies("1")
    with pytest.raises(ConfigurationError, match="not an IP address or network"):
        trusted_proxies("proxy.internal")


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(production):
    application = production(CONSENT_RATE_LIMIT="1 per minute")
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    first = client.post(
        "/api/v1/consents",
        data=json.dumps(valid_receipt()),
        content_type="application/json",
        base_url=f"http://{HOST}",
        headers={
            "Origin": f"http://{HOST}",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.1",
        },
    )
    assert first.status_code == 201
    # Neither the scheme...
    assert first.get_json()["url"].startswith(f"http://{HOST}/")
    assert "Strict-Transport-Security" not in first.headers
    # ... nor the address: another "client" behind the same peer shares its rate limit.
    second = client.post(
        "/api/v1/consents",
        data=json.dumps(valid_receipt()),
        content_type="application/json",
        base_url=f"http://{HOST}",
        headers={"Origin": f"http://{HOST}", "X-Forwarded-For": "203.0.113.2"},
    )
    assert second.status_code == 429
    # Nor the host: a forged X-Forwarded-Host does not replace the trusted Host (a trusted
    # proxy's would, and be refused: see below).
    page = client.get("/policy", base_url=f"https://{HOST}", headers={"X-Forwarded-Host": FORGED})
    assert page.status_code == 200


def test_forwarded_headers_from_a_trusted_proxy_are_believed(production):
    application = production(CONSENT_RATE_LIMIT="1 per minute", TRUSTED_PROXIES="192.0.2.0/24")
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    statuses = []
    for client_address in ("203.0.113.1", "203.0.113.2"):
        answer = client.post(
            "/api/v1/consents",
            data=json.dumps(valid_receipt()),
            content_type="application/json",
            base_url=f"http://{HOST}",
            headers={
                "Origin": f"https://{HOST}",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": f"198.51.100.7, {client_address}",
            },
        )
        statuses.append(answer.status_code)
        assert answer.get_json()["url"].startswith(f"https://{HOST}/")
        assert answer.headers["Strict-Transport-Security"]
    # Each client is counted on its own (the rate limit is 1 per minute and address).
    assert statuses == [201, 201]
    # A host the proxy forwards is held to the same rule as any Host.
    forged = client.get("/policy", base_url=f"https://{HOST}", headers={"X-Forwarded-Host": FORGED})
    assert forged.status_code == 400


# --- gunicorn, started as docs/deployment.md says ---------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def documented_gunicorn(environment: dict[str, str]) -> Iterator[str]:
    """``gunicorn -c gunicorn.conf.py ... wsgi:app`` on a free loopback port (one worker, so
    that its in-memory rate limits see every request)."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "-c", "gunicorn.conf.py", "--workers", "1", "--threads", "4",
        "--worker-class", "gthread", "--bind", f"127.0.0.1:{port}", "wsgi:app",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **environment})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/policy/versions", timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def send(url: str, data: bytes | None = None, **headers: str):
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as error:
        response = error
    with response:
        return response.status, response.headers, response.read()


@pytest.fixture
def gunicorn_environment(app: Flask, database_url: str, tmp_path: Path) -> Iterator[dict]:
    """The production environment for a gunicorn on the migrated test database; the receipts
    it stored are deleted after. (``app`` is requested for the migrated database.)"""
    environment = {
        **production_environment(database_url, tmp_path),
        "TRUSTED_HOSTS": "127.0.0.1",
        "CONSENT_RATE_LIMIT": "1 per minute",
        "TRUSTED_PROXIES": "",
        "FORWARDED_ALLOW_IPS": "*",  # gunicorn's own variable: the configuration overrides it
        "REDIS_URL": "",
    }
    yield environment
    with app.app_context():
        database.session.execute(delete(ConsentReceipt))
        database.session.commit()


def post_through(base: str, origin: str, client_address: str):
    return send(
        base + "/api/v1/consents",
        json.dumps(valid_receipt()).encode(),
        **{
            "Content-Type": "application/json",
            "Origin": origin,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": client_address,
        },
    )


def assert_no_server_version(headers) -> None:
    for server in headers.get_all("Server") or []:
        assert not re.search(r"[0-9]", server), server


def test_documented_gunicorn_trusts_no_forwarded_headers_by_default(gunicorn_environment):
    """Without TRUSTED_PROXIES, a peer on 127.0.0.1 (gunicorn's own default trusts it) claims
    https and another client's address in vain."""
    with documented_gunicorn(gunicorn_environment) as base:
        status, headers, body = post_through(base, base, "203.0.113.1")
        assert status == 201, body
        assert json.loads(body)["url"].startswith(base + "/api/v1/consents/")
        assert "Strict-Transport-Security" not in headers
        assert_no_server_version(headers)
        # The second "client" is the same address to the rate limit: refused.
        status, headers, _ = post_through(base, base, "203.0.113.2")
        assert status == 429
        # The forged host is refused by gunicorn's application too.
        status, headers, body = send(base + "/policy", Host=FORGED)
        assert status == 400 and body == b"Unknown host.\n"
        assert_no_server_version(headers)


def test_documented_gunicorn_trusts_the_proxies_named(gunicorn_environment):
    environment = {**gunicorn_environment, "TRUSTED_PROXIES": "127.0.0.1"}
    with documented_gunicorn(environment) as base:
        https_base = base.replace("http://", "https://")
        for client_address in ("203.0.113.1", "203.0.113.2"):
            status, headers, body = post_through(base, https_base, client_address)
            assert status == 201, body
            assert json.loads(body)["url"].startswith(https_base + "/api/v1/consents/")
            assert headers["Strict-Transport-Security"]
            assert_no_server_version(headers)


def test_trusted_hosts_are_written_as_browsers_send_them(production, monkeypatch):
    application = production(TRUSTED_HOSTS="Privacy.Example.COM, .Bücher.example")
    assert application.config["TRUSTED_HOSTS"] == [HOST, ".xn--bcher-kva.example"]
    client = application.test_client()
    assert client.get("/policy", base_url=f"https://{HOST}").status_code == 200
    assert client.get("/policy", base_url="https://www.xn--bcher-kva.example").status_code == 200
    for wrong in ("privacy_example", "https://privacy.example.com", "."):
        monkeypatch.setenv("TRUSTED_HOSTS", wrong)
        with pytest.raises(ConfigurationError, match="is not a host name"):
            create_app("production")
