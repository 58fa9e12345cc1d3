"""All of the operator's content, loaded together and checked once by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from flask import current_app

from .operator import (
    Authority,
    ContentError,
    Operator,
    RetentionRule,
    load_authorities,
    load_operator,
    load_retention,
)
from .policy.facts import policy_choices, policy_facts
from .policy.registry import Registry, load_registry
from .policy.versions import PolicyVersion, load_versions
from .recipients.facts import recipient_facts
from .recipients.register import RecipientRegister, load_recipients

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
        # The policy's facts come from the configuration loaded above (policy/facts.py).
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
