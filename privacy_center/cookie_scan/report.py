"""The scan's report: one JSON-ready document, written for the terminal, as JSON and as HTML."""

from __future__ import annotations

import json
from pathlib import Path

from flask import current_app
from flask_babel import force_locale

from ..files import write_atomically
from .compare import PASSES
from .scanner import Limits, Scan

REPORT_VERSION = 1
PASS_TITLES = {
    "before": "before any choice",
    "refused": "after 'refuse all'",
    "accepted": "after 'accept all'",
}
PROBLEM_TITLES = {
    "declared": "lives longer than the registry declares",
    "maximum": "lives longer than 13 months",
}


def build_report(scan: Scan, findings: dict, site: str, limits: Limits, status: int) -> dict:
    """The whole scan as plain data: what each pass saw, the findings, the exit status."""
    return {
        "version": REPORT_VERSION,
        "site": site,
        "urls": scan.urls,
        "started_at": scan.started_at.isoformat(timespec="seconds"),
        "finished_at": (scan.finished_at or scan.started_at).isoformat(timespec="seconds"),
        "limits": {
            "pages": limits.max_pages,
            "page_seconds": limits.page_seconds,
            "total_seconds": limits.total_seconds,
        },
        "passes": {
            result.name: {
                "pages": result.pages,
                "cookies": [
                    {
                        "name": cookie.name,
                        "domain": cookie.domain,
                        "path": cookie.path,
                        "expires": cookie.expires.isoformat(timespec="seconds")
                        if cookie.expires
                        else None,
                        "page": cookie.page,
                    }
                    for cookie in result.cookies
                ],
                "storage": [
                    {"area": item.area, "key": item.key, "page": item.page}
                    for item in result.storage
                ],
                "hosts": sorted({request.host for request in result.requests}),
            }
            for result in scan.passes
        },
        "findings": findings,
        "errors": scan.errors,
        "exit_status": status,
    }


def terminal_lines(report: dict) -> list[str]:
    """The report as plain text lines, the failing findings first."""
    findings = report["findings"]
    lines = [
        f"Cookie scan of site {report['site']!r}: {', '.join(report['urls'])}",
        f"  started {report['started_at']}, finished {report['finished_at']}",
    ]
    for name in PASSES:
        seen = report["passes"].get(name)
        pages = len(seen["pages"]) if seen else 0
        lines.append(f"  pass {PASS_TITLES[name]}: {pages} page(s)")
    lines.append("")
    lines.append(f"Violations ({len(findings['violations'])})")
    for item in findings["violations"]:
        lines.append(
            f"  ! {PASS_TITLES[item['pass']]}: {item['kind']} {item['name']} "
            f"({item['service']}, {item['category']}) on {item['page']}"
        )
    lines.append(f"Undeclared ({len(findings['undeclared'])})")
    for item in findings["undeclared"]:
        lines.append(
            f"  ! {item['kind']} {item['name']} ({item['where']}) on {item['page']}, "
            f"seen {', '.join(PASS_TITLES[name] for name in item['passes'])}"
        )
    lines.append(f"Lifetimes ({len(findings['lifetimes'])})")
    for item in findings["lifetimes"]:
        declared = f", declared {item['declared']}" if item["declared"] else ""
        lines.append(
            f"  ! cookie {item['name']} ({item['domain']}) {PROBLEM_TITLES[item['problem']]}: "
            f"{item['days']} days{declared}"
        )
    lines.append(f"Declared but never seen ({len(findings['never_seen'])})")
    for item in findings["never_seen"]:
        lines.append(f"    {item['name']} ({item['service']})")
    lines.append(f"Third-party hosts contacted ({len(findings['hosts'])})")
    for item in findings["hosts"]:
        owner = item["service"] or (
            "the privacy center: the consent widget"
            if item.get("widget")
            else "not in the registry"
        )
        lines.append(f"    {item['host']} ({owner})")
    if report["errors"]:
        lines.append(f"Incomplete ({len(report['errors'])})")
        lines.extend(f"  ! {error}" for error in report["errors"])
    lines.append("")
    lines.append(
        {
            0: "Clean: the site sets only what the registry declares, and only after consent.",
            1: "Problems found: exit status 1.",
            2: "The scan did not see everything: exit status 2.",
        }[report["exit_status"]]
    )
    return lines


def write_json(report: dict, path: Path) -> None:
    write_atomically(path, json.dumps(report, indent=2, ensure_ascii=False).encode())


def render_html(report: dict, language: str) -> str:
    """A standalone page in ``language`` (autoescaped: names and addresses come from the
    scanned site); rendered without a request, as the command writes it."""
    template = current_app.jinja_env.get_template("cookie_scan/report_file.html")
    with force_locale(language):
        return template.render(report=report, lang=language)


def write_html(report: dict, path: Path, language: str) -> None:
    write_atomically(path, render_html(report, language).encode())
