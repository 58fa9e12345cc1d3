"""Outgoing mail: composed, rendered in the requester's language, sent over real SMTP or kept in
the outbox, and nothing half-written when it fails."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from smtplib import SMTPAuthenticationError, SMTPNotSupportedError, SMTPSenderRefused
from typing import Any

import pytest
from conftest import SMTPRecorder, free_port
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask import Flask
from flask_babel import force_locale, get_locale
from jinja2 import ChoiceLoader, DictLoader

from privacy_center.config import ConfigurationError, load_config
from privacy_center.content import get_content
from privacy_center.mail import (
    MailNotSent,
    compose,
    read_outbox,
    render_mail,
    send,
    send_mail,
    unsubscribe_headers,
)

SUBJECT = "Votre demande — café, Straße, España mañana"
TEXT = "Bonjour José,\n\nÉlodie a reçu votre demande. Grüße aus der Straße, señor Núñez.\n"
HTML = "<p>Bonjour José, <b>é ß ñ</b></p>"
SENDER = "ALLOPASS Confidentialité <no-reply@allopass.example>"
RECIPIENT = "José Müller <jose.muller@example.org>"


def message(**overrides: Any):
    arguments = {"to": RECIPIENT, "subject": SUBJECT, "text": TEXT, "html": HTML, "sender": SENDER}
    return compose(**{**arguments, **overrides})


def body(received: EmailMessage, kind: str) -> str:
    """A part's decoded text; on the wire (and in .eml files) lines end with CRLF."""
    return received.get_body((kind,)).get_content().replace("\r\n", "\n")


@pytest.fixture
def smtp(smtp_server: SMTPRecorder) -> SMTPRecorder:
    smtp_server.clear()
    return smtp_server


# Test-only mail templates, extending the shipped layouts. The strings are ones the catalogues
# already translate; the date is formatted by Babel in the mail's language.
TEST_TEMPLATES = {
    "mail/test_notice.subject.txt": "{{ _('Privacy policy') }}:\n  {{ name }}\n",
    "mail/test_notice.txt": (
        '{% extends "mail/_layout.txt" %}\n'
        "{% block body %}\n"
        "{{ _('Privacy policy') }}\n"
        "{{ when | format_date('long') }}\n"
        "{{ name }}\n"
        "{% endblock %}\n"
    ),
    "mail/test_notice.html": (
        '{% extends "mail/_layout.html" %}\n'
        "{% block body %}<p>{{ _('Privacy policy') }}</p>"
        "<p>{{ when | format_date('long') }}</p><p>{{ name }}</p>{% endblock %}\n"
    ),
}
WHEN = date(2025, 7, 14)
EXPECTED = {
    "fr": ("Politique de confidentialité", "14 juillet 2025", "Centre de confidentialité"),
    "en": ("Privacy policy", "July 14, 2025", "Privacy center"),
    "es": ("Política de privacidad", "14 de julio de 2025", "Centro de privacidad"),
    "de": ("Datenschutzerklärung", "14. Juli 2025", "Datenschutzcenter"),
}


@pytest.fixture(scope="module")
def mail_app(make_app: Callable[..., Flask]) -> Flask:
    """An app whose Jinja loader also knows the test-only mail templates."""
    application = make_app()
    application.jinja_env.loader = ChoiceLoader(
        [DictLoader(TEST_TEMPLATES), application.jinja_env.loader]
    )
    return application


# --- compose and send over SMTP ---------------------------------------------------------------


def test_smtp_delivers_subject_addresses_bodies_and_headers_with_accents(smtp):
    url = "https://privacy.allopass.example/unsubscribe/a1b2?token=xyz"
    sent = message(reply_to="dpo@allopass.example", headers=unsubscribe_headers(url))

    send(sent, settings=smtp.settings())

    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    assert smtp.envelopes == [("no-reply@allopass.example", ["jose.muller@example.org"])]
    assert received["Subject"] == SUBJECT
    (sender,) = received["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "ALLOPASS Confidentialité",
        "no-reply@allopass.example",
    )
    (recipient,) = received["To"].addresses
    assert (recipient.display_name, recipient.addr_spec) == (
        "José Müller",
        "jose.muller@example.org",
    )
    assert received["Reply-To"] == "dpo@allopass.example"
    assert received.get_content_type() == "multipart/alternative"
    assert body(received, "plain") == TEXT
    assert body(received, "html").strip() == HTML
    assert received["List-Unsubscribe"] == f"<{url}>"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["Message-ID"] == sent["Message-ID"]
    assert received["Message-ID"].endswith("@allopass.example>")
    sent_at = parsedate_to_datetime(received["Date"])
    assert sent_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - sent_at) < timedelta(hours=1)


