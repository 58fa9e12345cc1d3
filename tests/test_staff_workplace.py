"""The staff console as a workplace of its own: its layout (no visitors' banner, only the
strictly necessary cookies), the timeline in words, and the queue that finds closed requests."""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import pytest
from conftest import staff_sign_in
from test_staff_console import agent, make_member, make_request  # noqa: F401 (fixtures)

import privacy_center
from privacy_center import audit
from privacy_center.models.recipient import NOTIFICATION_STATES
from privacy_center.sessions import STAFF_COOKIE
from privacy_center.staff.queue import ANY_CLOSED, list_queue
from privacy_center.staff.timeline import EVENT_LABELS
from privacy_center.workflow import FINAL_STATES, RequestState

S = RequestState
PACKAGE = Path(privacy_center.__file__).parent
WIDGET_SCRIPT = "/widget/consent.js"
# An action written from an f-string: the values its placeholder takes, from their constants.
FORMATTED_ACTIONS = {"recipients.": NOTIFICATION_STATES}


def _constants(tree: ast.Module) -> dict[str, str]:
    """The module's names bound to a string: ``ACTION_LAPSED = "request.lapsed"``."""
    found = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def _enclosing_function(tree: ast.Module, call: ast.Call) -> ast.FunctionDef | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(child is call for child in ast.walk(node)):
            return node
    return None


def _arguments_given(tree: ast.Module, function: ast.FunctionDef, name: str) -> list[ast.expr]:
    """What every call of ``function`` in its module passes for its parameter ``name``."""
    position = [argument.arg for argument in function.args.args].index(name)
    given = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == function.name:
            given.extend(keyword.value for keyword in node.keywords if keyword.arg == name)
            if len(node.args) > position:
                given.append(node.args[position])
    return given


def _actions(value: ast.expr, tree: ast.Module, call: ast.Call, where: str) -> set[str]:
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return {value.value}
    if isinstance(value, ast.Name) and value.id in _constants(tree):
        return {_constants(tree)[value.id]}
    if isinstance(value, ast.Name):  # a parameter of the function that records the event
        function = _enclosing_function(tree, call)
        assert function is not None, f"{where}: cannot tell which event {value.id} is"
        given = _arguments_given(tree, function, value.id)
        assert given, f"{where}: {function.name}() is never called with its {value.id}"
        return set().union(*(_actions(item, tree, call, where) for item in given))
    if isinstance(value, ast.JoinedStr) and isinstance(value.values[0], ast.Constant):
        prefix = value.values[0].value
        assert prefix in FORMATTED_ACTIONS, f"{where}: say which events {prefix}... can be"
        return {prefix + state for state in FORMATTED_ACTIONS[prefix]}
    raise AssertionError(f"{where}: cannot tell which event {ast.unparse(value)} is")


def events_written_for_requests() -> set[str]:
    """Every event the code records with a request (``audit.record(..., request_id=...)``),
    read from the source."""
    events: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and ast.unparse(node.func) == "audit.record"):
                continue
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            request_id = keywords.get("request_id")
            if request_id is None or (
                isinstance(request_id, ast.Constant) and request_id.value is None
            ):
                continue
            where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
            events |= _actions(keywords["action"], tree, node, where)
    return events


def test_every_event_the_code_writes_for_a_request_has_its_words():
    written = events_written_for_requests()
    # The scan sees the events of every step, from the filing to the recipients.
    assert {"request.filed", "request.transition", "mail.not_delivered", "request.lapsed"} <= (
        written
    )
    assert {"recipients.failed", "recipients.acknowledged"} <= written
    assert written - set(EVENT_LABELS) == set()


def page_text(answer) -> str:
    inline = re.sub(r"</?strong>", "", answer.get_data(as_text=True))
    return html.unescape(re.sub(r"<[^>]+>", " ", inline))


def record_every_event(db, request, member) -> None:
    details = {
        "request.assigned": {"assignee": member.get_id()},
        "identity.confirmed": {"document_type": "passport", "documents_deleted": 1},
        "letter.sent": {"kind": "clarification_request", "letter_id": 1},
        "mail.not_delivered": {"mail_id": 1, "error": "mailbox full"},
    }
    for action in sorted(EVENT_LABELS):
        if action == "request.transition":
            continue  # the transitions come from their own table
        extra = {"recipient": "adnet"} if action.startswith("recipients.") else {}
        audit.record(
            db,
            actor="system" if action.startswith(("mail.", "recipients.")) else member.get_id(),
            action=action,
            request_id=request.id,
            details=details.get(action, {}) | extra,
        )
    db.flush()


