"""Issue 16, item 5: no 500 on odd ids.

``/rights/download/9999999999999999999999999``, ``/staff/?assignee=%C2%B2`` and out-of-range
document ids answered 500: SQLite cannot bind an integer beyond 64 bits, PostgreSQL's integer
ids end at 2**31 - 1, and ``"²".isdigit()`` is true while ``int("²")`` fails. Every id in a
URL goes through one converter (privacy_center/ids.py, in place of Werkzeug's ``int``), every
id in a filter through one parse:

- a path id beyond 2**31 - 1, zero, or written with other digits than 0-9 matches no route: 404;
- the queue's ``assignee`` that is no id: 400; a JSON id beyond 2**31 - 1 names nobody.

Each route with an id is tried (``ID_ROUTES``; ``test_every_id_route_is_tried`` fails when a
new one is missing) by the identity that may open it, so that the odd id reaches the lookup.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import current_policy_version
from flask import Flask
from sqlalchemy.dialects import postgresql
from test_access_matrix import TOKEN, World, build_world
from test_activity import MAILER_TOKEN
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from privacy_center.extensions import db
from privacy_center.ids import MAX_ID, DatabaseIdConverter, parse_id
from privacy_center.models import PrivacyRequest

# Path ids that name nothing, and why each once reached the database (or an alias of a row).
ODD_IDS = {
    "beyond-64-bits": "9999999999999999999999999",
    "2-to-the-63": str(2**63),
    "2-to-the-31": str(2**31),
    "superscript-two": "²",
    "zero": "0",
    "leading-sign": "+1",
}

# Every route with an id: (who may open it, method, address, the object the id names). ``{id}``
# is replaced by the id tried; ``{ref}`` and ``{token}`` are the request's status link.
ID_ROUTES: dict[str, tuple[str, str, str, str]] = {
    "policy.version": ("anonymous", "GET", "/policy/versions/{id}", "version"),
    "policy.version_pdf": ("anonymous", "GET", "/policy/versions/{id}/pdf", "version"),
    "rights.letter_pdf": (
        "anonymous", "GET", "/rights/requests/{ref}/{token}/letters/{id}", "letter",
    ),
    "exports.status": ("holder_a", "GET", "/rights/download/{id}", "export"),
    "exports.file": ("holder_a", "GET", "/rights/download/{id}/file", "export"),
    "staff.document": ("admin", "GET", "/staff/requests/{ref}/documents/{id}", "document"),
    "staff.document_page": (
        "admin", "GET", "/staff/requests/{ref}/documents/{id}/pages/1.png", "document",
    ),
    "staff.document_original": (
        "admin", "GET", "/staff/requests/{ref}/documents/{id}/original", "document",
    ),
    "staff.letter_pdf": ("admin", "GET", "/staff/requests/{ref}/letters/{id}.pdf", "letter"),
    "staff.deactivate": ("admin", "POST", "/staff/members/{id}/deactivate", "member"),
    "staff.reset_totp": ("admin", "POST", "/staff/members/{id}/reset-two-factor", "member"),
    "staff.unlock": ("admin", "POST", "/staff/members/{id}/unlock", "member"),
    "staff.end_member_sessions": ("admin", "POST", "/staff/members/{id}/end-sessions", "member"),
    "staff.retry_mail": ("admin", "POST", "/staff/mail/{id}/retry", "mail"),
    "recipients.retry": (
        "admin", "POST", "/staff/requests/{ref}/recipients/{id}/retry", "notification",
    ),
    "recipients.mark_acknowledged": (
        "admin", "POST", "/staff/requests/{ref}/recipients/{id}/acknowledged", "notification",
    ),
}  # fmt: skip


@pytest.fixture
def world(app, db, make_account, make_staff, tmp_path, monkeypatch) -> World:
    return build_world(app, db, make_account, make_staff, tmp_path, monkeypatch)


def real_id(world: World, names: str) -> str:
    if names == "version":
        return str(current_policy_version())
    if names == "member":
        return str(world.member("agent").id)
    return world.values[names]


def ask(world: World, endpoint: str, object_id: str) -> Any:
    """The route's answer for ``object_id``, asked by the identity that may open it (a POST
    carries a valid CSRF token, so that the id is what decides)."""
    identity, method, template, _names = ID_ROUTES[endpoint]
    client = world.client(identity)
    path = template.format(id=object_id, ref=world.values["ref"], token=world.values["token"])
    if method == "GET":
        return client.get(path)
    page = client.get(f"/staff/requests/{world.values['ref']}").get_data(as_text=True)
    token = TOKEN.search(page)[1]  # type: ignore[index]
    return client.post(path, data={"csrf_token": token, "retry-csrf_token": token})


def id_rules(app: Flask) -> dict[str, Any]:
    return {
        rule.endpoint: rule
        for rule in app.url_map.iter_rules()
        if any(isinstance(c, IntegerConverter) for c in rule._converters.values())
    }


def test_every_id_route_is_tried(app: Flask) -> None:
    """A new route with an ``<int:...>`` must be added to ID_ROUTES."""
    assert sorted(id_rules(app)) == sorted(ID_ROUTES)


def test_every_int_in_a_route_is_a_bounded_database_id(app: Flask) -> None:
    for rule in id_rules(app).values():
        for name, converter in rule._converters.items():
            if isinstance(converter, IntegerConverter):
                assert isinstance(converter, DatabaseIdConverter), (rule.rule, name)
                assert converter.max <= MAX_ID and converter.min >= 1, (rule.rule, name)


@pytest.mark.parametrize("endpoint", sorted(ID_ROUTES))
def test_an_odd_id_in_the_path_is_404(world: World, endpoint: str) -> None:
    world.client(ID_ROUTES[endpoint][0]), world.member("agent")
    before = world.state()
    for name, odd in ODD_IDS.items():
        answer = ask(world, endpoint, odd)
        assert answer.status_code == 404, (endpoint, name, answer.status_code)
        assert "This page does not exist" in answer.get_data(as_text=True)
    assert world.state() == before


@pytest.mark.parametrize("endpoint", sorted(ID_ROUTES))
def test_the_largest_id_reaches_the_route_and_names_nothing(world: World, endpoint: str) -> None:
    """2**31 - 1 is still an id: the route's own lookup answers (not the router, not a sign-in
    page, not a 500)."""
    _identity, method, template, _names = ID_ROUTES[endpoint]
    path = template.format(id=MAX_ID, ref=world.values["ref"], token=world.values["token"])
    assert world.app.url_map.bind("localhost").match(path, method)[0] == endpoint
    answer = ask(world, endpoint, str(MAX_ID))
    assert answer.status_code == 404, (endpoint, answer.status_code)


@pytest.mark.parametrize(
    "endpoint", sorted(e for e, (_, method, _, _) in ID_ROUTES.items() if method == "GET")
)
def test_a_real_id_in_other_digits_is_no_alias_of_it(world: World, endpoint: str) -> None:
    """``\\d`` matched Arabic-Indic digits, and int() read them: /rights/download/٣ opened
    copy 3. Only 0-9 spell an id."""
    real = real_id(world, ID_ROUTES[endpoint][3])
    assert ask(world, endpoint, real).status_code == 200, endpoint
    arabic_indic = "".join(chr(0x0660 + int(digit)) for digit in real)
    assert ask(world, endpoint, arabic_indic).status_code == 404, endpoint
    fullwidth = "".join(chr(0xFF10 + int(digit)) for digit in real)
    assert ask(world, endpoint, fullwidth).status_code == 404, endpoint


def test_the_router_itself_refuses_what_is_no_id(app: Flask) -> None:
    adapter = app.url_map.bind("localhost")
    assert adapter.match(f"/rights/download/{MAX_ID}")[1] == {"export_id": MAX_ID}
    for odd in [*ODD_IDS.values(), "٣", "1" * 20]:
        with pytest.raises(NotFound):
            adapter.match(f"/rights/download/{odd}")


# --- ids in a filter ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "assignee",
    [
        "²",
        "%C2%B2",
        str(2**31),
        str(2**63),
        "9999999999999999999999999",
        "٣",
        "-1",
        "0",
        "1.0",
        " 1",
        "x",
    ],
)
def test_the_queue_refuses_an_assignee_that_is_no_id(world: World, assignee: str) -> None:
    client = world.client("admin")
    query = f"assignee={assignee}" if "%" in assignee else {"assignee": assignee}
    answer = client.get("/staff/", query_string=query)
    assert answer.status_code == 400, (assignee, answer.status_code)
    assert "The request could not be understood" in answer.get_data(as_text=True)


def test_the_queue_filters_by_a_real_assignee_and_by_nobody(world: World) -> None:
    client = world.client("admin")
    agent = world.member("agent")
    world.request_a.assigned_to = agent
    world.db.flush()
    mine = client.get("/staff/", query_string={"assignee": str(agent.id)})
    assert mine.status_code == 200
    html = mine.get_data(as_text=True)
    assert world.request_a.reference in html and world.request_b.reference not in html
    nobody = client.get("/staff/", query_string={"assignee": "none"})
    html = nobody.get_data(as_text=True)
    assert nobody.status_code == 200
    assert world.request_b.reference in html and world.request_a.reference not in html
    # An id of no member (the largest id) is an empty list, not an error.
    empty = client.get("/staff/", query_string={"assignee": str(MAX_ID)})
    assert empty.status_code == 200
    assert "0 open requests" in empty.get_data(as_text=True)
    assert client.get("/staff/", query_string={"assignee": ""}).status_code == 200


def test_assigning_to_a_member_that_is_no_id_is_a_form_error(world: World) -> None:
    client = world.client("admin")
    reference = world.values["ref"]
    page = client.get(f"/staff/requests/{reference}").get_data(as_text=True)
    token = TOKEN.search(page)[1]  # type: ignore[index]
    for chosen in ("²", str(2**63)):
        answer = client.post(
            f"/staff/requests/{reference}/assign",
            data={"assign-csrf_token": token, "assign-assignee": chosen},
        )
        assert answer.status_code in (400, 422), (chosen, answer.status_code)
        world.db.expire_all()
        assert world.db.get(PrivacyRequest, world.request_a.id).assigned_to_id is None


@pytest.mark.parametrize("to", ["²", "٣", str(2**63), "9999999999999999999999999", "-1"])
def test_the_policy_changes_page_never_fails_on_a_version_number(client, to: str) -> None:
    answer = client.get("/policy/changes", query_string={"to": to, "from": to})
    assert answer.status_code in (200, 404), (to, answer.status_code)


# --- ids in a JSON body -------------------------------------------------------------------------


@pytest.mark.parametrize("account_id", [2**31, 2**63, 2**64 + 5, 10**30, -1, 0])
def test_the_mailer_feed_counts_an_out_of_range_id_as_nobody(
    client, make_account, monkeypatch, account_id: int
) -> None:
    monkeypatch.setenv("PC_MAILER_TOKEN", MAILER_TOKEN)
    known = make_account()
    answer = client.post(
        "/api/v1/activity",
        json={
            "activity": [
                {"account_id": account_id, "at": "2025-01-01T00:00:00Z"},
                {"account_id": known.id, "at": "2025-01-01T00:00:00Z"},
            ]
        },
        headers={"Authorization": f"Bearer {MAILER_TOKEN}"},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"recorded": 1, "unknown": 1}
    links = client.post(
        "/api/v1/activity/links",
        json={"links": [{"account_id": account_id, "url": "https://www.allopass.com/"}]},
        headers={"Authorization": f"Bearer {MAILER_TOKEN}"},
    )
    assert links.status_code == 200 and links.get_json() == {"links": [None]}


# --- the parse itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1),
        ("0042", 42),
        (str(MAX_ID), MAX_ID),
        (7, 7),
        (str(MAX_ID + 1), None),
        ("9" * 400, None),
        ("²", None),
        ("٣", None),
        ("0", None),
        ("-3", None),
        ("+3", None),
        (" 3", None),
        ("3\n", None),
        ("", None),
        (None, None),
        (True, None),
        (3.0, None),
        (MAX_ID + 1, None),
        (-5, None),
    ],
)
def test_parse_id(value: object, expected: int | None) -> None:
    assert parse_id(value) == expected


def test_a_route_that_asks_for_a_wider_int_still_gets_a_database_id(app: Flask) -> None:
    # Arguments narrow the converter, never widen it past what the database holds.
    converter = DatabaseIdConverter(app.url_map, max=2**80, min=-5)
    assert (converter.min, converter.max) == (1, MAX_ID)
    assert converter.regex == r"[0-9]{1,10}"


def test_the_bound_is_postgresqls_integer_the_type_of_every_id_an_address_names() -> None:
    """MAX_ID is 2**31 - 1 because ids are INTEGER on PostgreSQL; only tables whose ids never
    appear in an address or a filter are BIGINT."""
    kinds = {
        table.name: table.c.id.type.compile(dialect=postgresql.dialect())
        for table in db.metadata.tables.values()
        if "id" in table.c
    }
    assert MAX_ID == 2**31 - 1
    assert {name for name, kind in kinds.items() if kind != "INTEGER"} == {
        "browsing_event",
        "audience_statistic",
    }
