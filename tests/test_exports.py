"""The data download: the zip's contents, the fee notice, background copies, who may download,
expiry and failing connectors."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import socket
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from pypdf import PdfReader
from sqlalchemy import func, select

from privacy_center.config import PROJECT_ROOT
from privacy_center.connectors import Category, Field, Subject
from privacy_center.exports.archive import ExportPlan, PlannedCategory, stream_export
from privacy_center.exports.copies import next_copy_number, purge_expired_exports
from privacy_center.extensions import db as database
from privacy_center.mail import read_outbox
from privacy_center.models import Account, DataExport, EmailToken
from privacy_center.models.types import utcnow
from privacy_center.operator import Translated
from privacy_center.session_records import SESSION_ID_KEY, open_record
from tests.conftest import sign_in
from tests.subject_data import fill_account

TABULAR = [
    "identity", "subscriptions", "invoices", "browsing_events", "last_activity", "interests",
    "complaints",
    "support_conversations", "consent_receipts", "marketing_preferences",
    "marketing_preference_changes",
]  # fmt: skip
EVERY_FILE = {
    "data.json", "data.schema.json", "summary.html", "summary.pdf", "manifest.json",
    *(f"csv/{key}.csv" for key in TABULAR),
}  # fmt: skip


def csrf(client: FlaskClient, path: str = "/rights/download") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def ask_for_copy(client: FlaskClient, *, acknowledge: bool = False, lang: str = "fr") -> Any:
    data = {"csrf_token": csrf(client, f"/rights/download?lang={lang}")}
    if acknowledge:
        data["acknowledge"] = "y"
    return client.post(f"/rights/download?lang={lang}", data=data)


def open_zip(response: Any) -> zipfile.ZipFile:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


@pytest.fixture
def holder(db, make_account) -> Account:
    account = make_account(first_name="Zoé", last_name="Müller-Łukasiewicz", language="fr")
    fill_account(db, account)
    return account


@pytest.fixture
def signed_in(client: FlaskClient, holder: Account) -> FlaskClient:
    sign_in(client, holder)
    return client


@pytest.fixture
def small_copy(signed_in: FlaskClient) -> zipfile.ZipFile:
    return open_zip(ask_for_copy(signed_in))


# --- what the zip holds -------------------------------------------------------------------------


def test_every_file_is_in_the_zip(small_copy: zipfile.ZipFile) -> None:
    assert set(small_copy.namelist()) == EVERY_FILE
    assert small_copy.namelist()[-1] == "manifest.json"
    assert small_copy.testzip() is None


def test_data_json_is_valid_against_its_schema(small_copy, holder: Account) -> None:
    data = json.loads(small_copy.read("data.json"))
    schema = json.loads(small_copy.read("data.schema.json"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    errors = list(Draft202012Validator(schema).iter_errors(data))
    assert errors == []
    # The schema documents every field, in the person's language.
    events = schema["properties"]["categories"]["properties"]["browsing_events"]
    fields = events["properties"]["rows"]["items"]["properties"]
    assert fields["occurred_at"] == {
        "type": "string",
        "format": "date-time",
        "description": "Date et heure de la page vue",
    }

    categories = data["categories"]
    assert list(categories) == [*TABULAR[:3], "bank_details", *TABULAR[3:]]
    (identity,) = categories["identity"]["rows"]
    assert identity["first_name"] == "Zoé" and identity["last_name"] == "Müller-Łukasiewicz"
    assert identity["company"] == "Société Ørsted & Fils"
    assert len(categories["browsing_events"]["rows"]) == 12
    assert categories["support_conversations"]["rows"][0]["call_recording_ref"].startswith("rec-")
    bank = categories["bank_details"]
    assert bank["rows"] == [] and bank["held_by"]["name"] == "HIPAY"
    assert "HIPAY" in bank["held_by"]["note"] and "https://hipay.com" in bank["held_by"]["note"]
    assert data["subject"] == {"email": holder.email, "account_id": holder.id}
    assert data["controller"]["legal_name"] == "ALLOPASS SAS"

    # A document that breaks the schema is caught by it.
    categories["identity"]["rows"][0]["shoe_size"] = 42
    assert list(Draft202012Validator(schema).iter_errors(data))


def test_csv_files_are_utf8_with_a_header_and_neutralised_formulas(small_copy) -> None:
    raw = small_copy.read("csv/identity.csv")
    assert raw.startswith(b"\xef\xbb\xbf")
    (row,) = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert row["first_name"] == "Zoé" and row["billing_street"] == "12, rue de l’Église"
    assert row["date_of_birth"] == "1988-02-29" and row["civility"] == "Mme"

    events = list(
        csv.reader(io.StringIO(small_copy.read("csv/browsing_events.csv").decode("utf-8-sig")))
    )
    assert events[0] == ["occurred_at", "path", "referrer", "device"]
    assert len(events) == 13 and events[1][1] == "/services/0?q=café"
    assert small_copy.read("csv/browsing_events.csv").count(b"\r\n") == 13

    interests = list(
        csv.DictReader(io.StringIO(small_copy.read("csv/interests.csv").decode("utf-8-sig")))
    )
    assert {row["topic"] for row in interests} == {"Jeux vidéo", '\'=HYPERLINK("x")'}
    receipts = list(
        csv.DictReader(io.StringIO(small_copy.read("csv/consent_receipts.csv").decode("utf-8-sig")))
    )
    assert json.loads(receipts[0]["choices"]) == {"analytics": False, "functional": True}
    assert receipts[0]["gpc"] == "false"


def test_manifest_checksums_match_every_other_file(small_copy) -> None:
    manifest = json.loads(small_copy.read("manifest.json"))
    assert manifest["algorithm"] == "sha256"
    listed = {entry["name"]: entry for entry in manifest["files"]}
    assert set(listed) == EVERY_FILE - {"manifest.json"}
    for name, entry in listed.items():
        content = small_copy.read(name)
        assert entry["size"] == len(content), name
        assert entry["sha256"] == hashlib.sha256(content).hexdigest(), name


ART_15 = {
    # A purpose's legal basis, a recipient, a retention rule, a source, transfers, profiling.
    "fr": ["Exécution du contrat", "Nos sous-traitants et fournisseurs",
           "Factures et pièces comptables",
           "Collectée automatiquement lors de votre utilisation du site",
           "hors de l’Union européenne", "profilage"],
    "en": ["Performance of the contract", "Our subcontractors and suppliers",
           "Invoices and accounting documents", "Collected automatically while you use the site",
           "outside the European Union", "profiling"],
    "es": ["Ejecución del contrato", "Nuestros encargados y proveedores",
           "Facturas y documentos contables", "Recogida automáticamente mientras usa el sitio",
           "fuera de la Unión Europea", "elaboración de perfiles"],
    "de": ["Vertragserfüllung", "Unsere Auftragsverarbeiter und Lieferanten",
           "Rechnungen und Buchungsbelege", "Automatisch bei Ihrer Nutzung der Website erhoben",
           "außerhalb der Europäischen Union", "Profiling"],
}  # fmt: skip


def pdf_text(data: bytes) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    # Lines wrap anywhere in a long address ("https://" at the end of a line).
    return re.sub(r"\s+", " ", text).replace(":// ", "://")


@pytest.mark.parametrize("language", ["fr", "en", "es", "de"])
def test_summaries_give_the_article_15_information_in_the_persons_language(
    signed_in: FlaskClient, language: str
) -> None:
    copy = open_zip(ask_for_copy(signed_in, lang=language))
    html = copy.read("summary.html").decode()
    assert f'<html lang="{language}">' in html
    data = json.loads(copy.read("data.json"))
    assert data["language"] == language
    pdf = pdf_text(copy.read("summary.pdf"))
    for expected in ART_15[language]:
        assert expected in html, expected
        assert expected in pdf, expected
    for document in (html, pdf):
        # The right to complain to the CNIL, and how to exercise the rights.
        assert "CNIL" in document and "https://www.cnil.fr" in document
        assert "/rights" in document and "contact@allopass.com" in document
        # Counts per category and the first rows, not every row.
        assert "Zoé" in document
    assert "/services/4?q=café" in html and "/services/5?q=café" not in html
    # The bank details: held by HIPAY, and where to ask.
    assert "HIPAY" in html and "https://hipay.com" in html


# --- copies and the fee notice ------------------------------------------------------------------


def copies(db, account: Account) -> list[DataExport]:
    return list(
        db.scalars(
            select(DataExport).where(DataExport.account_id == account.id).order_by(DataExport.id)
        )
    )


def test_from_the_second_copy_the_fee_notice_must_be_acknowledged_first(
    app: Flask, db, signed_in: FlaskClient, holder: Account
) -> None:
    notice = app.extensions["privacy_center.content"].operator.copy_fee_notice
    first_page = signed_in.get("/rights/download?lang=fr").get_data(as_text=True)
    assert notice("fr") not in first_page
    open_zip(ask_for_copy(signed_in))
    (first,) = copies(db, holder)
    assert (first.copy_number, first.state, first.fee_acknowledged_at) == (1, "ready", None)
    assert first.stored_name is None and first.downloaded_at is not None

    page = signed_in.get("/rights/download?lang=fr").get_data(as_text=True)
    assert notice("fr") in page
    assert 'aria-describedby="fee-notice"' in page

    refused = ask_for_copy(signed_in)
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert 'role="alert"' in body and 'aria-describedby="fee-notice export-error"' in body
    assert 'aria-invalid="true"' in body
    assert len(copies(db, holder)) == 1  # nothing happened

    open_zip(ask_for_copy(signed_in, acknowledge=True))
    second = copies(db, holder)[1]
    assert second.copy_number == 2 and second.fee_acknowledged_at is not None
    assert notice("de") in signed_in.get("/rights/download?lang=de").get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient, holder: Account) -> None:
    answer = client.get("/rights/download")
    assert answer.status_code == 302 and "/rights/sign-in" in answer.headers["Location"]
    assert client.get("/rights/download/1/file").status_code == 302


def test_copies_are_rate_limited(app: Flask, signed_in: FlaskClient, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "EXPORT_RATE_LIMIT", "1 per hour")
    open_zip(ask_for_copy(signed_in))
    assert ask_for_copy(signed_in, acknowledge=True).status_code == 429


# --- large copies: prepared in the background, stored encrypted -------------------------------


@pytest.fixture
def large(app: Flask, monkeypatch: pytest.MonkeyPatch, outbox: Path) -> Path:
    """Copies above 5 rows are prepared as background jobs (inline: no REDIS_URL)."""
    monkeypatch.setitem(app.config, "EXPORT_INLINE_MAX_ROWS", 5)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    return outbox


def prepare_large_copy(db, client: FlaskClient, holder: Account) -> DataExport:
    answer = ask_for_copy(client)
    assert answer.status_code == 303
    (export,) = copies(db, holder)
    assert answer.headers["Location"].endswith(f"/rights/download/{export.id}")
    return export


def mailed_link(outbox: Path) -> str:
    (message,) = read_outbox(outbox)
    text = message.get_body(("plain",)).get_content()
    return re.search(r"http://localhost(/rights/download/link/[\w-]+)", text).group(1)


def test_a_large_copy_is_prepared_stored_encrypted_and_mailed(
    app: Flask, db, large: Path, signed_in: FlaskClient, holder: Account
) -> None:
    export = prepare_large_copy(db, signed_in, holder)
    assert export.state == "ready" and export.rows_done == export.rows_total > 5
    assert export.expires_at - export.ready_at == timedelta(days=7)
    stored = Path(app.config["EXPORT_DIR"]) / export.stored_name
    sealed = stored.read_bytes()
    assert len(sealed) > export.size_bytes  # nonce and tag around the ciphertext
    assert b"PK" not in sealed[:64] and "Zoé".encode() not in sealed and b"data.json" not in sealed

    page = signed_in.get(f"/rights/download/{export.id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page
    assert f"/rights/download/{export.id}/file" in page
    answer = signed_in.get(f"/rights/download/{export.id}/file")
    copy = open_zip(answer)
    assert set(copy.namelist()) == EVERY_FILE
    assert hashlib.sha256(answer.get_data()).hexdigest() == export.sha256
    assert 'attachment; filename="allopass-my-data-' in answer.headers["Content-Disposition"]

    (message,) = read_outbox(large)
    assert message["To"] == holder.email and message["Content-Language"] == "fr"


def test_the_progress_page_refreshes_until_the_copy_is_ready(db, signed_in, holder) -> None:
    export = DataExport(
        account_id=holder.id, copy_number=1, language="fr", state="running",
        rows_done=250, rows_total=1000,
    )  # fmt: skip
    db.add(export)
    db.flush()
    page = signed_in.get(f"/rights/download/{export.id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="3">' in page
    assert '<progress id="export-progress" class="export-progress" max="100" value="25">' in page
    assert "<script>" not in page


def test_a_preparation_whose_worker_was_killed_fails_and_is_not_counted(
    db, signed_in, holder
) -> None:
    now = utcnow()
    alive = DataExport(
        account_id=holder.id, copy_number=1, language="fr", state="running",
        rows_done=10, rows_total=1000, created_at=now - timedelta(hours=2),
        progress_at=now - timedelta(minutes=14),
    )  # fmt: skip
    killed = DataExport(
        account_id=holder.id, copy_number=2, language="fr", state="running",
        rows_done=10, rows_total=1000, created_at=now - timedelta(hours=2),
        progress_at=now - timedelta(minutes=16),
    )  # fmt: skip
    db.add_all([alive, killed])
    db.flush()
    # The killed one is not a copy made: the next is the second, not the third.
    assert next_copy_number(db, holder.id) == 2

    signed_in.get(f"/rights/download/{killed.id}?lang=en")
    signed_in.get(f"/rights/download/{alive.id}?lang=en")
    db.expire_all()
    assert db.get(DataExport, killed.id).state == "failed"
    assert db.get(DataExport, alive.id).state == "running"


def test_the_emailed_link_works_once_without_signing_in(
    app: Flask, db, large: Path, signed_in: FlaskClient, holder: Account
) -> None:
    export = prepare_large_copy(db, signed_in, holder)
    link = mailed_link(large)
    anonymous = app.test_client()
    # Opening the link (as a mail scanner would) uses nothing up.
    for _ in range(2):
        opened = anonymous.get(link)
        assert opened.status_code == 200 and 'method="post"' in opened.get_data(as_text=True)
    token = csrf(anonymous, link)
    copy = open_zip(anonymous.post(link, data={"csrf_token": token}))
    assert json.loads(copy.read("data.json"))["subject"]["account_id"] == holder.id
    db.expire_all()
    assert db.get(DataExport, export.id).downloaded_at is not None

    again = anonymous.post(link, data={"csrf_token": token})
    assert again.status_code == 404 and again.mimetype == "text/html"
    assert anonymous.get(link).status_code == 404
    assert anonymous.get("/rights/download/link/not-a-real-token").status_code == 404


def test_only_the_owner_can_see_or_download_a_copy(
    app: Flask, db, large: Path, signed_in: FlaskClient, holder: Account, make_account
) -> None:
    export = prepare_large_copy(db, signed_in, holder)
    intruder = app.test_client()
    sign_in(intruder, make_account())
    assert intruder.get(f"/rights/download/{export.id}").status_code == 404
    assert intruder.get(f"/rights/download/{export.id}/file").status_code == 404
    assert app.test_client().get(f"/rights/download/{export.id}/file").status_code == 302
    assert signed_in.get(f"/rights/download/{export.id}/file").status_code == 200


def test_expired_copies_are_deleted(
    app: Flask, db, large: Path, signed_in: FlaskClient, holder: Account
) -> None:
    export = prepare_large_copy(db, signed_in, holder)
    link = mailed_link(large)
    stored = Path(app.config["EXPORT_DIR"]) / export.stored_name
    assert stored.exists()

    assert purge_expired_exports(db, utcnow() + timedelta(days=6)) == 0
    assert stored.exists()
    assert purge_expired_exports(db, utcnow() + timedelta(days=7, minutes=1)) == 1
    assert not stored.exists()
    db.expire_all()
    expired = db.get(DataExport, export.id)
    assert (expired.state, expired.stored_name) == ("expired", None)
    assert expired.deleted_at is not None
    assert purge_expired_exports(db, utcnow() + timedelta(days=8)) == 0  # idempotent

    assert signed_in.get(f"/rights/download/{export.id}/file").status_code == 404
    page = signed_in.get(f"/rights/download/{export.id}?lang=en").get_data(as_text=True)
    assert "has been deleted" in page and f"/rights/download/{export.id}/file" not in page
    assert app.test_client().get(link).status_code == 404
    # An expired copy still counts: the next one shows the fee notice.
    assert ask_for_copy(signed_in).status_code == 400


def test_the_purge_command_deletes_what_is_due_and_fails_lost_preparations(
    app: Flask, db, holder: Account
) -> None:
    lost = DataExport(
        account_id=holder.id, copy_number=1, language="fr", state="running",
        created_at=utcnow() - timedelta(days=2),
    )  # fmt: skip
    db.add(lost)
    db.flush()
    result = app.test_cli_runner().invoke(args=["exports", "purge"])
    assert result.exit_code == 0 and "Expired copies deleted: 0" in result.output
    db.expire_all()
    assert db.get(DataExport, lost.id).state == "failed"


# --- failing connectors -------------------------------------------------------------------------


@pytest.fixture
def failing_content(tmp_path: Path) -> Path:
    """The demo content plus a connector to a service that is not running."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    content = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "content", content)
    label = "{en: CRM, fr: CRM, es: CRM, de: CRM}"
    with (content / "connectors.yaml").open("a", encoding="utf-8") as handle:
        handle.write(
            f"""
  - key: crm
    type: http
    url: http://127.0.0.1:{port}/privacy
    retries: 1
    backoff_seconds: 0.01
    label: {label}
    categories:
      - key: crm_notes
        label: {label}
        fields:
          - {{key: body, description: {label}}}
"""
        )
    return content


