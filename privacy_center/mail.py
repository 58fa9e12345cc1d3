"""Outgoing mail: compose a message, render it in the requester's language, send it.

With ``MAIL_SERVER`` set, messages go through that SMTP server. Without it (development, tests)
each message is written as an ``.eml`` file under ``MAIL_OUTBOX_DIR``, so that what would have
been sent can be read, opened in a mail client, or checked by a test (:func:`read_outbox`).

Templates: a mail called ``NAME`` is three templates found by the app's Jinja loader
(``templates/mail/`` of the app or of a blueprint):

- ``mail/NAME.subject.txt``: the subject (whitespace is collapsed into one line);
- ``mail/NAME.txt``: the plain-text body, ``{% extends "mail/_layout.txt" %}``;
- ``mail/NAME.html``: the HTML body, ``{% extends "mail/_layout.html" %}``.

Both layouts carry the operator's name and a footer with its postal contact; a mail fills the
``body`` block and may fill ``footer_note`` (why the person gets this mail, how to stop it). They
see ``operator``, ``lang``, ``subject`` and the caller's context. Links must be absolute URLs
passed in the context: a mail is rendered outside any request.
"""

from __future__ import annotations

import email.policy
import re
import secrets
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.errors import HeaderParseError, NonASCIILocalPartDefect
from email.headerregistry import AddressHeader
from email.message import EmailMessage
from email.parser import BytesParser, Parser
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from flask_babel import force_locale

from .content import get_content
from .files import write_atomically


class MailNotSent(RuntimeError):
    """The message was neither handed to the SMTP server nor written to the outbox."""


# Headers that must reach the mail client exactly as written: a client does not decode RFC 2047
# encoded words in List-Unsubscribe, so a long unsubscribe URL must not be folded into them.
VERBATIM_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post"})
# RFC 5322's hard limit for a line, with room for the header's name.
MAX_VERBATIM_LENGTH = 998 - len("List-Unsubscribe: ")


class MailPolicy(email.policy.EmailPolicy):
    """``email.policy.SMTP`` (CRLF lines) that leaves the List-Unsubscribe headers unfolded.

    Non-ASCII headers are written as RFC 2047 encoded words and bodies as quoted-printable, so
    any server can carry them; when an address itself is not ASCII the message is serialised
    with ``utf8=True``, and smtplib then asks the server for SMTPUTF8.
    """

    def _verbatim(self, name: str, value: Any) -> str | None:
        text = str(value)
        if name.lower() in VERBATIM_HEADERS and text.isascii() and len(name) + 2 + len(text) <= 998:
            return f"{name}: {text}{self.linesep}"
        return None

    def fold(self, name: str, value: Any) -> str:
        return self._verbatim(name, value) or super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        verbatim = self._verbatim(name, value)
        return verbatim.encode("ascii") if verbatim else super().fold_binary(name, value)


POLICY = MailPolicy(linesep="\r\n")

# Headers that compose() writes itself; extra headers may not replace them.
COMPOSED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "reply-to",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322: printable ASCII except the colon
# A file name is a name, not a path, and stays on one header line.
ATTACHMENT_NAME_FORBIDDEN = re.compile(r"[/\\\x00-\x1f\x7f]")


def _set_address(message: EmailMessage, header: str, value: str) -> None:
    """Set an address header holding exactly one well-formed mailbox."""
    try:
        message[header] = value
        parsed = cast(AddressHeader, message[header])
    # The standard parser raises IndexError on some malformed input (e.g. "x@").
    except (ValueError, IndexError, HeaderParseError) as error:
        raise ValueError(f"{header}: {value!r} is not an email address ({error})") from None
    # A non-ASCII local part is an internationalised address (RFC 6531), not a mistake.
    defects = [
        defect for defect in parsed.defects if not isinstance(defect, NonASCIILocalPartDefect)
    ]
    addresses = parsed.addresses
    if len(addresses) != 1 or not addresses[0].username or not addresses[0].domain or defects:
        raise ValueError(f"{header}: {value!r} is not one email address")


