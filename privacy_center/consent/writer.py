"""Group commit of consent receipts.

Receipts are the busiest write of the product, and each one must be durable before the visitor's
browser is told it is recorded. Committing them one by one pays a disk flush and a statement per
receipt. Here, the receipts that concurrent requests of one process hand in meanwhile are written
by one statement in one transaction; every request still waits for its own receipt's commit
before it answers, so nothing acknowledged can be lost.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection

from ..extensions import SQLITE_BEGIN, sqlite_lock_path

MAX_BATCH = 128


class ReceiptNotRecorded(RuntimeError):
    """The database did not record the receipt (it is down, or too slow): nothing was stored."""


class BatchInsert(Protocol):
    """Writes a batch of receipts' values (``consent.services.ReceiptBatchInsert``)."""

    def prepare(self, rows: list[dict[str, Any]]) -> Any:
        """The statement and its parameters."""

    def execute(self, connection: PoolProxiedConnection, statement: Any) -> set[str]:
        """Run a prepared statement; the ids of the receipts that were new."""


@dataclass(eq=False)
class _Pending:
    values: dict[str, Any]
    done: bool = False
    created: bool = False
    error: BaseException | None = None
    # Set to wake the request up: its batch was written, or it is to write the next one.
    wake: threading.Event = field(default_factory=threading.Event)
    leads_next: bool = False
    # Holds one of the writer's turns to write (given on arrival or handed on by a writer).
    leader: bool = False


