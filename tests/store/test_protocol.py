"""The SQLite store implements the protocol the rest of litmine codes against."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litmine.store import Store, StoreProtocol


def _params(fn: Callable[..., Any]) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_store_has_every_protocol_method_with_the_same_signature() -> None:
    wanted = {
        name
        for name, value in vars(StoreProtocol).items()
        if callable(value) and (not name.startswith("_") or name in ("__enter__", "__exit__"))
    }
    assert len(wanted) > 30
    for name in sorted(wanted):
        # Names, kinds and defaults; the types are mypy's to compare
        # (litmine.store.sqlite assigns a Store to a StoreProtocol).
        assert _params(getattr(Store, name)) == _params(getattr(StoreProtocol, name)), name
    assert isinstance(vars(StoreProtocol)["read_only"], property)


def test_an_open_store_is_a_store_protocol(tmp_path: Path) -> None:
    with Store(tmp_path / "litmine.db") as store:
        assert isinstance(store, StoreProtocol)  # runtime_checkable: members present
        assert store.read_only is False


def test_callers_only_need_the_protocol() -> None:
    # Every public method other packages call is in the protocol; what is left
    # out is the store's own tooling (documented in litmine.store.protocol).
    own_tools = {
        "article_versions",
        "check",
        "get_run",
        "has_article",
        "open",
        "rebuild_fts",
        "replace_entities",
        "resplit",
        "schema_version",
    }
    public = {n for n in dir(Store) if not n.startswith("_")} - {"path", "read_only"}
    in_protocol = {n for n in vars(StoreProtocol) if not n.startswith("_")}
    assert public - in_protocol == own_tools


_CALL = re.compile(r"(?<![\w])(?:self\.)?_?store\.([a-z_0-9]+)\b")


def test_every_store_method_called_elsewhere_is_in_the_protocol() -> None:
    # Calls on variables named store / _store / self.store / x.store in
    # litmine/ (the store package aside) and flows/: a new call needs the
    # protocol (and so every backend) to have the method.
    root = Path(__file__).resolve().parents[2]
    files = [
        p
        for folder in ("litmine", "flows")
        for p in (root / folder).rglob("*.py")
        if "store" not in p.relative_to(root).parts[1:2]
    ]
    called = {name for p in files for name in _CALL.findall(p.read_text(encoding="utf-8"))}
    store_methods = called & {n for n in dir(Store) if not n.startswith("_")}
    assert len(store_methods) > 25  # the scan finds the callers
    protocol = {n for n in dir(StoreProtocol) if not n.startswith("_")}
    assert store_methods - protocol == set()
