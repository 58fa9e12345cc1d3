"""The operator's content (the ``content/`` folder), loaded together and checked once by
``create_app``: this module loads it and gives the running application's copy (``get_content``).

The content model lives here with its loader, so that every layer may read it and none needs a
feature package to do so:

- ``cookies.py``: the cookie and service registry (``cookies.yaml``);
- ``policy_versions.py``: the policy's versions, Markdown per version and language;
- ``policy_facts.py``: the facts a policy text names by a token, rendered from the configuration;
- ``recipients.py``: the register of recipients and processors (``recipients.yaml``);
- ``recipient_facts.py``: the policy's list of recipients, rendered from that register.

The operator's settings, authorities and retention rules are ``privacy_center/operator.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from flask import current_app

from ..operator import (
    Authority,
    ContentError,
    Operator,
    RetentionRule,
    load_authorities,
    load_operator,
    load_retention,
)
from .cookies import Registry, load_registry
from .policy_facts import policy_choices, policy_facts
from .policy_versions import PolicyVersion, load_versions
from .recipient_facts import recipient_facts
from .recipients import RecipientRegister, load_recipients

EXTENSION_KEY = "privacy_center.content"


@dataclass(frozen=True)
class OperatorContent:
    operator: Operator
    registry: Registry
    versions: tuple[PolicyVersion, ...]
    retention: tuple[RetentionRule, ...]
    authorities: tuple[Authority, ...]
    edpb_members_url: str
    loaded_at: datetime
    # content/recipients.yaml; its categories are checked against connectors.yaml once those
    # are loaded (recipients/setup.py).
    recipients: RecipientRegister

    def current_version(self, today: date) -> PolicyVersion:
        """The newest version in force on ``today``."""
        in_force = [version for version in self.versions if version.effective <= today]
        if not in_force:
            raise ContentError("no policy version is in force yet: check the effective dates")
        return in_force[-1]

    def version(self, number: int) -> PolicyVersion | None:
        return self.versions[number - 1] if 1 <= number <= len(self.versions) else None


def load_content(content_dir: str | Path) -> OperatorContent:
    root = Path(content_dir)
    if not root.is_dir():
        raise ContentError(f"{root}: the content folder does not exist (setting CONTENT_DIR)")
    operator = load_operator(root / "operator.yaml")
    authorities, edpb_members_url = load_authorities(root / "authorities.yaml")
    lifetime = operator.consent_lifetime_months
    retention = load_retention(
        root / "retention.yaml", operator.languages, consent_lifetime_months=lifetime
    )
    recipients = load_recipients(root / "recipients.yaml", operator.languages)
    return OperatorContent(
        operator=operator,
        registry=load_registry(
            root / "cookies.yaml", operator.languages, consent_lifetime_months=lifetime
        ),
        # The policy's facts come from the configuration loaded above (policy_facts.py).
        versions=load_versions(
            root / "policy",
            operator.languages,
            facts={
                **policy_facts(operator, retention),
                **recipient_facts(recipients, operator.languages),
            },
            choices=policy_choices(operator),
        ),
        retention=retention,
        authorities=authorities,
        edpb_members_url=edpb_members_url,
        loaded_at=datetime.now(UTC).replace(microsecond=0),
        recipients=recipients,
    )


def get_content() -> OperatorContent:
    return current_app.extensions[EXTENSION_KEY]
