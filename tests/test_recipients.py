"""Article 19: the register of recipients (content/recipients.yaml), the notifications written
with a completion and delivered after it (a real local HTTP server, the real SMTP server), the
retries, the staff page, and what the completion letter and the requester are told."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import staff_sign_in
from markupsafe import escape
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from privacy_center import create_app
from privacy_center.config import PROJECT_ROOT
from privacy_center.connectors import EXTENSION_KEY as CONNECTORS_KEY
from privacy_center.connectors import get_connectors
from privacy_center.content import load_content
from privacy_center.content.recipients import EXTENSION_KEY, load_recipients
from privacy_center.deadlines import reply_due
from privacy_center.models import Account, PrivacyRequest, RecipientNotification, RequestTransition
from privacy_center.models.types import utcnow
from privacy_center.operator import ContentError
from privacy_center.recipients.delivery import deliver_due
from privacy_center.recipients.services import record_for_completion
from privacy_center.rights.references import REFERENCE_ALPHABET, new_status_token
from privacy_center.staff.actions import completion, rules
from privacy_center.workflow import RequestState
from tests.subject_data import fill_account

S = RequestState
TODAY = datetime.now(UTC).date()
LANGUAGES = ("fr", "en", "es", "de")
TOKEN = re.compile(r'name="[a-z-]*csrf_token"(?: type="hidden")? value="([^"]+)"')
ACK_LINK = re.compile(r"https?://\S+/recipients/acknowledge/[\w-]+")
# What fill_account puts in the person's data: none of it may leave in a notification.
PERSONAL_DATA = ("+33 6 12 34 56 78", "Ørsted", "rue de l", "Jeux vidéo", "Bonjour, je voudrais")


def text(value: str) -> dict[str, str]:
    return dict.fromkeys(LANGUAGES, value)


def entry(key: str, categories: list[str], contact: dict[str, Any], **extra: Any) -> dict:
    return {
        "key": key,
        "name": extra.pop("name", f"Partner {key}"),
        "role": extra.pop("role", "processor"),
        "does": text(f"What {key} does"),
        "location": text("European Union"),
        "categories": categories,
        "contact": contact,
        **extra,
    }


def write_register(tmp_path: Path, entries: list[dict]) -> Path:
    path = tmp_path / "recipients.yaml"
    path.write_text(yaml.safe_dump({"recipients": entries}, allow_unicode=True), encoding="utf-8")
    return path


def category_keys(app) -> list[str]:
    return [category.key for category in app.extensions[CONNECTORS_KEY].categories()]


# --- a recipient's HTTP endpoint, for real ------------------------------------------------------


class Endpoint:
    """A local HTTP server standing for recipients' endpoints: /ok answers 200, /ack answers an
    acknowledgement, /down answers 500 until ``down`` is False. Keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], bytes]] = []
        self.down = True
        self.url = ""

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        self.calls.append((request.path, dict(request.headers), request.get_data()))
        if request.path == "/down" and self.down:
            response = Response("busy", status=500)
        elif request.path == "/ack":
            response = Response(json.dumps({"acknowledged": True}), mimetype="application/json")
        else:
            response = Response("", status=202)
        return response(environ, start_response)

    def bodies(self, path: str) -> list[dict]:
        return [json.loads(body) for called, _, body in self.calls if called == path]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    handler = Endpoint()
    server = make_server("127.0.0.1", 0, handler, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_port}"
    yield handler
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def use_register(app, monkeypatch, tmp_path) -> Callable[[list[dict]], None]:
    """Replace the app's register by these entries for the test."""

    def install(entries: list[dict]) -> None:
        register = load_recipients(write_register(tmp_path, entries), LANGUAGES, category_keys(app))
        monkeypatch.setitem(app.extensions, EXTENSION_KEY, register)

    return install


@pytest.fixture
def mail(app, smtp_server, monkeypatch):
    """Every mail of the test goes through the real SMTP server."""
    smtp_server.clear()
    for key, value in smtp_server.settings().items():
        monkeypatch.setitem(app.config, key, value)
    return smtp_server