def test_the_wire_carries_only_ascii_headers_and_quoted_printable_bodies(smtp):
    """Any server can carry the message: no raw 8-bit byte unless an address needs SMTPUTF8."""
    raw = message().as_bytes()
    head, _, _ = raw.partition(b"\r\n\r\n")
    assert raw.isascii()
    assert b"=?utf-8?" in head  # the subject and names as RFC 2047 encoded words
    assert b"Content-Transfer-Encoding: quoted-printable" in raw


def test_an_internationalised_address_is_sent_with_smtputf8(smtp):
    send(message(to="Zoë <zoë@exämple.fr>"), settings=smtp.settings())

    assert smtp.envelopes[0][1] == ["zoë@exämple.fr"]
    assert smtp.messages[0]["To"].addresses[0].addr_spec == "zoë@exämple.fr"
    assert smtp.messages[0]["Subject"] == SUBJECT


def test_attachments_follow_the_body_and_arrive_unchanged(smtp):
    pdf = b"%PDF-1.7\n\x00\xff binary letter"
    sent = message(attachments=[("Lettre réponse.pdf", "application/pdf", pdf)])
    assert sent.get_content_type() == "multipart/mixed"
    send(sent, settings=smtp.settings())
    (received,) = smtp.messages
    assert "Élodie" in body(received, "plain") and "<b>é ß ñ</b>" in body(received, "html")
    (attachment,) = received.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "Lettre réponse.pdf"
    assert attachment.get_content() == pdf


def test_a_plain_text_message_has_one_part():
    plain = message(html=None)
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content() == TEXT


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"to": "a@example.org, b@example.org"}, "not one email address"),
        ({"to": "x@"}, "not an email address"),
        ({"to": "nobody"}, "not one email address"),
        ({"sender": ""}, "not"),
        ({"subject": "two\nlines"}, "one non-empty line"),
        ({"subject": "  "}, "one non-empty line"),
        ({"text": "\n"}, "body is empty"),
        ({"html": " "}, "HTML body is empty"),
        ({"headers": {"Subject": "other"}}, "cannot be given"),
        ({"headers": {"Bad Name": "x"}}, "cannot be given"),
        ({"headers": {"X-Note": "ok\r\nBcc: spy@example.org"}}, "linefeed"),
        ({"attachments": [("../x.pdf", "application/pdf", b"%PDF")]}, "file name"),
        ({"attachments": [("a\nb.pdf", "application/pdf", b"%PDF")]}, "file name"),
        ({"attachments": [("x.pdf", "pdf", b"%PDF")]}, "MIME type"),
    ],
)
def test_compose_refuses_bad_input_with_a_clear_error(overrides, complaint):
    with pytest.raises(ValueError, match=complaint):
        message(**overrides)


def test_an_unreachable_smtp_server_raises_mail_not_sent_and_writes_nothing(app, outbox):
    port = free_port()  # nothing listens there
    settings = {**app.config, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_TIMEOUT": 5}

    with pytest.raises(MailNotSent, match=f"127.0.0.1:{port}") as failure:
        send(message(), settings=settings)

    assert isinstance(failure.value.__cause__, ConnectionRefusedError)
    assert "jose.muller@example.org" in str(failure.value)
    assert list(outbox.iterdir()) == []


# --- STARTTLS, implicit TLS and login against a real TLS server --------------------------------


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SMTPRecorder]:
    """An SMTP server that requires STARTTLS, then a login as ``mailer`` / ``s3cret-password``.

    Its self-signed certificate is made trusted through SSL_CERT_FILE, which OpenSSL reads when
    mail.py builds its default (verifying) TLS context.
    """
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert_file, key_file = _self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        valid = auth_data == LoginPassword(b"mailer", b"s3cret-password")
        # handled=False: the server answers 535 itself when the credentials are wrong.
        return AuthResult(success=valid, handled=False)

    recorder = SMTPRecorder()
    recorder.port = free_port(recorder.host)
    controller = Controller(
        recorder,
        hostname=recorder.host,
        port=recorder.port,
        server_hostname="localhost",
        tls_context=server_context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )
    controller.start()
    yield recorder
    controller.stop()


