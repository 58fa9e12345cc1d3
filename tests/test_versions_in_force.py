"""Receipts, certificates and letters keep naming the version in force when they were made:
the number stored with the record, never today's version re-rendered over it."""

from __future__ import annotations

import json
from datetime import date

from conftest import current_policy_version, sign_in, valid_receipt
from test_consent_api import post
from test_postmortem import PAGE, directive_form, pdf_text, versions_of

from privacy_center.content import get_content
from privacy_center.postmortem import services as postmortem_services


def test_a_receipt_names_the_policy_version_it_was_given_under(app, client, monkeypatch):
    with app.app_context():
        operator = get_content().operator
    # 1 November 2026: version 1 is in force; a choice is made and its receipt recorded.
    monkeypatch.setattr(type(operator), "today", lambda self: date(2026, 11, 1))
    assert client.get("/api/v1/sites/demo/config?lang=en").get_json()["policyVersion"] == 1
    early = valid_receipt(policyVersion=1)
    assert post(client, early).status_code == 201
    # Version 2 is not in force yet: no receipt can claim it.
    refused = post(client, valid_receipt(policyVersion=2))
    assert refused.status_code == 400 and refused.get_json()["field"] == "policyVersion"
    monkeypatch.undo()

    # Today a later version is in force; the receipt made under version 1 still says 1.
    current = current_policy_version()
    assert current > 1
    assert client.get("/api/v1/sites/demo/config?lang=en").get_json()["policyVersion"] == current
    assert client.get(f"/api/v1/consents/{early['receiptId']}").get_json()["policyVersion"] == 1
    looked_up = app.test_cli_runner().invoke(args=["consent", "receipt", early["receiptId"]])
    assert looked_up.exit_code == 0 and json.loads(looked_up.output)["policyVersion"] == 1
    later = valid_receipt(policyVersion=current)
    assert post(client, later).status_code == 201
    assert (
        client.get(f"/api/v1/consents/{later['receiptId']}").get_json()["policyVersion"] == current
    )


OLD_WORDING = "I agreed in 2025 to these directives being recorded (former wording)."


def test_a_certificate_quotes_the_consent_wording_its_holder_agreed_to(
    client, db, make_account, monkeypatch
):
    """A certificate downloaded after the wording changed still quotes the words agreed to,
    with their version, not today's words under the old version's name."""
    client.environ_base["REMOTE_ADDR"] = "10.85.85.86"
    account = make_account(language="en")
    sign_in(client, account)
    monkeypatch.setattr(postmortem_services, "CONSENT_WORDING_VERSION", "2025-03")
    monkeypatch.setitem(postmortem_services.CONSENT_WORDINGS, "2025-03", OLD_WORDING)
    assert client.post(PAGE, data=directive_form(client)).status_code == 302
    (recorded,) = versions_of(db, account)
    assert recorded.consent_wording_version == "2025-03"

    # The wording changed since; the certificate is downloaded today.
    monkeypatch.setattr(postmortem_services, "CONSENT_WORDING_VERSION", "2026-11")
    answer = client.get(f"{PAGE}/certificate.pdf?lang=en")
    assert answer.status_code == 200
    text = pdf_text(answer.data)
    assert OLD_WORDING in text and "(wording 2025-03)" in text
    assert "I consent, separately from the general terms of use" not in text


def test_every_recorded_wording_version_has_its_words():
    assert postmortem_services.CONSENT_WORDING_VERSION in postmortem_services.CONSENT_WORDINGS
    current = postmortem_services.CONSENT_WORDINGS[postmortem_services.CONSENT_WORDING_VERSION]
    assert current is postmortem_services.CONSENT_WORDING