def compose(
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    sender: str,
    reply_to: str | None = None,
    headers: Mapping[str, str] | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
) -> EmailMessage:
    """A message to one person: plain text, or multipart/alternative when ``html`` is given.

    ``attachments`` are ``(filename, mime type, data)`` triples (a letter's PDF); with any, the
    message becomes multipart/mixed: the body first, then each file.

    ``to``, ``sender`` and ``reply_to`` are one address each (``"Name <a@b.example>"`` or
    ``"a@b.example"``): a mail about someone's personal data never goes to two people at once.
    Raises ``ValueError`` for a malformed address, a subject of several lines, an empty body or
    an extra header that would replace one set here.
    """
    subject = subject.strip()
    if not subject or "\n" in subject or "\r" in subject:
        raise ValueError(f"the subject must be one non-empty line, got {subject!r}")
    if not text.strip():
        raise ValueError("the plain-text body is empty")
    if html is not None and not html.strip():
        raise ValueError("the HTML body is empty (pass html=None for a plain-text mail)")
    message = EmailMessage(policy=POLICY)
    _set_address(message, "From", sender)
    _set_address(message, "To", to)
    if reply_to:
        _set_address(message, "Reply-To", reply_to)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    # The sender's domain, not the machine's name: the id reveals nothing about the host.
    domain = cast(AddressHeader, message["From"]).addresses[0].domain
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for filename, mime_type, data in attachments:
        maintype, _, subtype = mime_type.partition("/")
        if not filename.strip() or ATTACHMENT_NAME_FORBIDDEN.search(filename):
            raise ValueError(f"{filename!r} cannot be an attachment's file name")
        if not maintype or not subtype or "/" in subtype:
            raise ValueError(f"{mime_type!r} is not a MIME type (type/subtype)")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    # After the body: set_content() drops every Content-* header (e.g. Content-Language).
    for name, value in (headers or {}).items():
        if not HEADER_NAME.match(name) or name.lower() in COMPOSED_HEADERS:
            raise ValueError(f"{name!r} cannot be given as an extra header")
        # A value spanning lines would smuggle in headers: the policy refuses it (ValueError).
        message[name] = value
    return message


def _tidy_text(text: str) -> str:
    """Template indentation and blocks leave stray spaces and blank lines: remove them."""
    lines = [line if line == "-- " else line.rstrip() for line in text.splitlines()]
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    # An empty block right after the signature delimiter ("-- ") leaves a blank line.
    tidy = re.sub(r"^-- \n\n+", "-- \n", tidy, flags=re.MULTILINE)
    return tidy + "\n"


def render_mail(template: str, *, language: str, **context: Any) -> tuple[str, str, str]:
    """Render ``mail/<template>.subject.txt``, ``.txt`` and ``.html`` in ``language``.

    Returns ``(subject, text, html)``. Needs an application context (``with app.app_context():``;
    a request context has one): the templates, the operator and the translations are the app's.
    Everything, including dates formatted with ``format_date``, is in ``language``, which must be
    one of the operator's languages, whatever the language of the current request.
    """
    if not has_app_context():
        raise RuntimeError(
            "render_mail needs an application context (with app.app_context(): ...): it uses "
            "the app's templates, operator content and translations"
        )
    operator = get_content().operator
    if language not in operator.languages:
        raise ValueError(
            f"{language!r} is not one of the operator's languages ({', '.join(operator.languages)})"
        )
    environment = current_app.jinja_env
    values = {**context, "operator": operator, "lang": language}
    with force_locale(language):
        subject = environment.get_template(f"mail/{template}.subject.txt").render(values)
        values["subject"] = " ".join(subject.split())
        text = environment.get_template(f"mail/{template}.txt").render(values)
        html = environment.get_template(f"mail/{template}.html").render(values)
    return values["subject"], _tidy_text(text), html


def _is_international(message: EmailMessage) -> bool:
    for header in ("From", "To", "Reply-To"):
        parsed = message[header]
        if parsed is not None and any(
            not address.addr_spec.isascii() for address in cast(AddressHeader, parsed).addresses
        ):
            return True
    return False


def _login(connection: smtplib.SMTP, username: str, password: str) -> None:
    try:
        connection.login(username, password)
    except UnicodeEncodeError as error:
        # smtplib sends credentials as ASCII only: say so rather than fail obscurely.
        raise MailNotSent(
            "The email was not sent: MAIL_USERNAME and MAIL_PASSWORD must be ASCII "
            "(Python's smtplib cannot send other characters)"
        ) from error


def _send_smtp(message: EmailMessage, settings: Mapping[str, Any]) -> None:
    host = settings["MAIL_SERVER"]
    port = int(settings.get("MAIL_PORT") or 25)
    timeout = float(settings.get("MAIL_TIMEOUT") or 10)
    use_ssl, use_tls = bool(settings.get("MAIL_USE_SSL")), bool(settings.get("MAIL_USE_TLS"))
    where = f"the SMTP server {host}:{port}"
    if use_ssl and use_tls:
        raise MailNotSent(f"MAIL_USE_SSL and MAIL_USE_TLS are both set for {where}: set only one")
    try:
        if use_ssl:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(host, port, timeout=timeout)
        with connection:
            if use_tls:
                connection.starttls(context=ssl.create_default_context())
            if settings.get("MAIL_USERNAME"):
                _login(connection, settings["MAIL_USERNAME"], settings.get("MAIL_PASSWORD") or "")
            refused = connection.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        raise MailNotSent(
            f"The email to {message['To']} was not sent: {where} failed ({error})"
        ) from error
    if refused:
        raise MailNotSent(f"The email to {message['To']} was not sent: {where} refused {refused}")


