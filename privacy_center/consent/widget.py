"""The widget's builds, as written by ``widget/build.mjs`` into ``static/widget/``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..config import STATIC_DIR

WIDGET_DIR = STATIC_DIR / "widget"
MANIFEST = WIDGET_DIR / "manifest.json"


@dataclass(frozen=True)
class Build:
    build: str
    js: str
    css: str
    integrity: dict[str, str]
    gzip: dict[str, int]
    built_at: str


@dataclass(frozen=True)
class Builds:
    current: Build | None
    all: tuple[Build, ...]

    def file(self, name: str) -> Path | None:
        """A file of a listed build (never anything else from the folder)."""
        for build in self.all:
            if name in (build.js, build.css):
                return WIDGET_DIR / name
        return None


@lru_cache(maxsize=32)
def build_file(path: Path) -> tuple[bytes, str]:
    """A build file's bytes and ETag, read once: a build's file names carry its hash."""
    body = path.read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:32]


def load_builds(manifest: Path = MANIFEST) -> Builds:
    """The builds listed in the manifest whose files exist; none when the widget is not built."""
    try:
        raw = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Builds(None, ())
    builds = tuple(
        Build(
            build=entry["build"],
            js=entry["js"],
            css=entry["css"],
            integrity=entry["integrity"],
            gzip=entry["gzip"],
            built_at=entry["builtAt"],
        )
        for entry in raw.get("builds", ())
        if (manifest.parent / entry["js"]).is_file() and (manifest.parent / entry["css"]).is_file()
    )
    current = next((build for build in builds if build.build == raw.get("current")), None)
    return Builds(current, builds)
