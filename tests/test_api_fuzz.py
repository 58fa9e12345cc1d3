"""Schemathesis against the live application: every ``/api/v1`` operation of the OpenAPI
description (privacy_center/consent/openapi.yaml, as the application serves it) is driven with
generated requests, valid and invalid; no answer is a server error, and every answer conforms
to the description (status code, content type, headers, body schema).

The requests go through the WSGI application, inside the ``db`` fixture's transaction: the
receipts the run records are rolled back with it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import schemathesis
import yaml
from conftest import current_policy_version
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import func, select
from test_consent_api import ORIGIN

from privacy_center.config import PROJECT_ROOT
from privacy_center.consent.choices import optional_services
from privacy_center.consent.views import OPENAPI_FILE, openapi_description
from privacy_center.content import load_content
from privacy_center.models import ConsentReceipt

# Examples generated per operation in the fuzzing phase (plus the coverage phase's own cases).
MAX_EXAMPLES = 60

FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # the same cases on every run: CI is deterministic
    database=None,  # no .hypothesis/ folder left in the working tree
    deadline=None,  # timing is not what is tested (2 shared cores, two databases)
    # The fixtures (one application, one rolled-back transaction) serve every example of an
    # operation on purpose: the receipts recorded meanwhile only make later examples conflict
    # or repeat, which the description allows (409, 200).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def api_app(make_app, db):
    """The application with a rate limit no run reaches (429 is tested in test_consent_api)."""
    return make_app(CONSENT_RATE_LIMIT="1000000 per minute")


def served_description() -> str:
    """The description exactly as the application serves it, for the operator's content.

    (Built here rather than fetched through a fixture: schemathesis' lazy fixture loader does
    not work with pytest 9. The test below checks that the application serves this text.)
    """
    content = load_content(PROJECT_ROOT / "content")
    operator = content.operator
    current = content.current_version(operator.today()).number
    sites = [site.key for site in operator.sites]
    services = optional_services(content.registry)
    return openapi_description(sites, list(operator.languages), current, services)


schema = schemathesis.openapi.from_file(served_description())


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_conforms_to_its_description(case, api_app):
    # Browsers send Origin themselves: the run posts from the demo operator's page (a random
    # origin would only ever meet the 403 of the origin check).
    case.call_and_validate(app=api_app, headers={"Origin": ORIGIN})


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_without_origin_never_fails(case, api_app):
    """The same operations as a script would call them (no Origin): refused, never a 5xx."""
    response = case.call(app=api_app)
    case.validate_response(response, checks=[not_a_server_error])


# --- the description itself ------------------------------------------------------------------


def test_the_shipped_description_is_valid_openapi():
    # Checked against the OpenAPI 3.1 meta-schema (raises the first error found).
    schemathesis.openapi.from_path(OPENAPI_FILE).validate()
    assert yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))["openapi"].startswith("3.1")


def test_every_api_route_is_described(app):
    described = yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))["paths"]
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        assert path in described, f"{rule.rule} is not in openapi.yaml"
        methods = (rule.methods or set()) - {"HEAD"}
        assert methods <= {method.upper() for method in described[path]}, rule.rule


def test_the_served_description_lists_the_deployment_values(client):
    answer = client.get("/api/v1/openapi.yaml")
    assert answer.status_code == 200 and answer.mimetype == "application/yaml"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    served = yaml.safe_load(answer.get_data(as_text=True))
    fields = served["components"]["schemas"]["ReceiptInput"]["properties"]
    assert fields["site"]["enum"] == ["demo"]
    assert fields["language"]["enum"] == ["fr", "en", "es", "de"]
    assert fields["policyVersion"]["maximum"] == current_policy_version()
    shipped = yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))
    assert served["paths"] == shipped["paths"]
    assert answer.get_data(as_text=True) == served_description()


def test_the_description_ships_with_the_package():
    pyproject = Path(__file__).parents[1] / "pyproject.toml"
    assert '"*/openapi.yaml"' in pyproject.read_text(encoding="utf-8")


def test_a_recorded_receipt_and_the_configuration_conform(client, db):
    """What generated requests seldom reach: a site's configuration, and a receipt looked up
    after it was recorded (the look-up needs the id of a recorded receipt)."""
    config = client.get("/api/v1/sites/demo/config?lang=en", headers={"Sec-GPC": "1"})
    assert config.status_code == 200 and config.get_json()["gpc"] is True
    schema["/api/v1/sites/{site_key}/config"]["GET"].validate_response(config)
    again = client.get(
        "/api/v1/sites/demo/config?lang=en",
        headers={"Sec-GPC": "1", "If-None-Match": config.headers["ETag"]},
    )
    assert again.status_code == 304
    receipt_id = str(uuid.uuid4()).upper()  # any case is accepted
    body = receipt_body(receipt_id)
    recorded = post(client, body)
    assert recorded.status_code == 201
    schema["/api/v1/consents"]["POST"].validate_response(recorded)
    retried = post(client, body)  # the same choice posted again: the first record
    assert retried.status_code == 200 and retried.get_json() == recorded.get_json()
    other_choice = body.replace('"analytics": false', '"analytics": true')
    assert post(client, other_choice).status_code == 409
    looked_up = client.get(urlsplit(recorded.get_json()["url"]).path, headers={"Origin": ORIGIN})
    assert looked_up.status_code == 200
    assert looked_up.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert looked_up.headers["Cache-Control"] == "private, no-store"
    schema["/api/v1/consents/{receipt_id}"]["GET"].validate_response(looked_up)
    assert looked_up.get_json()["receiptId"] == receipt_id.lower()


# --- defects the run found, kept as plain regression tests ----------------------------------


def post(client, body: str):
    return client.post(
        "/api/v1/consents", data=body, content_type="application/json", headers={"Origin": ORIGIN}
    )


def receipt_body(
    receipt_id: str, texts_hash: str = "a" * 64, policy_version: str = "", visitor_id: str = ""
) -> str:
    """A receipt's JSON, written by hand (to send what json.dumps would not)."""
    visitor_id = visitor_id or str(uuid.uuid4())
    policy_version = policy_version or str(current_policy_version())
    return (
        f'{{"receiptId": "{receipt_id}", "visitorId": "{visitor_id}", "site": "demo", '
        f'"policyVersion": {policy_version}, "build": "0123456789ab", '
        f'"textsHash": "{texts_hash}", "language": "fr", "action": "save", "gpc": false, '
        '"choices": {"functional": true, "analytics": false, "advertising": false, '
        '"personalization": false, "social": false}}'
    )