@pytest.fixture
def endpoints(endpoint, use_register) -> Endpoint:
    """Three recipients: one told by HTTP, one down, one by email; and one holding only what an
    erasure keeps (invoices), which is never told of an erasure."""
    endpoint.calls.clear()
    endpoint.down = True
    use_register(
        [
            entry("adnet", ["browsing_events"], {"url": f"{endpoint.url}/ok"}, name="AdNet"),
            entry(
                "flaky",
                ["interests"],
                {"url": f"{endpoint.url}/down", "retries": 1, "backoff_seconds": 60},
                name="Flaky Analytics",
            ),
            entry(
                "mailco",
                ["identity"],
                {"email": "dpo@mailco.example", "language": "en"},
                name="MailCo",
            ),
            entry("ledger", ["invoices"], {"url": f"{endpoint.url}/ok"}, name="Ledger Audit"),
        ]
    )
    return endpoint


@pytest.fixture
def make_request(db):
    def factory(kind: str = "erasure", account: Account | None = None) -> PrivacyRequest:
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
        received = utcnow() - timedelta(days=3)
        request = PrivacyRequest(
            reference=f"PC-{code[:4]}-{code[4:]}",
            kind=kind,
            state=S.IN_PROGRESS,
            language="en",
            email=account.email if account else f"req-{secrets.token_hex(4)}@example.org",
            account_id=account.id if account else None,
            requester_name="Camille Martin",
            details="",
            specifics={},
            received_at=received,
            clock_started_on=received.date(),
            due_on=reply_due(received.date()),
            status_token_hash=new_status_token()[1],
            updated_at=received,
        )
        request.transitions.append(
            RequestTransition(
                from_state=None, to_state=S.IN_PROGRESS, at=received, actor="system", reason="x"
            )
        )
        db.add(request)
        db.flush()
        return request

    return factory


@pytest.fixture
def holder(db, make_account) -> Account:
    account = make_account(language="en")
    fill_account(db, account)
    return account


def complete(app, db, make_staff, request, **options: Any) -> completion.Completion:
    return completion.complete(
        db,
        request,
        staff=make_staff(role="agent"),
        today=TODAY,
        settings=app.config,
        connectors=get_connectors(),
        base_url="http://privacy.test/",
        **options,
    )


def rows_of(db, request) -> dict[str, RecipientNotification]:
    found = db.scalars(
        select(RecipientNotification).where(RecipientNotification.request_id == request.id)
    )
    return {row.recipient_key: row for row in found}


def pdf_text(pdf: bytes) -> str:
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return " ".join(result.stdout.decode().split())


# --- the register -------------------------------------------------------------------------------


def test_the_demo_register_names_the_recipients_of_the_policy(app):
    register = load_recipients(PROJECT_ROOT / "content" / "recipients.yaml", LANGUAGES,
                               category_keys(app))  # fmt: skip
    keys = [item.key for item in register.recipients]
    assert set(keys) == {"hipay", "google_analytics", "advertising_partners", "ab_testing",
                         "social_networks", "customer_service", "it_services",
                         "mailing"}  # fmt: skip
    hipay = register.get("hipay")
    assert hipay.name("fr") == "HIPAY" and "bank_details" in hipay.categories
    assert register.get("google_analytics").categories == ("browsing_events",)
    # The policy: transfers outside the EU for customer service, IT services, social networks.
    outside = {item.key for item in register.recipients if item.outside_eu}
    assert outside == {"customer_service", "it_services", "social_networks"}
    assert all(item.safeguard is not None for item in register.recipients if item.outside_eu)
    # Tried again 10 times, the waits doubling from 5 minutes: about three and a half days.
    contact = hipay.contact
    assert (contact.channel, contact.retries, contact.backoff_seconds) == ("email", 10, 300)
    tries = sum(contact.backoff_seconds * 2**n for n in range(contact.retries))
    assert 3.5 <= tries / 86400 < 3.6


