"""Group commit of consent receipts.

Receipts are the busiest write of the product, and each one must be durable before the visitor's
browser is told it is recorded. Committing them one by one pays a disk flush and a statement per
receipt. Here, the receipts that concurrent requests of one process hand in meanwhile are written
by one statement in one transaction; every request still waits for its own receipt's commit
before it answers, so nothing acknowledged can be lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

MAX_BATCH = 128


class ReceiptNotRecorded(RuntimeError):
    """The database did not record the receipt (it is down, or too slow): nothing was stored."""


@dataclass
class _Pending:
    values: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    created: bool = False
    error: BaseException | None = None


class ReceiptWriter:
    """Writes receipts in batches: the first request to arrive writes for those that wait.

    A request hands its receipt in; when no write is under way, it becomes the writer and writes
    every receipt waiting, batch after batch, until none is left; the others wait for their
    batch's commit. No thread of its own (nothing to restart after a fork), and under load most
    receipts share a commit.

    ``insert(connection, rows)`` writes a batch of receipts' values and returns the ids of those
    that were new (``consent.services.ReceiptBatchInsert``).
    """

    def __init__(
        self, engine: Engine, insert: Callable[[Connection, list[dict]], set[str]]
    ) -> None:
        self._engine = engine
        self._insert_rows = insert
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        self._writing = False
        # Sites whose row is known to exist (the statement looks their id up).
        self.ready_sites: set[str] = set()

    def record(self, values: dict[str, Any], timeout: float = 10.0) -> bool:
        """Store ``values`` as a receipt; True when this call stored it, False when it existed."""
        pending = _Pending(values)
        with self._lock:
            self._waiting.append(pending)
            leads = not self._writing
            self._writing = True
        if leads:
            self._write_all_waiting()
        if not pending.done.wait(timeout):
            raise ReceiptNotRecorded("the database did not answer in time")
        if pending.error is not None:
            raise ReceiptNotRecorded(str(pending.error)) from pending.error
        return pending.created

    def _write_all_waiting(self) -> None:
        while True:
            with self._lock:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                if not batch:
                    self._writing = False
                    return
            self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        # The same receipt twice in one batch (a retry racing its first post): write it once;
        # the repeats are answered as "already recorded" and compared by their request.
        first: dict[str, _Pending] = {}
        for pending in batch:
            first.setdefault(pending.values["receipt_id"], pending)
        unique = list(first.values())
        try:
            inserted = self._insert(unique)
        except Exception:  # the batch must be answered whatever happened
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
        for pending in batch:
            pending.done.set()

    def _insert(self, batch: list[_Pending]) -> set[str]:
        with self._engine.begin() as connection:
            return self._insert_rows(connection, [pending.values for pending in batch])
