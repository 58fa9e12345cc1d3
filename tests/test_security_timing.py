"""Issue 16, item 6: no timing tells who has an account.

The attack: ask for a sign-in link, or for the status link of a request ("find my request"),
once with an address that has an account (or a request) and once with one that has none, and
time the two answers. The known address used to answer in 12 ms and the unknown one in 5 ms:
its account was looked up, its token made and its mail composed and sent inside the request.
Now the request records one intent, the same for any address, and answers; the lookup and the
mail come after the answer has been sent (mail_intents.py). The staff lockout notice, which only
a member's address causes, also leaves after the answer.

These tests compare the work, never a duration (bench/account_lookup_timing.py times the
answers): the same SQL statements for a known and an unknown address, none of them reading an
account or a request; no SMTP connection before the answer is closed (as the WSGI server closes
it once sent); then the known address gets its mail and the unknown one nothing.
"""

from __future__ import annotations

import io
import re
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from conftest import DEFAULT_STAFF_PASSWORD
from PIL import Image
from sqlalchemy import event, func, select

from privacy_center.content import get_content
from privacy_center.extensions import db as database
from privacy_center.mail_intents import SIGN_IN_LINK, work_job
from privacy_center.models import EmailToken, MailIntent, OutgoingMail
from privacy_center.models.types import utcnow
from privacy_center.rights.confirmation import confirm_request
from privacy_center.rights.filing import file_request
from privacy_center.workflow import RequestState

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# Tables whose rows say who has an account or a request: nothing reads them while one waits.
PERSONAL_TABLES = ("account", "privacy_request", "email_token", "staff_member")
# Parameters and the test transaction's numbered savepoints: what differs between two runs of
# the same statement.
PARAMETERS = re.compile(r"(\$\d+|%\(\w+\)s|\?|:\w+|sa_savepoint_\d+)")


@pytest.fixture
def smtp(app, monkeypatch, smtp_server):
    """Mail through a real SMTP server (aiosmtpd), rate limits out of the way (tested
    elsewhere), no Redis: the mail is worked out in this process after the answer."""
    for key, value in smtp_server.settings().items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    for name in ("SIGN_IN_LINK_RATE_LIMIT", "REQUEST_RATE_LIMIT", "LOGIN_RATE_LIMIT"):
        monkeypatch.setitem(app.config, name, "1000 per minute")
    smtp_server.clear()
    return smtp_server


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements run meanwhile, their parameters' values left out."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(" ".join(PARAMETERS.sub("?", statement).split()))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def csrf(client, path: str) -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def ask(client, path: str, **fields: str):
    """Post the form; returns (the answer, still open, and the SQL it ran)."""
    token = csrf(client, path)
    with statements() as seen:
        answer = client.post(path, data={"csrf_token": token, **fields})
        body = answer.get_data(as_text=True)
    return answer, body, seen


def written_tables(seen: list[str]) -> list[str]:
    return [
        match.group(2)
        for statement in seen
        if (match := re.match(r"(INSERT INTO|UPDATE|DELETE FROM) (\w+)", statement))
    ]


def reads_personal_tables(seen: list[str]) -> list[str]:
    return [
        statement
        for statement in seen
        if any(re.search(rf"\b{table}\b", statement) for table in PERSONAL_TABLES)
    ]


def intents(db) -> int:
    return db.scalar(select(func.count()).select_from(MailIntent))


