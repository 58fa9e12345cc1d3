"""The consent API: widget configuration and receipts (proof of consent)."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import date

import pytest
from conftest import current_policy_version, valid_receipt
from sqlalchemy import func, select
from test_policy_content import CONTENT_DIR

from privacy_center.consent.configuration import max_age_seconds
from privacy_center.consent.services import browser_family
from privacy_center.content import load_content
from privacy_center.models import ConsentReceipt
from privacy_center.operator import ContentError

ORIGIN = "http://127.0.0.1:5001"  # the demo operator page, declared in content/operator.yaml


@pytest.fixture
def receipt_payload():
    """Factory: a valid receipt body, with fields overridden."""
    return valid_receipt


def post(client, payload, origin=ORIGIN, **headers):
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    if origin:
        headers["Origin"] = origin
    return client.post(
        "/api/v1/consents", data=body, content_type="application/json", headers=headers
    )


def count(db, receipt_id: str | None = None) -> int:
    """Receipts stored (with this id); other tests' browsers may have stored some already."""
    query = select(func.count()).select_from(ConsentReceipt)
    if receipt_id:
        query = query.where(ConsentReceipt.receipt_id == receipt_id)
    return db.scalar(query)


def test_config_for_site_and_language(client):
    response = client.get("/api/v1/sites/demo/config?lang=de")
    assert response.status_code == 200
    config = response.get_json()
    assert [c["key"] for c in config["categories"]] == [
        "functional", "analytics", "advertising", "personalization", "social"
    ]  # fmt: skip
    assert config["categories"][0]["required"] is True
    assert config["language"] == "de" and config["policyVersion"] == current_policy_version()
    assert config["texts"]["acceptAll"] == "Alle akzeptieren"
    assert any(c["name"] == "_ga" for c in config["categories"][1]["cookies"])
    assert config["categories"][4]["cookies"][0]["lifetime"]
    assert 180 * 86400 <= config["maxAgeSeconds"] <= 184 * 86400
    assert config["gpc"] is False
    assert len(config["textsHash"]) == 64
    assert config["apiUrl"].endswith("/api/v1/consents")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "max-age=" in response.headers["Cache-Control"]
    assert "Sec-GPC" in response.headers["Vary"]
    again = client.get(
        "/api/v1/sites/demo/config?lang=de", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    french = client.get("/api/v1/sites/demo/config?lang=fr").get_json()
    assert french["textsHash"] != config["textsHash"]
    assert "Set-Cookie" not in response.headers


def test_config_carries_the_gpc_signal(client):
    config = client.get("/api/v1/sites/demo/config", headers={"Sec-GPC": "1"}).get_json()
    assert config["gpc"] is True


def test_config_of_unknown_site(client):
    response = client.get("/api/v1/sites/nope/config")
    assert response.status_code == 404 and "unknown site" in response.get_json()["error"]


def test_receipt_is_recorded_and_returned(client, db, receipt_payload):
    payload = receipt_payload(action="accept-all")
    response = post(client, payload, **{"User-Agent": "Mozilla/5.0 Firefox/140.0"})
    assert response.status_code == 201, response.get_json()
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    body = response.get_json()
    assert body["receiptId"] == payload["receiptId"]
    stored = client.get(f"/api/v1/consents/{payload['receiptId']}").get_json()
    assert stored["choices"] == payload["choices"]
    assert stored["site"] == "demo" and stored["policyVersion"] == current_policy_version()
    assert stored["build"] == "0123456789ab" and stored["textsHash"] == "a" * 64
    assert stored["action"] == "accept-all" and stored["method"] == "click"
    assert stored["browser"] == "Firefox" and stored["language"] == "fr"
    assert stored["recordedAt"].endswith("Z")
    row = db.scalar(select(ConsentReceipt).where(ConsentReceipt.receipt_id == payload["receiptId"]))
    assert row.visitor_id == payload["visitorId"]
    # Never the IP address, in any column.
    assert "127.0.0.1" not in json.dumps(
        {c.name: str(getattr(row, c.name)) for c in ConsentReceipt.__table__.columns}
    )


def test_receipt_post_is_idempotent(client, db, receipt_payload):
    payload = receipt_payload()
    assert post(client, payload).status_code == 201
    again = post(client, payload)
    assert again.status_code == 200 and again.get_json()["receiptId"] == payload["receiptId"]
    assert count(db, payload["receiptId"]) == 1
    conflicting = dict(payload, choices={**payload["choices"], "social": True})
    response = post(client, conflicting)
    assert response.status_code == 409
    assert count(db, payload["receiptId"]) == 1


def test_gpc_refusal_is_recorded_as_given_by_the_signal(client, receipt_payload):
    payload = receipt_payload(gpc=True, action="accept-all")
    payload["choices"].update(analytics=True, personalization=True)
    post(client, payload)
    stored = client.get(f"/api/v1/consents/{payload['receiptId']}").get_json()
    assert stored["gpc"] is True and stored["method"] == "gpc"


def _choices(**changes: object) -> dict[str, object]:
    choices = {
        "functional": True,
        "analytics": True,
        "advertising": False,
        "personalization": False,
        "social": False,
    }
    return {"choices": {**choices, **changes}}


BAD_PAYLOADS = {
    "unknown category": _choices(tracking=True),
    "missing category": {"choices": {"functional": True, "analytics": True}},
    "string instead of bool": _choices(analytics="yes"),
    "functional refused": _choices(functional=False),
    "bad receipt id": {"receiptId": "1234"},
    "uuid not v4": {"receiptId": "00000000-0000-1000-8000-000000000000"},
    "unknown site": {"site": "elsewhere"},
    "future policy version": {"policyVersion": current_policy_version() + 1},
    "version as string": {"policyVersion": str(current_policy_version())},
    "version as bool": {"policyVersion": True},
    "unknown language": {"language": "it"},
    "unknown action": {"action": "maybe"},
    "gpc as string": {"gpc": "false"},
    "texts hash too short": {"textsHash": "abc"},
    "build not hex": {"build": "not-hex!"},
    "extra field": {"ip": "1.2.3.4"},
}


@pytest.mark.parametrize("case", sorted(BAD_PAYLOADS))
def test_bad_receipts_get_400_and_store_nothing(client, db, receipt_payload, case):
    before = count(db)
    response = post(client, receipt_payload(**BAD_PAYLOADS[case]))
    assert response.status_code == 400, case
    assert response.get_json()["error"]
    assert count(db) == before


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b"", b"{" + b'"x": "' + b"a" * 4000 + b'"}', b'{"receiptId": null}'],
    ids=["not-json", "array", "empty", "oversized", "missing-fields"],
)
def test_malformed_bodies_get_400(client, db, body):
    before = count(db)
    response = post(client, body)
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert count(db) == before


