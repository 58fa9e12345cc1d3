"""Issue 16, item 7: secrets stay out of logs and caches.

- The request logs (werkzeug's in development, gunicorn's access log with the documented
  ``gunicorn.conf.py`` in production) never write the secret of an emailed link.
- Every answer that is not explicitly public is ``Cache-Control: no-store``; public files, the
  policy pages and the widget configuration keep their caching, and the files and the widget
  configuration do not vary on the cookie.
- A status link stops working STATUS_LINK_DAYS_AFTER_CLOSE days after its request closes; a
  fresh one comes from "Find my request".
"""

from __future__ import annotations

import logging
import re
import secrets
import urllib.request
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.error import HTTPError
from urllib.parse import urlsplit

import pytest
from conftest import sign_in
from flask import Flask
from gunicorn.app.base import Application
from sqlalchemy import select
from werkzeug.test import EnvironBuilder

from privacy_center.access_log import REDACTED, SECRETS_FILTER
from privacy_center.caching import PUBLIC_ENDPOINTS
from privacy_center.mail import read_outbox
from privacy_center.models import DataExport, PrivacyRequest
from privacy_center.models.types import utcnow

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
STATUS_LINK = re.compile(r"http://localhost(/rights/requests/PC-[\w-]+/[\w-]+)")


def a_secret() -> str:
    return secrets.token_urlsafe(32)


# Every kind of emailed link, as the mails write them (the secret last in the path).
def secret_links(secret: str) -> dict[str, str]:
    return {
        "status": f"/rights/requests/PC-7K4M-9Q2X/{secret}?lang=fr",
        "status letter": f"/rights/requests/PC-7K4M-9Q2X/{secret}/letters/3",
        "withdraw": f"/rights/requests/PC-7K4M-9Q2X/{secret}/withdraw",
        "confirmation": f"/rights/requests/confirm/{secret}?lang=de",
        "sign-in": f"/rights/sign-in/{secret}?next=/rights/download",
        "download": f"/rights/download/link/{secret}",
        "post-mortem data": f"/rights/post-mortem/data/{secret}",
        "unsubscribe": f"/rights/unsubscribe/{secret}",
        "tracked link": f"/go/{secret}",
        "acknowledgement": f"/recipients/acknowledge/{secret}",
        "query parameter": f"/rights?token={secret}&lang=fr",
    }


# --- The development server's request log (werkzeug) --------------------------------------------


@pytest.mark.parametrize("link", sorted(secret_links("x")))
def test_the_development_request_log_writes_no_secret(
    live_server: str, caplog: pytest.LogCaptureFixture, link: str
) -> None:
    secret = a_secret()
    path = secret_links(secret)[link]
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        try:
            urllib.request.urlopen(live_server + path)
        except HTTPError as error:  # 404, 405: the line is written all the same
            error.close()
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    (line,) = [line for line in lines if "GET /" in line]  # coloured on a terminal
    assert secret not in line
    assert REDACTED in line
    # What is not secret stays: the rest of the path, the query, the status.
    shown = path.replace(secret, REDACTED)
    assert shown.split("?")[0] in line


