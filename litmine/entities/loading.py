"""Biomedical entities: load an NER pipeline, extract, normalise, store and count.

:func:`build_nlp` loads a pipeline by name (litmine's shipped
``litmine-bc5cdr``, an installed spaCy/scispaCy package, or a folder) and adds
scispaCy's abbreviation detector (and optionally its entity linker).
:func:`extract` runs it over whole abstracts (so an abbreviation defined in one
passage resolves in the next) and maps the entities back onto passages.
:func:`extract_store` does that resumably over a :class:`~litmine.store.Store`,
and :func:`top_entities` / :func:`chemical_disease_pairs` count what was found.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litmine.config import NerSettings
from litmine.errors import ConfigError, MissingDependencyError, ModelNotFoundError
from litmine.store import EntityCount, PairCount
from litmine.types import Article, Entity, Passage

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

    from litmine.store import Store

__all__ = [
    "DEFAULT_MODEL",
    "MODELS_DIR",
    "EntityCount",
    "PairCount",
    "add_postprocess",
    "build_nlp",
    "chemical_disease_pairs",
    "extract",
    "extract_store",
    "install_command",
    "load_pipeline",
    "model_path",
    "normalize",
    "postprocess_description",
    "top_entities",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "litmine-bc5cdr"
MODELS_DIR = Path(__file__).resolve().parent / "models"
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

# Labels of other models mapped onto litmine's (en_ner_bc5cdr_md already uses these).
_LABEL_MAP = {"CHEMICAL": "CHEMICAL", "DISEASE": "DISEASE", "SIMPLE_CHEMICAL": "CHEMICAL"}

_DASHES = re.compile(r"[\-\u2010-\u2015\u2212\uFE58\uFE63\uFF0D]+")
_SPACES = re.compile(r"\s+")
# Control characters other than tab/newline, and lone surrogates: replaced one for one.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


# ------------------------------------------------------------------ loading


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


# ------------------------------------------------------------------ normalisation


def normalize(text: str) -> str:
    """Fold a mention for counting and matching: NFKC, casefold, hyphens and spaces.

    ``"Alpha-Methyldopa"``, ``"alpha methyldopa"`` and ``"ALPHA–methyldopa"``
    all become ``"alpha methyldopa"``.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _DASHES.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _mesh_variants(name: str) -> Iterator[str]:
    yield normalize(name)
    # MeSH inverts some names: "Carcinoma, Hepatocellular" is "hepatocellular carcinoma".
    if ", " in name:
        head, _, tail = name.partition(", ")
        yield normalize(f"{tail} {head}")


def _mesh_lookup(article: Article | None) -> dict[str, str]:
    lookup: dict[str, str] = {}
    if article is None:
        return lookup
    for chem in article.chemicals:
        if chem.ui:
            for key in _mesh_variants(chem.name):
                lookup.setdefault(key, chem.ui)
    for heading in article.mesh_headings:
        if heading.descriptor_ui:
            for key in _mesh_variants(heading.descriptor_name):
                lookup.setdefault(key, heading.descriptor_ui)
    return lookup


