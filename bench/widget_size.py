"""Size of the consent widget as a visitor downloads it: the script as served at its stable
address (styles and the banner's texts of one language built in) + the dialog's texts of the
configuration, in the longest language.

Budget (DESIGN.md): at most 8,192 bytes with `gzip -9`. The smallest full-featured public widget
(vanilla-cookieconsent) ships 15,513 bytes. Builds the widget first (the build itself refuses to
exceed the budget for the script as built).

    python bench/widget_size.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET = 8192
REFERENCE = 15513  # vanilla-cookieconsent, gzipped


def gzip9(data: bytes) -> int:
    return len(
        subprocess.run(["gzip", "-9", "-c"], input=data, capture_output=True, check=True).stdout
    )


def main() -> int:
    subprocess.run(["npm", "run", "--silent", "build:widget"], cwd=ROOT, check=True)
    widget_dir = ROOT / "privacy_center" / "static" / "widget"
    manifest = json.loads((widget_dir / "manifest.json").read_text())
    build = next(entry for entry in manifest["builds"] if entry["build"] == manifest["current"])
    js = gzip9((widget_dir / build["js"]).read_bytes())

    os.environ.setdefault("PC_ENV", "development")
    from privacy_center import create_app
    from privacy_center.consent.configuration import DIALOG_TEXTS

    client = create_app().test_client()
    served, dialog = {}, {}
    for language in ("fr", "en", "es", "de"):
        # The script as served: styles and the banner's texts of one language built in.
        served[language] = gzip9(client.get(f"/widget/consent.js?lang={language}").get_data())
        config = client.get(f"/api/v1/sites/demo/config?lang={language}").get_json()
        texts = {key: config["texts"][key] for key in DIALOG_TEXTS}
        dialog[language] = gzip9(json.dumps(texts, ensure_ascii=False).encode())
    longest = max(served, key=lambda language: served[language] + dialog[language])
    total = served[longest] + dialog[longest]
    passed = total <= BUDGET
    print(f"build {build['build']}: js as built {js} B (styles included); as served ({longest}) "
          f"{served[longest]} B; dialog texts {dialog[longest]} B")  # fmt: skip
    print(f"total {total} B gzip -9 (budget {BUDGET} B; vanilla-cookieconsent {REFERENCE} B): "
          f"{'PASS' if passed else 'FAIL'}")  # fmt: skip
    print(json.dumps({"budget": f"widget script as served + dialog texts gzip -9 <= {BUDGET} B",
                      "figure": f"{total} B", "pass": passed}))  # fmt: skip
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
