"""Seeding the demo operator: its account holders (demo_holders.py), with data in every
category its policy lists, and the demo site's daily audience figures.

``flask demo seed`` calls :func:`seed_demo_accounts` and :func:`seed_audience_statistics`. An
account that exists already is left as it is, so running the seed twice changes nothing. The
data are made up but realistic, and dated relative to the day of the seed (browsing events stay
within their 13-month retention). Every demo account signs in with ``DEMO_PASSWORD``
(demo_holders.py; documented in README).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ..consent.widget import load_builds
from ..content import OperatorContent, get_content
from ..models import (
    Account,
    AudienceStatistic,
    BrowsingEvent,
    Complaint,
    ConsentLink,
    ConsentReceipt,
    Interest,
    Invoice,
    Site,
    Subscription,
    SupportConversation,
)
from .demo_holders import DEMO_PASSWORD, HOLDERS, DemoHolder
from .passwords import hash_password
from .preferences import set_preferences

BROWSING_EVENTS = 300
# Daily audience figures over the last 15 months: the 13-month rule has some to delete.
AUDIENCE_MONTHS = 15
AUDIENCE_PATHS = (
    "/",
    "/tarifs",
    "/services/paiement-sms",
    "/aide/faq",
    "/blog/micropaiement-et-rgpd",
)
AUDIENCE_DEVICES = ("desktop", "mobile", "tablet")

PATHS = (
    "/",
    "/tarifs",
    "/services/paiement-sms",
    "/services/paiement-carte",
    "/services/audiotel",
    "/compte",
    "/compte/factures",
    "/compte/abonnements",
    "/compte/statistiques",
    "/aide/faq",
    "/aide/contact",
    "/blog/monetiser-son-site-en-2025",
    "/blog/micropaiement-et-rgpd",
    "/documentation/api",
)
REFERRERS = (None, None, None, "https://www.google.fr/", "https://www.qwant.com/",
             "https://www.facebook.com/", "https://www.linkedin.com/")  # fmt: skip


def _moment(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def _uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _seed_holder(
    session: Session,
    holder: DemoHolder,
    today: date,
    content: OperatorContent,
    password_hash: str,
) -> Account:
    # Seeded by the address: the same account gets the same data on every machine.
    rng = random.Random(holder.email)  # noqa: S311 - made-up demo data, not a secret
    created = today - relativedelta(months=max(s.started_months_ago for s in holder.subscriptions))
    account = Account(
        email=holder.email,
        password_hash=password_hash,
        civility=holder.civility,
        first_name=holder.first_name,
        last_name=holder.last_name,
        date_of_birth=holder.date_of_birth,
        phone=holder.phone,
        company=holder.company,
        billing_street=holder.street,
        billing_postal_code=holder.postal_code,
        billing_city=holder.city,
        billing_country="FR",
        language=holder.language,
        created_at=_moment(created - timedelta(days=3), 9, 30),
        last_active_at=_moment(today - timedelta(days=2), 18, 5),
    )
    session.add(account)
    session.flush()

    invoice_number = 0
    for subscription in holder.subscriptions:
        started = today - relativedelta(months=subscription.started_months_ago)
        ended = (
            today - relativedelta(months=subscription.ended_months_ago)
            if subscription.ended_months_ago is not None
            else None
        )
        session.add(
            Subscription(
                account_id=account.id,
                service=subscription.service,
                plan=subscription.plan,
                started_on=started,
                ended_on=ended,
                price_cents=subscription.price_cents,
            )
        )
        # Monthly invoices (annual plans: yearly), the last 18 months at most.
        step = 12 if "annuel" in subscription.plan else 1
        months = range(0, subscription.started_months_ago + 1, step)
        for offset in months:
            issued = started + relativedelta(months=offset)
            if (
                issued > today
                or (ended and issued >= ended)
                or issued < today - relativedelta(months=18)
            ):
                continue
            invoice_number += 1
            session.add(
                Invoice(
                    account_id=account.id,
                    number=f"ALP-{issued:%Y%m}-{holder.number:02d}{invoice_number:03d}",
                    issued_on=issued,
                    description=f"{subscription.service} – {subscription.plan} ({issued:%m/%Y})",
                    amount_cents=subscription.price_cents,
                    payment_method=holder.payment_method,
                    paid_at=_moment(issued + timedelta(days=2), 10),
                )
            )

    # Raw visit data: kept at most 13 months, so spread over the last 300 days.
    events = []
    for _ in range(BROWSING_EVENTS):
        moment = _moment(today, 0) - timedelta(minutes=rng.randrange(1, 300 * 24 * 60))
        events.append(
            BrowsingEvent(
                account_id=account.id,
                occurred_at=moment,
                path=rng.choice(PATHS),
                referrer=rng.choice(REFERRERS),
                device=holder.device,
            )
        )
    session.add_all(sorted(events, key=lambda event: event.occurred_at))

    for index, (topic, source) in enumerate(holder.interests):
        session.add(
            Interest(
                account_id=account.id,
                topic=topic,
                source=source,
                recorded_at=_moment(today - timedelta(days=40 * (index + 1)), 12),
            )
        )
    for index, (subject, description, status) in enumerate(holder.complaints):
        opened = _moment(today - timedelta(days=120 - 60 * index), 14, 20)
        session.add(
            Complaint(
                account_id=account.id,
                opened_at=opened,
                subject=subject,
                description=description,
                status=status,
                resolved_at=opened + timedelta(days=6) if status != "open" else None,
            )
        )
    for index, (channel, subject, transcript) in enumerate(holder.conversations):
        started = _moment(today - timedelta(days=118 - 45 * index), 9, 32)
        session.add(
            SupportConversation(
                account_id=account.id,
                started_at=started,
                channel=channel,
                subject=subject,
                transcript=transcript,
                call_recording_ref=(
                    f"REC-{started:%Y%m%d-%H%M%S}-{holder.number:04d}"
                    if channel == "phone"
                    else None
                ),
            )
        )

    _seed_consent(session, account, holder, today, content, rng)
    set_preferences(
        session,
        account,
        holder.preferences,
        method="preferences",
        communication=content.operator.communication,
        now=_moment(today - timedelta(days=30), 20, 15),
    )
    return account


def _seed_consent(
    session: Session,
    account: Account,
    holder: DemoHolder,
    today: date,
    content: OperatorContent,
    rng: random.Random,
) -> None:
    """Two choices made in the holder's browser (a refusal, then a choice category by category),
    and the link between that browser's visitor id and the account."""
    site = session.scalar(select(Site).where(Site.key == content.operator.consent_site))
    if site is None:
        return
    builds = load_builds()
    build = builds.current.build if builds.current else "unbuilt"
    version = content.current_version(today).number
    visitor = _uuid4(rng)
    choices = (
        ("reject-all", {"analytics": False, "advertising": False, "personalization": False,
                        "social": False}, 75),
        ("save", {"analytics": True, "advertising": False, "personalization": True,
                  "social": False}, 20),
    )  # fmt: skip
    for action, chosen, days_ago in choices:
        session.add(
            ConsentReceipt(
                receipt_id=_uuid4(rng),
                visitor_id=visitor,
                site_id=site.id,
                recorded_at=_moment(today - timedelta(days=days_ago), 19, 42),
                policy_version=version,
                widget_build=build,
                texts_hash=hashlib.sha256(
                    f"demo texts {version} {holder.language}".encode()
                ).hexdigest(),
                language=holder.language,
                action=action,
                method="click",
                gpc=False,
                choices={"functional": True, **chosen},
                browser_family=holder.device.split()[0],
            )
        )
    session.add(
        ConsentLink(
            account_id=account.id,
            visitor_id=visitor,
            linked_at=_moment(today - timedelta(days=20), 19, 45),
        )
    )


