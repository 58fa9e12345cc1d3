"""The scan as a service: run the passes, compare, build the report, keep the last run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..content.cookies import Registry
from ..models import CookieScan
from .compare import compare, exit_status
from .report import build_report
from .scanner import Limits, Scan, scan_site


def assess(scan: Scan, registry: Registry, site: str, limits: Limits) -> dict:
    """The report of a finished scan against ``registry``."""
    findings = compare(registry, scan.passes, scan.site_hosts)
    return build_report(scan, findings, site, limits, exit_status(findings, scan.errors))


def scan_and_assess(
    browser: Any, urls: list[str], registry: Registry, site: str, limits: Limits
) -> dict:
    return assess(scan_site(browser, urls, limits), registry, site, limits)


def record_scan(session: Session, report: dict) -> CookieScan:
    """Keeps the report, in one transaction: the console shows the last one."""
    findings = report["findings"]
    scan = CookieScan(
        started_at=datetime.fromisoformat(report["started_at"]),
        finished_at=datetime.fromisoformat(report["finished_at"]),
        site_key=report["site"],
        exit_status=report["exit_status"],
        violations=len(findings["violations"]),
        undeclared=len(findings["undeclared"]),
        report=report,
    )
    session.add(scan)
    session.commit()
    return scan


def last_scan(session: Session) -> CookieScan | None:
    return session.scalars(
        select(CookieScan).order_by(CookieScan.finished_at.desc(), CookieScan.id.desc()).limit(1)
    ).first()
