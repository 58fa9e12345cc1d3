"""The services of a receipt: one switch per service of the registry, inside its category.

Rule (README, "Choices per service"): a category counts as granted when any of its services is;
a receipt whose ``choices`` disagree with its ``services`` is refused. A receipt without
``services`` (a widget build cached before services existed) grants or refuses each service
with its category, so every stored receipt says what it decided for every service.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..content.cookies import Registry

# A receipt posted without "services" (null is a wrong value, not an absence).
ABSENT = object()


def optional_services(registry: Registry) -> dict[str, str]:
    """Each service a visitor can switch (its category is not required): key -> category."""
    required = {category.key for category in registry.categories if category.required}
    return {s.key: s.category for s in registry.services if s.category not in required}


def validate_services(
    posted: object, choices: Mapping[str, bool], registry: Registry
) -> dict[str, bool]:
    """The services' choices of a receipt (every switchable service), or ValueError."""
    switchable = optional_services(registry)
    if posted is ABSENT:
        return {key: choices[category] for key, category in switchable.items()}
    if not isinstance(posted, dict):
        raise ValueError("services must be an object of service: true|false")
    if set(posted) != set(switchable):
        unknown = sorted(set(posted) - set(switchable))
        problem = f"unknown service {unknown[0]!r}" if unknown else "a service is missing"
        raise ValueError(f"services: {problem}; expected {', '.join(switchable)}")
    if not all(type(value) is bool for value in posted.values()):
        raise ValueError("services: every value must be true or false")
    for category in set(switchable.values()):
        granted = any(posted[key] for key, where in switchable.items() if where == category)
        if choices[category] is not granted:
            raise ValueError(f"choices: {category} is granted exactly when one of its services is")
    return {key: posted[key] for key in switchable}


def service_entries(
    registry: Registry, category_key: str, details: bool = True
) -> list[dict[str, object]]:
    """The switchable services of a category, as the widget lists them (and which Consent Mode
    signals each drives). With ``details`` (the configuration), each service's name for the
    dialog, and its cookies (name pattern and domain) and storage keys, which the widget deletes
    when the service is refused; without, for the script itself."""
    switchable = optional_services(registry)
    return [
        {"key": service.key}
        | (
            {
                "name": service.name,
                "cookies": [{"name": c.name, "domain": c.domain} for c in service.cookies],
                "storage": list(service.storage),
            }
            if details
            else {}
        )
        | ({"gcm": list(service.consent_mode)} if service.consent_mode else {})
        for service in registry.services_in(category_key)
        if service.key in switchable
    ]


def receipt_services_schema(switchable: Mapping[str, str]) -> tuple[dict, list[dict]]:
    """The JSON Schema of a posted receipt's ``services`` for a registry (``key -> category``),
    and the rules tying them to ``choices``: what :func:`validate_services` accepts, exactly."""
    schema = {
        "type": "object",
        "description": "Every switchable service of the operator's registry, true when accepted.",
        "required": list(switchable),
        "additionalProperties": False,
        "properties": {key: {"type": "boolean"} for key in switchable},
    }

    def service_is(key: str, value: bool) -> dict:
        return {"properties": {"services": {"properties": {key: {"const": value}}}}}

    rules = []
    for category in dict.fromkeys(switchable.values()):
        keys = [key for key, where in switchable.items() if where == category]
        granted = {"properties": {"choices": {"properties": {category: {"const": True}}}}}
        rules.append({
            "if": granted,
            "then": {"anyOf": [service_is(key, True) for key in keys]},
            "else": {"allOf": [service_is(key, False) for key in keys]},
        })  # fmt: skip
    return schema, rules