def test_a_sign_in_link_does_the_same_work_for_a_known_and_an_unknown_address(
    client, db, make_account, smtp
):
    account = make_account(language="en")
    unknown = f"nobody-{secrets.token_hex(4)}@example.org"
    known_answer, known_page, known_sql = ask(
        client, "/rights/sign-in/link", email=account.email, next="/rights/preferences"
    )
    unknown_answer, unknown_page, unknown_sql = ask(
        client, "/rights/sign-in/link", email=unknown, next="/rights/preferences"
    )
    # The same answer after the same statements: one intent written, nothing looked up.
    assert known_answer.status_code == unknown_answer.status_code == 302
    assert known_answer.location == unknown_answer.location and known_page == unknown_page
    assert known_sql == unknown_sql
    # Both end their connection: a next request kept alive on it would wait for the mail.
    assert known_answer.headers["Connection"] == unknown_answer.headers["Connection"] == "close"
    assert written_tables(known_sql) == ["mail_intent"]
    assert reads_personal_tables(known_sql) == []
    # Nothing reached the mail server and no token exists while the answers were on their way.
    assert smtp.messages == []
    assert (
        db.scalar(
            select(func.count())
            .select_from(EmailToken)
            .where(EmailToken.email.in_([account.email, unknown]))
        )
        == 0
    )
    # The intents hold what was typed, and no secret.
    rows = db.scalars(select(MailIntent).order_by(MailIntent.id)).all()
    assert [(row.kind, row.email) for row in rows] == [
        (SIGN_IN_LINK, account.email),
        (SIGN_IN_LINK, unknown),
    ]
    assert all(row.next_path == "/rights/preferences" for row in rows)

    # Sent: the WSGI server closes each answer, and the mail is worked out.
    unknown_answer.close()
    assert smtp.messages == []
    known_answer.close()
    (message,) = smtp.messages
    assert smtp.envelopes[0][1] == [account.email] and message["To"] == account.email
    link = re.search(
        r"http://localhost(/rights/sign-in/\S+)", message.get_body(("plain",)).get_content()
    )
    assert link is not None and "next=/rights/preferences" in link.group(1).replace("%2F", "/")
    # The link works; the intents are gone; no mail body (with its secret) was stored.
    assert client.get(link.group(1)).status_code == 200
    assert intents(db) == 0
    assert db.scalar(select(func.count()).select_from(OutgoingMail)) == 0


def test_a_deactivated_account_is_answered_like_an_unknown_address(client, db, make_account, smtp):
    closed = make_account(deactivated_at=utcnow())
    open_ = make_account()
    _, _, closed_sql = ask(client, "/rights/sign-in/link", email=closed.email)
    _, _, open_sql = ask(client, "/rights/sign-in/link", email=open_.email)
    assert closed_sql == open_sql and reads_personal_tables(closed_sql) == []


def file_confirmed_request(db, app, email: str):
    image = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 30, 30)).save(image, "PNG")
    today = get_content().operator.today()
    filed = file_request(
        db,
        kind="access",
        email=email,
        name="Camille",
        language="en",
        details="",
        specifics={},
        account=None,
        document=("id.png", image.getvalue()),
        today=today,
        settings=app.config,
    )
    confirm_request(db, token=filed.confirmation_token, today=today)
    db.expire_all()
    return filed.request


def test_find_my_request_does_the_same_work_whatever_matches(
    client, db, app, smtp, tmp_path, monkeypatch
):
    monkeypatch.setitem(app.config, "IDENTITY_DOCUMENT_DIR", str(tmp_path / "documents"))
    email = f"requester-{secrets.token_hex(4)}@example.org"
    request = file_confirmed_request(db, app, email)
    assert request.state != RequestState.AWAITING_CONFIRMATION
    old_hash = request.status_token_hash
    cases = {
        "match": (email, request.reference),
        "unknown address": (f"nobody-{secrets.token_hex(4)}@example.org", request.reference),
        "wrong reference": (email, "PC-2222-2222"),
    }
    answers = {
        name: ask(client, "/rights/requests/find?lang=en", email=address, reference=reference)
        for name, (address, reference) in cases.items()
    }
    pages = {body for _, body, _ in answers.values()}
    assert len(pages) == 1 and "If this reference matches" in pages.pop()
    assert {answer.headers["Connection"] for answer, _, _ in answers.values()} == {"close"}
    shapes = [sql for _, _, sql in answers.values()]
    assert shapes[0] == shapes[1] == shapes[2]
    assert written_tables(shapes[0]) == ["mail_intent"]
    assert reads_personal_tables(shapes[0]) == []
    assert smtp.messages == []
    db.refresh(request)
    assert request.status_token_hash == old_hash  # not even the link changed yet

    for name in ("unknown address", "wrong reference"):
        answers[name][0].close()
    assert smtp.messages == []
    answers["match"][0].close()
    (message,) = smtp.messages
    assert message["To"] == email and request.reference in message["Subject"] + str(
        message.get_body(("plain",)).get_content()
    )
    db.refresh(request)
    assert request.status_token_hash != old_hash  # the mailed link replaces the old one
    assert intents(db) == 0


