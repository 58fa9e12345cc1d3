"""The catalogue of every page of the application, for the browser check of every page
(test_browser_every_page.py) and for ``make screenshots`` (scripts/screenshots.py).

The catalogue is read from the application's ``url_map``, not written by hand: every GET rule is
either a page (grouped by who sees it: a visitor, a signed-in account holder, a staff member
signing in, a signed-in staff member) or a download listed in ``EXCLUDED`` with the reason it is
no page. A rule that needs values in its address takes them from ``ARGUMENTS``, which names an
example that ``build_examples`` creates (a request with its document and letter, a copy of the
data, a cookie scan...). ``catalogue`` fails on a GET rule that is neither a page it can address
nor excluded, so a new page cannot be forgotten.

A few pages exist only as the answer to a step (the "request sent" page after filing, the code
and enrolment steps of the staff sign-in): ``reach`` takes those steps in the browser.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask

LANGUAGES = ("fr", "en", "es", "de")
WIDTHS = (320, 1280)
HEIGHTS = {320: 640, 1280: 800}
STAFF_PASSWORD = "a long staff password for every page"
HOLDER_PASSWORD = "a long holder password for every page"

# Who sees a page: a visitor (no session), a signed-in account holder, a staff member on the
# sign-in steps (no session yet), a signed-in staff member (an admin: every console page).
PUBLIC, HOLDER, STAFF_SIGN_IN, STAFF = "public", "holder", "staff-sign-in", "staff"
ROLES = (PUBLIC, HOLDER, STAFF_SIGN_IN, STAFF)

# GET rules that answer a file, a redirect or an API document, never an HTML page.
EXCLUDED: dict[str, str] = {
    "static": "static files (stylesheets, scripts, images) loaded by the pages",
    "favicon": "the icon file (checked by every page's console: a missing icon is an error)",
    "theme_css": "the operator's brand colours (a stylesheet every page links)",
    "theme_logo": "the operator's logo (an SVG every page's header shows)",
    "consent.widget_script": "the consent widget's JavaScript (public pages load it)",
    "consent.widget_asset": "a hashed build of the widget's JavaScript",
    "consent.widget_builds": "JSON list of the widget's builds and their SRI hashes",
    "consent.widget_config": "JSON configuration the widget fetches",
    "consent.openapi": "the API's OpenAPI description (YAML)",
    "consent.receipt": "a consent receipt (JSON API)",
    "policy.current_pdf": "the policy as a PDF",
    "policy.version_pdf": "a past policy version as a PDF",
    "postmortem.certificate": "the post-mortem directives' certificate (PDF)",
    "rights.letter_pdf": "a sent letter (PDF) behind a status link",
    "exports.file": "the holder's copy of their data (ZIP)",
    "staff.register": "the register of requests (CSV)",
    "staff.document_page": "a page of an identity document rendered as a PNG (shown by the "
    "document page, which is catalogued)",
    "staff.document_original": "the original identity document file",
    "staff.letter_pdf": "a sent letter (PDF) in the console",
    "consent_records.export_csv": "the consent records (CSV)",
    "consent_records.export_json": "the consent records (JSON)",
    "index": "the address of the site: a redirect to the privacy policy",
    "activity_links.follow": "a tracked link of a mailing: a redirect to the operator's site",
}

# Pages only a signed-in account holder sees (a visitor is sent to sign in).
HOLDER_ONLY = frozenset(
    {"accounts.preferences", "exports.index", "exports.status", "postmortem.directives"}
)
# Pages that differ for a signed-in holder (their account replaces what a visitor types).
HOLDER_TOO = frozenset({"rights.index", "rights.new_request"})
STAFF_SIGN_IN_STEPS = frozenset({"staff.sign_in", "staff.code", "staff.enrol"})

# The example (a key of ``build_examples``' answer) behind each argument of an address; a
# ``str`` in a list gives one page per value (each kind of request has its own form).
ARGUMENTS: dict[str, dict[str, str]] = {
    "accounts.sign_in_with_link": {"token": "sign_in_link"},
    "accounts.unsubscribe": {"token": "unsubscribe"},
    "exports.link": {"token": "download_link"},
    "exports.status": {"export_id": "export"},
    "policy.version": {"number": "policy_version"},
    "postmortem.data_link": {"token": "postmortem_link"},
    "recipients.acknowledge": {"token": "recipient_ack"},
    "rights.confirm": {"token": "confirm_token"},
    "rights.status": {"reference": "reference", "token": "status_token"},
    "rights.withdraw": {"reference": "reference", "token": "status_token"},
    "staff.detail": {"reference": "reference"},
    "staff.document": {"reference": "reference", "document_id": "document"},
}
# More pages of one rule, at other addresses (``{example}`` placeholders), named by suffix.
VARIANTS: dict[str, dict[str, str]] = {
    "staff.detail": {"postmortem": "/staff/requests/{postmortem_reference}"},
    "policy.version": {"first": "/policy/versions/1"},
    "postmortem.verify": {"checked": "/rights/post-mortem/verify?fingerprint={fingerprint}"},
    "accounts.request_link": {"sent": "/rights/sign-in/link?sent=1"},
    "staff.index": {
        "closed": "/staff/?state=completed",
        "search": "/staff/?q={reference}",
    },
}


@dataclass(frozen=True)
class Page:
    """One page of the catalogue: ``path`` may hold ``{example}`` placeholders."""

    role: str
    name: str
    endpoint: str
    path: str
    status: int = 200

    @property
    def id(self) -> str:
        return f"{self.role}/{self.name}"

    def address(self, examples: Mapping[str, str], language: str) -> str:
        """The path and query to open, in ``language``."""
        path = self.path.format(**examples)
        separator = "&" if "?" in path else "?"
        return f"{path}{separator}{urlencode({'lang': language})}"


def _name(endpoint: str, variant: str = "") -> str:
    name = f"{endpoint}-{variant}" if variant else endpoint
    return name.replace(".", "-").replace("_", "-")


def _rule_path(rule: Any, arguments: Mapping[str, str]) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda match: arguments[match.group(1)], rule.rule)


def get_endpoints(app: Flask) -> dict[str, Any]:
    """The GET rules of the application, by endpoint (one rule each)."""
    found: dict[str, Any] = {}
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or ()):
            assert rule.endpoint not in found, f"{rule.endpoint}: two GET rules"
            found[rule.endpoint] = rule
    return found


class UncataloguedRoute(AssertionError):
    """A GET rule that is neither a page the catalogue can address nor excluded."""


def catalogue(app: Flask) -> list[Page]:
    """Every page of ``app``, grouped by who sees it (see the module's docstring)."""
    from privacy_center.rights.kinds import KINDS

    pages: list[Page] = []
    for endpoint, rule in sorted(get_endpoints(app).items()):
        if endpoint in EXCLUDED:
            continue
        if rule.arguments - set(ARGUMENTS.get(endpoint, {})) - {"kind"}:
            raise UncataloguedRoute(
                f"{rule.rule} ({endpoint}): a new GET route; add it to EXCLUDED with the reason "
                "it is no page, or give its arguments an example in ARGUMENTS"
            )
        if rule.rule.startswith("/staff"):
            roles = (STAFF_SIGN_IN,) if endpoint in STAFF_SIGN_IN_STEPS else (STAFF,)
        elif endpoint in HOLDER_ONLY:
            roles = (HOLDER,)
        elif endpoint in HOLDER_TOO:
            roles = (PUBLIC, HOLDER)
        else:
            roles = (PUBLIC,)
        placeholders = {arg: "{" + key + "}" for arg, key in ARGUMENTS.get(endpoint, {}).items()}
        if "kind" in rule.arguments:
            if endpoint != "rights.new_request":
                raise UncataloguedRoute(f"{rule.rule} ({endpoint}): which kinds does it take?")
            addressed = [(key, {"kind": key}) for key in KINDS]
        else:
            addressed = [("", placeholders)]
        for role in roles:
            for variant, arguments in addressed:
                path = _rule_path(rule, arguments)
                pages.append(Page(role, _name(endpoint, variant), endpoint, path))
            for variant, path in VARIANTS.get(endpoint, {}).items():
                pages.append(Page(role, _name(endpoint, variant), endpoint, path))
    # Pages that answer with an error status, as a visitor meets them.
    pages += [
        Page(PUBLIC, "not-found", "", "/no-such-page", status=404),
        Page(PUBLIC, "rights-link-invalid", "rights.confirm", "/rights/requests/confirm/x", 404),
        Page(STAFF, "staff-not-found", "", "/staff/requests/PC-0000-0000", status=404),
    ]
    names = [page.id for page in pages]
    assert len(names) == len(set(names)), "two pages of the catalogue have the same name"
    return pages


def route_catalogue() -> list[Page]:
    """The catalogue read from an application that opens no database (for test collection and
    the screenshot script before the server starts)."""
    from privacy_center import create_app

    app = create_app("test", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return catalogue(app)


# --- the examples the pages show ----------------------------------------------------------------


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (400, 260), (20, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    import pikepdf

    document = pikepdf.new()
    document.add_blank_page(page_size=(200, 200))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@dataclass
class Member:
    """A staff member the harness made: signs in with ``password`` and a code of ``totp_key``."""

    email: str
    password: str
    totp_key: str | None


@dataclass
class Examples:
    values: dict[str, str]
    holder_email: str
    holder_password: str
    request_ids: list[int] = field(default_factory=list)


def make_member(app: Flask, *, role: str = "admin", enrolled: bool = True) -> Member:
    """A staff member, committed (its TOTP key, when enrolled, was never used: its first code
    is accepted whatever the other members did)."""
    import pyotp

    from privacy_center.accounts.passwords import hash_password
    from privacy_center.extensions import db
    from privacy_center.models import StaffMember
    from privacy_center.models.types import utcnow
    from privacy_center.staff.auth.totp import encrypt_totp_secret

    email = f"pages-{role}-{secrets.token_hex(5)}@operator.example"
    key = pyotp.random_base32() if enrolled else None
    with app.app_context():
        member = StaffMember(
            email=email,
            name=f"Camille {role.title()}",
            role=role,
            password_hash=hash_password(STAFF_PASSWORD),
        )
        db.session.add(member)
        db.session.flush()
        if key is not None:
            member.totp_secret = encrypt_totp_secret(app.config["SECRET_KEY"], member.id, key)
            member.totp_enrolled_at = utcnow()
        db.session.commit()
        db.session.remove()
    return Member(email, STAFF_PASSWORD, key)


def build_examples(app: Flask) -> Examples:
    """Create (and commit) what the pages with ids show: an account holder with a copy of their
    data, post-mortem directives and emailed links; a request with an identity document, a
    letter, a note, an undelivered mail, a recipient to tell and data of a deceased mailed; a
    request awaiting its email confirmation; a post-mortem request; a consent receipt; a
    cookie scan."""
    from subject_data import mailed_delivery, ready_copy

    from privacy_center.accounts.passwords import hash_password
    from privacy_center.accounts.preferences import EVERY
    from privacy_center.accounts.unsubscribe import unsubscribe_token
    from privacy_center.connectors import get_connector_set
    from privacy_center.content import get_content
    from privacy_center.cookie_scan.services import record_scan
    from privacy_center.extensions import db
    from privacy_center.models import (
        Account,
        OutgoingMail,
        RecipientNotification,
    )
    from privacy_center.models.letter import Letter, RequestNote
    from privacy_center.models.types import utcnow
    from privacy_center.postmortem import services as postmortem
    from privacy_center.recipients.delivery import token_hash as recipient_token_hash
    from privacy_center.rights.confirmation import confirm_request
    from privacy_center.rights.filing import file_request
    from privacy_center.tokens import issue_token, token_hash

    tag = secrets.token_hex(4)
    with app.app_context():
        session = db.session
        content = get_content()
        today = content.operator.today()
        holder = Account(
            email=f"holder-{tag}@example.org",
            password_hash=hash_password(HOLDER_PASSWORD),
            first_name="Camille",
            last_name="Martin",
            language="fr",
        )
        session.add(holder)
        session.commit()

        new = file_request(
            session,
            kind="rectification",
            email=f"requester-{tag}@example.org",
            name="Jonas Weber",
            language="de",
            details="Mein Nachname ist falsch geschrieben.",
            specifics={"data_item": "last_name", "new_value": "Weber-Schmidt"},
            account=None,
            document=("ausweis.png", png_bytes()),
            today=today,
            settings=app.config,
        )
        confirmed = confirm_request(session, token=new.confirmation_token, today=today)
        assert confirmed is not None
        request = confirmed.request
        session.commit()

        pending = file_request(
            session,
            kind="access",
            email=f"pending-{tag}@example.org",
            name="Lucía García",
            language="es",
            details="",
            specifics={},
            account=None,
            document=("dni.png", png_bytes()),
            today=today,
            settings=app.config,
        )
        session.commit()

        keys = [category.key for category in get_connector_set().categories()]
        directives = postmortem.record_directives(
            session,
            account=holder,
            choices=dict.fromkeys(keys, "communicate"),
            category_keys=keys,
            communicate_nothing=False,
            designated_name="Léa Martin",
            designated_email=f"heir-{tag}@example.org",
            designated_relation="daughter",
            consent=True,
            language="fr",
        )
        session.commit()
        filed_postmortem = postmortem.file_postmortem_request(
            session,
            kind="postmortem_estate",
            email=f"heir-{tag}@example.org",
            name="Léa Martin",
            language="fr",
            details="",
            deceased_name="Camille Martin",
            deceased_identifier=holder.email,
            capacity="heir",
            documents={
                "death_certificate": ("acte-de-deces.pdf", pdf_bytes()),
                "heirship": ("acte-de-notoriete.pdf", pdf_bytes()),
                "heir_identity": ("passport.png", png_bytes()),
            },
            today=today,
            settings=app.config,
        )
        confirmed_postmortem = confirm_request(
            session, token=filed_postmortem.confirmation_token, today=today
        )
        assert confirmed_postmortem is not None
        session.commit()

        letter_pdf = pdf_bytes()
        session.add(
            Letter(
                request_id=request.id,
                kind="acknowledgement",
                language="de",
                fields={},
                pdf=letter_pdf,
                sha256=hashlib.sha256(letter_pdf).hexdigest(),
                sent_at=utcnow(),
                sent_by="system",
            )
        )
        session.add(
            OutgoingMail(
                request_id=request.id,
                to_address=request.email,
                subject=f"Ihre Anfrage {request.reference}",
                message=b"To: a@example.org\r\nSubject: x\r\n\r\nx\r\n",
                attempts=1,
                last_error="the SMTP server refused it",
            )
        )
        session.add(RequestNote(request_id=request.id, text="Called the requester back."))
        recipient_ack = secrets.token_urlsafe(32)
        session.add(
            RecipientNotification(
                request_id=request.id,
                recipient_key="partner",
                recipient_name="Partner Analytics",
                channel="email",
                right="rectification",
                categories=["identity"],
                state="failed",
                attempts=2,
                ack_token_hash=recipient_token_hash(recipient_ack),
            )
        )
        export = ready_copy(
            app.config, holder.id, b"PK\x03\x04 a copy of the holder's data", language="fr"
        )
        session.add(export)
        delivered = b"PK\x03\x04 data of a deceased"
        postmortem_link = secrets.token_urlsafe(32)
        session.add(
            mailed_delivery(
                app.config,
                confirmed_postmortem.request,
                holder.id,
                keys[:1],
                delivered,
                token_hash(postmortem_link),
                language="fr",
            )
        )
        session.flush()
        download_link = issue_token(
            session,
            purpose="download",
            email=holder.email,
            lifetime=timedelta(days=7),
            account_id=holder.id,
            export_id=export.id,
        )
        sign_in_link = issue_token(
            session,
            purpose="sign_in",
            email=holder.email,
            lifetime=timedelta(days=1),
            account_id=holder.id,
        )
        record_scan(session, _scan_report(app, content))
        session.commit()
        document_id = request.documents[0].id
        values = {
            "reference": request.reference,
            "status_token": confirmed.status_token,
            "document": str(document_id),
            "confirm_token": pending.confirmation_token or "",
            "postmortem_reference": confirmed_postmortem.request.reference,
            "export": str(export.id),
            "download_link": download_link,
            "sign_in_link": sign_in_link,
            "unsubscribe": unsubscribe_token(
                app.config["SECRET_KEY"], channel="email", topic=EVERY, account_id=holder.id
            ),
            "recipient_ack": recipient_ack,
            "postmortem_link": postmortem_link,
            "policy_version": str(content.current_version(today).number),
            "fingerprint": postmortem.group_fingerprint(directives.fingerprint),
        }
        ids = [request.id, pending.request.id, confirmed_postmortem.request.id]
        holder_email = holder.email
        db.session.remove()
    _post_receipt(app)
    return Examples(values, holder_email, HOLDER_PASSWORD, ids)


def _scan_report(app: Flask, content: Any) -> dict:
    """A finished scan of the operator's site that found nothing wrong."""
    from privacy_center.models.types import utcnow

    now = utcnow()
    site = content.operator.sites[0]
    return {
        "site": site.key,
        "urls": list(site.origins)[:1] or ["http://127.0.0.2/"],
        "passes": {},
        "errors": [],
        "findings": {"violations": [], "undeclared": [], "lifetimes": [], "never_seen": [],
                     "hosts": []},
        "started_at": (now - timedelta(minutes=5)).isoformat(),
        "finished_at": now.isoformat(),
        "exit_status": 0,
    }  # fmt: skip


def _post_receipt(app: Flask) -> None:
    """A consent receipt through the API, as the widget sends it (the consent records list it)."""
    from privacy_center.content import get_content

    with app.app_context():
        content = get_content()
        site = content.operator.sites[0]
        version = content.current_version(content.operator.today()).number
        origin = next(iter(site.origins))
    choices = {"functional": True, "analytics": False, "advertising": False,
               "personalization": False, "social": False}  # fmt: skip
    payload = {
        "receiptId": str(uuid.uuid4()),
        "visitorId": str(uuid.uuid4()),
        "site": site.key,
        "policyVersion": version,
        "build": "0123456789ab",
        "textsHash": "a" * 64,
        "language": "fr",
        "action": "save",
        "gpc": False,
        "choices": choices,
    }
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.88.{secrets.randbelow(250)}.7"
    answer = client.post(
        "/api/v1/consents",
        data=json.dumps(payload),
        content_type="application/json",
        headers={"Origin": origin},
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)


def close_examples(app: Flask, examples: Examples) -> None:
    """Withdraw the example requests still open (they stay, closed: deleting a request would
    rewrite its audit events and break the audit log's chain)."""
    from privacy_center.content import get_content
    from privacy_center.extensions import db
    from privacy_center.models import PrivacyRequest
    from privacy_center.rights.status import can_withdraw, withdraw

    with app.app_context():
        today = get_content().operator.today()
        for request_id in examples.request_ids:
            found = db.session.get(PrivacyRequest, request_id)
            if found is not None and can_withdraw(found):
                withdraw(db.session, found, today=today)
        db.session.commit()
        db.session.remove()


# --- in the browser -----------------------------------------------------------------------------


def iter_contexts() -> Iterator[tuple[str, str, int]]:
    for role in ROLES:
        for language in LANGUAGES:
            for width in WIDTHS:
                yield role, language, width


def new_context(browser: Any, width: int, **options: Any) -> Any:
    return browser.new_context(viewport={"width": width, "height": HEIGHTS[width]}, **options)


def _submit(tab: Any, field_id: str) -> None:
    tab.locator(f"form:has(#{field_id}) [type=submit]").first.click()


def sign_in_holder(tab: Any, base_url: str, examples: Examples, language: str) -> None:
    """Sign the example holder in through the sign-in page."""
    tab.goto(f"{base_url}/rights/sign-in?lang={language}")
    tab.fill("#email", examples.holder_email)
    tab.fill("#password", examples.holder_password)
    with tab.expect_navigation():
        _submit(tab, "password")
    path = urlsplit(tab.url).path
    assert path != "/rights/sign-in", f"the holder's sign-in failed ({tab.url})"


def password_step(tab: Any, base_url: str, member: Member, language: str) -> None:
    """The first step of the staff sign-in (email and password); ends on the next step."""
    tab.goto(f"{base_url}/staff/sign-in?lang={language}")
    tab.fill("#email", member.email)
    tab.fill("#password", member.password)
    with tab.expect_navigation():
        _submit(tab, "password")


def sign_in_staff(tab: Any, base_url: str, member: Member, language: str) -> None:
    """Sign ``member`` in through the pages: password, then a code of their authenticator."""
    import pyotp

    assert member.totp_key is not None
    password_step(tab, base_url, member, language)
    assert urlsplit(tab.url).path == "/staff/sign-in/code", tab.url
    tab.fill("#code", pyotp.TOTP(member.totp_key).now())
    with tab.expect_navigation():
        _submit(tab, "code")
    assert urlsplit(tab.url).path == "/staff/", f"the staff sign-in failed ({tab.url})"


def file_a_request(tab: Any, base_url: str, language: str) -> Any:
    """File an access request as a visitor (the form, then the "request sent" page)."""
    tab.goto(f"{base_url}/rights/requests/new/access?lang={language}")
    tab.fill("#name", "Camille Martin")
    tab.fill("#email", f"visitor-{secrets.token_hex(4)}@example.org")
    tab.set_input_files("#document", files=[
        {"name": "id.png", "mimeType": "image/png", "buffer": png_bytes()}
    ])  # fmt: skip
    with tab.expect_navigation() as navigation:
        _submit(tab, "name")
    return navigation.value


def reach(
    tab: Any,
    base_url: str,
    page: Page,
    examples: Examples,
    language: str,
    members: Mapping[str, Member],
    before_load: Callable[[], None] = lambda: None,
) -> Any:
    """Open ``page`` in ``tab`` (a context of the page's role, signed in when it must be),
    taking the steps that lead to it; ``before_load`` runs just before the page itself loads
    (after the steps). Returns the page's response."""
    if page.endpoint == "staff.code":
        password_step(tab, base_url, members["enrolled"], language)
    elif page.endpoint == "staff.enrol":
        password_step(tab, base_url, members["unenrolled"], language)
    elif page.endpoint == "rights.sent":
        file_a_request(tab, base_url, language)
    else:
        before_load()
        return tab.goto(base_url + page.address(examples.values, language))
    # The page the steps led to, loaded again (its own response, its own console).
    before_load()
    return tab.reload()
