"""One run at a time: a lock held for the whole of a scheduled command (cron and a person, or two
hosts, never overlap).

PostgreSQL: a session advisory lock on a connection of its own (ending its transaction at once
keeps no snapshot open for the whole run). SQLite: a lock file beside the database
(``extensions.sqlite_lock_path``), released by the kernel if the process dies.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .extensions import sqlite_lock_path


class Busy(RuntimeError):
    """Another run holds the lock."""


@contextmanager
def exclusive(
    session: Session, *, key: int, purpose: str, busy: type[Exception] = Busy
) -> Iterator[None]:
    """Hold the lock named ``purpose`` (``key`` on PostgreSQL) while the block runs; raise
    ``busy`` (:class:`Busy` unless the caller names its own error) at once when another run
    holds it."""
    engine = session.get_bind().engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            locked = connection.scalar(select(func.pg_try_advisory_lock(key)))
            connection.commit()
            if not locked:
                raise busy(f"another {purpose} run is under way")
            try:
                yield
            finally:
                connection.scalar(select(func.pg_advisory_unlock(key)))
                connection.commit()
        return
    lock_path = sqlite_lock_path(engine, purpose)
    if lock_path is None:
        yield  # an in-memory database, of one process: nothing else can run
        return
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy(f"another {purpose} run is under way") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