def test_a_failing_connector_leaves_a_failed_copy_with_a_clear_message_and_no_file(
    make_app, db, holder: Account, failing_content: Path
) -> None:
    # Another app's contexts close the test's session when they end: keep the holder (the
    # test's transaction is still rolled back at the end).
    db.commit()
    holder_id = holder.id
    app = make_app(CONTENT_DIR=str(failing_content))
    holder = db.get(Account, holder_id)
    client = app.test_client()
    sign_in(client, holder, commit=True)
    holder = db.get(Account, holder_id)
    files_before = set(Path(app.config["EXPORT_DIR"]).glob("*"))
    answer = ask_for_copy(client)
    assert answer.status_code == 303
    (export,) = copies(db, holder)
    assert export.state == "failed" and export.stored_name is None
    assert export.error.startswith("Connector 'crm': http://127.0.0.1:")
    assert "could not be reached" in export.error and "(2 attempts)" in export.error
    assert set(Path(app.config["EXPORT_DIR"]).glob("*")) == files_before
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert 'role="alert"' in page and "contact@allopass.com" in page
    # A failed copy does not count: the next one is still the free first copy.
    assert "fee-notice" not in client.get("/rights/download").get_data(as_text=True)
    with app.app_context():
        database.engine.dispose()


def test_a_connector_failing_while_streaming_fails_the_download_visibly(
    app: Flask, db, signed_in: FlaskClient, holder: Account, monkeypatch
) -> None:
    from privacy_center.connectors import ConnectorError
    from privacy_center.connectors.sql import SqlConnector

    original = SqlConnector.collect

    def broken(self, subject, category):
        if category == "complaints":
            raise ConnectorError(self.key, "the database went away")
        yield from original(self, subject, category)

    monkeypatch.setattr(SqlConnector, "collect", broken)
    with pytest.raises(ConnectorError):
        ask_for_copy(signed_in).get_data()
    (export,) = copies(db, holder)
    assert export.state == "failed" and "the database went away" in export.error