def seed_demo_accounts(
    session: Session, today: date, *, content: OperatorContent | None = None
) -> int:
    """Create the demo account holders that do not exist yet; returns how many were created.

    Call after the operator's sites exist (the consent receipts belong to its consent site).
    Flushes; the caller commits.
    """
    content = content or get_content()
    missing = [
        holder
        for holder in HOLDERS
        if session.scalar(select(Account.id).where(Account.email == holder.email)) is None
    ]
    if not missing:
        return 0
    password_hash = hash_password(DEMO_PASSWORD)
    for holder in missing:
        _seed_holder(session, holder, today, content, password_hash)
    session.flush()
    return len(missing)


def seed_audience_statistics(session: Session, today: date) -> int:
    """Add the demo site's daily audience figures (visits and page views per page and device,
    no identifier) for the days after the last one recorded, over the last
    :data:`AUDIENCE_MONTHS` months at most; returns the number of rows added. Days the
    retention run deleted are not added again. Flushes; the caller commits."""
    last = session.scalar(select(func.max(AudienceStatistic.day)))
    first = today - relativedelta(months=AUDIENCE_MONTHS)
    day = max(first, last + timedelta(days=1)) if last else first
    rows = []
    while day <= today:
        # Seeded by the day: the same figures on every machine.
        rng = random.Random(day.toordinal())  # noqa: S311 - made-up demo figures
        for path in AUDIENCE_PATHS:
            for device in AUDIENCE_DEVICES:
                visits = rng.randrange(5, 400)
                rows.append(
                    {
                        "day": day,
                        "path": path,
                        "device": device,
                        "visits": visits,
                        "page_views": visits + rng.randrange(0, 2 * visits),
                    }
                )
        day += timedelta(days=1)
    if rows:
        session.execute(insert(AudienceStatistic), rows)
        session.flush()
    return len(rows)
