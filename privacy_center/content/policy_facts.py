"""The policy's facts, rendered from the configuration the code enforces.

A policy text never types a fact that lives in configuration: it names it with a token,
``{{ consent_lifetime }}``, which the loader replaces in each language with the value the code
uses (``six (6) months``, ``six (6) mois``, ``seis (6) meses``, ``sechs (6) Monate``). So the
policy and the code cannot disagree: change ``consent_lifetime_months`` and the policy says the new
lifetime. Tokens are resolved once, when the content is loaded (every page, PDF and diff of a
version shows the same words); an unknown token stops start-up with an error naming the file.

Facts (``policy_facts``):

- ``consent_lifetime``: how long a cookie choice lasts (the sites' ``consent_lifetime_months``);
- ``cookie_max_lifetime``: the longest lifetime the cookie registry accepts;
- ``reply_time`` and ``reply_extension``: the time limits of ``privacy_center.deadlines``;
- ``retention.<key>``: the period of each rule of ``content/retention.yaml``;
- ``privacy_email`` (a mailto link) and ``postal_address``: the channels of ``operator.yaml``.

A *choice* is a passage whose wording depends on a setting, like ``identity_document``: the
document's front matter gives one text per possible value of the setting, and the token
``{{ identity_document }}`` is replaced by the text of the value in force (each text may use
facts). Every value must have its text, so no setting is left unexplained.

Periods are written as the policy writes them: the number in words, then in figures, then the
unit. German periods are in the accusative ("einen (1) Monat", "fünf (5) Jahre"), the case of a
duration: write the sentence around them so (``spätestens einen (1) Monat nach``, ``fünf (5)
Jahre lang``). French and Spanish texts avoid an elided "d’" or "de" right before a period.

From the version named by ``facts_from`` in ``versions.yaml`` on, a period typed in the text
(``six (6) months``, ``13 months``) or a channel typed instead of its token is refused at load.

More facts (for instance the recipients of ``content/recipients.yaml``) are entries added to the
mapping ``policy_facts`` returns; ``list_fact`` joins names the way each language does.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from babel.lists import format_list

from .. import deadlines
from ..operator import IDENTITY_DOCUMENT_POLICIES, ContentError, Operator, Period, RetentionRule
from .cookies import MAX_LIFETIME_MONTHS

# {{ name }}: what is between the braces is checked by name, so a misspelt token is an error
# rather than text left on the page.
TOKEN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


@dataclass(frozen=True)
class Fact:
    """A value stated by the policy, in every language."""

    text: Mapping[str, str]  # plain text, per language (summaries, plain-text diffs)
    # Markdown per language when the body shows it otherwise (a link); None: the text, escaped.
    markdown: Mapping[str, str] | None = None
    # Why the fact cannot be stated; using it is then an error with this message.
    error: str | None = None

    def markdown_in(self, language: str) -> str:
        if self.markdown is not None:
            return self.markdown[language]
        return escape_markdown(self.text[language])


@dataclass(frozen=True)
class Choice:
    """A setting whose value decides a passage's wording."""

    value: str
    values: tuple[str, ...]
    setting: str  # where the setting lives, for error messages


def escape_markdown(text: str) -> str:
    """``text`` as Markdown that renders to exactly ``text``."""
    return re.sub(r"([\\`*_\[\]{}])", r"\\\1", html.escape(text, quote=False))


# --- Numbers and periods, as the policy writes them ---------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_EN = _words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_EN_TENS = _words("_ _ twenty thirty forty fifty sixty seventy eighty ninety")
_FR = _words(
    "zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize"
)
_FR_TENS = _words("_ _ vingt trente quarante cinquante soixante")
_ES = _words(
    "cero un dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
    "dieciséis diecisiete dieciocho diecinueve veinte veintiún veintidós veintitrés veinticuatro "
    "veinticinco veintiséis veintisiete veintiocho veintinueve"
)
_ES_TENS = _words("_ _ _ treinta cuarenta cincuenta sesenta setenta ochenta noventa")
_DE = _words(
    "null ein zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn "
    "fünfzehn sechzehn siebzehn achtzehn neunzehn"
)
_DE_TENS = _words("_ _ zwanzig dreißig vierzig fünfzig sechzig siebzig achtzig neunzig")


