"""Session-wide fixtures: the shared real-data folder, temp settings."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from litmine.config import Settings, load_settings

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
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep tests away from the user's config, API keys and data dir."""
    for name in ("LITMINE_CONFIG", "NCBI_API_KEY", "LITMINE_NCBI_API_KEY", "LITMINE_EUTILS_URL"):
        monkeypatch.delenv(name, raising=False)
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
    """Settings pointing at a fresh temporary data dir."""
    return load_settings(data_dir=tmp_path / "data")


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
