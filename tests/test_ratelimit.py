import time

from limits.strategies import FixedWindowRateLimiter

from privacy_center.ratelimit import InProcessStorage, parse_limit


def test_in_process_windows_count_and_restart(monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    limiter = FixedWindowRateLimiter(InProcessStorage())
    limit = parse_limit("3 per minute")
    assert [limiter.hit(limit, "scope", "a") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(limit, "scope", "b")  # another key has its own window
    stats = limiter.get_window_stats(limit, "scope", "a")
    assert stats.remaining == 0 and stats.reset_time == 1_000_060.0
    clock[0] += 60
    assert limiter.hit(limit, "scope", "a")  # the window ended: counting starts again


def test_ended_windows_are_swept_when_many_pile_up(monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    storage = InProcessStorage()
    storage.SWEEP_ABOVE = 5
    for number in range(6):
        storage.incr(f"key-{number}", 10)
    clock[0] += 11
    storage.incr("fresh", 10)
    assert storage.get("key-0") == 0 and storage.get("fresh") == 1
    assert storage.reset() == 1  # only the live window was kept
