"""The widget's configuration: what the banner needs built into the script (``widget_boot``),
the full configuration the dialog fetches (``site_config``), and how long a choice lasts."""

from __future__ import annotations

import hashlib
import json
from datetime import date

from dateutil.relativedelta import relativedelta

from ..content import OperatorContent
from ..content.cookies import Registry
from ..operator import Site
from .choices import service_entries


def max_age_seconds(months: int, today: date) -> int:
    """Seconds from ``today`` to the same date ``months`` later (calendar months)."""
    return ((today + relativedelta(months=months)) - today).days * 86400


def site_config(
    content: OperatorContent,
    site: Site,
    language: str,
    texts: dict[str, str],
    lifetimes: dict[str, str],
    today: date,
) -> dict[str, object]:
    """The part of the widget configuration that depends on the site and the language.

    ``texts`` are the widget's words in ``language``; ``lifetimes`` the cookie lifetimes as
    the registry's page shows them. The texts hash covers everything the visitor is shown.
    """
    categories = _categories(content.registry, language, lifetimes)
    shown = json.dumps(
        {"texts": texts, "categories": categories}, sort_keys=True, ensure_ascii=False
    )
    return {
        "site": site.key,
        "language": language,
        "policyVersion": content.current_version(today).number,
        "maxAgeSeconds": max_age_seconds(site.consent_lifetime_months, today),
        "cookieDomain": site.cookie_domain,
        "textsHash": hashlib.sha256(shown.encode()).hexdigest(),
        "categories": categories,
        "texts": texts,
    }


# The texts the widget needs before a visitor opens the preferences dialog.
DIALOG_TEXTS = ("dialogTitle", "dialogText", "save", "alwaysOn", "cookiesUsed", "closeDialog")


def widget_boot(
    content: OperatorContent,
    language: str,
    texts: dict[str, str],
    policy_url: str,
    api_url: str,
    gpc: bool,
    today: date,
) -> dict[str, object]:
    """What the widget script carries in itself for one language, so that its banner needs no
    other request and shows even when the API cannot be reached: the policy version, each
    site's cookie settings, the banner's, placeholders' and receipt panels' texts and the
    category names.

    ``texts`` are the widget's words in ``language``. The dialog's texts and the cookie details
    stay in the configuration, fetched when they are needed.
    """
    return {
        "v": content.current_version(today).number,
        "g": gpc,
        "s": {
            site.key: [max_age_seconds(site.consent_lifetime_months, today), site.cookie_domain]
            for site in content.operator.sites
        },
        "c": {
            "language": language,
            "apiUrl": api_url,
            "policyUrl": policy_url,
            "texts": {key: text for key, text in texts.items() if key not in DIALOG_TEXTS},
            "categories": [
                {
                    "key": category.key,
                    "required": category.required,
                    "name": category.name(language),
                    "services": service_entries(content.registry, category.key, details=False),
                }
                for category in content.registry.categories
            ],
        },
    }


def _categories(
    registry: Registry, language: str, lifetimes: dict[str, str]
) -> list[dict[str, object]]:
    return [
        {
            "key": category.key,
            "required": category.required,
            "name": category.name(language),
            "description": category.description(language),
            "services": service_entries(registry, category.key),
            "cookies": [
                {
                    "name": cookie.name,
                    "provider": service.provider,
                    "purpose": cookie.purpose(language),
                    "lifetime": lifetimes[f"{service.key}/{cookie.name}"],
                    "domain": cookie.domain,
                }
                for service in registry.services_in(category.key)
                for cookie in service.cookies
            ],
            "storage": sorted(
                {
                    pattern
                    for service in registry.services_in(category.key)
                    for pattern in service.storage
                }
            ),
        }
        for category in registry.categories
    ]
