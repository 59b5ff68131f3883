"""Load an NER pipeline and ready it for extraction (part of :mod:`litmine.entities`).

:func:`load_pipeline` finds a pipeline by name: litmine's shipped
``litmine-bc5cdr`` (under ``litmine/models``), an installed spaCy/scispaCy
package, or a folder; a known model that is not installed gets its exact
install line. :func:`build_nlp` adds scispaCy's abbreviation detector,
litmine's consistency component (:func:`add_postprocess`) and optionally
scispaCy's entity linker (whose knowledge-base files must be cached).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from litmine.config import NerSettings
from litmine.errors import ConfigError, MissingDependencyError, ModelNotFoundError

if TYPE_CHECKING:
    from spacy.language import Language

DEFAULT_MODEL = "litmine-bc5cdr"
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
"""Pipelines shipped with litmine, one folder per name."""

SCISPACY_VERSION = "0.5.4"
SCISPACY_MODELS = frozenset(
    {
        "en_core_sci_sm",
        "en_core_sci_md",
        "en_core_sci_lg",
        "en_core_sci_scibert",
        "en_ner_craft_md",
        "en_ner_jnlpba_md",
        "en_ner_bc5cdr_md",
        "en_ner_bionlp13cg_md",
    }
)
_SCISPACY_URL = "https://s3-us-west-2.amazonaws.com/ai2-s2-scispacy/releases/v{v}/{name}-{v}.tar.gz"


def install_command(name: str) -> str | None:
    """The command line that installs a named spaCy/scispaCy model, when known."""
    if name in SCISPACY_MODELS:
        return f"pip install {_SCISPACY_URL.format(v=SCISPACY_VERSION, name=name)}"
    if re.fullmatch(r"[a-z]{2,3}_core_(web|news)_(sm|md|lg|trf)", name):
        return f"python -m spacy download {name}"
    return None


def model_path(name: str) -> Path | None:
    """Folder of a pipeline shipped with litmine (``litmine-bc5cdr``), or None."""
    path = MODELS_DIR / name
    return path if (path / "config.cfg").is_file() else None


def load_pipeline(name: str) -> Language:
    """Load a spaCy pipeline by litmine model name, package name or folder (as is).

    Args:
        name: ``litmine-bc5cdr``, an installed package (``en_ner_bc5cdr_md``) or a folder.

    Returns:
        The pipeline, without litmine's additions (see :func:`build_nlp`).

    Raises:
        ModelNotFoundError: Not shipped, not installed, not a pipeline folder.
        MissingDependencyError: A known model that is not installed (hint: install line).
    """
    import spacy

    # scispaCy's AbbreviationDetector builds an empty global matcher on purpose and
    # spaCy warns about it on every document; set after importing spaCy, which
    # installs its own warning filters.
    warnings.filterwarnings("ignore", message=r".*\[W036\]", category=UserWarning)
    # The tokenizer's character classes trip a harmless FutureWarning of `re`.
    warnings.filterwarnings("ignore", message="Possible set union", category=FutureWarning)

    # Registers litmine's transformer NER factory, which shipped or trained
    # pipelines may name (cheap: torch is imported only when weights load).
    import litmine.ner.transformer  # noqa: F401

    shipped = model_path(name)
    if shipped is not None:
        return spacy.load(shipped)
    if name == DEFAULT_MODEL or (MODELS_DIR / name).is_dir():
        raise ModelNotFoundError(
            f"the shipped NER model {name!r} is missing from {MODELS_DIR}",
            "reinstall litmine, or train it with `litmine ner train` (see its MODEL_CARD.md)",
        )
    path = Path(name).expanduser()
    if path.exists() or "/" in name or name.startswith("."):
        if not (path / "config.cfg").is_file():
            raise ModelNotFoundError(
                f"{path} is not a spaCy pipeline folder (no config.cfg)",
                "give a folder saved with nlp.to_disk or `litmine ner train`",
            )
        return spacy.load(path)
    if spacy.util.is_package(name):
        return spacy.load(name)
    install = install_command(name)
    if install is not None:
        raise MissingDependencyError(f"the spaCy model {name!r}", install)
    raise ModelNotFoundError(
        f"no NER model named {name!r}: not shipped with litmine, not an installed package, "
        "not a folder",
        f"use {DEFAULT_MODEL!r}, a scispaCy model such as 'en_ner_bc5cdr_md' (install with: "
        f"{install_command('en_ner_bc5cdr_md')}), or a pipeline folder",
    )


def _linker_missing_files(name: str) -> list[str]:
    """URLs of the linker's knowledge-base files not in scispaCy's local cache."""
    from scispacy.candidate_generation import DEFAULT_PATHS
    from scispacy.file_cache import DATASET_CACHE, url_to_filename

    cache = Path(DATASET_CACHE)
    cached = {p.name.split(".")[0] for p in cache.iterdir()} if cache.is_dir() else set()
    missing = []
    for url in DEFAULT_PATHS[name]:
        if url is None or not str(url).startswith(("http://", "https://")):
            if url is not None and not Path(url).exists():
                missing.append(str(url))
            continue
        if url_to_filename(url).split(".")[0] not in cached:
            missing.append(str(url))
    return missing


def _add_linker(nlp: Language, settings: NerSettings) -> None:
    try:
        import scispacy.linking  # noqa: F401  (registers the factory)
        from scispacy.candidate_generation import DEFAULT_PATHS
    except ImportError as exc:  # pragma: no cover - scispacy is a dependency
        raise MissingDependencyError("scispacy's entity linker", "pip install scispacy") from exc
    name = settings.linker or ""
    if name not in DEFAULT_PATHS:
        raise ConfigError(
            f"unknown entity-linker knowledge base {name!r}",
            f"set ner.linker to one of {', '.join(sorted(DEFAULT_PATHS))} or leave it unset",
        )
    missing = _linker_missing_files(name)
    if missing:
        raise ModelNotFoundError(
            f"the entity linker's {name!r} knowledge base is not downloaded "
            f"({len(missing)} file(s) missing from the scispaCy cache)",
            "run once with network access to fill ~/.scispacy (or $SCISPACY_CACHE): "
            f"python -c \"import spacy, scispacy.linking; spacy.blank('en')"
            f".add_pipe('scispacy_linker', config={{'linker_name': '{name}'}})\"; "
            "or leave ner.linker unset",
        )
    try:
        nlp.add_pipe(
            "scispacy_linker",
            config={
                "resolve_abbreviations": settings.abbreviations,
                "linker_name": name,
                "threshold": settings.linker_threshold,
                "max_entities_per_mention": 1,
            },
        )
    except Exception as exc:  # corrupt cache files, network errors
        raise ModelNotFoundError(
            f"the entity linker's {name!r} knowledge base could not be loaded ({exc})",
            "delete its files under ~/.scispacy and download them again, or leave ner.linker unset",
        ) from exc


def add_postprocess(nlp: Language, *, abbreviations: bool = True) -> None:
    """Add the ``litmine_consistency`` component to a pipeline, in the right place.

    It goes right after ``ner`` and after ``abbreviation_detector`` when the
    pipeline has one (its abbreviation step reads the detector's output;
    without the detector that step is switched off), so an entity linker added
    later links the final entities.

    Args:
        nlp: A pipeline with a ``ner`` component.
        abbreviations: Run the abbreviation step (needs the detector).

    Raises:
        ConfigError: The pipeline has no enabled ``ner`` component.
    """
    from litmine.ner.consistency import FACTORY  # registers the factory (imports spaCy)

    names = nlp.pipe_names
    if "ner" not in names:
        raise ConfigError("post-processing needs a 'ner' component", "set ner.postprocess = false")
    has_detector = "abbreviation_detector" in names
    # Right after the later of the two, hence before a linker appended afterwards.
    after = max((n for n in ("ner", "abbreviation_detector") if n in names), key=names.index)
    nlp.add_pipe(FACTORY, config={"abbreviations": abbreviations and has_detector}, after=after)


def postprocess_description(nlp: Language) -> str:
    """The post-processing steps a pipeline runs, in words (``"none"`` without the component)."""
    from litmine.ner.consistency import FACTORY

    if FACTORY not in nlp.pipe_names:
        return "none"
    return nlp.get_pipe(FACTORY).options.describe()  # type: ignore[attr-defined]


def build_nlp(settings: NerSettings | None = None) -> Language:
    """Load the NER pipeline named in the settings, ready for :func:`extract`.

    Args:
        settings: NER settings; the defaults load the shipped ``litmine-bc5cdr``.

    Returns:
        The pipeline, with scispaCy's abbreviation detector appended (when
        ``abbreviations`` is on), then litmine's document-level consistency
        component (when ``postprocess`` is on; see
        :mod:`litmine.ner.consistency`), then scispaCy's entity linker (when
        ``linker`` is set, so it links the final entities).
        Components other than NER that the extraction does not need (tagger,
        parser, lemmatizer) are disabled, keeping a sentence source for the
        detector.

    Raises:
        ModelNotFoundError: The model is neither shipped, installed nor a folder,
            or the linker's knowledge base is unavailable.
        MissingDependencyError: A known spaCy/scispaCy model is not installed
            (the hint is its exact install line).
        ConfigError: The pipeline has no ``ner`` component, or the linker name is unknown.
    """
    settings = settings or NerSettings()
    nlp = load_pipeline(settings.model)
    if "ner" not in nlp.pipe_names:
        raise ConfigError(
            f"the pipeline {settings.model!r} has no 'ner' component",
            f"use a NER model such as {DEFAULT_MODEL!r} or 'en_ner_bc5cdr_md'",
        )
    keep = {"tok2vec", "ner", "transformer"}
    for name in list(nlp.pipe_names):
        if name not in keep and name not in ("parser", "senter"):
            nlp.disable_pipe(name)
    if settings.abbreviations:
        import scispacy.abbreviation  # noqa: F401  (registers "abbreviation_detector")

        nlp.add_pipe("abbreviation_detector", config={"make_serializable": True})
    if settings.postprocess:
        add_postprocess(nlp, abbreviations=settings.abbreviations)
    if settings.linker:
        _add_linker(nlp, settings)
    # Texts longer than max_chars are chunked by extract(); allow exactly that much.
    nlp.max_length = max(nlp.max_length, settings.max_chars + 1)
    nlp.meta.setdefault("litmine_model", settings.model)
    return nlp
