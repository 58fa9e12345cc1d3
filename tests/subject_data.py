"""A person with data in every category of the demo operator's connectors (tests only)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from privacy_center.models import (
    Account,
    BrowsingEvent,
    CommunicationPreference,
    Complaint,
    ConsentLink,
    ConsentReceipt,
    DataExport,
    Interest,
    Invoice,
    PostmortemDelivery,
    PreferenceChange,
    Site,
    Subscription,
    SupportConversation,
)
from privacy_center.models.types import utcnow
from privacy_center.uploads.storage import store_document

START = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def ready_copy(
    config: Mapping[str, Any], account_id: int, content: bytes, *, language: str
) -> DataExport:
    """A copy of a holder's data ready to download for a week (not yet added to a session)."""
    return DataExport(
        account_id=account_id,
        copy_number=1,
        language=language,
        state="ready",
        rows_done=1,
        rows_total=1,
        stored_name=store_document(
            content, directory=Path(config["EXPORT_DIR"]), key=config["EXPORT_KEY"]
        ),
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        ready_at=utcnow(),
        expires_at=utcnow() + timedelta(days=7),
    )


def mailed_delivery(
    config: Mapping[str, Any],
    request: Any,
    account_id: int,
    categories: list[str],
    content: bytes,
    link_hash: str,
    *,
    language: str,
) -> PostmortemDelivery:
    """The data of a deceased holder delivered to an heir of ``request``, mailed with the link
    whose hash is ``link_hash`` and downloadable for a week (not yet added to a session)."""
    return PostmortemDelivery(
        request_id=request.id,
        account_id=account_id,
        categories=categories,
        email=request.email,
        language=language,
        stored_name=store_document(
            content, directory=Path(config["EXPORT_DIR"]), key=config["EXPORT_KEY"]
        ),
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        token_hash=link_hash,
        expires_at=utcnow() + timedelta(days=7),
        mailed_at=utcnow(),
    )


def site(session: Session) -> Site:
    found = session.scalar(select(Site).where(Site.key == "demo"))
    if found is None:
        found = Site(key="demo", name="Demo", origins=[])
        session.add(found)
        session.flush()
    return found


def fill_account(session: Session, account: Account, *, events: int = 12) -> None:
    """Rows in every category of content/connectors.yaml, with non-ASCII text, an empty value
    and a cell a spreadsheet would take for a formula."""
    account.civility = "Mme"
    account.date_of_birth = date(1988, 2, 29)
    account.phone = "+33 6 12 34 56 78"
    account.company = "Société Ørsted & Fils"
    account.billing_street = "12, rue de l’Église"
    account.billing_postal_code = "31000"
    account.billing_city = "Toulouse"
    account.billing_country = "FR"
    tag = secrets.token_hex(4)
    session.add_all(
        [
            Subscription(
                account_id=account.id, service="Allopass Pro", plan="Mensuel",
                started_on=date(2023, 1, 15), ended_on=None, price_cents=1999, currency="EUR",
            ),
            Invoice(
                account_id=account.id, number=f"F-{tag}-1", issued_on=date(2024, 1, 31),
                description="Abonnement janvier — Pro", amount_cents=1999, currency="EUR",
                payment_method="Carte bancaire (HIPAY)", paid_at=START,
            ),
            Interest(account_id=account.id, topic="Jeux vidéo", source="declared",
                     recorded_at=START),
            Interest(account_id=account.id, topic='=HYPERLINK("x")', source="inferred",
                     recorded_at=START),
            Complaint(
                account_id=account.id, opened_at=START, subject="Facture erronée",
                description="Montant différent de l’offre.", status="resolved",
                resolved_at=START + timedelta(days=3),
            ),
            SupportConversation(
                account_id=account.id, started_at=START, channel="phone",
                subject="Question sur l’abonnement", transcript="Bonjour, je voudrais…",
                call_recording_ref=f"rec-{tag}",
            ),
            CommunicationPreference(account_id=account.id, channel="email", topic="news",
                                    subscribed=False),
            PreferenceChange(
                account_id=account.id, email=account.email, channel="email", topic="news",
                subscribed=False, method="preferences", recorded_at=START,
            ),
            # Recorded by a one-click unsubscribe before the account was linked: found by email.
            PreferenceChange(
                account_id=None, email=account.email, channel="sms", topic="offers",
                subscribed=False, method="one-click", recorded_at=START,
            ),
        ]
    )  # fmt: skip
    for number in range(events):
        session.add(
            BrowsingEvent(
                account_id=account.id,
                occurred_at=START + timedelta(minutes=number),
                path=f"/services/{number}?q=café",
                referrer=None if number % 2 else "https://www.example.org/",
                device="mobile",
            )
        )
    visitor = str(uuid.uuid4())
    session.add(ConsentLink(account_id=account.id, visitor_id=visitor))
    session.add(
        ConsentReceipt(
            receipt_id=str(uuid.uuid4()), visitor_id=visitor, site_id=site(session).id,
            recorded_at=START, policy_version=1,  # the version in force on START
            widget_build="b1", texts_hash="0" * 64,
            language="fr", action="reject-all", method="click", gpc=False,
            choices={"functional": True, "analytics": False}, browser_family="firefox",
        )
    )  # fmt: skip
    session.flush()
