"""The layer rule of the package layout (issue 13): nothing lower imports anything higher.

Layers, lowest first (a module may import its own layer and the ones below)::

    base     litmine (package), types, config, errors, clock, _compat, _speedups
    parse    parse/, fetch/, passages
    store    store/
    models   vectors/, entities, ner/ (not ner/cli)
    ingest   ingest/, pipeline
    scale    scale/ (Dask runner, shards, committer)
    search   search/
    answer   answer/
    shells   cli/, web/, ner/cli, datasets, testing, flows/

Every ``import`` and ``from ... import`` counts, wherever it stands: at the top,
inside a function, or under ``if TYPE_CHECKING``. An old import path kept by a
re-export shim (``litmine.embed`` ...) counts as the module it points to.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "base",
        (
            "litmine",
            "litmine.types",
            "litmine.config",
            "litmine.errors",
            "litmine._compat",
            "litmine._speedups",
            "litmine.clock",
            "litmine.splits",
        ),
    ),
    ("parse", ("litmine.parse", "litmine.fetch", "litmine.passages")),
    ("store", ("litmine.store",)),
    ("models", ("litmine.vectors", "litmine.entities", "litmine.ner")),
    ("ingest", ("litmine.ingest", "litmine.pipeline")),
    ("scale", ("litmine.scale",)),
    ("search", ("litmine.search",)),
    ("answer", ("litmine.answer",)),
    (
        "shells",
        ("litmine.cli", "litmine.web", "litmine.ner.cli", "litmine.datasets", "litmine.testing"),
    ),
]
SHELLS_OUTSIDE = ("flows",)  # top-level packages next to litmine, at the shells layer

# Old paths (re-export shims) and the module each one points to.
OLD_PATHS = {
    "litmine.embed": "litmine.vectors.embed",
    "litmine.index": "litmine.vectors.faiss_index",
    "litmine.indexing": "litmine.vectors.build",
    "litmine.adapt": "litmine.vectors.adapt",
    "litmine.fusion": "litmine.search.fusion",
    "litmine.evaluate": "litmine.search.evaluate",
    "litmine.cluster": "litmine.answer.cluster",
    "litmine.summarize": "litmine.answer.summarize",
    "litmine.export": "litmine.answer.export",
    "litmine.search_cli": "litmine.cli.search",
    "litmine.answer_cli": "litmine.cli.answer",
    "litmine.cli_common": "litmine.cli.common",
}


def layer_of(module: str) -> int | None:
    """Index in :data:`LAYERS` of a litmine/flows module (longest prefix wins)."""
    module = OLD_PATHS.get(module, module)
    if module.split(".")[0] in SHELLS_OUTSIDE:
        return len(LAYERS) - 1
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), rank)
    return None if best is None else best[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    files = [*ROOT.glob("litmine/**/*.py"), *ROOT.glob("litmine/**/*.pyx")]
    for name in SHELLS_OUTSIDE:
        files += ROOT.glob(f"{name}/**/*.py")
    return sorted(files)


_PYX_IMPORT = re.compile(r"^\s*(?:from\s+(\S+)\s+c?import|c?import\s+(\S+))", re.M)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every import in the file, relative ones resolved."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".pyx":  # Cython: not Python syntax, but its import lines are
        return [
            (text.count("\n", 0, m.start()) + 1, (m.group(1) or m.group(2)).rstrip(","))
            for m in _PYX_IMPORT.finditer(text)
        ]
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            found.append((node.lineno, base))
            # `from litmine import pipeline` imports the module litmine.pipeline
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def violations() -> list[str]:
    problems = []
    for path in source_files():
        me = module_name(path)
        mine = layer_of(me)
        if mine is None:
            problems.append(f"{me}: in no layer; add it to LAYERS in tests/test_layers.py")
            continue
        seen: set[int] = set()  # one report per import statement
        for line, target in imports_of(path):
            if line in seen or target.split(".")[0] not in ("litmine", *SHELLS_OUTSIDE):
                continue
            theirs = layer_of(target)
            if theirs is not None and theirs > mine:
                seen.add(line)
                problems.append(
                    f"{path.relative_to(ROOT)}:{line}: {me} ({LAYERS[mine][0]}) imports "
                    f"{target} ({LAYERS[theirs][0]})"
                )
    return problems


def test_nothing_lower_imports_anything_higher() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import litmine.answer.answer\n", 1),
        ("def f():\n    from litmine.search import Searcher\n", 1),
        (
            "if TYPE_CHECKING:\n    from litmine.cli import app\n",
            1,
        ),
        ("from litmine import pipeline\n", 1),
        ("from litmine.embed import load_embedder\n", 0),  # old path of vectors.embed
        ("from litmine.store import Store\nimport numpy\n", 0),
    ],
)
def test_the_scan_sees_every_kind_of_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: int
) -> None:
    """A module of the vectors layer with one import: how many violations are found."""
    root = tmp_path
    (root / "litmine" / "vectors").mkdir(parents=True)
    (root / "litmine" / "vectors" / "probe.py").write_text(source, encoding="utf-8")
    monkeypatch.setitem(globals(), "ROOT", root)
    assert len(violations()) == expected