MISTAKES = [
    ({"categories": ["browsing_events", "horoscope"]},
     "recipient 'adnet': categories: unknown category 'horoscope'"),
    ({"categories": []}, "recipient 'adnet': categories: name the data categories"),
    ({"contact": None}, "recipient 'adnet': contact: missing"),
    ({"contact": {"retries": 2}}, "recipient 'adnet': contact: missing"),
    ({"contact": {"url": "https://a.example", "email": "a@b.example"}}, "url or email, not both"),
    ({"contact": {"url": "ftp://a.example"}}, "url must look like https://"),
    ({"contact": {"email": "not an address"}}, "is not an email address"),
    ({"contact": {"url": "https://a.example", "token_env": "lower"}},
     "token_env must name an environment variable"),
    ({"contact": {"url": "https://a.example", "retries": 99}}, "retries is a whole number"),
    ({"role": "friend"}, "role must be processor or recipient"),
    ({"outside_eu": True}, "safeguard: a recipient outside the European Union needs"),
    ({"does": {"fr": "x"}}, "recipient 'adnet': does: no text for en, es, de"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "message"), MISTAKES)
def test_a_mistake_in_the_register_names_the_entry(app, tmp_path, change, message):
    broken = entry("adnet", ["browsing_events"], {"url": "https://adnet.example/gdpr"})
    broken.update(change)
    path = write_register(tmp_path, [broken])
    with pytest.raises(ContentError) as raised:
        load_recipients(path, LANGUAGES, category_keys(app))
    assert message in str(raised.value) and str(path) in str(raised.value)


def test_a_key_declared_twice_is_refused(app, tmp_path):
    twice = [entry("adnet", ["interests"], {"email": "a@b.example"})] * 2
    with pytest.raises(ContentError, match="recipient 'adnet' is declared twice"):
        load_recipients(write_register(tmp_path, twice), LANGUAGES, category_keys(app))


def test_a_bad_register_stops_start_up(tmp_path, database_url):
    content = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "content", content)
    bad = entry("adnet", ["horoscope"], {"email": "a@b.example"})
    write_register(content, [bad])
    with pytest.raises(ContentError, match="unknown category 'horoscope'"):
        create_app("test", {"SQLALCHEMY_DATABASE_URI": database_url, "CONTENT_DIR": str(content)})


# --- who is told of an erasure ------------------------------------------------------------------


def test_an_erasure_tells_each_recipient_holding_an_erased_category_and_no_other(
    app, db, make_staff, make_request, holder, endpoints, mail
):
    request = make_request(account=holder)
    done = complete(app, db, make_staff, request)
    erased = {
        item["category"] for item in done.erasure if item["action"] in ("removed", "anonymised")
    }
    assert {"browsing_events", "interests", "identity"} <= erased and "invoices" not in erased
    rows = rows_of(db, request)
    # Ledger Audit holds only invoices, which the erasure keeps: it is not told.
    assert set(rows) == {"adnet", "flaky", "mailco"}
    assert rows["adnet"].categories == ["browsing_events"] and rows["mailco"].categories == [
        "identity"
    ]
    assert all(row.right == "erasure" for row in rows.values())
    # The calls ran after the completion's commit: one told, one down (kept, to try again).
    assert rows["adnet"].state == "sent" and rows["adnet"].attempts == 1
    assert rows["flaky"].state == "pending" and rows["flaky"].attempts == 1
    assert "HTTP 500" in rows["flaky"].last_error and rows["flaky"].next_attempt_at > utcnow()
    assert rows["mailco"].state == "sent"


def test_a_failed_completion_records_no_notification(
    app, db, make_staff, make_request, holder, endpoints, monkeypatch
):
    request = make_request(account=holder)

    class Broken:
        key = "broken"

        def categories(self):
            return []

        def erase(self, subject, dry_run=False):
            from privacy_center.connectors import ConnectorError

            raise ConnectorError("broken", "down")

    with pytest.raises(rules.ActionRefused):
        completion.complete(
            db, request, staff=make_staff(role="agent"), today=TODAY, settings=app.config,
            connectors=[*get_connectors(), Broken()], base_url="http://privacy.test/",
        )  # fmt: skip
    assert rows_of(db, request) == {} and endpoints.calls == []


