"""Secrets stay out of the request logs.

Emailed links carry their secret in the path (status, sign-in, download, tracked-link and
acknowledgement links: every URL variable named ``token``, see ``SECRET_VARIABLE``). The
request logs the project configures (werkzeug's in development, gunicorn's access log in
production) would write them out. One logging filter, installed on both loggers by
``create_app`` (and by ``gunicorn.conf.py`` in gunicorn's master), rewrites the secret of each
such path to ``…``, and any query parameter named ``token``, in every string of the record: the
request line, the path, the query, the Referer and the Location of a redirect. Paths are
matched against the application's own URL map (the rule that answers them), so only a real
secret segment is rewritten. Cookies and credentials a custom gunicorn format might name are
replaced whole.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, MapAdapter
from werkzeug.routing.exceptions import RequestRedirect

# The convention that makes a URL variable a secret: the filter finds them in the URL map.
SECRET_VARIABLE = "token"  # noqa: S105 (a name, not a secret)
REDACTED = "…"
LOGGER_NAMES = ("werkzeug", "gunicorn.access")
# Header atoms of a gunicorn log format that are secrets whole.
SECRET_ATOMS = frozenset({"{cookie}i", "{authorization}i", "{set-cookie}o"})

# A path, alone (request line, PATH_INFO) or after a scheme and host (Referer, Location).
_PATH = re.compile(r"(?:[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s\"']*)?(/[^\s?#\"']*)")
# In a URL, or a query string alone (gunicorn's %(q)s).
_QUERY_TOKEN = re.compile(r"((?:^|[?&;])token=)[^&;#\s\"']+")
_METHODS = ("GET", "POST")


class SecretsFilter(logging.Filter):
    """Rewrites the secrets of known links to ``…`` in a log record (never drops a record)."""

    def __init__(self) -> None:
        super().__init__()
        self._adapter: MapAdapter | None = None

    def learn(self, url_map: Map) -> None:
        """Recognise the links of this URL map (the last application built in the process)."""
        self._adapter = url_map.bind("localhost")

    def _scrub_path(self, path: str) -> str:
        adapter = self._adapter
        if adapter is None:
            return path
        for method in _METHODS:
            try:
                rule, values = adapter.match(path, method=method, return_rule=True)
            except RequestRedirect:
                return path
            except HTTPException:
                continue
            secret = values.get(SECRET_VARIABLE)
            if not isinstance(secret, str) or not secret:
                return path
            if secret in path:
                return path.replace(secret, REDACTED)
            # Written differently (percent-encoded): the rule's own text stands for the path.
            return rule.rule.replace(f"<{SECRET_VARIABLE}>", REDACTED)
        return path

    def scrub(self, text: str) -> str:
        text = _PATH.sub(
            lambda m: m.group(0)[: m.start(1) - m.start(0)] + self._scrub_path(m.group(1)), text
        )
        return _QUERY_TOKEN.sub(lambda m: m.group(1) + REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self.scrub(record.msg)
        args = record.args
        if isinstance(args, MutableMapping):  # gunicorn's atoms, changed in place
            for key, value in list(args.items()):
                if key in SECRET_ATOMS:
                    args[key] = REDACTED
                elif isinstance(value, str):
                    args[key] = self.scrub(value)
        elif isinstance(args, tuple):
            record.args = tuple(self.scrub(a) if isinstance(a, str) else a for a in args)
        return True


SECRETS_FILTER = SecretsFilter()


def install(url_map: Map | None = None) -> SecretsFilter:
    """Put the filter on the request loggers (once), and learn the links of ``url_map``."""
    if url_map is not None:
        SECRETS_FILTER.learn(url_map)
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        if SECRETS_FILTER not in logger.filters:
            logger.addFilter(SECRETS_FILTER)
    return SECRETS_FILTER
