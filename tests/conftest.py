"""Session-wide fixtures: the shared real-data folder, temp settings, store backends.

Store backends:
    A test (or module, ``pytestmark``) marked ``both_backends`` is part of
    the contract suite: it runs twice, ``[sqlite]`` and ``[postgresql]``. The
    PostgreSQL case sets ``LITMINE_STORE_URL`` (and so ``settings.store.url``
    of any ``load_settings()``) to a fresh database of a throwaway server
    (``tests/pg_server.py``), so code that opens the store through
    ``litmine.store.open_store(settings)`` or a CLI command lands in
    PostgreSQL; the store tests' ``store`` fixture opens it that way. Mark a test that is inherently
    SQLite-specific (file paths, PRAGMAs, sqlite3 introspection, FTS5, WAL)
    ``@pytest.mark.sqlite_only("why")``. Without PostgreSQL the
    ``[postgresql]`` cases skip with one line, except under CI (``CI=true``)
    where they fail: CI must not skip them silently.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from litmine.config import Settings, load_settings
from tests.pg_server import DatabaseSeed, PgServer, database_name, unavailable_reason

# Prefect's ephemeral API server (started by flows that run outside the test
# harness, e.g. `litmine ingest --runner dask` in a subprocess) has 20 s to come
# up by default; on a loaded 2-core machine it was seen to need more.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data, skipping the test with a clear reason if absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"shared test data not found at {path} (it lives in ../shared/data beside the repo)"
        )
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ../shared/data folder of real public corpora."""
    return shared_path()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store_url: str | None) -> None:
    """Keep tests away from the user's config, API keys, data dir and database.

    A contract test's PostgreSQL case gets ``LITMINE_STORE_URL`` set to its
    fresh database, so ``load_settings()`` anywhere in it (and the CLI) uses it.
    """
    for name in (
        "LITMINE_CONFIG",
        "NCBI_API_KEY",
        "LITMINE_NCBI_API_KEY",
        "LITMINE_EUTILS_URL",
        "LITMINE_STORE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    if store_url is not None:
        monkeypatch.setenv("LITMINE_STORE_URL", store_url)
    monkeypatch.setenv("LITMINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _restore_litmine_logger() -> Iterator[None]:
    """Undo what the CLI's root callback does to the ``litmine`` logger (level, handlers).

    Without this, a test that runs a command leaves the logger at ERROR, and a later
    test expecting a litmine warning in ``caplog`` sees nothing.
    """
    logger = logging.getLogger("litmine")
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a fresh temporary data dir (and store: see ``store_url``)."""
    return load_settings(data_dir=tmp_path / "data")


# -- store backends ----------------------------------------------------------------------
BACKENDS = ("sqlite", "postgresql")
PG_TEMPLATE = "litmine_template"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "both_backends: contract test, run once per store backend (sqlite, postgresql)",
    )
    config.addinivalue_line(
        "markers", "sqlite_only(reason): inherently SQLite-specific; never run on PostgreSQL"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run ``both_backends`` tests once per backend.

    A mark on the test itself always applies; a module's mark only to its
    tests that use the ``settings`` or ``store`` fixture (the others never
    open the configured store, so a second run would test nothing new).
    """
    if "backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("both_backends") is None:
        return
    own = any(m.name == "both_backends" for m in metafunc.definition.own_markers)
    if not own and not {"settings", "store"} & set(metafunc.fixturenames):
        return
    if metafunc.definition.get_closest_marker("sqlite_only") is not None:
        return
    metafunc.parametrize("backend", BACKENDS, indirect=True)


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The store backend of this test: ``sqlite`` unless a contract test's parameter says so."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server for the session (skip without one; fail under CI)."""
    reason = unavailable_reason()
    if reason:
        if _under_ci():
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    server = PgServer.start()
    try:
        yield server
    finally:
        server.stop()


def migrate_database(url: str) -> None:
    """``litmine db migrate`` against ``url`` (a subprocess: exactly what a user runs)."""
    env = {**os.environ, "LITMINE_STORE_URL": url}
    proc = subprocess.run(
        [sys.executable, "-c", "from litmine.cli.root import main; main()", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"litmine db migrate failed ({proc.returncode}): {proc.stdout}{proc.stderr}"
        )


@pytest.fixture(scope="session")
def pg_template(pg_server: PgServer) -> str:
    """Name of a migrated database that module-wide databases copy."""
    url = pg_server.create_database(PG_TEMPLATE)
    migrate_database(url)
    return PG_TEMPLATE


@pytest.fixture(scope="session")
def _pg_shared(pg_server: PgServer, pg_template: str) -> DatabaseSeed:
    """One migrated database the function-scoped tests share, reset before each."""
    url = pg_server.create_database("litmine_tests", template=pg_template)
    return pg_server.snapshot(database_name(url))


@pytest.fixture
def pg_empty_url(pg_server: PgServer) -> Iterator[str]:
    """URL of a fresh, empty (unmigrated) database owned by the application role."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(database_name(url))


@pytest.fixture
def pg_url(pg_server: PgServer, _pg_shared: DatabaseSeed) -> str:
    """URL of a freshly migrated, empty litmine database (password login of the app role).

    The same database each time, emptied back to its just-migrated state
    (``PgServer.reset_database``): ten times cheaper than a template copy.
    """
    return pg_server.reset_database(_pg_shared)


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """The store URL of this test: None (SQLite under the data dir) or a fresh PG database."""
    if backend == "sqlite":
        return None
    return str(request.getfixturevalue("pg_url"))


# -- NCBI E-utilities replay server (tests/entrez_replay.py) ------------------------------
from tests.entrez_replay import EntrezReplay, running_replay  # noqa: E402


@pytest.fixture
def entrez_replay() -> Iterator[EntrezReplay]:
    """A running local E-utilities replay server (see tests/entrez_replay.py).

    Point a gateway at it with ``EntrezGateway(entrez_replay.settings(), ...)``,
    or a CLI/flow run with ``monkeypatch.setenv`` of each ``entrez_replay.env()`` item.
    """
    with running_replay(shared_path("entrez")) as server:
        yield server