def test_starttls_then_login_delivers(tls_smtp):
    settings = {
        **tls_smtp.settings(),
        "MAIL_USE_TLS": True,
        "MAIL_USERNAME": "mailer",
        "MAIL_PASSWORD": "s3cret-password",
    }
    send(message(), settings=settings)

    assert [received["Subject"] for received in tls_smtp.messages] == [SUBJECT]


@pytest.mark.parametrize(
    ("settings", "cause"),
    [
        # Without STARTTLS the server offers no login and takes no mail.
        ({"MAIL_USERNAME": "mailer", "MAIL_PASSWORD": "s3cret-password"}, SMTPNotSupportedError),
        ({}, SMTPSenderRefused),
        ({"MAIL_USE_TLS": True}, SMTPSenderRefused),  # TLS but no login
        (
            {"MAIL_USE_TLS": True, "MAIL_USERNAME": "mailer", "MAIL_PASSWORD": "wrong"},
            SMTPAuthenticationError,
        ),
        # Implicit TLS against a server that speaks plain SMTP first.
        ({"MAIL_USE_SSL": True}, ssl.SSLError),
    ],
)
def test_tls_and_login_failures_raise_mail_not_sent(tls_smtp, settings, cause):
    with pytest.raises(MailNotSent, match="was not sent") as failure:
        send(message(), settings={**tls_smtp.settings(), "MAIL_TIMEOUT": 5, **settings})

    assert isinstance(failure.value.__cause__, cause)
    assert tls_smtp.messages == []


def test_non_ascii_credentials_are_refused_clearly(tls_smtp):
    settings = {**tls_smtp.settings(), "MAIL_USE_TLS": True}
    settings |= {"MAIL_USERNAME": "mailer", "MAIL_PASSWORD": "mot-de-passe-é"}

    with pytest.raises(MailNotSent, match="must be ASCII"):
        send(message(), settings=settings)

    assert tls_smtp.messages == []


def test_untrusted_certificate_is_refused(tls_smtp, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")
    settings = {**tls_smtp.settings(), "MAIL_USE_TLS": True, "MAIL_TIMEOUT": 5}

    with pytest.raises(MailNotSent) as failure:
        send(message(), settings=settings)

    assert isinstance(failure.value.__cause__, ssl.SSLCertVerificationError)
    assert tls_smtp.messages == []


# --- the outbox ---------------------------------------------------------------------------------


def test_without_mail_server_messages_are_written_to_the_outbox(app, outbox):
    first, second = message(), message(subject="Deuxième message — ñ", html=None)

    send(first, settings=app.config)
    send(second, settings=app.config)

    files = sorted(outbox.iterdir())
    assert [path.suffix for path in files] == [".eml", ".eml"]  # no temporary file left
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)
    kept = read_outbox(outbox)
    assert [kept_message["Subject"] for kept_message in kept] == [SUBJECT, "Deuxième message — ñ"]
    assert [kept_message["Message-ID"] for kept_message in kept] == [
        first["Message-ID"],
        second["Message-ID"],
    ]
    assert body(kept[0], "plain") == TEXT
    assert body(kept[0], "html").strip() == HTML
    assert kept[0]["To"].addresses[0].display_name == "José Müller"


def test_the_outbox_keeps_an_internationalised_address_readable(app, outbox):
    send(message(to="zoë@exämple.fr"), settings=app.config)

    (kept,) = read_outbox(outbox)
    assert kept["To"].addresses[0].addr_spec == "zoë@exämple.fr"