def test_a_page_whose_path_only_looks_like_a_link_keeps_its_path(
    live_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    # /rights/requests/<reference>/<token> could read /rights/requests/new/access: the URL map
    # says which rule answers, so the request form's path is written whole.
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        urllib.request.urlopen(live_server + "/rights/requests/new/access?lang=en").close()
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("GET /rights/requests/new/access?lang=en " in line for line in lines), lines


# --- gunicorn's access log, configured by gunicorn.conf.py as docs/deployment.md says -----------


class DocumentedGunicorn(Application):
    """gunicorn's own configuration loading, with the file the deployment guide names."""

    def __init__(self, access_log: Path) -> None:
        self.access_log = access_log
        super().__init__()

    def load_config(self) -> None:
        self.load_config_from_file(str(ROOT / "gunicorn.conf.py"))
        self.cfg.set("accesslog", str(self.access_log))
        # The guide's format, plus the redirect's Location and the cookie a custom one might log.
        self.cfg.set(
            "access_log_format",
            '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(U)s %(q)s '
            '"%({location}o)s" "%({cookie}i)s"',
        )

    def load(self) -> object:  # pragma: no cover - never served here
        raise AssertionError


def test_the_documented_gunicorn_access_log_writes_no_secret(
    app: Flask, client, tmp_path: Path
) -> None:
    documented = DocumentedGunicorn(tmp_path / "access.log")
    documented.cfg.on_starting(SimpleNamespace())  # what the master runs before forking
    logger = documented.cfg.logger_class(documented.cfg)

    for name, path in secret_links(secret := a_secret()).items():
        page = f"http://privacy.test/rights/requests/PC-7K4M-9Q2X/{secret}"
        builder = EnvironBuilder(
            path=path.split("?")[0],
            query_string=path.partition("?")[2],
            headers={"Referer": page, "Cookie": f"session={secret}"},
        )
        environ = builder.get_environ()
        environ["RAW_URI"] = path
        answer = client.open(builder)  # the application's real answer to that request
        response = SimpleNamespace(
            status=answer.status,
            headers=[("Location", f"http://privacy.test{path}"), *answer.headers.items()],
            sent=len(answer.get_data()),
        )
        request = SimpleNamespace(headers=[("Referer", page), ("Cookie", f"session={secret}")])
        logger.access(response, request, environ, timedelta(milliseconds=3))  # as the worker does
        for handler in logging.getLogger("gunicorn.access").handlers:
            handler.flush()
        line = (tmp_path / "access.log").read_text().splitlines()[-1]
        assert secret not in line, (name, line)
        assert path.split("?")[0].replace(secret, REDACTED) in line, (name, line)
    for name in ("gunicorn.access", "gunicorn.error"):
        for handler in list(logging.getLogger(name).handlers):
            handler.close()
            logging.getLogger(name).removeHandler(handler)


def test_the_filter_is_on_both_request_loggers(app: Flask) -> None:
    for name in ("werkzeug", "gunicorn.access"):
        assert SECRETS_FILTER in logging.getLogger(name).filters


# --- Cache-Control and Vary ---------------------------------------------------------------------

# The answers that are public and keep their caching: the policy, the widget, its configuration,
# the API description, the static files, the favicon and the operator's theme and logo.
PUBLIC = {"static", "consent.widget_script", "consent.widget_asset", "consent.widget_builds",
          "consent.widget_config", "consent.openapi", "favicon", "theme_css",
          "theme_logo"}  # fmt: skip


def is_public(endpoint: str) -> bool:
    return endpoint.startswith("policy.") or endpoint in PUBLIC


def example_path(rule) -> str:
    """The rule's path with a number for each <int:…> and a reference-like word elsewhere."""
    path = re.sub(r"<int:[^>]+>", "1", rule.rule)
    return re.sub(r"<[^>]+>", "PC-7K4M-9Q2X", path)


def get_rules(app: Flask) -> list:
    return sorted(
        (r for r in app.url_map.iter_rules() if "GET" in r.methods and not is_public(r.endpoint)),
        key=lambda r: r.rule,
    )


def private_get_rules() -> list[str]:
    return [
        "accounts.login", "accounts.preferences", "accounts.request_link",
        "accounts.sign_in_with_link", "accounts.unsubscribe", "activity_links.follow",
        "consent.receipt", "exports.file", "exports.index", "exports.link", "exports.status",
        "index", "postmortem.certificate", "postmortem.data_link", "postmortem.directives",
        "postmortem.new_request", "postmortem.verify", "recipients.acknowledge", "retention.index",
        "rights.confirm", "rights.find", "rights.index", "rights.letter_pdf", "rights.new_request",
        "rights.sent", "rights.status", "rights.withdraw", "staff.code", "staff.dashboard",
        "staff.detail", "staff.document", "staff.document_original", "staff.document_page",
        "staff.enrol", "staff.index", "staff.letter_pdf",
        "staff.members", "staff.new_request", "staff.register", "staff.sign_in",
        "staff.undelivered_mail",
    ]  # fmt: skip


def test_the_url_map_is_covered(app: Flask) -> None:
    """Every GET page that is not public is in the list below (a new page joins it here)."""
    assert {rule.endpoint for rule in get_rules(app)} >= set(private_get_rules())


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "holder"])
def test_every_answer_that_is_not_public_is_no_store(
    app: Flask, client, make_account, signed_in: bool
) -> None:
    if signed_in:
        sign_in(client, make_account(f"holder-{secrets.token_hex(4)}@example.org"))
    seen = set()
    for rule in get_rules(app):
        path = example_path(rule)
        answer = client.get(path)
        assert "no-store" in answer.headers.get("Cache-Control", ""), (path, answer.status)
        seen.add(rule.endpoint)
    assert seen >= set(private_get_rules())