def test_the_http_recipient_gets_the_reference_and_categories_never_the_data(
    app, db, make_staff, make_request, holder, endpoints, mail
):
    endpoint = endpoints
    request = make_request(account=holder)
    email = holder.email  # the erasure anonymises the account, not the request
    complete(app, db, make_staff, request)
    (body,) = endpoint.bodies("/ok")
    assert body["reference"] == request.reference and body["right"] == "erasure"
    assert body["categories"] == ["browsing_events"]
    assert body["subject"] == {"email": email, "account_id": holder.id}
    raw = json.dumps(body, ensure_ascii=False)
    assert not any(value in raw for value in PERSONAL_DATA)
    assert set(body) == {"notification", "reference", "right", "categories", "subject"}


def test_an_acknowledging_endpoint_and_its_bearer_token(
    app, db, make_staff, make_request, holder, endpoint, use_register, monkeypatch
):
    endpoint.calls.clear()
    monkeypatch.setenv("ACK_TOKEN", "s3cret-token")
    use_register([entry("acker", ["interests"], {"url": f"{endpoint.url}/ack",
                                                 "token_env": "ACK_TOKEN"})])  # fmt: skip
    request = make_request(account=holder)
    complete(app, db, make_staff, request)
    row = rows_of(db, request)["acker"]
    assert row.state == "acknowledged" and row.acknowledged_by == "recipient"
    ((_, headers, _),) = endpoint.calls
    assert headers["Authorization"] == "Bearer s3cret-token"


def test_the_email_recipient_gets_a_mail_without_the_data_and_acknowledges_by_its_link(
    app, db, client, make_staff, make_request, holder, endpoints, mail
):
    request = make_request(account=holder)
    complete(app, db, make_staff, request)
    notices = [m for m in mail.messages if m["To"] == "dpo@mailco.example"]
    (notice,) = notices
    body = notice.get_body(("plain",)).get_content()
    assert request.reference in notice["Subject"] and request.reference in body
    assert "Identity and contact details" in body, body
    assert "Right exercised: Erasure (article 17 GDPR)" in body
    assert not any(value in body for value in PERSONAL_DATA)
    link = ACK_LINK.search(body).group(0)
    assert link.startswith("http://privacy.test/recipients/acknowledge/")
    path = link.removeprefix("http://privacy.test")
    # Opening the link acknowledges nothing (mail scanners open links): the button does.
    page = client.get(path)
    assert page.status_code == 200 and rows_of(db, request)["mailco"].state == "sent"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]
    answer = client.post(path, data={"csrf_token": token})
    assert answer.status_code == 200 and 'id="acknowledged"' in answer.get_data(as_text=True)
    row = rows_of(db, request)["mailco"]
    assert row.state == "acknowledged" and row.acknowledged_by == "recipient"
    assert client.get("/recipients/acknowledge/not-a-token").status_code == 404


# --- retries, the staff page, the letter --------------------------------------------------------


def console(client, make_staff):
    member = make_staff(role="agent")
    staff_sign_in(client, member)
    return client


def test_a_failing_recipient_is_retried_then_shown_failed_and_tried_again_by_staff(
    app, db, client, make_staff, make_request, holder, endpoints, mail
):
    request = make_request(account=holder)
    complete(app, db, make_staff, request)
    runner = app.test_cli_runner()
    # Not due yet: the first wait (backoff_seconds) is not over.
    early = runner.invoke(args=["recipients", "notify", "--base-url", "http://privacy.test/"])
    assert early.exit_code == 0 and "flaky" not in early.output
    later = (utcnow() + timedelta(hours=1)).isoformat()
    run = runner.invoke(
        args=["recipients", "notify", "--now", later, "--base-url", "http://x.test"]
    )
    assert run.exit_code == 0, run.output
    assert f"{request.reference}: flaky failed (http://127.0.0.1:" in run.output
    row = rows_of(db, request)["flaky"]
    assert row.state == "failed" and row.attempts == 2 and "HTTP 500" in row.last_error
    assert len(endpoints.bodies("/down")) == 2

    web = console(client, make_staff)
    html = web.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    section = html.split('id="recipient-notifications"', 1)[1].split("</table>", 1)[0]
    flaky = section.split('id="recipient-flaky"', 1)[1].split("</tr>", 1)[0]
    assert 'data-state="failed"' in section and "failed" in flaky and "HTTP 500" in flaky
    assert "Try again" in flaky
    assert "Try again" not in section.split('id="recipient-adnet"', 1)[1].split("</tr>", 1)[0]

    endpoints.down = False
    token = re.search(r'name="csrf_token" value="([^"]+)"', flaky)[1]
    answer = web.post(
        f"/staff/requests/{request.reference}/recipients/{row.id}/retry",
        data={"csrf_token": token},
    )
    assert answer.status_code == 303
    db.expire_all()
    assert rows_of(db, request)["flaky"].state == "sent"


