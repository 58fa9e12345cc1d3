"""``flask demo seed`` loads the demo operator and is idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from privacy_center.models import ConsentDay, ConsentReceipt, Site


@pytest.fixture
def empty_sites(db):
    """No site yet (browser tests may have created one for real); rolled back after the test."""
    db.execute(delete(ConsentReceipt))
    db.execute(delete(ConsentDay))
    db.execute(delete(Site))
    db.commit()


def test_seed_twice_changes_nothing(app, db, empty_sites):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert "1 created" in first.output
    site = db.scalar(select(Site).where(Site.key == "demo"))
    assert site.name and "https://www.allopass.com" in site.origins
    stamp = site.updated_at
    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0 and "0 created, 0 updated, 1 unchanged" in second.output
    assert "Audience statistics: 0 daily rows added" in second.output
    assert db.scalar(select(func.count()).select_from(Site)) == 1
    db.refresh(site)
    assert site.updated_at == stamp and site.updated_at.tzinfo is not None


def test_seed_updates_a_changed_site(app, db, empty_sites):
    db.add(Site(key="demo", name="Old name", origins=[]))
    db.commit()
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert "1 updated" in result.output
    assert db.scalar(select(Site.name).where(Site.key == "demo")) != "Old name"