def test_the_pages_of_a_signed_in_holder_are_no_store(db, client, make_account) -> None:
    holder = make_account(f"holder-{secrets.token_hex(4)}@example.org")
    sign_in(client, holder)
    export = DataExport(account_id=holder.id, copy_number=1, language="fr", state="running",
                        rows_done=1, rows_total=4)  # fmt: skip
    db.add(export)
    db.flush()
    for path in ("/rights", "/rights/download", f"/rights/download/{export.id}",
                 "/rights/post-mortem", "/rights/preferences"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["Cache-Control"] == "no-store", path


@pytest.mark.parametrize(
    ("path", "cache_control"),
    [
        ("/static/css/site.css", "public, max-age=31536000"),
        ("/theme.css", "public, max-age=3600"),
        ("/logo.svg", "public, max-age=3600"),
        ("/widget/consent.js", "public, max-age=3600"),
        ("/widget/builds", "public, max-age=300"),
        ("/api/v1/sites/demo/config", "public, max-age=300"),
        ("/api/v1/openapi.yaml", "public, max-age=300"),
    ],
)
def test_public_files_and_the_widget_configuration_keep_their_caching_without_vary_cookie(
    client, path: str, cache_control: str
) -> None:
    # A visitor with a session (and the language cookie): the answer is the same for everyone.
    client.set_cookie("session", "anything")
    client.set_cookie("pc_lang", "fr")
    answer = client.get(path)
    answer.close()
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == cache_control
    assert "cookie" not in answer.headers.get("Vary", "").lower()


def test_the_policy_pages_keep_their_caching(client) -> None:
    client.set_cookie("session", "anything")
    for path in ("/policy", "/policy/versions/1", "/policy/versions"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert "no-store" not in answer.headers.get("Cache-Control", ""), path
        assert answer.headers.get("Cache-Control", "").startswith(("public", "private")), path


def test_public_endpoints_of_the_hook_are_the_static_files_only() -> None:
    # Every other public answer says its own caching, in its view.
    assert {"static"} == PUBLIC_ENDPOINTS


def test_a_page_that_uses_the_session_still_varies_on_the_cookie(client, make_account) -> None:
    sign_in(client, make_account(f"holder-{secrets.token_hex(4)}@example.org"))
    answer = client.get("/rights")
    assert "Cookie" in answer.headers["Vary"]


# --- Status links after the request closes ------------------------------------------------------


def file_as_holder(client, make_account) -> tuple[str, str]:
    """A signed-in holder files an access request; returns (their email, the status path)."""
    email = f"holder-{secrets.token_hex(4)}@example.org"
    sign_in(client, make_account(email))
    path = "/rights/requests/new/access?lang=en"
    token = CSRF.search(client.get(path).get_data(as_text=True))[1]
    answer = client.post(
        path,
        data={
            "csrf_token": token,
            "name": "Camille Martin",
            "language": "en",
            "details": "Everything, please.",
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return email, urlsplit(answer.location).path


def withdraw(client, status: str) -> None:
    page = client.get(status + "/withdraw").get_data(as_text=True)
    answer = client.post(status + "/withdraw", data={"csrf_token": CSRF.search(page)[1]})
    assert answer.status_code == 302


def test_a_status_link_expires_after_the_request_closes_and_a_fresh_one_is_mailed(
    app: Flask, db, client, make_account, outbox: Path
) -> None:
    days = app.config["STATUS_LINK_DAYS_AFTER_CLOSE"]
    email, status = file_as_holder(client, make_account)
    page = client.get(status).get_data(as_text=True)
    assert (
        f"This link works while your request is open and for {days} days after it is closed."
        in (page)
    )

    withdraw(client, status)
    request = db.scalars(select(PrivacyRequest).where(PrivacyRequest.email == email)).one()
    db.refresh(request)
    assert request.closed_at is not None
    page = client.get(status).get_data(as_text=True)
    assert 'id="link-expiry"' in page and "This link works until" in page

    # Closed (and the link issued) longer ago than the setting: the link no longer opens.
    request.closed_at = utcnow() - timedelta(days=days, seconds=1)
    request.status_link_issued_at = request.closed_at - timedelta(days=1)
    db.flush()
    expired = client.get(status)
    assert expired.status_code == 410
    text = expired.get_data(as_text=True)
    assert "This status link has expired" in text and request.reference in text
    assert (
        f"A status link stops working {days} days after the request is closed or after the link "
        "is sent, whichever is later." in text
    )
    assert "Everything, please." not in text and "Withdraw" not in text
    assert expired.headers["Cache-Control"] == "no-store"
    assert client.get(status + "/withdraw").status_code == 410

    # "Find my request" mails a fresh link, which works for the same time from now.
    find = client.get("/rights/requests/find").get_data(as_text=True)
    answer = client.post(
        "/rights/requests/find",
        data={"csrf_token": CSRF.search(find)[1], "email": email, "reference": request.reference},
    )
    assert answer.status_code == 200
    answer.close()  # sent: the link is mailed now (mail_intents.py)
    mail = [message for message in read_outbox(outbox) if message["To"] == email][-1]
    fresh = STATUS_LINK.search(mail.get_body(("plain",)).get_content())[1]
    assert fresh.split("/")[-1] != status.split("/")[-1]
    page = client.get(fresh)
    assert page.status_code == 200
    assert "This link works until" in page.get_data(as_text=True)
    assert client.get(status).status_code == 404  # the old secret no longer matches


def test_an_open_request_keeps_its_link_however_old(db, client, make_account) -> None:
    email, status = file_as_holder(client, make_account)
    request = db.scalars(select(PrivacyRequest).where(PrivacyRequest.email == email)).one()
    request.status_link_issued_at = utcnow() - timedelta(days=400)
    db.flush()
    assert client.get(status).status_code == 200


# --- The reverse proxy's log, as docs/deployment.md shows it ------------------------------------


def nginx_log_path(uri: str) -> str:
    """What the guide's nginx maps log for ``uri`` (nginx regexes are PCRE: ``(?<name>``)."""
    guide = (ROOT / "docs" / "deployment.md").read_text()
    block = guide.split("```nginx", 1)[1].split("```", 1)[0]

    def entries(variable: str) -> list[tuple[str, str]]:
        body = re.search(rf"map \$uri \${variable} \{{(.*?)[;\s]\}}\s*$", block, re.S | re.M)[1]
        found = re.findall(r"~(\S+)\s+([^;\s]+);", body)
        return [(pattern.replace("(?<", "(?P<"), value) for pattern, value in found]

    for pattern, _value in entries("pc_plain"):
        if re.search(pattern, uri):
            return uri
    for pattern, value in entries("pc_logged_uri"):
        found = re.search(pattern, uri)
        if found:
            # nginx's ${name} is Python's \g<name> (an unmatched group gives "").
            return found.expand(re.sub(r"\$\{(\w+)\}", r"\\g<\1>", value))
    return uri


@pytest.mark.parametrize("link", sorted(set(secret_links("x")) - {"query parameter"}))
def test_the_guides_nginx_log_format_writes_no_secret(link: str) -> None:
    secret = a_secret()
    uri = secret_links(secret)[link].split("?")[0]  # $uri: the path, without the query
    logged = nginx_log_path(uri)
    assert secret not in logged and logged == uri.replace(secret, REDACTED)


@pytest.mark.parametrize(
    "uri",
    ["/rights/requests/new/access", "/rights/requests/find", "/rights/sign-in/link", "/policy"],
)
def test_the_guides_nginx_log_format_keeps_ordinary_paths(uri: str) -> None:
    assert nginx_log_path(uri) == uri


def test_no_page_sends_its_address_to_other_sites(app: Flask, client) -> None:
    every_page = [example_path(rule) for rule in app.url_map.iter_rules() if "GET" in rule.methods]
    for path in [*secret_links(a_secret()).values(), *every_page]:
        answer = client.get(path)
        answer.close()
        policy = answer.headers["Referrer-Policy"]
        assert policy in {"no-referrer", "strict-origin-when-cross-origin"}, path
