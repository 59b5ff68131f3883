"""Mention normalisation and MeSH lookup (part of :mod:`litmine.entities`).

:func:`normalize` folds a mention for counting and matching; the helpers map
a normalised mention to the MeSH UI of one of its article's own chemicals or
MeSH headings (MeSH's inverted names, "Carcinoma, Hepatocellular", included).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping

from litmine.types import Article

_DASHES = re.compile(r"[\-\u2010-\u2015\u2212\uFE58\uFE63\uFF0D]+")
_SPACES = re.compile(r"\s+")


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