def _english(number: int) -> str:
    if number < 20:
        return _EN[number]
    tens, unit = divmod(number, 10)
    return _EN_TENS[tens] + (f"-{_EN[unit]}" if unit else "")


def _french(number: int) -> str:
    if number < 17:
        return _FR[number]
    if number < 20:
        return f"dix-{_FR[number - 10]}"
    tens, unit = divmod(number, 10)
    if tens == 7:
        return "soixante et onze" if unit == 1 else f"soixante-{_french(10 + unit)}"
    if tens == 8:
        return f"quatre-vingt-{_FR[unit]}" if unit else "quatre-vingts"
    if tens == 9:
        return f"quatre-vingt-{_french(10 + unit)}"
    if unit == 0:
        return _FR_TENS[tens]
    return f"{_FR_TENS[tens]} et un" if unit == 1 else f"{_FR_TENS[tens]}-{_FR[unit]}"


def _spanish(number: int) -> str:
    # Before a masculine noun (año, mes, día): "un", "veintiún", "treinta y un".
    if number < 30:
        return _ES[number]
    tens, unit = divmod(number, 10)
    return _ES_TENS[tens] + (f" y {_ES[unit]}" if unit else "")


def _german(number: int) -> str:
    if number < 20:
        return _DE[number]
    tens, unit = divmod(number, 10)
    return (f"{_DE[unit]}und" if unit else "") + _DE_TENS[tens]


_NUMBERS = {"en": _english, "fr": _french, "es": _spanish, "de": _german}
# unit: (singular, plural) per language.
_UNITS = {
    "en": {"years": ("year", "years"), "months": ("month", "months"), "days": ("day", "days")},
    "fr": {"years": ("an", "ans"), "months": ("mois", "mois"), "days": ("jour", "jours")},
    "es": {"years": ("año", "años"), "months": ("mes", "meses"), "days": ("día", "días")},
    "de": {"years": ("Jahr", "Jahre"), "months": ("Monat", "Monate"), "days": ("Tag", "Tage")},
}
# German "one" in the accusative: ein Jahr (neuter), einen Monat, einen Tag (masculine).
_GERMAN_ONE = {"years": "ein", "months": "einen", "days": "einen"}
_AND = {"en": "and", "fr": "et", "es": "y", "de": "und"}


def spell_amount(amount: int, unit: str, language: str) -> str:
    """``amount`` of ``unit`` (years, months or days): "six (6) months", "einen (1) Monat"."""
    if not 1 <= amount <= 99:
        raise ContentError(f"a period of {amount} {unit} cannot be written: use a larger unit")
    singular, plural = _UNITS[language][unit]
    words = _NUMBERS[language](amount)
    if language == "de" and amount == 1:
        words = _GERMAN_ONE[unit]
    return f"{words} ({amount}) {singular if amount == 1 else plural}"


def spell_period(period: Period, language: str) -> str:
    """A period as the policy writes it: "one (1) year and six (6) months"."""
    parts = [
        spell_amount(amount, unit, language)
        for unit, amount in zip(
            ("years", "months", "days"), (period.years, period.months, period.days), strict=True
        )
        if amount
    ]
    if len(parts) == 1:
        return parts[0]
    return f"{', '.join(parts[:-1])} {_AND[language]} {parts[-1]}"


def period_fact(period: Period, languages: Sequence[str]) -> Fact:
    return Fact(text={language: spell_period(period, language) for language in languages})


def list_fact(names: Sequence[Mapping[str, str] | str], languages: Sequence[str]) -> Fact:
    """Names joined as each language joins a list ("A, B and C", "A, B et C")."""
    return Fact(
        text={
            language: format_list(
                [name if isinstance(name, str) else name[language] for name in names],
                locale=language,
            )
            for language in languages
        }
    )