class ReceiptWriter:
    """Writes receipts in batches, written by the requests themselves.

    A request hands its receipt in. When fewer than ``concurrent`` batches are being written,
    it writes one: every receipt waiting at that moment (its own included). Otherwise it waits.
    When a batch is committed, the requests of that batch are woken up to answer, and the first
    waiting request, if any, is woken up to write the next batch. A request writes only while
    its own receipt is waiting, so none is held up writing for others indefinitely; no thread of
    its own (nothing to restart after a fork); under load most receipts share a commit.

    On PostgreSQL two batches of a process may be in flight at once, each on its own connection:
    while one waits for its commit to reach the disk, the next is sent (the server flushes the
    two commits together), instead of every request waiting a whole commit before its own.
    Each request still answers only once its own batch is committed.

    On SQLite, one batch at a time; the workers' batches take turns on a lock file beside the
    database: the kernel hands it to the next worker as soon as it is free, where SQLite's own
    busy handler would sleep and poll for its write lock (an idle millisecond or more per batch).
    """

    def __init__(self, engine: Engine, insert: BatchInsert, concurrent: int | None = None) -> None:
        self._engine = engine
        self._insert_rows = insert
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        sqlite = engine.dialect.name == "sqlite"
        self._concurrent = 1 if sqlite else (concurrent or 2)
        self._writers = 0
        # One connection per batch in flight, kept between batches: no pool checkout and
        # liveness ping per batch. A failed batch drops its own; the next one reconnects.
        # They are the driver's own: SQLAlchemy's machinery around a statement costs more than
        # the driver's work.
        self._idle: list[PoolProxiedConnection] = []
        self._pid = 0
        # SQLite's driver is in autocommit mode (``configure_sqlite``): a batch begins by taking
        # the write lock, as every transaction there does.
        self._begin = SQLITE_BEGIN if sqlite else None
        self._lock_path = sqlite_lock_path(engine, "receipts")
        self._lock_file: IO[str] | None = None
        # Sites whose row is known to exist (the statement looks their id up).
        self.ready_sites: set[str] = set()

    def record(self, values: dict[str, Any], timeout: float = 10.0) -> bool:
        """Store ``values`` as a receipt; True when this call stored it, False when it existed."""
        pending = _Pending(values)
        deadline = time.monotonic() + timeout
        with self._lock:
            self._waiting.append(pending)
            leads = self._writers < self._concurrent
            if leads:
                self._writers += 1
                pending.leader = True
        while True:
            if leads:
                self._write_next_batch()
            if pending.done:
                break
            remaining = deadline - time.monotonic()
            woken = pending.wake.wait(max(remaining, 0.05))
            with self._lock:
                pending.wake.clear()
                if pending.done and not pending.leads_next:
                    break
                leads, pending.leads_next = pending.leads_next, False
                if not leads and not woken and remaining <= 0 and pending in self._waiting:
                    # Never picked up: nothing was written, so the request may say so. A
                    # receipt already in a batch being written waits for that batch's outcome.
                    self._waiting.remove(pending)
                    raise ReceiptNotRecorded("the database did not answer in time")
        if pending.error is not None:
            raise ReceiptNotRecorded(str(pending.error)) from pending.error
        return pending.created

    def close(self) -> None:
        """Close the batches' connections and lock file (the next batch would open others)."""
        with self._lock:
            idle, self._idle = self._idle, []
            lock_file, self._lock_file = self._lock_file, None
            self._pid = 0
        for connection in idle:
            # Closed for good, not returned to the pool: it may be in autocommit mode.
            connection.invalidate()
        if lock_file is not None:
            lock_file.close()

    def _write_next_batch(self) -> None:
        with self._lock:
            batch = self._waiting[:MAX_BATCH]
            del self._waiting[:MAX_BATCH]
        try:
            if batch:
                self._write(batch)
        finally:
            with self._lock:
                for pending in batch:
                    pending.done = True
                to_wake = list(batch)
                # This turn to write goes to the first waiting request that holds none.
                heir = next((pending for pending in self._waiting if not pending.leader), None)
                if heir is not None:
                    heir.leader = heir.leads_next = True
                    to_wake.append(heir)
                else:
                    self._writers -= 1
            for pending in to_wake:
                pending.wake.set()

    def _write(self, batch: list[_Pending]) -> None:
        # The same receipt twice in one batch (a retry racing its first post): write it once;
        # the repeats are answered as "already recorded" and compared by their request.
        first: dict[str, _Pending] = {}
        for pending in batch:
            first.setdefault(pending.values["receipt_id"], pending)
        unique = list(first.values())
        try:
            inserted = self._insert(unique)
        except Exception:  # every receipt of the batch must get an answer
            # One bad receipt must not fail the others: write them one by one. What fails is
            # handed to its request, which answers that nothing was stored.
            for pending in unique:
                try:
                    pending.created = bool(self._insert([pending]))
                except Exception as error:
                    pending.error = error
        else:
            for pending in unique:
                pending.created = pending.values["receipt_id"] in inserted

    def _insert(self, batch: list[_Pending]) -> set[str]:
        statement = self._insert_rows.prepare([pending.values for pending in batch])
        with self._lock:
            # A connection or lock file opened before a fork (gunicorn --preload) belongs to
            # the parent (and a lock taken on that file would be the parent's lock too).
            if self._pid != os.getpid():
                self._idle = []
                self._lock_file = open(self._lock_path, "a") if self._lock_path else None  # noqa: SIM115
                self._pid = os.getpid()
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._engine.raw_connection()
            if not self._begin:
                # The batch is one statement, so it can be its own transaction: one round trip
                # to the server instead of a BEGIN, the INSERT and a COMMIT.
                dialect = self._engine.dialect
                dialect.set_isolation_level(connection.dbapi_connection, "AUTOCOMMIT")
        try:
            with self._turn():
                if self._begin:
                    connection.cursor().execute(self._begin).close()
                inserted = self._insert_rows.execute(connection, statement)
                if self._begin:
                    connection.commit()
        except Exception:
            connection.invalidate()
            raise
        with self._lock:
            self._idle.append(connection)
        return inserted

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """This process's turn to write, among the workers sharing a SQLite file."""
        if self._lock_file is None:
            yield
            return
        # Released by the kernel if the process dies holding it.
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
