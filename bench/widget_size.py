"""Size of the consent widget as a visitor downloads it: JS + CSS + the texts of one language.

Budget (DESIGN.md): at most 8,192 bytes with `gzip -9`. The smallest full-featured public widget
(vanilla-cookieconsent) ships 15,513 bytes. Builds the widget first (the build itself refuses to
exceed the budget for JS + CSS); the texts counted are those of the longest language.

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
    css = gzip9((widget_dir / build["css"]).read_bytes())

    os.environ.setdefault("PC_ENV", "development")
    from privacy_center import create_app

    client = create_app().test_client()
    texts = {}
    for language in ("fr", "en", "es", "de"):
        config = client.get(f"/api/v1/sites/demo/config?lang={language}").get_json()
        texts[language] = gzip9(json.dumps(config["texts"], ensure_ascii=False).encode())
    longest = max(texts, key=texts.get)
    total = js + css + texts[longest]
    passed = total <= BUDGET
    print(f"build {build['build']}: js {js} B, css {css} B, texts ({longest}) {texts[longest]} B")
    print(f"total {total} B gzip -9 (budget {BUDGET} B; vanilla-cookieconsent {REFERENCE} B): "
          f"{'PASS' if passed else 'FAIL'}")  # fmt: skip
    print(json.dumps({"budget": f"widget JS+CSS+texts gzip -9 <= {BUDGET} B",
                      "figure": f"{total} B", "pass": passed}))  # fmt: skip
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