def test_an_outbox_that_cannot_be_written_raises_mail_not_sent(app, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the outbox folder should be")
    settings = {**app.config, "MAIL_OUTBOX_DIR": str(blocker / "outbox")}

    with pytest.raises(MailNotSent, match="outbox") as failure:
        send(message(), settings=settings)

    assert isinstance(failure.value.__cause__, OSError)
    assert list(tmp_path.iterdir()) == [blocker]


def test_without_server_or_outbox_nothing_is_sent_and_the_error_says_what_to_set():
    with pytest.raises(MailNotSent, match="MAIL_SERVER"):
        send(message(), settings={"MAIL_SERVER": None, "MAIL_OUTBOX_DIR": ""})


def test_read_outbox_of_a_missing_folder_is_empty(tmp_path):
    assert read_outbox(tmp_path / "missing") == []


# --- rendering in the requester's language ------------------------------------------------------


@pytest.mark.parametrize("language", ["fr", "en", "es", "de"])
def test_render_mail_uses_the_requested_language(mail_app, language):
    policy, long_date, center = EXPECTED[language]
    # The current request is in another language: the mail must not follow it.
    other = "en" if language != "en" else "de"
    with mail_app.test_request_context(f"/policy?lang={other}"):
        subject, text, html = render_mail(
            "test_notice", language=language, when=WHEN, name="<b>Zoë</b>"
        )

    assert subject == f"{policy}: <b>Zoë</b>"  # one line, plain text
    assert text.startswith(f"ALLOPASS · {center}\n\n{policy}\n{long_date}\n<b>Zoë</b>\n\n-- \n")
    assert "ALLOPASS – Responsable des données personnelles" in text  # postal contact
    assert text.endswith("contact@allopass.com\n")
    assert f'<html lang="{language}"' in html
    assert f"<title>{policy}: &lt;b&gt;Zoë&lt;/b&gt;</title>" in html
    assert f"<p>{policy}</p><p>{long_date}</p><p>&lt;b&gt;Zoë&lt;/b&gt;</p>" in html
    assert "ALLOPASS – Responsable des données personnelles" in html
    assert 'href="mailto:contact@allopass.com"' in html
    assert "<img" not in html and "http" not in html.replace("http-equiv", "")


def test_render_mail_restores_the_request_language(mail_app):
    with mail_app.test_request_context("/policy?lang=fr"):
        render_mail("test_notice", language="de", when=WHEN, name="x")
        subject, _, _ = render_mail("test_notice", language="fr", when=WHEN, name="x")
        assert str(get_locale()) == "fr"
    assert subject.startswith("Politique de confidentialité")


def test_render_mail_needs_an_app_context_and_a_known_language(mail_app):
    with pytest.raises(RuntimeError, match="application context"):
        render_mail("test_notice", language="fr", when=WHEN, name="x")
    with mail_app.app_context(), pytest.raises(ValueError, match="'it' is not one of"):
        render_mail("test_notice", language="it", when=WHEN, name="x")


def test_send_mail_renders_composes_and_sends_in_the_language(mail_app, smtp):
    url = "https://privacy.allopass.example/u/42"
    settings = {**mail_app.config, **smtp.settings()}
    with mail_app.app_context():
        sent = send_mail(
            settings,
            to="Jürgen Groß <juergen@example.de>",
            template="test_notice",
            language="de",
            context={"when": WHEN, "name": "Jürgen"},
            headers=unsubscribe_headers(url),
        )

    (received,) = smtp.messages
    assert received["Message-ID"] == sent["Message-ID"]
    assert received["Subject"] == "Datenschutzerklärung: Jürgen"
    assert received["From"] == "ALLOPASS <no-reply@localhost>"
    assert received["Reply-To"] == "contact@allopass.com"
    assert received["Content-Language"] == "de"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received["List-Unsubscribe"] == f"<{url}>"
    assert "14. Juli 2025" in body(received, "plain")
    assert '<html lang="de"' in body(received, "html")


def test_send_mail_uses_the_configured_sender_and_the_outbox(mail_app, tmp_path):
    settings = {
        **mail_app.config,
        "MAIL_DEFAULT_SENDER": "Privacy <privacy@allopass.example>",
        "MAIL_OUTBOX_DIR": str(tmp_path),
    }
    with mail_app.app_context():
        send_mail(
            settings,
            to="ana@example.es",
            template="test_notice",
            language="es",
            context={"when": WHEN, "name": "Ana Muñoz"},
        )

    (kept,) = read_outbox(tmp_path)
    assert kept["From"] == "Privacy <privacy@allopass.example>"
    assert kept["Subject"] == "Política de privacidad: Ana Muñoz"


def test_the_shipped_layouts_render_on_their_own(app):
    """The layouts are real templates: they render with an empty body in every language."""
    with app.app_context():
        operator = get_content().operator
        for language in ("fr", "en", "es", "de"):
            values = {"operator": operator, "lang": language, "subject": "S"}
            with force_locale(language):
                html = app.jinja_env.get_template("mail/_layout.html").render(values)
                text = app.jinja_env.get_template("mail/_layout.txt").render(values)
            assert f'<html lang="{language}"' in html
            assert "<title>S</title>" in html
            assert "ALLOPASS SAS · R.C.S. Toulouse 824 638 209" in html
            assert "ALLOPASS SAS · R.C.S. Toulouse 824 638 209" in text


# --- one-click unsubscribe ----------------------------------------------------------------------


def test_unsubscribe_headers_are_the_rfc_8058_pair():
    url = "https://privacy.allopass.example/unsubscribe?t=abc%C3%A9"
    assert unsubscribe_headers(url) == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    # On loopback (development) plain http is accepted.
    assert unsubscribe_headers("http://127.0.0.1:5000/u/1")["List-Unsubscribe"] == (
        "<http://127.0.0.1:5000/u/1>"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://privacy.allopass.example/u",  # RFC 8058 needs https
        "mailto:unsubscribe@allopass.example",
        "https:///no-host",
        "https://privacy.allopass.example/désabonner",
        "https://privacy.allopass.example/a b",
        "https://privacy.allopass.example/a,b",
        "https://privacy.allopass.example/a>",
        "https://privacy.allopass.example/" + "a" * 1000,
    ],
)
def test_unsubscribe_headers_refuse_unusable_urls(url):
    with pytest.raises(ValueError, match="one-click unsubscribe"):
        unsubscribe_headers(url)


