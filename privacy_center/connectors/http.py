"""The HTTP connector: an operator's service that collects and erases a person's data itself.

The privacy center POSTs JSON to the endpoint declared in ``connectors.yaml`` (``url``) and reads
JSON back. Every call carries ``Authorization: Bearer <token>`` when ``token_env`` names the
environment variable holding the token.

- ``POST {url}/count``   ``{"subject": S, "category": "key"}`` -> ``{"count": 12}``
- ``POST {url}/collect`` ``{"subject": S, "category": "key", "cursor": null}``
  -> ``{"rows": [{...}, ...], "next_cursor": "opaque" | null}``: one page of rows; the privacy
  center asks again with ``next_cursor`` until it is null, so that no side holds every row.
- ``POST {url}/erase``   ``{"subject": S, "dry_run": false}`` -> ``{"categories": [{"category":
  "key", "action": "removed" | "anonymised" | "kept", "rows": 3, "reason": "..." | {"fr": ...}}]}``

- ``POST {url}/last-activity`` ``{"since": "ISO 8601" | null, "cursor": null}`` -> ``{"activity":
  [{"account_id": 12, "at": "2030-01-15T10:00:00Z"} | {"email": ..., "at": ...}, ...],
  "next_cursor": "opaque" | null}``: the latest activity on the operator's side of each person
  active after ``since`` (null: of everyone), one page at a time, for the retention run's
  inactivity rule (content/retention.yaml, ``activity`` of type http). Called once per run,
  never per person: ``since`` is a little before the latest moment already received.

``S`` is ``{"email": ..., "account_id": ..., ...}``. Connection failures and 5xx answers are
retried (``retries`` times, waiting ``backoff_seconds``, then twice as long each time); a timeout,
a 4xx answer or a body that is not the expected JSON fails at once. Every failure is a
:class:`ConnectorError` whose message tells staff what happened and where.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from .base import (
    ERASURE_ACTIONS,
    Category,
    CategoryOutcome,
    ConnectorError,
    ErasureReport,
    RowShapeError,
    Subject,
    row_builder,
)
from .specs import HttpConnectorSpec

# The most a page of rows or any answer may weigh: a runaway endpoint cannot exhaust memory.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


class _Retry(Exception):
    """A failure worth trying again (connection refused or reset, 5xx)."""


class HttpConnector:
    def __init__(self, spec: HttpConnectorSpec) -> None:
        self.key = spec.key
        self.label = spec.label
        self._spec = spec
        self._categories = {category.key: category for category in spec.categories}

    def categories(self) -> list[Category]:
        return list(self._spec.categories)

    # --- one call ----------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._spec.token_env:
            token = os.environ.get(self._spec.token_env)
            if not token:
                raise ConnectorError(
                    self.key,
                    f"the environment variable {self._spec.token_env} (the endpoint's token) is "
                    "not set",
                )
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _attempt(self, url: str, body: bytes, headers: dict[str, str]) -> Any:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        timeout = self._spec.timeout_seconds
        try:
            # The loader accepts only http(s) URLs for a connector.
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                raw = response.read(MAX_ANSWER_BYTES + 1)
                status = response.status
        except urllib.error.HTTPError as error:
            error.close()  # its body is not read: release the connection now
            if error.code >= 500:
                raise _Retry(f"answered HTTP {error.code}") from None
            raise ConnectorError(
                self.key,
                f"{url} answered HTTP {error.code} ({error.reason}); check the connector's url "
                "and token",
            ) from None
        except TimeoutError:
            raise ConnectorError(
                self.key, f"{url} did not answer within {timeout:g} s (timeout_seconds)"
            ) from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError | socket.timeout):
                raise ConnectorError(
                    self.key, f"{url} did not answer within {timeout:g} s (timeout_seconds)"
                ) from None
            raise _Retry(f"could not be reached ({error.reason})") from None
        except (OSError, http.client.HTTPException) as error:
            # Reset or closed connections, answers cut short.
            raise _Retry(f"could not be reached ({error or type(error).__name__})") from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise ConnectorError(
                self.key, f"{url} answered more than {MAX_ANSWER_BYTES // 2**20} MB at once"
            )
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            preview = raw[:80].decode("utf-8", "replace")
            raise ConnectorError(
                self.key,
                f"{url} answered HTTP {status} with something that is not JSON: {preview!r}",
            ) from None

    def _call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self._spec.url}/{action}"
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = self._headers()
        attempts = self._spec.retries + 1
        for attempt in range(attempts):
            try:
                answer = self._attempt(url, body, headers)
                break
            except _Retry as failure:
                if attempt + 1 == attempts:
                    raise ConnectorError(
                        self.key,
                        f"{url} {failure} ({attempts} attempt{'s' if attempts > 1 else ''}); "
                        "check that the operator's service is running",
                    ) from None
                time.sleep(self._spec.backoff_seconds * 2**attempt)
        if not isinstance(answer, dict):
            raise ConnectorError(self.key, f"{url} answered JSON that is not an object")
        return answer

    # --- the connector -----------------------------------------------------------------------

    def _category(self, key: str) -> Category:
        try:
            return self._categories[key]
        except KeyError:
            raise ConnectorError(self.key, f"no category {key!r} here") from None

    def collect(self, subject: Subject, category: str) -> Iterator[dict[str, Any]]:
        declared = self._category(category)
        if declared.held_by is not None:
            return
        build = row_builder(declared)
        keys = declared.field_keys
        cursor: Any = None
        while True:
            answer = self._call(
                "collect",
                {"subject": subject.as_json(), "category": category, "cursor": cursor},
            )
            rows = answer.get("rows")
            if not isinstance(rows, list):
                raise ConnectorError(
                    self.key, f"/collect of {category!r} answered without a list of rows"
                )
            for row in rows:
                if not isinstance(row, dict) or set(row) != set(keys):
                    got = ", ".join(sorted(row)) if isinstance(row, dict) else type(row).__name__
                    raise ConnectorError(
                        self.key,
                        f"/collect of {category!r} answered a row with {got}; the declared "
                        f"fields are {', '.join(keys)}",
                    )
                try:
                    yield build([row[key] for key in keys])
                except RowShapeError as error:
                    raise ConnectorError(self.key, str(error)) from None
            cursor = answer.get("next_cursor")
            if cursor is None:
                return
            if not rows:
                raise ConnectorError(
                    self.key, f"/collect of {category!r} gave a next page without any row"
                )

    def count(self, subject: Subject, category: str) -> int:
        if self._category(category).held_by is not None:
            return 0
        answer = self._call("count", {"subject": subject.as_json(), "category": category})
        number = answer.get("count")
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ConnectorError(self.key, f"/count of {category!r} answered no whole count")
        return number

    def last_activity(self, since: str | None) -> Iterator[list[dict[str, Any]]]:
        """The pages of ``/last-activity`` (see the module's documentation), each checked to be
        a list of objects; the caller reads their fields."""
        cursor: Any = None
        while True:
            answer = self._call("last-activity", {"since": since, "cursor": cursor})
            page = answer.get("activity")
            if not isinstance(page, list) or not all(isinstance(item, dict) for item in page):
                raise ConnectorError(self.key, "/last-activity answered without a list of objects")
            yield page
            cursor = answer.get("next_cursor")
            if cursor is None:
                return
            if not page:
                raise ConnectorError(self.key, "/last-activity gave a next page without any entry")

    def erase(self, subject: Subject, *, dry_run: bool = False) -> ErasureReport:
        answer = self._call("erase", {"subject": subject.as_json(), "dry_run": dry_run})
        reported = answer.get("categories")
        if not isinstance(reported, list):
            raise ConnectorError(self.key, "/erase answered without its list of categories")
        outcomes: list[CategoryOutcome] = []
        for item in reported:
            if not isinstance(item, dict):
                raise ConnectorError(self.key, "/erase answered a category that is not an object")
            key, action, rows = item.get("category"), item.get("action"), item.get("rows", 0)
            if key not in self._categories:
                raise ConnectorError(self.key, f"/erase reported an unknown category {key!r}")
            if action not in ERASURE_ACTIONS[:3] or not isinstance(rows, int):
                raise ConnectorError(
                    self.key,
                    f"/erase of {key!r}: action must be removed, anonymised or kept, with a "
                    "number of rows",
                )
            reason = item.get("reason")
            if isinstance(reason, str) and reason.strip():
                reasons = {language: reason for language in self.label}
            elif isinstance(reason, dict) and reason:
                reasons = {str(language): str(text) for language, text in reason.items()}
            else:
                raise ConnectorError(self.key, f"/erase of {key!r} gave no reason")
            outcomes.append(CategoryOutcome(key, action, rows, reasons))
        for category in self._spec.categories:
            if category.held_by is not None:
                outcomes.append(
                    CategoryOutcome(category.key, "elsewhere", 0, dict(category.held_by.note))
                )
        return ErasureReport(connector=self.key, dry_run=dry_run, outcomes=tuple(outcomes))
