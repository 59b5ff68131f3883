"""Small real spaCy pipelines for the NER tests (no mocks, no downloads)."""

from __future__ import annotations

from pathlib import Path

# Rule-based "ner" component: deterministic entities for extraction tests.
PATTERNS: list[dict[str, object]] = [
    {"label": "DISEASE", "pattern": [{"LOWER": "hepatocellular"}, {"LOWER": "carcinoma"}]},
    {"label": "DISEASE", "pattern": "HCC"},
    {"label": "DISEASE", "pattern": [{"LOWER": "hypertension"}]},
    {"label": "DISEASE", "pattern": [{"LOWER": "seizures"}]},
    {"label": "CHEMICAL", "pattern": [{"LOWER": "sorafenib"}]},
    {"label": "CHEMICAL", "pattern": [{"LOWER": "naloxone"}]},
    {"label": "CHEMICAL", "pattern": [{"LOWER": "clonidine"}]},
    {"label": "CHEMICAL", "pattern": [{"LOWER": "alpha"}, {"ORTH": "-"}, {"LOWER": "methyldopa"}]},
]


def save_ruler_pipeline(path: Path) -> Path:
    """Save a pipeline whose ``ner`` component is an entity ruler, with litmine's tokenizer."""
    import spacy

    from litmine.ner.tokenizer import biomedical_tokenizer

    nlp = spacy.blank("en")
    nlp.tokenizer = biomedical_tokenizer(nlp)
    ruler = nlp.add_pipe("entity_ruler", name="ner")
    ruler.add_patterns(PATTERNS)  # type: ignore[attr-defined]
    nlp.to_disk(path)
    return path
