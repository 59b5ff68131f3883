"""Backend choice and credential hygiene: store.url parsing, masking, the SQL dialect rewrite."""

from __future__ import annotations

from pathlib import Path

import pytest

from litmine.config import load_settings
from litmine.errors import StoreError
from litmine.store import mask_url, scrub_secrets, store_exists, store_location
from litmine.store.postgres.connection import to_pg
from litmine.store.postgres.queries import tsquery_sql


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://ann:s3cret@db:5432/lm", "postgresql://ann:***@db:5432/lm"),
        ("postgresql://ann:p%40ss:w@rd@db/lm", "postgresql://ann:***@db/lm"),
        ("postgresql://ann@db/lm", "postgresql://ann@db/lm"),
        (
            "postgresql://db/lm?password=x&sslmode=require",
            "postgresql://db/lm?password=***&sslmode=require",
        ),
        ("sqlite:////data/litmine.db", "sqlite:////data/litmine.db"),
    ],
)
def test_mask_url_hides_only_the_password(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_scrub_secrets_masks_conninfo_and_urls_in_driver_messages() -> None:
    text = (
        "connection to server failed: password=hunter2 host=x "
        "(postgresql://bob:hunter2@h/db) password = 'hunter2 spaced'"
    )
    scrubbed = scrub_secrets(text)
    assert "hunter2" not in scrubbed
    assert "postgresql://bob:***@h/db" in scrubbed


def test_store_location_picks_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LITMINE_STORE_URL", raising=False)
    settings = load_settings(data_dir=tmp_path)
    default = store_location(settings)
    assert (default.backend, default.path) == ("sqlite", tmp_path / "litmine.db")
    assert not store_exists(settings)

    custom = tmp_path / "elsewhere" / "x.db"
    settings = load_settings(data_dir=tmp_path, store={"url": f"sqlite:///{custom}"})
    assert store_location(settings).path == custom

    settings = load_settings(data_dir=tmp_path, store={"url": "postgres://u:pw@h:5433/lm"})
    pg = store_location(settings)
    assert pg.is_postgres and pg.url == "postgresql://u:pw@h:5433/lm"
    assert pg.display == "postgresql://u:***@h:5433/lm"
    assert store_exists(settings)


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "postgresql://u:pw@h:5432", "sqlite://relative.db", "nonsense"]
)
def test_bad_store_urls_are_clear_errors_without_the_password(tmp_path: Path, url: str) -> None:
    settings = load_settings(data_dir=tmp_path, store={"url": url})
    with pytest.raises(StoreError) as info:
        store_location(settings)
    assert "pw" not in str(info.value)
    assert "store" in str(info.value).lower()


def test_to_pg_rewrites_placeholders_and_sqlite_spellings() -> None:
    assert to_pg("SELECT a FROM t WHERE b = ? AND c LIKE 'x%'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE 'x%%'"
    )
    assert to_pg("x IN (SELECT value FROM json_each(?))") == (
        "x IN (SELECT value FROM json_array_elements_text(%s::json))"
    )
    assert to_pg("GROUP_CONCAT(DISTINCT pmid)") == "string_agg(DISTINCT pmid, ',')"


def test_tsquery_is_an_or_of_parameterised_phrases() -> None:
    built = tsquery_sql('COVID-19 "AND" (p53/MDM2) of')
    assert built is not None
    sql, params = built
    assert params == ["covid 19", "p53 mdm2"]  # stopwords dropped, operators are plain words
    assert sql.count("phraseto_tsquery") == 2 and " || " in sql
    assert "covid" not in sql  # user text only ever travels as parameters
    assert tsquery_sql("-- ()") is None