def outbox_file_name() -> str:
    """A name that sorts by time of writing (UTC, microseconds) and never collides."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{secrets.token_hex(6)}.eml"


def message_bytes(message: EmailMessage) -> bytes:
    """The message serialised (UTF-8 headers only when an address needs them)."""
    policy = message.policy.clone(utf8=True) if _is_international(message) else message.policy
    return message.as_bytes(policy=policy)


def write_outbox(message: EmailMessage, directory: Path) -> Path:
    """Write ``message`` as a new ``.eml`` file in ``directory``, all of it or nothing."""
    data = message_bytes(message)
    target = directory / outbox_file_name()
    try:
        # Mails carry personal data: the folder and the files are the owner's only.
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(target, data)
    except OSError as error:
        raise MailNotSent(
            f"The email to {message['To']} was not written to the outbox {directory}: {error}"
        ) from error
    return target


def send(message: EmailMessage, *, settings: Mapping[str, Any]) -> None:
    """Send ``message`` through ``MAIL_SERVER``, or write it to ``MAIL_OUTBOX_DIR`` without one.

    ``settings`` is the app's configuration (or any mapping with the ``MAIL_*`` keys). Raises
    :class:`MailNotSent`, with the SMTP or file-system error chained, when the message was not
    handed over; nothing is left half-written.
    """
    if settings.get("MAIL_SERVER"):
        _send_smtp(message, settings)
        return
    outbox = settings.get("MAIL_OUTBOX_DIR")
    if not outbox:
        raise MailNotSent(
            f"The email to {message['To']} was not sent: set MAIL_SERVER to send mail, or "
            "MAIL_OUTBOX_DIR to keep it in files"
        )
    write_outbox(message, Path(outbox))


def default_sender(operator_name: str) -> str:
    """The sender when ``MAIL_DEFAULT_SENDER`` is not set."""
    return formataddr((operator_name, "no-reply@localhost"))


def send_mail(app_config: Mapping[str, Any], **arguments: Any) -> EmailMessage:
    """Render the mail ``template`` in ``language``, compose it for ``to`` and send it (the
    arguments of :func:`build_mail`). Returns the message sent, e.g. for its Message-ID."""
    message = build_mail(app_config, **arguments)
    send(message, settings=app_config)
    return message


def build_mail(
    app_config: Mapping[str, Any],
    *,
    to: str,
    template: str,
    language: str,
    context: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    reply_to: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
) -> EmailMessage:
    """Render the mail ``template`` in ``language`` and compose it for ``to``, unsent (the
    outbox of mail_queue.py keeps it until it is delivered).

    The sender is ``MAIL_DEFAULT_SENDER`` (default: the operator's name at no-reply@localhost);
    replies go to ``reply_to``, by default the operator's privacy address, so that an answer
    reaches someone. Needs an application context (see :func:`render_mail`).
    """
    subject, text, html = render_mail(template, language=language, **context)
    operator = get_content().operator
    message = compose(
        to=to,
        subject=subject,
        text=text,
        html=html,
        sender=app_config.get("MAIL_DEFAULT_SENDER") or default_sender(operator.name),
        reply_to=reply_to or operator.privacy_email,
        # Auto-Submitted keeps out-of-office replies away (RFC 3834).
        headers={
            "Content-Language": language,
            "Auto-Submitted": "auto-generated",
            **(headers or {}),
        },
        attachments=attachments,
    )
    return message


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def unsubscribe_headers(url: str) -> dict[str, str]:
    """The RFC 8058 one-click unsubscribe headers for ``url``.

    The URL must be https (RFC 8058), except on a loopback host for development; it must be
    ASCII (percent-encoded) and fit on one header line. Raises ``ValueError`` otherwise.
    """
    parts = urlsplit(url)
    secure = parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    )
    if (
        not secure
        or not parts.netloc
        or not url.isascii()
        or re.search(r"[\s<>,\"]", url)
        or len(url) + 2 > MAX_VERBATIM_LENGTH
    ):
        raise ValueError(
            f"{url!r} cannot be a one-click unsubscribe address: it must be an https URL "
            f"(http only on localhost) of at most {MAX_VERBATIM_LENGTH - 2} ASCII characters, "
            "without spaces, commas, quotes or angle brackets"
        )
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def read_outbox(directory: Path) -> list[EmailMessage]:
    """The messages of an outbox folder, oldest first (development and tests)."""
    if not directory.is_dir():
        return []
    return [parse_message(path.read_bytes()) for path in sorted(directory.glob("*.eml"))]


def parse_message(data: bytes) -> EmailMessage:
    """Parse a serialised message (ASCII, or UTF-8 when an address needs it).

    UTF-8 data is parsed as text: the bytes parser would leave the parts of a non-ASCII address
    (``Address.username``, ``.domain``) as undecoded bytes.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return cast(EmailMessage, BytesParser(policy=email.policy.default).parsebytes(data))
    return cast(EmailMessage, Parser(policy=email.policy.default).parsestr(text))