def test_the_staff_lockout_notice_leaves_after_the_answer(app, db, make_staff, smtp):
    member = make_staff(language="en")
    attempts = app.config["STAFF_LOCKOUT_ATTEMPTS"]
    unknown = f"nobody-{secrets.token_hex(4)}@example.org"

    def fail(email: str, address: str):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        answers = [
            client.post(
                "/staff/sign-in",
                data={
                    "csrf_token": csrf(client, "/staff/sign-in"),
                    "email": email,
                    "password": "guess " + DEFAULT_STAFF_PASSWORD,
                },
            )
            for _ in range(attempts)
        ]
        return answers

    known_answers = fail(member.email, "203.0.113.90")
    unknown_answers = fail(unknown, "203.0.113.91")
    # The same refusal for both (the pages differ only by their form token and nonce).
    for answer in known_answers + unknown_answers:
        assert answer.status_code == 200 and answer.headers["Connection"] == "close"
        assert "The email address or the password is not right" in answer.get_data(as_text=True)
    # The member's source is locked and the notice queued, but not sent while answering.
    queued = db.scalars(select(OutgoingMail).where(OutgoingMail.to_address == member.email)).all()
    assert len(queued) == 1 and queued[0].attempts == 0 and queued[0].sent_at is None
    assert smtp.messages == []
    for answer in unknown_answers:
        answer.close()
    assert smtp.messages == []
    for answer in known_answers:
        answer.close()
    (message,) = smtp.messages
    assert smtp.envelopes[0][1] == [member.email] and "ALLOPASS" in message["Subject"]
    db.refresh(queued[0])
    assert queued[0].sent_at is not None


def test_an_intent_whose_mail_fails_waits_for_mail_deliver(
    client, db, app, make_account, smtp, monkeypatch
):
    account = make_account()
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # no server answers there
    answer, _, _ = ask(client, "/rights/sign-in/link", email=account.email)
    assert answer.status_code == 302
    answer.close()  # sent: the attempt fails
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp.port)
    (intent,) = db.scalars(select(MailIntent)).all()
    assert intent.attempts == 1 and intent.last_error and "was not sent" in intent.last_error
    assert intent.next_attempt_at > utcnow()
    assert smtp.messages == []
    runner = app.test_cli_runner()
    result = runner.invoke(args=["mail", "deliver"])
    assert result.exit_code == 0 and "links asked for: sent 0, nothing to send 0" in result.output
    intent.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.commit()
    result = runner.invoke(args=["mail", "deliver"])
    assert result.exit_code == 0, result.output
    assert "links asked for: sent 1" in result.output
    (message,) = smtp.messages
    assert message["To"] == account.email
    assert intents(db) == 0


def test_mail_deliver_works_out_an_unknown_address_by_sending_nothing(
    client, db, app, make_account, smtp
):
    answer, _, _ = ask(client, "/rights/sign-in/link", email="nobody@example.org")
    assert answer.status_code == 302  # never closed: the process died after answering
    assert intents(db) == 1
    result = app.test_cli_runner().invoke(args=["mail", "deliver"])
    assert result.exit_code == 0 and "sent 0, nothing to send 1, failed 0" in result.output
    assert smtp.messages == [] and intents(db) == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_with_redis_the_worker_gets_the_intent_after_the_answer(
    client, db, app, make_account, smtp, redis_url, monkeypatch
):
    from redis import Redis
    from rq import Queue

    from privacy_center.jobs import DEFAULT_QUEUE

    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    connection = Redis.from_url(redis_url)
    queue = Queue(DEFAULT_QUEUE, connection=connection)
    queue.empty()
    account = make_account()
    known, _, known_sql = ask(client, "/rights/sign-in/link", email=account.email)
    unknown, _, unknown_sql = ask(client, "/rights/sign-in/link", email="nobody@example.org")
    assert known_sql == unknown_sql
    # Nothing is queued before the answers are sent, the same job for both after.
    assert queue.count == 0
    known.close()
    unknown.close()
    jobs = queue.get_jobs()
    assert [job.args[0] for job in jobs] == ["privacy_center.mail_intents:work_job"] * 2
    assert smtp.messages == []
    for job in jobs:  # what the worker runs (jobs.run_job), in this test's transaction
        work_job(*job.args[1:])
    (message,) = smtp.messages
    assert message["To"] == account.email and intents(db) == 0
    queue.empty()
    connection.close()