def test_the_completion_letter_names_who_was_told_and_who_could_not_be_reached(
    app, db, client, make_staff, make_request, holder, endpoints, mail
):
    web = console(client, make_staff)
    request = make_request(account=holder)
    page = web.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    answer = web.post(
        f"/staff/requests/{request.reference}/complete",
        data={"complete-csrf_token": TOKEN.search(page)[1], "complete-summary": ""},
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    db.expire_all()
    (letter,) = [item for item in request.letters if item.kind == "completion"]
    words = pdf_text(letter.pdf)
    told = words.split("We have informed the following recipients", 1)[1]
    told, unreached = told.split("We could not reach the following recipients of your data yet", 1)
    assert "AdNet: What adnet does (European Union)" in told and "MailCo" in told
    assert "Flaky Analytics" not in told and "Flaky Analytics" in unreached
    assert "We keep trying, and will write to you once they have been told" in unreached
    assert "Ledger Audit" not in words
    assert "unless this proved impossible" not in words

    # Once reached, the requester gets the mail the letter promised.
    endpoints.down = False
    mail.clear()
    later = (utcnow() + timedelta(hours=1)).isoformat()
    run = app.test_cli_runner().invoke(
        args=["recipients", "notify", "--now", later, "--base-url", "http://privacy.test/"]
    )
    assert run.exit_code == 0 and f"{request.reference}: flaky sent" in run.output
    (follow_up,) = [m for m in mail.messages if m["To"] == request.email]
    body = follow_up.get_body(("plain",)).get_content()
    assert request.reference in follow_up["Subject"] and "Flaky Analytics" in body
    assert "AdNet" not in body  # already named in the letter
    again = app.test_cli_runner().invoke(args=["recipients", "notify", "--now", later])
    assert again.exit_code == 0 and not [m for m in mail.messages[1:] if m["To"] == request.email]


def test_an_erasure_with_no_recipient_concerned_says_so(
    app, db, client, make_staff, make_request, holder, use_register, mail
):
    use_register([entry("ledger", ["invoices"], {"email": "audit@ledger.example"})])
    web = console(client, make_staff)
    request = make_request(account=holder)
    page = web.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    web.post(
        f"/staff/requests/{request.reference}/complete",
        data={"complete-csrf_token": TOKEN.search(page)[1], "complete-summary": ""},
    )
    db.expire_all()
    (letter,) = [item for item in request.letters if item.kind == "completion"]
    assert rows_of(db, request) == {}
    assert "None of the organisations that receive data from us holds the data concerned" in (
        pdf_text(letter.pdf)
    )


def test_a_preview_before_the_completion_claims_no_one_was_told(app, db, make_request, holder):
    from privacy_center.letters.services import preview_letter

    request = make_request(kind="rectification", account=holder)
    fields = {"changes": "Your last name is corrected."}
    with app.test_request_context():
        words = pdf_text(preview_letter(db, request, "completion", fields, today=utcnow().date()))
    # Nobody is told before the completion: the preview names nobody, and says nobody holds
    # the data only once the completion found it so.
    assert "None of the organisations that receive data from us" not in words
    assert "We have informed" not in words and "We could not reach" not in words


def test_a_rectification_tells_the_recipients_of_the_categories_staff_name(
    app, db, client, make_staff, make_request, holder, endpoints, mail
):
    web = console(client, make_staff)
    request = make_request(kind="rectification", account=holder)
    page = web.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    assert 'name="complete-recipient_categories" type="checkbox" value="identity"' in page
    answer = web.post(
        f"/staff/requests/{request.reference}/complete",
        data={
            "complete-csrf_token": TOKEN.search(page)[1],
            "complete-summary": "Your phone number is corrected.",
            "complete-recipient_categories": ["identity"],
        },
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert set(rows_of(db, request)) == {"mailco"}
    notice = next(m for m in mail.messages if m["To"] == "dpo@mailco.example")
    assert "Rectification (article 16 GDPR)" in notice.get_body(("plain",)).get_content()


def test_a_restriction_without_categories_tells_every_recipient(
    app, db, make_staff, make_request, holder, endpoints, mail
):
    request = make_request(kind="restriction", account=holder)
    complete(app, db, make_staff, request, summary="Processing restricted while we check.")
    assert set(rows_of(db, request)) == {"adnet", "flaky", "mailco", "ledger"}


def test_other_rights_tell_no_recipient(app, db, make_staff, make_request, holder, endpoints):
    request = make_request(kind="objection_marketing", account=holder)
    complete(app, db, make_staff, request, summary="Stopped.")
    assert rows_of(db, request) == {} and endpoints.calls == []


def test_the_notify_command_needs_the_address_for_an_email_notification(
    app, db, make_request, holder, use_register
):
    use_register([entry("mailco", ["identity"], {"email": "dpo@mailco.example"})])
    request = make_request(account=holder)
    db.add(
        RecipientNotification(
            request_id=request.id, recipient_key="mailco", recipient_name="MailCo",
            channel="email", right="erasure", categories=["identity"], state="pending",
            attempts=0, created_at=datetime.now(UTC),
        )
    )  # fmt: skip
    db.commit()
    result = app.test_cli_runner().invoke(args=["recipients", "notify"], env={"PC_BASE_URL": ""})
    assert result.exit_code != 0 and "--base-url" in result.output
    assert rows_of(db, request)["mailco"].attempts == 0


# --- the policy lists the register (facts rendered from the configuration) ----------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_policy_names_every_recipient_of_the_register(app, client, language):
    answer = client.get(f"/policy?lang={language}")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    section = html.split('id="recipients"', 1)[1].split('id="customer-support"', 1)[0]
    register = app.extensions[EXTENSION_KEY]
    assert len(register.recipients) == 8
    for recipient in register.recipients:
        assert f"<strong>{escape(recipient.name(language))}</strong>" in section, recipient.key
        assert str(escape(recipient.location(language))) in section, recipient.key
        if recipient.safeguard is not None:
            assert str(escape(recipient.safeguard(language))) in section, recipient.key


def test_the_policy_follows_the_register(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "content", content)
    raw = yaml.safe_load((content / "recipients.yaml").read_text(encoding="utf-8"))
    raw["recipients"][0]["name"] = "PayCo Europe"
    (content / "recipients.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    version = load_content(content).versions[-1]
    for language in LANGUAGES:
        body = version.document(language).html
        assert "<strong>PayCo Europe</strong>" in body and "<strong>HIPAY</strong>" not in body


def test_the_waits_between_tries_double_until_the_last_try_fails(
    app, db, make_request, holder, endpoint, use_register
):
    endpoint.calls.clear()
    endpoint.down = True
    use_register(
        [
            entry(
                "flaky",
                ["interests"],
                {"url": f"{endpoint.url}/down", "retries": 3, "backoff_seconds": 60},
            )
        ]
    )
    request = make_request(account=holder)
    (row,) = record_for_completion(db, request, erasure=[{"category": "interests",
                                                          "action": "removed"}])  # fmt: skip
    db.commit()
    start = utcnow()
    moments, waits = [start], []
    for _ in range(4):
        (outcome,) = deliver_due(db, settings=app.config, base_url=None, now=moments[-1])
        assert outcome.recipient == "flaky" and outcome.error
        if row.next_attempt_at is not None:
            waits.append((row.next_attempt_at - moments[-1]).total_seconds())
            moments.append(row.next_attempt_at)
    assert waits == [60, 120, 240]
    assert row.state == "failed" and row.attempts == 4 and row.next_attempt_at is None
    assert deliver_due(db, settings=app.config, base_url=None, now=start + timedelta(days=9)) == []