def test_json_nested_deeper_than_python_parses_is_a_400(client, db):
    # 2 KB of "[" used to raise RecursionError: a 500.
    for body in ("[" * 2000, '{"a":' * 400):
        answer = post(client, body)
        assert answer.status_code == 400
        assert answer.get_json() == {"error": "the body must be a JSON object"}


def test_a_receipt_id_with_a_final_newline_is_refused(client, db):
    # "$" also matched before a final newline: such a receipt was stored and could never be
    # looked up again (the look-up canonicalises the id).
    receipt_id = str(uuid.uuid4())
    answer = post(client, receipt_body(receipt_id + "\\n"))
    assert answer.status_code == 400 and answer.get_json()["field"] == "receiptId"
    stored = select(func.count()).select_from(ConsentReceipt)
    assert db.scalar(stored.where(ConsentReceipt.receipt_id.startswith(receipt_id))) == 0
    answer = post(client, receipt_body(receipt_id, texts_hash="a" * 63 + "\\n"))
    assert answer.status_code == 400 and answer.get_json()["field"] == "textsHash"


def test_a_whole_number_written_with_a_fraction_is_that_number(client, db):
    # JSON has one number type, and JSON Schema's "integer" accepts 2.0: so does the API.
    current = current_policy_version()
    whole = receipt_body(str(uuid.uuid4()), policy_version=f"{current}.0")
    assert post(client, whole).status_code == 201
    for refused in (f"{current}.5", "true", f'"{current}"', f"{current + 1}.0"):
        answer = post(client, receipt_body(str(uuid.uuid4()), policy_version=refused))
        assert answer.status_code == 400 and answer.get_json()["field"] == "policyVersion"


def test_a_method_not_allowed_says_which_are(client):
    answer = client.delete("/api/v1/consents")
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert answer.is_json