def _concept(lookup: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        if not name:
            continue
        hit = lookup.get(name)
        if hit is None and name.endswith("s") and len(name) > 3:
            hit = lookup.get(name[:-1])  # simple plural: "seizures" -> "seizure"
        if hit is not None:
            return hit
    return None


# ------------------------------------------------------------------ extraction


@dataclass(slots=True)
class _Unit:
    """One text given to the pipeline and the passages it covers."""

    text: str
    # Offset of abstract position 0 inside ``text`` (negative: text starts later).
    base: int
    passages: list[Passage] = field(default_factory=list)
    article: Article | None = None


def _clean(text: str) -> str:
    return _CONTROL.sub(" ", text)


def _units(passages: Sequence[Passage], articles: Mapping[str, Article]) -> list[_Unit]:
    by_pmid: dict[str, list[Passage]] = defaultdict(list)
    for p in passages:
        by_pmid[p.pmid].append(p)
    units: list[_Unit] = []
    for pmid, group in by_pmid.items():
        article = articles.get(pmid)
        if article is not None and all(article.abstract[p.start : p.end] == p.text for p in group):
            prefix = f"{article.title} " if article.title else ""
            units.append(_Unit(prefix + article.abstract, len(prefix), group, article))
            continue
        # No article (or a stale one): each passage is processed on its own.
        for p in group:
            units.append(_Unit(p.text, -p.start, [p], article))
    return units


def _chunks(text: str, max_chars: int) -> list[tuple[int, str]]:
    """Split ``text`` at whitespace into pieces of at most ``max_chars`` characters."""
    if len(text) <= max_chars:
        return [(0, text)]
    pieces: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            cut = max(text.rfind(" ", start + max_chars // 2, end), text.rfind("\n", start, end))
            if cut > start:
                end = cut + 1
        pieces.append((start, text[start:end]))
        start = end
    return pieces


def _abbreviations(doc: Doc) -> dict[str, str]:
    """Short form -> long form, from the detector's serialisable output."""
    out: dict[str, str] = {}
    if not doc.has_extension("abbreviations"):
        return out
    for item in doc._.abbreviations:
        if isinstance(item, dict):
            out.setdefault(item["short_text"], item["long_text"])
        else:  # a Span (detector without make_serializable)
            long_form = item._.long_form
            out.setdefault(item.text, getattr(long_form, "text", str(long_form)))
    return out


def _linked_id(ent: Any) -> str | None:
    kb = getattr(ent._, "kb_ents", None) if ent.has_extension("kb_ents") else None
    return str(kb[0][0]) if kb else None


def _doc_entities(
    doc: Doc, offset: int, unit: _Unit, lookup: Mapping[str, str], out: dict[int, list[Entity]]
) -> None:
    abbrs = _abbreviations(doc)
    for ent in doc.ents:
        label = _LABEL_MAP.get(ent.label_, ent.label_)
        text = ent.text
        if not text.strip():
            continue
        long_form = abbrs.get(text)
        norm = normalize(long_form or text)
        concept = _concept(lookup, norm, normalize(text)) or _linked_id(ent)
        # Position in the abstract.
        a_start = ent.start_char + offset - unit.base
        a_end = ent.end_char + offset - unit.base
        for p in unit.passages:
            if p.start <= a_start < p.end:
                end = min(a_end, p.end)
                rel_start, rel_end = a_start - p.start, end - p.start
                out[p.id].append(
                    Entity(
                        passage_id=p.id,
                        start=rel_start,
                        end=rel_end,
                        text=p.text[rel_start:rel_end],
                        label=label,
                        normalized=norm,
                        concept_id=concept,
                    )
                )
                break


def extract(
    nlp: Language,
    passages: Sequence[Passage],
    articles: Mapping[str, Article],
    *,
    batch_size: int = 32,
    n_process: int = 1,
    max_chars: int = 100_000,
) -> dict[int, list[Entity]]:
    """Find the entities of passages, normalised and linked to MeSH where possible.

    Each article's title and whole abstract go through the pipeline together
    (the text the model was trained on), so an abbreviation defined in an earlier
    passage resolves in a later one; entities are then mapped back to the
    passages by offset. A passage whose article is not in ``articles`` (or no
    longer matches it) is processed alone. Entities in the title belong to no
    passage and are dropped.

    Normalised text: the abbreviation's long form when the mention is a short
    form, then :func:`normalize`. Concept id: the MeSH UI of one of the
    article's own MeSH headings or chemicals whose name matches the normalised
    mention (or its short form), else the entity linker's id when it is on.

    Args:
        nlp: A pipeline from :func:`build_nlp`.
        passages: Passages to annotate.
        articles: Their articles by PMID (for the full abstract and the MeSH lists).
        batch_size: Texts per ``nlp.pipe`` batch.
        n_process: Worker processes for ``nlp.pipe``.
        max_chars: Texts longer than this are processed in chunks split at whitespace.

    Returns:
        Entities per passage id, for every given passage (``[]`` when none),
        offsets relative to the passage text, in text order.
    """
    out: dict[int, list[Entity]] = {p.id: [] for p in passages}
    units = _units(passages, articles)
    jobs: list[tuple[str, tuple[int, int]]] = []
    for ui, unit in enumerate(units):
        for offset, piece in _chunks(_clean(unit.text), max_chars):
            jobs.append((piece, (ui, offset)))
    if not jobs:
        return out
    lookups: dict[int, dict[str, str]] = {}
    workers = n_process if len(jobs) >= 4 * batch_size else 1
    for doc, (ui, offset) in nlp.pipe(
        jobs, as_tuples=True, batch_size=batch_size, n_process=workers
    ):
        unit = units[ui]
        if ui not in lookups:
            lookups[ui] = _mesh_lookup(unit.article)
        _doc_entities(doc, offset, unit, lookups[ui], out)
    for ents in out.values():
        ents.sort(key=lambda e: (e.start, e.end))
    return out


def extract_store(
    store: Store,
    nlp: Language,
    *,
    rebuild: bool = False,
    batch_articles: int = 200,
    batch_size: int = 32,
    n_process: int = 1,
    max_chars: int = 100_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Extract entities for every stored article not processed yet.

    Work is committed per batch of articles, each passage marked processed
    with its entities in the same transaction, so an interrupted run loses at
    most one batch and a rerun continues where it stopped.

    Args:
        store: The store (opened for writing).
        nlp: A pipeline from :func:`build_nlp`.
        rebuild: Delete all entities first and process every article again.
        batch_articles: Articles per batch (and per transaction).
        batch_size: ``nlp.pipe`` batch size.
        n_process: ``nlp.pipe`` worker processes.
        max_chars: See :func:`extract`.
        progress: Called with the number of articles done after each batch.

    Returns:
        Number of articles processed.
    """
    if rebuild:
        store.clear_entities()
    model = str(nlp.meta.get("litmine_model") or nlp.meta.get("name") or "unknown")
    done = 0
    while True:
        pmids = store.pmids_needing_entities(limit=batch_articles)
        if not pmids:
            break
        articles: dict[str, Article] = {}
        passages: list[Passage] = []
        for pmid in pmids:
            article = store.get_article(pmid)
            if article is not None:
                articles[pmid] = article
            passages.extend(store.passages_for(pmid))
        found = extract(
            nlp, passages, articles,
            batch_size=batch_size, n_process=n_process, max_chars=max_chars,
        )  # fmt: skip
        store.save_entities(found, model)
        done += len(pmids)
        if progress is not None:
            progress(len(pmids))
    return done


# ------------------------------------------------------------------ counting


def top_entities(
    store: Store,
    *,
    label: str | None = None,
    pmids: Iterable[str] | None = None,
    limit: int = 20,
) -> list[EntityCount]:
    """The entities mentioned in the most articles (see :meth:`Store.top_entities`).

    Args:
        store: The store.
        label: Only ``CHEMICAL`` or ``DISEASE`` (any case); None for all.
        pmids: Only these articles; None for all.
        limit: Most entities returned.

    Returns:
        Entity counts, most articles first.
    """
    return store.top_entities(
        label=label.upper() if label else None,
        pmids=list(pmids) if pmids is not None else None,
        limit=limit,
    )


def chemical_disease_pairs(
    store: Store, *, pmids: Iterable[str] | None = None, limit: int = 50
) -> list[PairCount]:
    """Chemical-disease pairs co-mentioned in the most articles.

    Args:
        store: The store.
        pmids: Only these articles; None for all.
        limit: Most pairs returned.

    Returns:
        Pair counts with their supporting PMIDs, most articles first.
    """
    return store.chemical_disease_pairs(
        pmids=list(pmids) if pmids is not None else None, limit=limit
    )
