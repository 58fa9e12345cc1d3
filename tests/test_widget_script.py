"""The widget script at its stable address carries what its banner needs (issue 19)."""

from __future__ import annotations

import json

from privacy_center.consent.views import BOOT_PLACEHOLDER
from privacy_center.consent.widget import load_builds


def test_the_script_carries_the_banner_texts_of_its_language(client) -> None:
    config = client.get("/api/v1/sites/demo/config?lang=de").get_json()
    answer = client.get("/widget/consent.js?lang=de")
    assert answer.status_code == 200
    body = answer.get_data()
    assert BOOT_PLACEHOLDER not in body
    for key in ("bannerTitle", "bannerText", "acceptAll", "rejectAll", "placeholderText"):
        assert json.dumps(config["texts"][key], ensure_ascii=False).encode() in body, key
    # The dialog's texts and the cookie details stay in the configuration.
    assert json.dumps(config["texts"]["dialogText"], ensure_ascii=False).encode() not in body
    cookie = config["categories"][1]["cookies"][0]
    assert json.dumps(cookie["purpose"], ensure_ascii=False).encode() not in body
    assert f'"v":{config["policyVersion"]},'.encode() in body
    assert {"Accept-Language", "Sec-GPC"} <= set(answer.headers["Vary"].split(", "))


def test_the_script_language_follows_the_request_not_the_language_cookie(client) -> None:
    # A shared cache keeps one answer per Accept-Language: the cookie must not change it.
    client.set_cookie("pc_lang", "fr")
    spanish = client.get("/widget/consent.js", headers={"Accept-Language": "es"}).get_data()
    texts = client.get("/api/v1/sites/demo/config?lang=es").get_json()["texts"]
    assert json.dumps(texts["acceptAll"], ensure_ascii=False).encode() in spanish
    assert b'"language":"es"' in spanish


def test_the_hashed_build_is_served_as_built(client) -> None:
    # Pinned with Subresource Integrity: its bytes are the manifest's.
    build = load_builds().current
    body = client.get(f"/widget/{build.js}").get_data()
    assert BOOT_PLACEHOLDER in body
