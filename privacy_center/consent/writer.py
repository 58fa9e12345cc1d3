"""Group commit of consent receipts.

Receipts are the busiest write of the product, and each one must be durable before the visitor's
browser is told it is recorded. Committing them one by one pays a disk flush per receipt. Here,
the receipts that concurrent requests of one process hand in meanwhile are written by one
statement in one transaction; every request still waits for its own receipt's commit before it
answers, so nothing acknowledged can be lost.
"""

from __future__ import annotations

import os
import queue
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
    """Writes receipts in batches from one background thread per process.

    ``insert(connection, rows)`` writes a batch of receipts' values and returns the ids of those
    that were new (``consent.services.ReceiptBatchInsert``).
    """

    def __init__(
        self, engine: Engine, insert: Callable[[Connection, list[dict]], set[str]]
    ) -> None:
        self._engine = engine
        self._insert_rows = insert
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        # Sites whose row is known to exist (the statement looks their id up).
        self.ready_sites: set[str] = set()

    def record(self, values: dict[str, Any], timeout: float = 10.0) -> bool:
        """Store ``values`` as a receipt; True when this call stored it, False when it existed."""
        pending = _Pending(values)
        self._ensure_thread()
        self._queue.put(pending)
        if not pending.done.wait(timeout):
            raise ReceiptNotRecorded("the database did not answer in time")
        if pending.error is not None:
            raise ReceiptNotRecorded(str(pending.error)) from pending.error
        return pending.created

    def _ensure_thread(self) -> None:
        # After a fork (gunicorn workers), the parent's thread does not exist in the child.
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="receipt-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
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
        except Exception:  # the writer thread must survive any failure
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
