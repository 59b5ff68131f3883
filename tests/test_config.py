from __future__ import annotations

from pathlib import Path

import pytest

from litmine.config import DEFAULT_EUTILS_URL, load_settings, merge_section
from litmine.errors import ConfigError


def test_defaults_follow_ncbi_politeness() -> None:
    s = load_settings()
    assert s.entrez.eutils_url == DEFAULT_EUTILS_URL
    assert s.entrez.rate_limit == 3.0
    assert s.db_path.name == "litmine.db"


def test_documented_env_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LITMINE_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("LITMINE_EUTILS_URL", "http://127.0.0.1:9/eutils/")
    monkeypatch.setenv("NCBI_API_KEY", "secret")
    monkeypatch.setenv("LITMINE_ENTREZ_EMAIL", "me@example.org")
    monkeypatch.setenv("LITMINE_ENTREZ_TOOL", "mytool")
    monkeypatch.setenv("LITMINE_ENTREZ_BATCH_SIZE", "50")
    s = load_settings()
    assert s.data_dir == tmp_path / "d"
    assert s.entrez.eutils_url == "http://127.0.0.1:9/eutils/"
    assert s.entrez.api_key == "secret"
    assert s.entrez.rate_limit == 10.0
    assert (s.entrez.email, s.entrez.tool, s.entrez.batch_size) == ("me@example.org", "mytool", 50)


def test_cli_overrides_beat_env_and_keep_other_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITMINE_ENTREZ_EMAIL", "me@example.org")
    monkeypatch.setenv("LITMINE_ENTREZ_BATCH_SIZE", "50")
    s = load_settings(entrez={"batch_size": 7})
    assert s.entrez.batch_size == 7
    assert s.entrez.email == "me@example.org"


def test_config_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[entrez]\nemail = "file@example.org"\nbatch_size = 42\n', encoding="utf-8")
    monkeypatch.setenv("LITMINE_CONFIG", str(cfg))
    monkeypatch.setenv("LITMINE_ENTREZ_BATCH_SIZE", "9")
    s = load_settings()
    assert s.entrez.email == "file@example.org"
    assert s.entrez.batch_size == 9


def test_default_config_file_in_cwd(tmp_path: Path) -> None:
    (tmp_path / "litmine.toml").write_text("[ingest]\noverlap_days = 5\n", encoding="utf-8")
    assert load_settings().ingest.overlap_days == 5


def test_precedence_flags_env_file_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[litmine.search]\nk = 11\nrrf_k = 33\nmax_per_article = 2\n", encoding="utf-8"
    )  # the settings under a [litmine] table
    monkeypatch.setenv("LITMINE_CONFIG", str(cfg))
    monkeypatch.setenv("LITMINE_SEARCH_K", "12")
    monkeypatch.setenv("LITMINE_SEARCH_RRF_K", "44")
    s = load_settings(search={"k": 13})
    assert s.search.k == 13  # flag > env > file
    assert s.search.rrf_k == 44  # env > file
    assert s.search.max_per_article == 2  # file > default
    assert s.search.candidates == type(s.search)().candidates  # default


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("bogus = 1\n", "bogus"),
        ("[entrez]\nbatchsize = 3\n", "entrez.batchsize"),
        ("[entrez]\nbatch_size = 0\n", "entrez.batch_size"),
        ("this is not toml", "TOML"),
    ],
)
def test_bad_config_file_names_the_problem(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str, fragment: str
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content, encoding="utf-8")
    monkeypatch.setenv("LITMINE_CONFIG", str(cfg))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert fragment in str(info.value)


def test_missing_explicit_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LITMINE_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


def test_bad_env_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITMINE_ENTREZ_MAX_RETRIES", "many")
    with pytest.raises(ConfigError, match=r"entrez\.max_retries"):
        load_settings()


def test_merge_section_validates() -> None:
    s = load_settings()
    assert merge_section(s, "entrez", batch_size=5).entrez.batch_size == 5
    with pytest.raises(ConfigError):
        merge_section(s, "entrez", batch_size=-1)


def test_every_field_has_a_description() -> None:
    from pydantic import BaseModel

    from litmine.config import Settings

    def walk(model: type[BaseModel], prefix: str) -> list[str]:
        missing = []
        for name, info in model.model_fields.items():
            if not info.description:
                missing.append(prefix + name)
            ann = info.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                missing += walk(ann, f"{prefix}{name}.")
        return missing

    assert walk(Settings, "") == []
