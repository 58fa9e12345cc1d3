"""The widget's words, translated like every other string of the product."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

WIDGET_TEXTS = {
    "bannerTitle": _l("Your choices about cookies"),
    "bannerText": _l(
        "We use cookies to measure our audience, show you relevant ads and content, and let you "
        "share on social networks. Only the cookies needed for the site to work are set without "
        "your consent. You can change your mind at any time."
    ),
    "acceptAll": _l("Accept all"),
    "rejectAll": _l("Refuse all"),
    "customize": _l("Customize"),
    "close": _l("Continue without accepting"),
    "dialogTitle": _l("Cookie settings"),
    "dialogText": _l(
        "Choose, for each purpose, whether we may use cookies. Your choice is kept and you can "
        "change it at any time from the cookie settings link."
    ),
    "save": _l("Save my choices"),
    "alwaysOn": _l("Always on"),
    "cookiesUsed": _l("Cookies used"),
    "gpcNotice": _l(
        "Your browser sends the Global Privacy Control signal: advertising and social network "
        "cookies are refused. You can still allow them below if you wish."
    ),
    "placeholderText": _l(
        "This content is provided by {provider} and may set cookies of the category "
        "“{category}”. It is loaded only if you allow it."
    ),
    "placeholderButton": _l("Allow and load"),
    "receiptTitle": _l("Your current cookie choice"),
    "receiptLabel": _l("Receipt of your choice"),
    "noChoice": _l("You have not made a choice yet."),
    "granted": _l("Allowed"),
    "refused": _l("Refused"),
    "policyLink": _l("Privacy and cookie policy"),
    "closeDialog": _l("Close without saving"),
}
