"""The shape of the code: no two modules of ``privacy_center/`` import each other, even through
others or from inside a function; the shared layers never import a feature package.

Read from the source with :mod:`ast` (nothing is imported), so a late import inside a function
counts like one at the top of the module. The scripts and benchmarks, which the suite does not
run, are checked to import only names the package has.

The layers, from the bottom: settings and plumbing (``config``, ``extensions``, ``content/``,
``templating``, ``i18n``...), shared services (``workflow``, ``deadlines``, ``audit``, ``mail``,
``uploads/``, ``connectors/``, ``letters/``...) and the models, then the feature packages of
:data:`FEATURES`. Only the application factory (``privacy_center/__init__.py``) plugs the
features in. A feature may use another feature; a module outside :data:`FEATURES` uses none: what
it needs from one is handed to it (an argument, or a hook the feature registers at start-up).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "privacy_center"
# The feature packages: each one a folder with its views, services, templates and setup.
FEATURES = frozenset(
    {
        "accounts",
        "consent",
        "consent_records",
        "cookie_scan",
        "exports",
        "policy",
        "postmortem",
        "recipients",
        "retention",
        "rights",
        "staff",
    }
)
# The packages of the shared layers (every other module of privacy_center/ is shared too).
SHARED_PACKAGES = frozenset({"connectors", "content", "letters", "models", "uploads"})
# The one module that knows every feature: the application factory.
FACTORY = "privacy_center"


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """The modules of the package that ``name`` imports, each with the line of its first import.

    ``from package import name`` counts as an import of the module ``package.name`` when there
    is one, of ``package`` otherwise."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]

    def known(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            targets = [f"{origin}.{alias.name}" for alias in node.names]
        for target in targets:
            module = known(target)
            if module is not None and module != name:
                found.setdefault(module, node.lineno)
    return found


def import_graph() -> dict[str, dict[str, int]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return groups


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "privacy_center.connectors.config" in graph
    assert "privacy_center.connectors.factory" in graph["privacy_center.connectors.config"]


def test_no_import_cycle() -> None:
    graph = import_graph()
    found = cycles(graph)
    described = [
        " <-> ".join(group)
        + ": "
        + "; ".join(
            f"{source} imports {target} (line {graph[source][target]})"
            for source in group
            for target in group
            if target in graph[source]
        )
        for group in found
    ]
    assert not found, "modules that import each other:\n" + "\n".join(described)


def feature_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FEATURES else None


def test_every_package_is_a_feature_or_shared() -> None:
    packages = {
        path.parent.name for path in PACKAGE.glob("*/__init__.py") if path.parent != PACKAGE
    }
    assert packages - FEATURES - SHARED_PACKAGES == set(), "declare each new package's layer"
    assert (FEATURES | SHARED_PACKAGES) - packages == set()


def test_shared_layers_import_no_feature() -> None:
    graph = import_graph()
    upward = [
        f"{module} imports {target} (line {line})"
        for module, targets in sorted(graph.items())
        if module != FACTORY and feature_of(module) is None
        for target, line in sorted(targets.items())
        if feature_of(target) is not None
    ]
    assert not upward, "shared layers reaching up into a feature:\n" + "\n".join(upward)


def test_scripts_and_benchmarks_import_what_exists() -> None:
    """The scripts and benchmarks are not imported by the suite: a name moved in the package
    (``make screenshots`` once imported ``privacy_center.demo`` after it had moved) fails here
    instead of at their next run."""
    import importlib
    import importlib.util

    def exists(module: str, name: str | None = None) -> bool:
        if importlib.util.find_spec(module) is None:
            return False
        if name is None:
            return True
        found = hasattr(importlib.import_module(module), name)
        return found or importlib.util.find_spec(f"{module}.{name}") is not None

    root = PACKAGE.parent
    missing = []
    for path in sorted([*(root / "scripts").glob("*.py"), *(root / "bench").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(FACTORY):
                module = node.module or ""
                missing += [
                    f"{path.name}: {module}.{alias.name}"
                    for alias in node.names
                    if not exists(module, alias.name)
                ]
            elif isinstance(node, ast.Import):
                missing += [
                    f"{path.name}: {alias.name}"
                    for alias in node.names
                    if alias.name.startswith(FACTORY) and not exists(alias.name)
                ]
    assert missing == []
