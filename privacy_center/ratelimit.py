"""Rate limits, counted by the ``limits`` library (the engine of Flask-Limiter).

Only the routes that need a limit pay for it: one counter hit, with no per-request work for the
others. Counts live in memory, or in Redis when ``REDIS_URL`` is set (shared by every worker).
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache

from flask import Flask
from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter


@lru_cache(maxsize=32)
def parse_limit(notation: str) -> RateLimitItem:
    """A limit written like "60 per minute"."""
    return parse(notation)


class InProcessStorage(Storage):
    """Fixed-window counters of one process, for ``memory://``.

    limits' own memory storage expires keys from a timer thread that it starts again every 10 ms
    while requests come in: a tenth of a consent receipt's cost under load, measured. Here a
    window that has ended is simply started afresh when its key is hit again, and ended windows
    are swept only when many have piled up.
    """

    STORAGE_SCHEME = None
    SWEEP_ABOVE = 10_000

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        # key -> [end of the window (epoch seconds), hits in it]
        self._windows: dict[str, list[float]] = {}

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            window = self._windows.get(key)
            if window is None or window[0] <= now:
                if len(self._windows) > self.SWEEP_ABOVE:
                    self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
                window = self._windows[key] = [now + expiry, 0]
            window[1] += amount
            return int(window[1])

    def get(self, key: str) -> int:
        window = self._windows.get(key)
        return int(window[1]) if window is not None and window[0] > time.time() else 0

    def get_expiry(self, key: str) -> float:
        window = self._windows.get(key)
        return window[0] if window is not None else time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int:
        with self._lock:
            count, self._windows = len(self._windows), {}
        return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)


class RateLimiter:
    def __init__(self) -> None:
        self._strategy: FixedWindowRateLimiter | None = None

    def init_app(self, app: Flask) -> None:
        uri = app.config["RATELIMIT_STORAGE_URI"]
        storage = InProcessStorage() if uri == "memory://" else storage_from_string(uri)
        self._strategy = FixedWindowRateLimiter(storage)

    def hit(self, notation: str, scope: str, key: str) -> bool:
        """Count one request of ``key`` against ``notation``; False when over the limit."""
        if self._strategy is None:
            raise RuntimeError("RateLimiter.init_app was not called")
        return self._strategy.hit(parse_limit(notation), scope, key)