def test_the_timeline_tells_every_event_in_words_in_the_members_language(
    client,
    db,
    make_request,  # noqa: F811
    make_staff,
):
    member = make_staff(role="agent", name="Dominique Dupont")
    staff_sign_in(client, member)
    request = make_request()
    record_every_event(db, request, member)
    english = page_text(client.get(f"/staff/requests/{request.reference}"))
    for action, label in EVENT_LABELS.items():
        assert action not in english, action
        assert str(label) in english or action == "request.filed", action
    assert "Identity confirmed, documents deleted, by Dominique Dupont, on " in english
    assert "Letter's mail not delivered: it stays queued and is tried again, by the privacy " in (
        english
    )
    assert "Document checked: Passport" in english and "To: Dominique Dupont" in english
    assert "Error: mailbox full" in english and "Recipient: adnet" in english
    # A transition: from which state to which, and why.
    assert "From “Received” to “In progress”." in english and "Reason: x" in english

    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    french = page_text(client.get(f"/staff/requests/{request.reference}"))
    assert "Identité confirmée, documents supprimés, par Dominique Dupont, le " in french
    assert "Document vérifié : Passeport" in french
    for action in EVENT_LABELS:
        assert action not in french, action


@pytest.mark.parametrize("final", sorted(FINAL_STATES))
def test_the_queue_finds_a_closed_request_by_its_status_and_its_reference(
    client,
    db,
    make_request,  # noqa: F811
    make_staff,
    final,
):
    staff_sign_in(client, make_staff(role="agent"))
    closed = make_request(state=final)
    still_open = make_request()
    path = f"/staff/requests/{closed.reference}"

    default = client.get("/staff/").get_data(as_text=True)
    assert path not in default and f"/staff/requests/{still_open.reference}" in default
    for state in (final, ANY_CLOSED):
        found = client.get("/staff/", query_string={"state": state}).get_data(as_text=True)
        assert path in found and f"/staff/requests/{still_open.reference}" not in found
    # By its reference, typed in any spelling.
    typed = closed.reference.lower().replace("-", " ")
    found = client.get("/staff/", query_string={"q": typed}).get_data(as_text=True)
    assert path in found and "Closed" in found
    # The service lists closed requests after the open ones.
    rows = list_queue(db, today=closed.received_at.date(), search=closed.email.split("@")[0])
    assert [row.request for row in rows] == [closed] and rows[0].closed
    assert rows[0].due_on is None and not rows[0].overdue


def test_staff_pages_load_no_banner_and_set_only_the_session_cookie(
    client,
    db,
    make_request,  # noqa: F811
    make_staff,
):
    request = make_request()
    sign_in = client.get("/staff/sign-in")
    assert WIDGET_SCRIPT not in sign_in.get_data(as_text=True)
    assert 'id="staff-sign-out"' not in sign_in.get_data(as_text=True)
    staff_sign_in(client, make_staff(role="admin", name="Ada Admin"))
    pages = (
        "/staff/",
        f"/staff/requests/{request.reference}",
        "/staff/requests/new",
        "/staff/dashboard",
        "/staff/mail",
        "/staff/members",
        "/staff/retention/",
        "/staff/cookie-scan/",
        "/staff/consent-records/",
        "/staff/consent-records/dashboard",
    )
    for path in pages:
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 200, path
        text = answer.get_data(as_text=True)
        assert WIDGET_SCRIPT not in text and "data-pc-open" not in text, path
        assert 'class="language-switcher"' not in text and 'class="main-nav"' not in text, path
        # The console's header: the member, their role, the navigation and the sign-out.
        assert "Ada Admin" in text and "Admin</span>" in text, path
        assert 'class="console-nav"' in text and 'id="staff-sign-out"' in text, path
        cookies = {header.split("=", 1)[0] for header in answer.headers.getlist("Set-Cookie")}
        assert cookies <= {STAFF_COOKIE}, (path, cookies)
