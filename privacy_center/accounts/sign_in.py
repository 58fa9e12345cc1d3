"""Account holders signing in: with their password, or with a single-use link mailed to them.

A wrong password, an unknown address and a deactivated account give the same answer after the
same work; a sign-in link is asked for with one write whatever the address (mail_intents.py)
and mailed once the answer has been sent. Signing in notes the holder's activity (the
inactivity rule) and links the browser's consent identifier to the account, so that the
holder's consent receipts can be found for an export. Plain functions with explicit
arguments; the views hold the request and the session.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import url_for
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..mail import send_mail
from ..mail_intents import SIGN_IN_LINK, record_intent
from ..models import Account, ConsentLink, MailIntent
from ..models.types import utcnow
from ..tokens import find_token, issue_token, redeem_token
from .lookup import find_account, normalise_email
from .passwords import hash_password, needs_rehash, verify_password

SIGN_IN_LINK_LIFETIME = timedelta(minutes=15)
SIGN_IN_PURPOSE = "sign_in"
# The consent widget's cookie; its visitor id links a browser's consent receipts to the holder.
CONSENT_COOKIE = "pc_consent"
# The widget's visitor id (widget/src/store.js): a random UUID v4.
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def authenticate(session: Session, *, email: str, password: str) -> Account | None:
    """The active account with this email and password, or None (whatever went wrong).

    An unknown email, a wrong password and a deactivated account cost the same argon2 work and
    give the same None, so that neither the answer nor its timing tells whether an account
    exists. A hash made with older parameters is replaced on success.
    """
    account = find_account(session, email)
    password_hash = account.password_hash if account is not None else None
    if not verify_password(password_hash, password) or account is None or not account.is_active:
        return None
    if password_hash is not None and needs_rehash(password_hash):
        account.password_hash = hash_password(password)
    return account


def visitor_id_from_cookie(value: str | None) -> str | None:
    """The visitor id of the widget's ``pc_consent`` cookie, or None when absent or damaged.

    The widget writes ``encodeURIComponent(JSON.stringify({v, id, r, t, c}))`` (widget/README.md).
    """
    if not value or len(value) > 4096:
        return None
    try:
        stored = json.loads(unquote(value))
    except ValueError:
        return None
    visitor = stored.get("id") if isinstance(stored, dict) else None
    return visitor if isinstance(visitor, str) and UUID4.match(visitor) else None


def record_sign_in(
    session: Session, account: Account, *, visitor_id: str | None, now: datetime | None = None
) -> None:
    """Note the account's activity (the 5-year inactivity rule) and link the browser's consent
    identifier to it, so that the holder's consent receipts can be found for an export."""
    account.last_active_at = now or utcnow()
    if visitor_id is None or not UUID4.match(visitor_id):
        return
    known = exists().where(
        ConsentLink.account_id == account.id, ConsentLink.visitor_id == visitor_id
    )
    linked = session.scalar(select(known))
    if linked:
        return
    try:
        # A savepoint: a concurrent sign-in from the same browser may insert the same link.
        with session.begin_nested():
            session.add(ConsentLink(account_id=account.id, visitor_id=visitor_id))
    except IntegrityError:
        pass


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (no open redirect).

    Refused: absolute and scheme-relative URLs (``//host``), backslashes (browsers read
    ``/\\host`` as ``//host``), control characters and anything that is not a path.
    """
    if not target or len(target) > 2000 or not target.startswith("/"):
        return None
    if target.startswith("//") or "\\" in target or any(ord(char) < 32 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def ask_sign_in_link(session: Session, *, email: str, next_path: str | None, base_url: str) -> int:
    """Record that a sign-in link was asked for ``email`` (mail_intents.py) and commit: the same
    single write whatever the address, nothing looked up. Returns the intent's id, to work out
    once the answer has been sent."""
    return record_intent(
        session,
        kind=SIGN_IN_LINK,
        email=normalise_email(email),
        next_path=next_path,
        base_url=base_url,
    )


def mail_sign_in_link(session: Session, intent: MailIntent, settings: Mapping[str, Any]) -> bool:
    """Work out a sign-in link asked for (outside the request, mail_intents.py): mail a
    single-use link (15 minutes) to the active account with the address typed; False, sending
    nothing, when there is none. The token is committed before the mail leaves, so that the link
    works as soon as it arrives; only its hash is stored. Raises
    :class:`privacy_center.mail.MailNotSent` when the mail could not be handed over."""
    account = find_account(session, intent.email)
    if account is None or not account.is_active:
        return False
    secret = issue_token(
        session,
        purpose=SIGN_IN_PURPOSE,
        email=account.email,
        lifetime=SIGN_IN_LINK_LIFETIME,
        account_id=account.id,
    )
    session.commit()
    send_mail(
        settings,
        to=account.email,
        template="sign_in_link",
        language=account.language,
        context={
            "account": account,
            "link": url_for(
                "accounts.sign_in_with_link",
                token=secret,
                next=safe_next(intent.next_path),
                _external=True,
            ),
            "minutes": int(SIGN_IN_LINK_LIFETIME.total_seconds() // 60),
        },
    )
    return True


def _link_account(session: Session, found: Any) -> Account | None:
    account = session.get(Account, found.account_id) if found.account_id else None
    # The address the link was sent to must still be the account's.
    if account is None or not account.is_active or account.email != found.email:
        return None
    return account


def sign_in_link_account(
    session: Session, *, token: str, now: datetime | None = None
) -> Account | None:
    """The account a sign-in link opens, without using the link (the page before the button)."""
    found = find_token(session, purpose=SIGN_IN_PURPOSE, token=token, now=now)
    return _link_account(session, found) if found is not None else None


def redeem_sign_in_link(
    session: Session, *, token: str, now: datetime | None = None
) -> Account | None:
    """Use a sign-in link once: its active account, or None (unknown, used, expired)."""
    found = redeem_token(session, purpose=SIGN_IN_PURPOSE, token=token, now=now)
    return _link_account(session, found) if found is not None else None
