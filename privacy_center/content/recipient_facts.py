"""The policy's list of recipients, rendered from ``content/recipients.yaml``.

``{{ recipients }}`` in a policy text (on a line of its own) becomes a list: each recipient's
name, whether it is a processor or a recipient, what it does, where it is and, outside the
European Union, the safeguard of the transfer (policy_facts.py resolves the token when the
content is loaded). The words around the values are the policy's own, in each language.
"""

from __future__ import annotations

from .policy_facts import Fact, escape_markdown
from .recipients import Recipient, RecipientRegister

ROLE_WORDS = {
    "processor": {
        "en": "processor, acting on our behalf",
        "fr": "sous-traitant, agissant pour notre compte",
        "es": "encargado del tratamiento, que actúa por nuestra cuenta",
        "de": "Auftragsverarbeiter, in unserem Auftrag tätig",
    },
    "recipient": {
        "en": "recipient, for its own purposes",
        "fr": "destinataire, pour ses propres finalités",
        "es": "destinatario, para sus propios fines",
        "de": "Empfänger, für eigene Zwecke",
    },
}
WHERE = {"en": "Where: {}.", "fr": "Où : {}.", "es": "Dónde: {}.", "de": "Wo: {}."}
SAFEGUARD = {
    "en": "Safeguard: {}.",
    "fr": "Garantie : {}.",
    "es": "Garantía: {}.",
    "de": "Garantie: {}.",
}
# French puts a space before a colon.
COLON = {"en": ": ", "fr": " : ", "es": ": ", "de": ": "}
NONE = {
    "en": "No other organisation receives your data.",
    "fr": "Aucun autre organisme ne reçoit vos données.",
    "es": "Ninguna otra organización recibe sus datos.",
    "de": "Keine andere Stelle erhält Ihre Daten.",
}


def _line(recipient: Recipient, language: str, escape: bool) -> str:
    def value(text: str) -> str:
        return escape_markdown(text) if escape else text

    name = value(recipient.name(language))
    parts = [
        f"**{name}**" if escape else name,
        f" ({ROLE_WORDS[recipient.role][language]}){COLON[language]}",
        f"{value(recipient.does(language))}.",
        " " + WHERE[language].format(value(recipient.location(language))),
    ]
    if recipient.safeguard is not None:
        parts.append(" " + SAFEGUARD[language].format(value(recipient.safeguard(language))))
    return "".join(parts)


def recipient_facts(register: RecipientRegister, languages: tuple[str, ...]) -> dict[str, Fact]:
    """The ``recipients`` fact: the register as a Markdown list, and as plain text."""
    text: dict[str, str] = {}
    markdown: dict[str, str] = {}
    for language in languages:
        if not register.recipients:
            text[language] = markdown[language] = NONE[language]
            continue
        text[language] = " ".join(_line(item, language, False) for item in register.recipients)
        markdown[language] = "\n".join(
            f"- {_line(item, language, True)}" for item in register.recipients
        )
    return {"recipients": Fact(text=text, markdown=markdown)}
