"""``flask policy export-static DIR``: every version and language, pre-rendered."""

from __future__ import annotations

import pytest

from privacy_center.policy import cli as policy_cli


def test_export_writes_every_version_and_language(app, tmp_path):
    target = tmp_path / "site"
    result = app.test_cli_runner().invoke(args=["policy", "export-static", str(target)])
    assert result.exit_code == 0, result.output
    for language in ("fr", "en", "es", "de"):
        current = (target / "policy" / language / "index.html").read_text(encoding="utf-8")
        assert f'<html lang="{language}">' in current
        # Links inside the export are paths that exist in the export.
        assert (
            'href="/policy/versions/1/'
            in (target / "policy/versions" / language / "index.html").read_text()
        )
        assert 'href="/policy/de/"' in current
        for number in (1, 2):
            assert (target / f"policy/versions/{number}/{language}/index.html").is_file()
            assert (target / f"policy/versions/{number}/{language}/policy.pdf").read_bytes()[
                :4
            ] == b"%PDF"
        assert (target / f"policy/changes/1-2/{language}/index.html").is_file()
    assert (target / "policy/index.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert (target / "static/css/site.css").is_file()
    # The operator's theme and logo, at the addresses the pages link.
    assert "--pc-brand: #0b57d0;" in (target / "theme.css").read_text(encoding="utf-8")
    assert (target / "logo.svg").read_text(encoding="utf-8").startswith("<svg")
    assert 'href="/theme.css?v=' in current and 'src="/logo.svg?v=' in current
    assert "?lang=" not in (target / "policy/en/index.html").read_text(encoding="utf-8")


def test_failed_export_leaves_the_previous_one_intact(app, tmp_path, monkeypatch):
    target = tmp_path / "site"
    (target / "policy/en").mkdir(parents=True)
    before = b"<!doctype html><title>previous export</title>"
    (target / "policy/en/index.html").write_bytes(before)
    runner = app.test_cli_runner()

    def broken(kind, version, language):
        if language == "de":
            raise OSError("disk full")
        return b"partial"

    monkeypatch.setattr(policy_cli, "_render_for_export", broken)
    result = runner.invoke(args=["policy", "export-static", str(target)])
    assert result.exit_code != 0 and "disk full" in result.output
    assert (target / "policy/en/index.html").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["site"], "a staging folder was left behind"


@pytest.mark.parametrize("bad_target", ["/proc/forbidden-export"])
def test_export_into_unwritable_place_is_a_clear_error(app, bad_target):
    result = app.test_cli_runner().invoke(args=["policy", "export-static", bad_target])
    assert result.exit_code != 0
    assert "could not write the export" in result.output


def test_export_works_with_trusted_hosts_set_as_in_production(app, tmp_path, monkeypatch):
    # Outside a request the pages are rendered for the first trusted host; the default
    # "localhost" would be refused and no address could be built.
    monkeypatch.setitem(app.config, "TRUSTED_HOSTS", [".privacy.example.com"])
    target = tmp_path / "site"
    result = app.test_cli_runner().invoke(args=["policy", "export-static", str(target)])
    assert result.exit_code == 0, result.output
    assert 'href="/policy/de/"' in (target / "policy/en/index.html").read_text(encoding="utf-8")