# --- streaming --------------------------------------------------------------------------------


class CountingConnector:
    """A connector whose rows are made on demand, counting how many were asked for."""

    key = "counting"
    label = Translated(dict.fromkeys(("fr", "en", "es", "de"), "Counting"))

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.made = 0
        self.category = Category(
            key="events",
            label=self.label,
            fields=(Field("n", "integer", self.label), Field("path", "string", self.label)),
        )

    def categories(self) -> list[Category]:
        return [self.category]

    def collect(self, subject: Subject, category: str) -> Iterator[dict[str, Any]]:
        for number in range(self.rows):
            self.made += 1
            yield {"n": number, "path": f"/page/{number}"}

    def count(self, subject: Subject, category: str) -> int:
        return self.rows

    def erase(self, subject: Subject, *, dry_run: bool = False) -> Any:
        raise NotImplementedError


def test_the_zip_streams_while_rows_are_read(app: Flask) -> None:
    connector = CountingConnector(200_000)
    plan = ExportPlan(
        subject=Subject("a@example.org", 1), language="en", generated_at=utcnow(),
        entries=(PlannedCategory(connector, connector.category),),
        controller={"name": "X"}, sources={}, retention={},
    )  # fmt: skip
    written: list[int] = []
    chunks = stream_export(
        plan, schema={}, render_summary=lambda tallies, pdf, attached: "<p>summary</p>",
        render_pdf=lambda html, attachments: b"%PDF-", on_rows=written.append,
    )  # fmt: skip
    next(chunks)
    while connector.made == 0:
        next(chunks)
    # Output comes out long before the rows are all read: nothing waits for the whole document.
    assert connector.made < 20_000
    archive = b"".join([b"", *chunks])
    assert connector.made == 400_000  # data.json, then the CSV file
    assert sum(written) == 400_000
    assert archive[-22:-18] == b"PK\x05\x06"  # the zip's end record