def test_a_long_unsubscribe_url_stays_on_one_header_line():
    """Mail clients read List-Unsubscribe verbatim: folding it into encoded words breaks it."""
    url = "https://privacy.allopass.example/unsubscribe/" + "k" * 300 + "?token=" + "t" * 200
    raw = message(headers=unsubscribe_headers(url)).as_bytes()

    assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in raw
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw


# --- configuration --------------------------------------------------------------------------------


MAIL_VARIABLES = (
    "MAIL_SERVER",
    "MAIL_PORT",
    "MAIL_USE_TLS",
    "MAIL_USE_SSL",
    "MAIL_USERNAME",
    "MAIL_PASSWORD",
    "MAIL_TIMEOUT",
    "MAIL_DEFAULT_SENDER",
    "MAIL_OUTBOX_DIR",
)


@pytest.fixture
def mail_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in MAIL_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_mail_settings_default_to_the_outbox(mail_environment, tmp_path):
    config = load_config("development", str(tmp_path))

    assert config.MAIL_SERVER is None
    assert (config.MAIL_PORT, config.MAIL_TIMEOUT) == (25, 10.0)
    assert (config.MAIL_USE_TLS, config.MAIL_USE_SSL) == (False, False)
    assert config.MAIL_USERNAME is None and config.MAIL_PASSWORD is None
    assert config.MAIL_DEFAULT_SENDER is None
    assert str(tmp_path / "outbox") == config.MAIL_OUTBOX_DIR


def test_mail_settings_come_from_the_environment(mail_environment, tmp_path):
    for variable, value in {
        "MAIL_SERVER": "smtp.allopass.example",
        "MAIL_PORT": "587",
        "MAIL_USE_TLS": "true",
        "MAIL_USERNAME": "mailer",
        "MAIL_PASSWORD": "secret",
        "MAIL_TIMEOUT": "2.5",
        "MAIL_DEFAULT_SENDER": "ALLOPASS <privacy@allopass.example>",
        "MAIL_OUTBOX_DIR": str(tmp_path / "mails"),
    }.items():
        mail_environment.setenv(variable, value)

    config = load_config("development", str(tmp_path))

    assert (config.MAIL_SERVER, config.MAIL_PORT, config.MAIL_TIMEOUT) == (
        "smtp.allopass.example",
        587,
        2.5,
    )
    assert (config.MAIL_USE_TLS, config.MAIL_USE_SSL) == (True, False)
    assert (config.MAIL_USERNAME, config.MAIL_PASSWORD) == ("mailer", "secret")
    assert config.MAIL_DEFAULT_SENDER == "ALLOPASS <privacy@allopass.example>"
    assert str(tmp_path / "mails") == config.MAIL_OUTBOX_DIR
    # The test suite never sends real mail, whatever the environment says.
    assert load_config("test", str(tmp_path)).MAIL_SERVER is None


@pytest.mark.parametrize(
    ("variables", "complaint"),
    [
        ({"MAIL_USE_TLS": "1", "MAIL_USE_SSL": "1"}, "exclude each other"),
        ({"MAIL_USE_TLS": "maybe"}, "MAIL_USE_TLS='maybe'"),
        ({"MAIL_PORT": "587.5"}, "positive whole number"),
        ({"MAIL_PORT": "0"}, "positive whole number"),
        ({"MAIL_TIMEOUT": "soon"}, "positive number"),
    ],
)
def test_wrong_mail_settings_stop_start_up(mail_environment, tmp_path, variables, complaint):
    for variable, value in variables.items():
        mail_environment.setenv(variable, value)

    with pytest.raises(ConfigurationError, match=complaint):
        load_config("development", str(tmp_path))