# Every unit word a typed period may end with, in the four languages (German in every case).
_UNIT_WORDS = (
    "years?|months?|days?|ans?|mois|jours?|años?|mes|meses|días?|"
    "Jahre?[ns]?|Monate?[ns]?|Tage?[ns]?"
)
# Every word of a number written out ("vingt", "et", "un"), and the forms of "one".
_NUMBER_WORDS = frozenset(
    {
        word.casefold()
        for spell in _NUMBERS.values()
        for number in range(1, 100)
        for word in spell(number).split()
    }
    | {"a", "an", "une", "uno", "una", "eine", "einem", "einer", "eines", "einen"}
)
_BEFORE_UNIT = re.compile(rf"(\S+)\s+(?:{_UNIT_WORDS})\b")
_IN_FIGURES = re.compile(r"\(?\d+\)?")


def typed_period(text: str) -> str | None:
    """A period typed rather than named ("six (6) months", "13 months", "eines Monats"), or None."""
    for match in _BEFORE_UNIT.finditer(text):
        word = re.split(r"[’']", match.group(1))[-1]  # "d’un" is "un"
        if _IN_FIGURES.fullmatch(word) or word.casefold() in _NUMBER_WORDS:
            before = text[: match.start()].split()
            return (
                " ".join([*before[-1:], match.group(0)]) if word.startswith("(") else match.group(0)
            )
    return None


# --- The facts and choices of an operator -------------------------------------------------------


def policy_facts(operator: Operator, retention: Sequence[RetentionRule]) -> dict[str, Fact]:
    """Every fact a policy text may name, from the configuration the code reads."""
    languages = operator.languages
    facts: dict[str, Fact] = {
        # The limits deadlines.reply_due computes with (read when the content is loaded).
        "reply_time": period_fact(Period(months=deadlines.REPLY_MONTHS), languages),
        "reply_extension": period_fact(
            Period(months=deadlines.EXTENDED_REPLY_MONTHS - deadlines.REPLY_MONTHS), languages
        ),
        "cookie_max_lifetime": period_fact(Period(months=MAX_LIFETIME_MONTHS), languages),
        "privacy_email": Fact(
            text=dict.fromkeys(languages, operator.privacy_email),
            markdown=dict.fromkeys(
                languages,
                f"[{escape_markdown(operator.privacy_email)}](mailto:{operator.privacy_email})",
            ),
        ),
        "postal_address": Fact(text=dict.fromkeys(languages, operator.postal_contact)),
    }
    lifetime = operator.consent_lifetime_months
    if lifetime is None:
        lifetimes = ", ".join(
            f"{site.key}: {site.consent_lifetime_months}" for site in operator.sites
        )
        facts["consent_lifetime"] = Fact(
            text={},
            error=(
                "the policy states one consent lifetime, but the sites' consent_lifetime_months "
                f"differ ({lifetimes}) in operator.yaml"
            ),
        )
    else:
        facts["consent_lifetime"] = period_fact(Period(months=lifetime), languages)
    for rule in retention:
        facts[f"retention.{rule.key}"] = period_fact(rule.period, languages)
    return facts


def policy_choices(operator: Operator) -> dict[str, Choice]:
    """Every setting whose value decides a passage of the policy."""
    return {
        "identity_document": Choice(
            value=operator.identity_document,
            values=IDENTITY_DOCUMENT_POLICIES,
            setting="operator.yaml: identity_document",
        ),
    }


