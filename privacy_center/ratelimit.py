"""Rate limits, counted by the ``limits`` library (the engine of Flask-Limiter).

Only the routes that need a limit pay for it: one counter hit, with no per-request work for the
others. Counts live in memory, or in Redis when ``REDIS_URL`` is set (shared by every worker).
"""

from __future__ import annotations

from functools import lru_cache

from flask import Flask
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter


@lru_cache(maxsize=32)
def parse_limit(notation: str) -> RateLimitItem:
    """A limit written like "60 per minute"."""
    return parse(notation)


class RateLimiter:
    def __init__(self) -> None:
        self._strategy: FixedWindowRateLimiter | None = None

    def init_app(self, app: Flask) -> None:
        storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
        self._strategy = FixedWindowRateLimiter(storage)

    def hit(self, notation: str, scope: str, key: str) -> bool:
        """Count one request of ``key`` against ``notation``; False when over the limit."""
        if self._strategy is None:
            raise RuntimeError("RateLimiter.init_app was not called")
        return self._strategy.hit(parse_limit(notation), scope, key)
