"""The operator's look from content/operator.yaml: brand colour (checked for contrast) and logo,
served as /theme.css and /logo.svg because the pages' CSP forbids inline styles."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from privacy_center.contrast import contrast_ratio, parse_hex
from privacy_center.operator import ContentError, load_operator

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"


def content_copy(tmp_path: Path, **replacements: str) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    operator = target / "operator.yaml"
    text = operator.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    operator.write_text(text, encoding="utf-8")
    return target


def test_contrast_ratios_are_wcag_s():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#fff", "#ffffff") == pytest.approx(1)
    # #767676 is the lightest grey that carries text on white (4.54:1); #777777 is not (4.48:1).
    assert contrast_ratio("#767676", "#fff") == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio("#777777", "#fff") == pytest.approx(4.48, abs=0.01)
    assert parse_hex("#0B57D0") == (11, 87, 208)
    with pytest.raises(ValueError, match="not a hex colour"):
        parse_hex("blue")


def test_a_brand_colour_too_light_for_white_text_stops_start_up(tmp_path):
    content = content_copy(tmp_path, **{'brand_color: "#0b57d0"': 'brand_color: "#4c9aff"'})
    with pytest.raises(ContentError) as error:
        load_operator(content / "operator.yaml")
    message = str(error.value)
    assert "brand_color #4c9aff" in message
    ratio = f"{contrast_ratio('#4c9aff', '#ffffff'):.2f}:1"
    assert ratio == "2.85:1" and ratio in message
    assert "at least 4.5:1" in message


@pytest.mark.parametrize("value", ["blue", "#12345", "0b57d0", "12"])
def test_a_brand_colour_that_is_not_a_hex_colour_is_refused(tmp_path, value):
    content = content_copy(tmp_path, **{'brand_color: "#0b57d0"': f'brand_color: "{value}"'})
    with pytest.raises(ContentError, match="brand_color must be a hex colour like #0b57d0"):
        load_operator(content / "operator.yaml")


@pytest.mark.parametrize(
    ("logo", "drawing", "message"),
    [
        ("../operator.yaml.svg", None, "outside the content folder"),
        ("missing.svg", None, "not found in the content folder"),
        ("logo.png", None, "the path of an .svg file"),
        (
            "bad.svg",
            '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "scripts",
        ),
        ("bad.svg", '<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>', "scripts"),
        ("bad.svg", "<html>not a drawing</html>", "not an SVG drawing"),
    ],
)
def test_a_wrong_logo_stops_start_up(tmp_path, logo, drawing, message):
    content = content_copy(tmp_path, **{"logo: logo.svg": f"logo: {logo}"})
    if drawing is not None:
        (content / logo).write_text(drawing, encoding="utf-8")
    with pytest.raises(ContentError, match=re.escape(message)):
        load_operator(content / "operator.yaml")


def test_without_brand_keys_the_defaults_apply(tmp_path):
    content = content_copy(tmp_path, **{'brand_color: "#0b57d0"\n': "", "logo: logo.svg\n": ""})
    operator = load_operator(content / "operator.yaml")
    assert operator.brand_color == "#0b57d0" and operator.logo is None


def test_the_theme_stylesheet_carries_the_operator_s_brand_colour(make_app, tmp_path):
    content = content_copy(tmp_path, **{'brand_color: "#0b57d0"': 'brand_color: "#7A1F5C"'})
    app = make_app(CONTENT_DIR=str(content))
    client = app.test_client()
    page = client.get("/policy?lang=en").get_data(as_text=True)
    # site.css first (it declares the layers), then the theme, then the page's own stylesheets.
    links = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert links[0].startswith("/static/css/site.css?v=")
    assert links[1].startswith("/theme.css?v=")
    theme = client.get(links[1])
    assert theme.status_code == 200 and theme.mimetype == "text/css"
    css = theme.get_data(as_text=True)
    assert "@layer tokens" in css
    assert "--pc-brand: #7a1f5c;" in css and "--pc-brand-ink: #ffffff;" in css
    # Addressed by its content: cached for a year, and revalidated by its ETag otherwise.
    assert theme.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Set-Cookie" not in theme.headers
    unversioned = client.get("/theme.css")
    assert unversioned.headers["Cache-Control"] == "public, max-age=3600"
    again = client.get("/theme.css", headers={"If-None-Match": unversioned.headers["ETag"]})
    assert again.status_code == 304


def test_the_header_shows_the_logo_named_by_the_operator_s_name(client):
    page = client.get("/rights?lang=de").get_data(as_text=True)
    logo = re.search(r'<img class="brand-logo" src="([^"]+)" alt="([^"]+)"', page)
    assert logo and logo.group(2) == "ALLOPASS"
    answer = client.get(logo.group(1))
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
    assert answer.data == (CONTENT_DIR / "logo.svg").read_bytes()
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_every_stylesheet_adds_to_site_css_s_layers():
    """One cascade order: site.css declares the layers; every page stylesheet is in one."""
    css_dir = Path(__file__).resolve().parent.parent / "privacy_center" / "static" / "css"
    site = (css_dir / "site.css").read_text(encoding="utf-8")
    assert "@layer reset, tokens, base, layout, components, features, utilities;" in site
    for name in ("rights.css", "accounts.css", "exports.css", "staff.css"):
        text = re.sub(r"/\*.*?\*/", "", (css_dir / name).read_text(encoding="utf-8"), flags=re.S)
        assert text.strip().startswith("@layer features {"), name
        assert text.strip().endswith("}"), name