def test_missing_field_is_named(client, receipt_payload):
    payload = receipt_payload()
    del payload["language"]
    response = post(client, payload)
    assert response.status_code == 400 and response.get_json()["field"] == "language"


def test_only_configured_origins_may_post(client, db, receipt_payload):
    before = count(db)
    assert post(client, receipt_payload(), origin=None).status_code == 403
    response = post(client, receipt_payload(), origin="https://evil.example")
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert count(db) == before
    own = post(client, receipt_payload(), origin="http://localhost")
    assert own.status_code == 201


def test_preflight(client):
    allowed = client.options("/api/v1/consents", headers={"Origin": ORIGIN})
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    refused = client.options("/api/v1/consents", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403


def test_unknown_receipt(client):
    assert client.get(f"/api/v1/consents/{uuid.uuid4()}").status_code == 404
    assert client.get("/api/v1/consents/not-a-uuid").status_code == 404


def test_receipts_are_rate_limited(make_app, db, receipt_payload):
    app = make_app(CONSENT_RATE_LIMIT="3 per minute")
    client = app.test_client()
    statuses = [post(client, receipt_payload()).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    assert "error" in post(client, receipt_payload()).get_json()


def test_staff_can_look_a_receipt_up(app, client, receipt_payload):
    payload = receipt_payload()
    post(client, payload)
    result = app.test_cli_runner().invoke(args=["consent", "receipt", payload["receiptId"]])
    assert result.exit_code == 0 and payload["visitorId"] not in result.output
    assert json.loads(result.output)["choices"] == payload["choices"]
    missing = app.test_cli_runner().invoke(args=["consent", "receipt", str(uuid.uuid4())])
    assert missing.exit_code != 0 and "no consent receipt" in missing.output


@pytest.mark.parametrize(
    ("agent", "family"),
    [
        ("Mozilla/5.0 (X11) AppleWebKit/537.36 Chrome/140.0 Safari/537.36", "Chrome"),
        ("Mozilla/5.0 (Windows) AppleWebKit/537.36 Chrome/140.0 Safari/537.36 Edg/140.0", "Edge"),
        ("Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Version/18.0 Safari/605.1.15", "Safari"),
        ("Mozilla/5.0 (X11; Linux) Gecko/20100101 Firefox/140.0", "Firefox"),
        ("curl/8.0", "Other"),
    ],
)
def test_browser_family(agent, family):
    assert browser_family(agent) == family


def test_consent_lifetime_over_13_months_is_refused(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    operator = target / "operator.yaml"
    operator.write_text(
        operator.read_text().replace("consent_lifetime_months: 6", "consent_lifetime_months: 14")
    )
    with pytest.raises(ContentError, match="never lasts more than 13 months"):
        load_content(target)


def test_max_age_follows_calendar_months():
    day = 86400
    assert max_age_seconds(6, date(2026, 1, 31)) == 181 * day  # to 31 July 2026
    assert max_age_seconds(13, date(2026, 1, 31)) == 393 * day  # to 28 February 2027


SERVICES = {
    "google-analytics": True, "google-ads": True, "meta-pixel": False, "ab-tasty": False,
    "youtube": False, "x-twitter": False,
}  # fmt: skip


def test_receipt_carries_the_choice_of_each_service(client, db, receipt_payload):
    choices = {"functional": True, "analytics": True, "advertising": True,
               "personalization": False, "social": False}  # fmt: skip
    payload = receipt_payload(choices=choices, services=SERVICES)
    assert post(client, payload).status_code == 201
    stored = client.get(f"/api/v1/consents/{payload['receiptId']}").get_json()
    assert stored["services"] == SERVICES and stored["choices"] == choices
    row = db.scalar(select(ConsentReceipt).where(ConsentReceipt.receipt_id == payload["receiptId"]))
    assert row.services == SERVICES
    # The same receipt id with another service's choice is a different choice.
    other = dict(payload, services={**SERVICES, "google-ads": False, "meta-pixel": True})
    assert post(client, other).status_code == 409


def test_receipt_with_services_agreeing_with_choices_is_recorded(client, receipt_payload):
    assert post(client, receipt_payload(services=ANALYTICS_ONLY)).status_code == 201


def test_receipt_without_services_grants_them_with_their_category(client, receipt_payload):
    payload = receipt_payload()  # analytics granted, the rest refused; no "services"
    assert post(client, payload).status_code == 201
    stored = client.get(f"/api/v1/consents/{payload['receiptId']}").get_json()
    assert stored["services"] == ANALYTICS_ONLY


# Agrees with valid_receipt's choices: analytics granted, the rest refused.
ANALYTICS_ONLY = {key: key == "google-analytics" for key in SERVICES}


@pytest.mark.parametrize(
    "services",
    [
        {**ANALYTICS_ONLY, "meta-pixel": True},  # advertising refused, one of its services not
        {**ANALYTICS_ONLY, "google-analytics": False},  # analytics granted, its only service not
        {**ANALYTICS_ONLY, "unknown-tracker": True},
        {key: value for key, value in ANALYTICS_ONLY.items() if key != "youtube"},
        {**ANALYTICS_ONLY, "youtube": "yes"},
        {**ANALYTICS_ONLY, "allopass-site": True},  # functional services are not switches
        ["google-analytics"],
        None,
    ],
)
def test_services_that_contradict_or_miss_get_400(client, db, receipt_payload, services):
    payload = receipt_payload(services=services)
    response = post(client, payload)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["field"] == "services"
    assert count(db, payload["receiptId"]) == 0


def test_config_language_follows_the_request_not_the_language_cookie(client):
    # A shared cache keeps one answer per ?lang= and Accept-Language (Vary): never per cookie.
    client.set_cookie("pc_lang", "fr")
    config = client.get("/api/v1/sites/demo/config", headers={"Accept-Language": "de"})
    assert config.get_json()["language"] == "de"
    assert "Accept-Language" in config.headers["Vary"]
    assert "Cookie" not in config.headers["Vary"]