def test_the_download_page_lists_the_copies(db, signed_in: FlaskClient, holder) -> None:
    open_zip(ask_for_copy(signed_in))
    page = signed_in.get("/rights/download").get_data(as_text=True)
    (export,) = copies(db, holder)
    assert f"/rights/download/{export.id}" in page
    assert db.scalar(select(func.count()).select_from(EmailToken)) is not None


# --- the RQ worker ----------------------------------------------------------------------------


def test_a_worker_prepares_a_large_copy_recording_its_progress(
    app: Flask, make_app, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queued on Redis, run by an RQ worker that reads through its own session while it
    commits progress (on SQLite too: the read takes no write lock)."""
    import secrets

    from redis import Redis
    from rq import Queue, SimpleWorker
    from sqlalchemy import event

    from privacy_center.exports import serving as services
    from privacy_center.jobs import DEFAULT_QUEUE

    monkeypatch.setattr(services, "PROGRESS_INTERVAL", 0)
    app = make_app(
        REDIS_URL=redis_url, EXPORT_INLINE_MAX_ROWS=5, MAIL_OUTBOX_DIR=str(tmp_path / "outbox")
    )  # (the session's `app` has migrated the database)
    # Committed data (the worker reads through its own connection): removed at the end.
    with app.app_context():
        account = Account(email=f"worker-{secrets.token_hex(4)}@example.org", first_name="Zoé",
                          last_name="Worker", language="es")  # fmt: skip
        database.session.add(account)
        database.session.flush()
        fill_account(database.session, account, events=3000)
        session_id = open_record(database.session, account, lifetime=timedelta(hours=1))
        database.session.commit()
        account_id = account.id
    try:
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = f"account:{account_id}"
            session[SESSION_ID_KEY] = session_id
        answer = ask_for_copy(client, lang="es")
        assert answer.status_code == 303
        status_path = answer.headers["Location"].removeprefix("http://localhost")
        waiting = client.get(status_path).get_data(as_text=True)
        assert '<meta http-equiv="refresh" content="3">' in waiting

        progress: list[int] = []

        def watch(conn, cursor, statement, parameters, context, executemany) -> None:
            if statement.startswith("UPDATE data_export SET rows_done"):
                values = parameters.values() if isinstance(parameters, dict) else parameters
                progress.append(next(iter(values)))

        with app.app_context():
            event.listen(database.engine, "before_cursor_execute", watch)
            connection = Redis.from_url(redis_url)
            worker = SimpleWorker(
                [Queue(DEFAULT_QUEUE, connection=connection)], connection=connection
            )
            assert worker.work(burst=True)
            event.remove(database.engine, "before_cursor_execute", watch)
            connection.close()

        assert len(progress) > 3 and progress == sorted(progress)
        ready = client.get(status_path).get_data(as_text=True)
        assert 'http-equiv="refresh"' not in ready and "/file" in ready
        copy = open_zip(client.get(status_path + "/file"))
        data = json.loads(copy.read("data.json"))
        assert (
            data["language"] == "es" and len(data["categories"]["browsing_events"]["rows"]) == 3000
        )
        (message,) = read_outbox(tmp_path / "outbox")
        assert message["Content-Language"] == "es"
    finally:
        with app.app_context():
            for export in database.session.scalars(
                select(DataExport).where(DataExport.account_id == account_id)
            ):
                if export.stored_name:
                    (Path(app.config["EXPORT_DIR"]) / export.stored_name).unlink(missing_ok=True)
            database.session.delete(database.session.get(Account, account_id))
            database.session.commit()
            database.engine.dispose()


def test_an_unreachable_job_queue_fails_the_copy_at_once(
    app: Flask, db, signed_in: FlaskClient, holder: Account, monkeypatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setitem(app.config, "EXPORT_INLINE_MAX_ROWS", 5)
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{port}/0")
    assert ask_for_copy(signed_in).status_code == 303
    (export,) = copies(db, holder)
    assert export.state == "failed" and "job queue (Redis) could not be reached" in export.error


def test_jobs_are_named_by_their_function_and_need_redis_for_a_worker(
    app: Flask, tmp_path: Path
) -> None:
    from privacy_center.jobs import enqueue

    made = tmp_path / "made-by-a-job"
    assert enqueue({"REDIS_URL": None}, "os:makedirs", str(made)) is None  # inline, at once
    assert made.is_dir()
    with pytest.raises(ValueError, match=r"'package\.module:function'"):
        enqueue({}, "os.makedirs")
    with pytest.raises(ValueError, match="no such function"):
        enqueue({}, "os:nothing_here")
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["jobs", "worker", "--burst"])
    assert result.exit_code != 0 and "REDIS_URL is not set" in result.output


# --- large copies: encrypted in segments as they are built, decrypted as they are sent ---------

BIG_EVENTS = 3000


@pytest.fixture
def big_holder(db, make_account) -> Account:
    account = make_account(first_name="Zoé", last_name="Grand", language="fr")
    fill_account(db, account, events=BIG_EVENTS)
    return account


def zip_members(data: bytes) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    return {name: archive.read(name) for name in archive.namelist()}


def test_a_background_copy_is_stored_in_segments_and_downloads_equal_to_the_inline_one(
    app: Flask, db, client: FlaskClient, big_holder: Account, outbox: Path, monkeypatch
) -> None:
    from privacy_center.segmented import HEADER_BYTES, MAGIC, TAG_BYTES, key_id, open_segmented

    sign_in(client, big_holder)
    inline = ask_for_copy(client)
    inline_members = zip_members(open_zip(inline).fp.getvalue())
    assert "Content-Length" not in inline.headers  # streamed as it is made

    monkeypatch.setitem(app.config, "EXPORT_INLINE_MAX_ROWS", BIG_EVENTS // 2)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setattr("privacy_center.segmented.SEGMENT_SIZE", 4096)
    assert ask_for_copy(client, acknowledge=True).status_code == 303
    export = copies(db, big_holder)[-1]
    assert export.state == "ready" and export.rows_total > BIG_EVENTS

    directory = Path(app.config["EXPORT_DIR"])
    sealed = (directory / export.stored_name).read_bytes()
    assert sealed[:4] == MAGIC and sealed[5:13] == key_id(app.config["EXPORT_KEY"])
    segments = -(-export.size_bytes // 4096)
    assert segments > 10
    assert len(sealed) == HEADER_BYTES + export.size_bytes + segments * TAG_BYTES
    assert b"PK" not in sealed[:64] and b"data.json" not in sealed and b"Grand" not in sealed
    with open_segmented(export.stored_name, directory=directory, keys=[app.config["EXPORT_KEY"]]):
        pass  # a segmented file, with the current key

    answer = client.get(f"/rights/download/{export.id}/file")
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    assert answer.is_streamed
    assert int(answer.headers["Content-Length"]) == export.size_bytes
    data = answer.get_data()
    assert len(data) == export.size_bytes
    assert hashlib.sha256(data).hexdigest() == export.sha256
    members = zip_members(data)

    # The same files, the same data: only the moment, the copy's number and the summaries
    # (which name them) differ.
    assert list(members) == list(inline_members)
    for name in members:
        if name.startswith("csv/") or name == "data.schema.json":
            assert members[name] == inline_members[name], name
    background_data, inline_data = (
        json.loads(members["data.json"]),
        json.loads(inline_members["data.json"]),
    )
    assert background_data["categories"] == inline_data["categories"]
    assert len(background_data["categories"]["browsing_events"]["rows"]) == BIG_EVENTS
    assert background_data.keys() == inline_data.keys()
    manifest = json.loads(members["manifest.json"])
    assert manifest  # checked against every file in test_manifest_checksums_match_every_other_file
    db.expire_all()
    assert db.get(DataExport, export.id).downloaded_at is not None


def _big_background_copy(app, db, client, account, monkeypatch) -> DataExport:
    monkeypatch.setitem(app.config, "EXPORT_INLINE_MAX_ROWS", BIG_EVENTS // 2)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setattr("privacy_center.segmented.SEGMENT_SIZE", 4096)
    sign_in(client, account)
    assert ask_for_copy(client).status_code == 303
    (export,) = copies(db, account)
    assert export.state == "ready"
    return export


def _blocks(sealed: bytes) -> tuple[bytes, list[bytes]]:
    from privacy_center.segmented import HEADER_BYTES, TAG_BYTES

    block = 4096 + TAG_BYTES
    body = sealed[HEADER_BYTES:]
    return sealed[:HEADER_BYTES], [body[i : i + block] for i in range(0, len(body), block)]


def _cut_at_a_segment_boundary(sealed: bytes) -> bytes:
    header, parts = _blocks(sealed)
    return header + b"".join(parts[:-1])


def _two_segments_swapped(sealed: bytes) -> bytes:
    header, parts = _blocks(sealed)
    parts[3], parts[4] = parts[4], parts[3]
    return header + b"".join(parts)


def _a_byte_flipped(sealed: bytes) -> bytes:
    middle = len(sealed) // 2
    return sealed[:middle] + bytes([sealed[middle] ^ 0x20]) + sealed[middle + 1 :]


@pytest.mark.parametrize(
    "tamper", [_cut_at_a_segment_boundary, _two_segments_swapped, _a_byte_flipped]
)
@pytest.mark.parametrize("through", ["signed-in", "emailed-link"])
def test_a_tampered_stored_copy_is_not_sent_the_failure_is_shown_and_logged(
    app: Flask, db, client: FlaskClient, big_holder: Account, outbox: Path, monkeypatch,
    caplog: pytest.LogCaptureFixture, tamper, through: str,
) -> None:  # fmt: skip
    export = _big_background_copy(app, db, client, big_holder, monkeypatch)
    path = Path(app.config["EXPORT_DIR"]) / export.stored_name
    path.write_bytes(tamper(path.read_bytes()))

    if through == "signed-in":
        answer = client.get(f"/rights/download/{export.id}/file?lang=en")
    else:
        link = mailed_link(outbox)
        anonymous = app.test_client()
        answer = anonymous.post(f"{link}?lang=en", data={"csrf_token": csrf(anonymous, link)})
    # Not a zip cut short: an error page, whose status makes a browser's download fail.
    assert answer.status_code == 500 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert "failed its integrity check" in page and "did not send it" in page
    assert "This copy does not count" in page
    assert "Download the file" not in page
    assert any(
        record.levelname == "ERROR" and f"export {export.id} was not sent" in record.getMessage()
        for record in caplog.records
    )
    db.expire_all()
    failed = db.get(DataExport, export.id)
    assert failed.state == "failed" and "integrity check" in failed.error
    # Not counted: the next copy is again the first, free one.
    assert next_copy_number(db, big_holder.id) == 1
    status = client.get(f"/rights/download/{export.id}?lang=en").get_data(as_text=True)
    assert "failed its integrity check" in status


def test_a_file_altered_while_it_is_sent_cuts_the_download_short(
    app: Flask, db, client: FlaskClient, big_holder: Account, outbox: Path, monkeypatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    from privacy_center.exports.stored import open_download
    from privacy_center.uploads.storage import DocumentTampered

    export = _big_background_copy(app, db, client, big_holder, monkeypatch)
    download = open_download(db, export, app.config)
    assert download is not None and download.length == export.size_bytes
    chunks = download.chunks()
    received = next(chunks)
    # Altered in place after its check, while the first segment is on its way.
    path = Path(app.config["EXPORT_DIR"]) / export.stored_name
    with path.open("r+b") as file:
        file.seek(-30, 2)
        byte = file.read(1)
        file.seek(-30, 2)
        file.write(bytes([byte[0] ^ 1]))
    with pytest.raises(DocumentTampered):
        for chunk in chunks:
            received += chunk
    assert len(received) < download.length  # never a complete-looking copy
    assert any("failed its check while it was sent" in r.getMessage() for r in caplog.records)


def test_a_copy_stored_in_the_older_whole_file_format_still_downloads(
    app: Flask, db, signed_in: FlaskClient, holder: Account
) -> None:
    from privacy_center.uploads.storage import store_document

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as made:
        made.writestr("data.json", '{"older": true}')
    data = archive.getvalue()
    now = utcnow()
    export = DataExport(
        account_id=holder.id, copy_number=1, language="fr", state="ready", rows_done=1,
        rows_total=1, created_at=now, ready_at=now, expires_at=now + timedelta(days=7),
        size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
        stored_name=store_document(
            data, directory=Path(app.config["EXPORT_DIR"]), key=app.config["EXPORT_KEY"]
        ),
    )  # fmt: skip
    db.add(export)
    db.flush()
    answer = signed_in.get(f"/rights/download/{export.id}/file")
    assert answer.status_code == 200 and answer.get_data() == data
    assert int(answer.headers["Content-Length"]) == len(data)


def test_a_background_copy_failing_halfway_leaves_no_file_and_no_temporary(
    app: Flask, db, client: FlaskClient, big_holder: Account, outbox: Path, monkeypatch
) -> None:
    from privacy_center.connectors import ConnectorError
    from privacy_center.connectors.sql import SqlConnector

    original = SqlConnector.collect
    written_before_failing: list[int] = []
    directory = Path(app.config["EXPORT_DIR"])

    calls: list[str] = []

    def broken(self, subject, category):
        calls.append(category)
        # The second time: data.json is written, and the browsing events' CSV file.
        if calls.count("complaints") == 2:
            (partial,) = directory.glob(".*.partial")
            written_before_failing.append(partial.stat().st_size)
            raise ConnectorError(self.key, "the database went away")
        yield from original(self, subject, category)

    monkeypatch.setattr(SqlConnector, "collect", broken)
    files_before = set(directory.glob("*")) | set(directory.glob(".*"))
    monkeypatch.setitem(app.config, "EXPORT_INLINE_MAX_ROWS", BIG_EVENTS // 2)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setattr("privacy_center.segmented.SEGMENT_SIZE", 4096)
    sign_in(client, big_holder)
    assert ask_for_copy(client).status_code == 303
    (export,) = copies(db, big_holder)
    assert export.state == "failed" and "the database went away" in export.error
    assert export.stored_name is None
    # Segments had reached the disk (written as the zip was built) and were all removed.
    assert written_before_failing and written_before_failing[0] > 3 * 4096
    assert set(directory.glob("*")) | set(directory.glob(".*")) == files_before
    assert read_outbox(outbox) == []
