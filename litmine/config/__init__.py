"""The one settings tree.

Values come, highest priority first, from: keyword arguments (CLI flags),
``LITMINE_*`` environment variables (``LITMINE_ENTREZ_EMAIL`` sets
``entrez.email``), the documented short aliases (``LITMINE_EUTILS_URL``,
``NCBI_API_KEY``), a TOML config file (``LITMINE_CONFIG`` or ``./litmine.toml``),
and the defaults below. Unknown keys are errors, never silently ignored.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from litmine.config.sections import (
    DEFAULT_EUTILS_URL,
    AskSettings,
    DaskSettings,
    EmbedBackend,
    EmbedSettings,
    EntrezSettings,
    FusionMethod,
    IndexSettings,
    IngestSettings,
    NerSettings,
    PassageSettings,
    Runner,
    SearchMode,
    SearchSettings,
    SentenceChoice,
    SentenceScoring,
    StoreSettings,
    SummarizeSettings,
    SummaryMethod,
    WebSettings,
)
from litmine.errors import ConfigError

__all__ = [
    "CONFIG_FILE_ENV",
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_EUTILS_URL",
    "ENV_ALIASES",
    "AskSettings",
    "DaskSettings",
    "EmbedBackend",
    "EmbedSettings",
    "EntrezSettings",
    "FusionMethod",
    "IndexSettings",
    "IngestSettings",
    "NerSettings",
    "PassageSettings",
    "Runner",
    "SearchMode",
    "SearchSettings",
    "SentenceChoice",
    "SentenceScoring",
    "Settings",
    "StoreSettings",
    "SummarizeSettings",
    "SummaryMethod",
    "WebSettings",
    "load_settings",
    "merge_section",
]

CONFIG_FILE_ENV = "LITMINE_CONFIG"
DEFAULT_CONFIG_FILE = "litmine.toml"

# Short environment names promised in the README, mapped onto the tree.
ENV_ALIASES: dict[str, tuple[str, str]] = {
    "LITMINE_EUTILS_URL": ("entrez", "eutils_url"),
    "NCBI_API_KEY": ("entrez", "api_key"),
    "LITMINE_NCBI_API_KEY": ("entrez", "api_key"),
}


class Settings(BaseSettings):
    """Root of litmine's settings tree."""

    model_config = SettingsConfigDict(
        env_prefix="LITMINE_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        validate_assignment=True,
    )

    data_dir: Path = Field(
        Path("litmine-data"),
        description="Folder holding the database (litmine.db) and vector indexes (indexes/).",
    )
    runner: Runner = Field(
        "local",
        description="Where ingest, entities and index builds run (env LITMINE_RUNNER): 'local' "
        "(this machine's process pool) or 'dask' (a Dask cluster through Prefect; see `dask`).",
    )
    store: StoreSettings = Field(
        default_factory=StoreSettings, description="The database: SQLite file or PostgreSQL."
    )
    dask: DaskSettings = Field(
        default_factory=DaskSettings, description="The Dask cluster used when runner is 'dask'."
    )
    entrez: EntrezSettings = Field(
        default_factory=EntrezSettings, description="NCBI E-utilities client."
    )
    ingest: IngestSettings = Field(
        default_factory=IngestSettings, description="Ingestion runs and schedules."
    )
    passages: PassageSettings = Field(
        default_factory=PassageSettings, description="Passage splitting."
    )
    embed: EmbedSettings = Field(
        default_factory=EmbedSettings, description="Sentence-embedding model."
    )
    index: IndexSettings = Field(default_factory=IndexSettings, description="FAISS vector index.")
    ner: NerSettings = Field(
        default_factory=NerSettings, description="Biomedical entity extraction."
    )
    search: SearchSettings = Field(
        default_factory=SearchSettings, description="Question search (retrieval and fusion)."
    )
    ask: AskSettings = Field(
        default_factory=AskSettings, description="Answers: clustering and labelling of hits."
    )
    summarize: SummarizeSettings = Field(
        default_factory=SummarizeSettings, description="Cluster summaries (seq2seq/extractive)."
    )
    web: WebSettings = Field(
        default_factory=WebSettings, description="Limits of the web page and JSON API."
    )

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def db_path(self) -> Path:
        """Path of the SQLite database: a ``sqlite:///`` store URL's, else data_dir/litmine.db.

        Meaningless for a PostgreSQL store (see ``litmine.store.store_location``).
        """
        url = self.store.url
        if url and url.startswith("sqlite:///"):
            return Path(url[len("sqlite:///") :]).expanduser()
        return self.data_dir / "litmine.db"

    @property
    def index_dir(self) -> Path:
        """Folder holding vector indexes."""
        return self.data_dir / "indexes"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: init > env > env aliases > config file > defaults."""
        return (
            init_settings,
            env_settings,
            _AliasEnvSource(settings_cls),
            _TomlFileSource(settings_cls),
        )


class _AliasEnvSource(PydanticBaseSettingsSource):
    """Reads the short environment names of :data:`ENV_ALIASES`."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for env_name, (section, key) in ENV_ALIASES.items():
            value = os.environ.get(env_name)
            if value:
                out.setdefault(section, {})[key] = value
        return out


class _TomlFileSource(TomlConfigSettingsSource):
    """pydantic-settings' TOML source on ``LITMINE_CONFIG`` or ``./litmine.toml``.

    A missing ``./litmine.toml`` gives nothing; a missing ``LITMINE_CONFIG`` file
    or bad TOML is a :class:`ConfigError`. A ``[litmine]`` table, when there is
    one, holds the settings (so they can live in a pyproject-style file).
    """

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        explicit = os.environ.get(CONFIG_FILE_ENV)
        path = Path(explicit) if explicit else Path(DEFAULT_CONFIG_FILE)
        if explicit and not path.is_file():
            raise ConfigError(
                f"config file {path} does not exist",
                f"fix {CONFIG_FILE_ENV} or create the file",
            )
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            data = super()._read_file(file_path)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(
                f"cannot read config file {file_path}: {exc}", "fix the TOML syntax"
            ) from exc
        return dict(data.get("litmine", data))


def load_settings(**overrides: Any) -> Settings:
    """Build the settings tree, translating validation errors to :class:`ConfigError`.

    Args:
        **overrides: Values from CLI flags; nested sections as dicts
            (``entrez={"batch_size": 50}``). ``None`` values are ignored so
            unset flags never mask the environment or config file.

    Returns:
        The validated settings.

    Raises:
        ConfigError: A value is invalid or a key is unknown.
    """
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(
            f"invalid settings: {problems}",
            "check LITMINE_* environment variables, the config file and CLI flags",
        ) from None


def merge_section(settings: Settings, section: str, **values: Any) -> Settings:
    """Return a copy of ``settings`` with some keys of one section replaced.

    Args:
        settings: Current settings.
        section: Name of a section (``"entrez"``).
        **values: Keys to replace; ``None`` values are skipped.

    Returns:
        New, validated settings.
    """
    current = getattr(settings, section)
    updated = current.model_copy(update={k: v for k, v in values.items() if v is not None})
    try:
        type(current).model_validate(updated.model_dump())
    except ValidationError as exc:
        raise ConfigError(f"invalid {section} settings: {exc.errors()[0]['msg']}") from None
    return settings.model_copy(update={section: updated})
