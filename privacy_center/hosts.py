"""One rule for the Host header and for the X-Forwarded-* headers, on every path.

The policy pages and the consent receipts are answered by WSGI layers before Flask builds a
request (policy/fastpath.py, consent/intake.py), and Flask checks ``TRUSTED_HOSTS`` only when
it builds one. So the check runs here, in front of every layer, Flask's included: a request for
a host outside ``TRUSTED_HOSTS`` is refused (400) before any page, receipt or link is made
from it. The decision is werkzeug's (the function Flask's own check calls), remembered for the
few Host values that pass, so that a request pays one set lookup.

``X-Forwarded-For``, ``-Proto`` and ``-Host`` are believed only from the peers that
``TRUSTED_PROXIES`` names, as gunicorn's ``forwarded_allow_ips`` (set from the same variable in
gunicorn.conf.py) believes them for the scheme: from anyone else they are removed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.exceptions import SecurityError
from werkzeug.sansio.utils import host_is_trusted
from werkzeug.wsgi import get_host

from .security import SECURITY_HEADERS, https_headers

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

UNKNOWN_HOST = b"Unknown host.\n"
REFUSAL_HEADERS = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Length", str(len(UNKNOWN_HOST))),
    ("Cache-Control", "no-store"),
    *SECURITY_HEADERS.items(),
]
# Host values remembered as trusted: the names with a few ports are all a deployment sees. The
# bound keeps a flood of distinct trusted values (every port of a trusted name) from growing it.
REMEMBERED_HOSTS = 64
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")


class HostRule:
    """Whether a request's host is one of ``TRUSTED_HOSTS`` (werkzeug's rule: the port is
    ignored, ``.example.com`` stands for every subdomain; without ``Host``, the server's name)."""

    def __init__(self, trusted_hosts: Iterable[str]) -> None:
        self.trusted = tuple(trusted_hosts)
        self._accepted = frozenset(h for h in self.trusted if host_is_trusted(h, self.trusted))

    def allows(self, environ: WSGIEnvironment) -> bool:
        host = environ.get("HTTP_HOST")
        if host in self._accepted:
            return True
        try:
            get_host(environ, self.trusted)
        except SecurityError:
            return False
        if host is not None and len(self._accepted) < REMEMBERED_HOSTS:
            # A new set, never a changed one: other threads keep reading the previous one.
            self._accepted = self._accepted | {host}
        return True


class HostGuard:
    """WSGI layer: the request goes on only when its host is trusted; else 400."""

    def __init__(self, wsgi_app: WSGIApplication, rule: HostRule) -> None:
        self.wsgi_app = wsgi_app
        self.rule = rule

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.rule.allows(environ):
            return self.wsgi_app(environ, start_response)
        # No address can be built for a host outside TRUSTED_HOSTS, so no page either.
        start_response("400 Bad Request", REFUSAL_HEADERS + https_headers(environ))
        return [UNKNOWN_HOST]


class ForwardedHeaders:
    """WSGI layer: the client's address, scheme and host as the trusted proxies forward them.

    The client is the last ``X-Forwarded-For`` entry that no trusted proxy added (proxies in a
    chain each append the address they saw); the scheme and host are the nearest proxy's.
    """

    def __init__(self, wsgi_app: WSGIApplication, proxies: Iterable[str]) -> None:
        self.wsgi_app = wsgi_app
        self.networks = tuple(ipaddress.ip_network(proxy) for proxy in proxies)

    def trusts(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.trusts(environ.get("REMOTE_ADDR")):
            self._apply(environ)
        else:
            for name in FORWARDED_HEADERS:
                environ.pop(name, None)
        return self.wsgi_app(environ, start_response)

    def _apply(self, environ: WSGIEnvironment) -> None:
        forwarded = [a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        while forwarded and forwarded[-1] and self.trusts(environ["REMOTE_ADDR"]):
            environ["REMOTE_ADDR"] = forwarded.pop()
        proto = _last(environ.get("HTTP_X_FORWARDED_PROTO")).lower()
        if proto in ("http", "https"):
            environ["wsgi.url_scheme"] = proto
        if host := _last(environ.get("HTTP_X_FORWARDED_HOST")):
            environ["HTTP_HOST"] = host


def _last(value: str | None) -> str:
    return value.rpartition(",")[2].strip() if value else ""


def init_app(app: Flask) -> None:
    """Put the rules in front of every other WSGI layer: ``create_app`` calls it last."""
    if app.config.get("TRUSTED_HOSTS"):
        rule = HostRule(app.config["TRUSTED_HOSTS"])
        app.wsgi_app = HostGuard(app.wsgi_app, rule)  # type: ignore[method-assign]
    if app.config.get("TRUSTED_PROXIES"):
        # Outermost: the host checked is the one the trusted proxy forwarded.
        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ForwardedHeaders(app.wsgi_app, proxies)  # type: ignore[method-assign]
