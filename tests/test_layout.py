"""The layout of docs/architecture.md holds for the code: layers, no import cycles, small modules.

Imports are read from the source (every `import` and `from ... import`, inside functions and under
`TYPE_CHECKING` too): a deferred import saves a hook time, it does not hide a dependency.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import PROJECT

PACKAGE = PROJECT / "provenance"
ARCHITECTURE = PROJECT / "docs" / "architecture.md"
MAX_LINES = 400

# Top to bottom. A module imports its own layer and the layers below it, never above.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("face", ("provenance.cli", "provenance.main", "provenance.__main__", "provenance.commands")),
    ("workflow", ("provenance.record", "provenance.audit")),
    ("rules", ("provenance.policy", "provenance.detect")),
    ("format", ("provenance.wire", "provenance.ssh")),
    ("base", ("provenance.git", "provenance.errors", "provenance.records", "provenance.hashes",
              "provenance")),
)
TOP_LEVEL = {"__init__.py", "__main__.py", "cli.py", "main.py", "errors.py", "records.py", "hashes.py",
             "py.typed"}


def _modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package (a package is its __init__.py)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PROJECT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """The package's modules that `path` imports, wherever in the file the import statement is."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "provenance"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "provenance":
            for alias in node.names:  # `from PKG import MODULE` imports MODULE; else the module itself
                full = f"{node.module}.{alias.name}"
                out.add(full if full in MODULES else node.module)
    return out


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    best = max((prefix for _, prefixes in LAYERS for prefix in prefixes
                if module == prefix or module.startswith(prefix + ".")), key=len)
    return next(i for i, (_, prefixes) in enumerate(LAYERS) if best in prefixes)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node, or a node importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_import_names_a_module_of_the_package() -> None:
    unknown = {(m, i) for m, imports in GRAPH.items() for i in imports if i not in MODULES}
    assert not unknown


def test_no_import_cycles_between_modules() -> None:
    assert _cycles(GRAPH) == []


def test_no_import_cycles_between_folders() -> None:
    def folder(module: str) -> str:
        return ".".join(module.split(".")[:2])

    folders: dict[str, set[str]] = defaultdict(set)
    for module, imports in GRAPH.items():
        folders[folder(module)] |= {folder(i) for i in imports if folder(i) != folder(module)}
    assert _cycles(folders) == []


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = sorted(f"{m} ({LAYERS[_layer(m)][0]}) imports {i} ({LAYERS[_layer(i)][0]})"
                    for m, imports in GRAPH.items() for i in imports if _layer(i) < _layer(m))
    assert upward == []


def test_every_module_belongs_to_a_layer() -> None:
    for module in MODULES:
        assert 0 <= _layer(module) < len(LAYERS)


def test_the_top_of_the_package_holds_only_the_face_and_the_errors() -> None:
    files = {p.name for p in PACKAGE.iterdir() if p.is_file()}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert files == TOP_LEVEL
    assert folders == {"commands", "record", "audit", "policy", "detect", "wire", "ssh", "git"}


@pytest.mark.parametrize("init", sorted(PACKAGE.glob("*/__init__.py")), ids=lambda p: p.parent.name)
def test_package_inits_are_empty(init: Path) -> None:
    # A commit's hooks import these packages: an import here would be paid on every commit.
    assert init.read_text() == ""


def test_no_source_file_is_over_the_limit() -> None:
    files = [*PACKAGE.rglob("*.py"), *(PROJECT / "tests").rglob("*.py"), *(PROJECT / "bench").glob("*.py")]
    long = {str(p.relative_to(PROJECT)): n for p in files
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


# ---- docs/architecture.md matches the tree ---------------------------------------------------

_NAMED = re.compile(r"`((?:provenance/)?(?:[a-z_]+/)+(?:[a-z_]+\.(?:py|toml))?|[a-z_]+\.py)`")


def _named_paths() -> set[str]:
    """Every folder or file docs/architecture.md names (`audit/walk.py`, `git/`, `tests/...`)."""
    return {m.removeprefix("provenance/") for m in _NAMED.findall(ARCHITECTURE.read_text())}


def test_architecture_names_only_what_exists() -> None:
    named = _named_paths()
    assert len(named) > 50  # the pattern still finds the names
    # A name is the package's (`record/hooks.py`) unless it is one of the project's (`tests/...`).
    missing = [p for p in named if not (PROJECT / p if p.startswith("tests/") else PACKAGE / p).exists()]
    assert sorted(missing) == []


def test_architecture_describes_every_folder_and_module() -> None:
    text = ARCHITECTURE.read_text()
    named = _named_paths()
    for folder in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").exists()):
        assert f"### `{folder.name}/`" in text, folder.name  # a paragraph of its own
        for module in folder.glob("*.py"):
            if module.name != "__init__.py":
                assert f"{folder.name}/{module.name}" in named, module
    for module in TOP_LEVEL - {"__init__.py", "py.typed"}:
        assert module in named, module
    assert "detect/fingerprints.toml" in named  # data, listed with its code