@dataclass(frozen=True)
class FactResolver:
    """Replaces the tokens of one policy document in one language."""

    facts: Mapping[str, Fact]
    choices: Mapping[str, Choice]
    language: str
    where: str  # the document's file, for error messages
    # The document's texts for each choice: {choice: {value: markdown}}.
    choice_texts: Mapping[str, Mapping[str, str]]
    check_typed: bool

    @classmethod
    def for_document(
        cls,
        front: Mapping,
        *,
        facts: Mapping[str, Fact],
        choices: Mapping[str, Choice],
        language: str,
        where: str,
        check_typed: bool,
    ) -> FactResolver:
        raw = front.get("choices") or {}
        if not isinstance(raw, dict):
            raise ContentError(f"{where}: choices must map a setting to a text per value")
        texts: dict[str, dict[str, str]] = {}
        for name, variants in raw.items():
            choice = choices.get(name)
            if choice is None:
                raise ContentError(
                    f"{where}: choices: unknown setting {name!r} "
                    f"(known: {', '.join(sorted(choices))})"
                )
            if not isinstance(variants, dict) or set(variants) != set(choice.values):
                raise ContentError(
                    f"{where}: choices: {name} needs one text for each value of {choice.setting} "
                    f"({', '.join(choice.values)}), and no other"
                )
            texts[name] = {value: str(text).strip() for value, text in variants.items()}
        return cls(facts, choices, language, where, texts, check_typed)

    def _fact(self, name: str, line: int | None) -> Fact:
        place = f"{self.where}, line {line}" if line else self.where
        fact = self.facts.get(name)
        if fact is None:
            known = sorted([*self.facts, *self.choices])
            raise ContentError(
                f"{place}: unknown fact {{{{ {name} }}}}; the facts are: {', '.join(known)}"
            )
        if fact.error:
            raise ContentError(f"{place}: {{{{ {name} }}}}: {fact.error}")
        return fact

    def _choice_text(self, name: str, line: int | None) -> str:
        place = f"{self.where}, line {line}" if line else self.where
        texts = self.choice_texts.get(name)
        if texts is None:
            raise ContentError(
                f"{place}: {{{{ {name} }}}} depends on a setting: give its texts in the front "
                f"matter (choices: {name}: {', '.join(self.choices[name].values)})"
            )
        return texts[self.choices[name].value]

    def markdown(self, source: str, first_line: int = 1) -> str:
        """The Markdown body with every token replaced (choices first, then facts)."""
        self.check(source, first_line)
        for texts in self.choice_texts.values():
            for text in texts.values():
                self.check(text, None)

        def choice(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.choices:
                return self._choice_text(name, _line(source, match.start(), first_line))
            return match.group(0)

        def fact(match: re.Match[str]) -> str:
            return self._fact(match.group(1), None).markdown_in(self.language)

        with_choices = TOKEN.sub(choice, source)
        return TOKEN.sub(fact, with_choices)

    def text(self, source: str) -> str:
        """A plain text (a summary's) with every fact replaced by its plain value."""
        self.check(source, None)

        def fact(match: re.Match[str]) -> str:
            if match.group(1) in self.choices:
                raise ContentError(f"{self.where}: a summary cannot hold a choice's text")
            return self._fact(match.group(1), None).text[self.language]

        return TOKEN.sub(fact, source)

    def check(self, source: str, first_line: int | None) -> None:
        """Every token is known, and (when checked) no fact is typed instead of named."""
        for match in TOKEN.finditer(source):
            name = match.group(1)
            line = _line(source, match.start(), first_line) if first_line else None
            if name in self.choices:
                continue
            self._fact(name, line)
        if not self.check_typed:
            return
        without_tokens = TOKEN.sub(" ", source)
        typed = typed_period(without_tokens)
        if typed:
            position = without_tokens.find(typed)
            line = _line(without_tokens, position, first_line) if first_line else None
            place = f"{self.where}, line {line}" if line else self.where
            raise ContentError(
                f"{place}: the period “{typed}” is typed: name the fact it states "
                "instead ({{ consent_lifetime }}, {{ reply_time }}, {{ retention.KEY }}…), so "
                "that the policy says what the configuration does"
            )
        for name, fact in self.facts.items():
            if fact.error or name.startswith("retention.") or self.language not in fact.text:
                continue
            value = fact.text[self.language]
            if len(value) >= 8 and value in without_tokens:
                raise ContentError(
                    f"{self.where}: “{value}” is typed: write {{{{ {name} }}}} instead, so that "
                    "the policy says what the configuration does"
                )


def _line(source: str, position: int, first_line: int | None) -> int | None:
    if first_line is None:
        return None
    return first_line + source.count("\n", 0, position)
